/**
 * The containers part of the engine: wires the container service (src/container) to this engine's
 * stores. The overlay snapshotter holding image layers and writable layers lives at
 * `$root/snapshots/overlay` and is opened only when a verb needs it (`ps` does not); images are
 * unpacked into it by chain ID on first use (src/image/layer/unpack.ts).
 *
 *   $root/
 *   ├── wharf.db                  containers and events tables (src/container/container-records.ts)
 *   ├── snapshots/overlay/        the snapshotter (src/snapshot/overlay/overlay-snapshotter.ts)
 *   ├── containers/ID/            per-container files (src/container/container-paths.ts)
 *   └── runtime/                  runtime state, exit files, sockets (src/runtime/runtime-paths.ts)
 *
 * `wharfCommand` is how conmon's exit command and the health-check loop run `wharf` again: the CLI
 * passes its own node and script; by default, this process's.
 *
 * @example
 * const engine = await openLocalEngine({ root });
 * const containers = openContainerService(engine);
 * try { await containers.list({ all: true }); } finally { containers.close(); engine.close(); }
 */
import { join, resolve } from 'node:path';
import type { ImageSource, WharfCommand } from '../container/container-context.ts';
import { ContainerService } from '../container/container-service.ts';
import { unpackLayers } from '../image/layer/unpack.ts';
import type { Digest } from '../oci/digest.ts';
import type { RuntimeName } from '../runtime/runtime-driver.ts';
import { OverlaySnapshotter } from '../snapshot/overlay/overlay-snapshotter.ts';
import type { Snapshotter } from '../snapshot/snapshotter.ts';
import type { LocalEngine } from './local-engine.ts';

export interface ContainerServiceWiring {
  /** How to run `wharf` again (default: this process's node and script). */
  wharfCommand?: WharfCommand;
  /** `--runtime` for containers that do not name one. */
  runtime?: RuntimeName;
  /** Where conmon goes (default /wharf/conmon). */
  conmonCgroup?: string | null;
}

/** This process as a `wharf` command: node, its flags (e.g. tsx's loader) and the script. */
export function currentWharfCommand(): WharfCommand {
  const script = process.argv[1];
  return { path: process.execPath, args: [...process.execArgv, ...(script ? [resolve(script)] : [])] };
}

/** The overlay snapshotter of a root. */
export function openRootSnapshotter(root: string): Promise<OverlaySnapshotter> {
  return OverlaySnapshotter.open(join(root, 'snapshots', 'overlay'));
}

export function openContainerService(
  engine: LocalEngine,
  wiring: ContainerServiceWiring = {},
): ContainerService {
  let snapshotter: Promise<Snapshotter> | undefined;
  const openSnapshotter = () => {
    snapshotter ??= openRootSnapshotter(engine.root);
    return snapshotter;
  };
  const store = engine.images.store;
  const images: ImageSource = {
    async resolve(reference) {
      const record = engine.images.resolve(reference);
      return { id: record.id, config: await store.config(record.id) };
    },
    async unpack(imageId) {
      const layers = await store.layers(imageId);
      const { chainID } = await unpackLayers(
        await openSnapshotter(),
        layers.map((layer) => ({
          diffID: layer.diffId,
          open: () => engine.content.read(layer.digest as Digest),
        })),
      );
      return chainID;
    },
    async size(imageId) {
      return store.get(imageId).size;
    },
  };
  return new ContainerService({
    root: engine.root,
    db: engine.db,
    images,
    snapshotter: openSnapshotter,
    wharfCommand: wiring.wharfCommand ?? currentWharfCommand(),
    ...(wiring.runtime ? { defaultRuntime: wiring.runtime } : {}),
    ...(wiring.conmonCgroup !== undefined ? { conmonCgroup: wiring.conmonCgroup } : {}),
  });
}
