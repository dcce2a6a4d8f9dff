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
import { join } from 'node:path';
import type { ContainerHooks, ImageSource, WharfCommand } from '../container/container-context.ts';
import { NetworkHooks } from '../container/container-network-hooks.ts';
import { CONTAINER_MIGRATIONS } from '../container/container-records.ts';
import { ContainerService } from '../container/container-service.ts';
import { VolumeHooks } from '../container/container-volume-hooks.ts';
import { type MetadataDatabase, openMetadataDatabase } from '../metadata/database.ts';
import type { Digest } from '../oci/digest.ts';
import type { RuntimeName } from '../runtime/runtime-driver.ts';
import type { Spawner } from '../runtime/spawn-process.ts';
import { OverlaySnapshotter } from '../snapshot/overlay/overlay-snapshotter.ts';
import type { Snapshotter } from '../snapshot/snapshotter.ts';
import { currentWharfCommand } from './current-wharf-command.ts';
import type { LocalEngine } from './local-engine.ts';

export interface ContainerServiceWiring {
  /** How to run `wharf` again (default: this process's node and script). */
  wharfCommand?: WharfCommand;
  /** `--runtime` for containers that do not name one. */
  runtime?: RuntimeName;
  /** Where conmon goes (default /wharf/conmon). */
  conmonCgroup?: string | null;
  /**
   * Layers that add to containers (see ContainerHooks). Default: the root's networks and
   * volumes (container-network-hooks.ts, container-volume-hooks.ts); `[]` for none of them.
   */
  hooks?: readonly ContainerHooks[];
  /** What starts a run's `mount`, conmon and `umount` (default Node's spawn; the daemon: its spawner). */
  spawner?: Spawner;
}

/** The layers every container of a root goes through: networks, then volumes. */
function defaultHooks(db: MetadataDatabase, root: string): ContainerHooks[] {
  return [new NetworkHooks(db, root), new VolumeHooks(db, root)];
}

/** The overlay snapshotter of a root. */
export function openRootSnapshotter(root: string): Promise<OverlaySnapshotter> {
  return OverlaySnapshotter.open(join(root, 'snapshots', 'overlay'));
}

/** The image side of the container service, over an engine's image store and content. */
function engineImageSource(engine: LocalEngine, openSnapshotter: () => Promise<Snapshotter>): ImageSource {
  const store = engine.images.store;
  // An image id is its config's digest: its config and layers never change, so a long-lived
  // process (the daemon) reads and parses them once, not at every create.
  const configs = new BoundedCache<string, Awaited<ReturnType<typeof store.config>>>(64);
  const layerLists = new BoundedCache<string, Awaited<ReturnType<typeof store.layers>>>(64);
  return {
    async resolve(reference) {
      const record = engine.images.resolve(reference);
      return {
        id: record.id,
        config: structuredClone(await configs.get(record.id, () => store.config(record.id))),
      };
    },
    async unpack(imageId) {
      const layers = await layerLists.get(imageId, () => store.layers(imageId));
      const top = layers.at(-1)?.chainId;
      if (top === undefined) return undefined;
      // Unpacked already (the common case): no need to load the layer code.
      const existing = await (await openSnapshotter()).stat(top).catch(() => undefined);
      if (existing?.kind === 'committed') return top;
      // Loaded here: the layer code (tar, compression) is not needed by most container verbs.
      const { unpackLayers } = await import('../image/layer/unpack.ts');
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
}

/** Values by key, computed once; the oldest goes when full. Failures are not kept. */
class BoundedCache<K, V> {
  readonly #limit: number;
  readonly #values = new Map<K, V>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  async get(key: K, compute: () => Promise<V>): Promise<V> {
    if (this.#values.has(key)) return this.#values.get(key) as V;
    const value = await compute();
    if (this.#values.size >= this.#limit) this.#values.delete(this.#values.keys().next().value as K);
    this.#values.set(key, value);
    return value;
  }
}

function snapshotterOpener(root: string): () => Promise<Snapshotter> {
  let snapshotter: Promise<Snapshotter> | undefined;
  return () => {
    snapshotter ??= openRootSnapshotter(root);
    return snapshotter;
  };
}

function serviceOptions(wiring: ContainerServiceWiring, db: MetadataDatabase, root: string) {
  return {
    wharfCommand: wiring.wharfCommand ?? currentWharfCommand(),
    ...(wiring.runtime ? { defaultRuntime: wiring.runtime } : {}),
    ...(wiring.conmonCgroup !== undefined ? { conmonCgroup: wiring.conmonCgroup } : {}),
    hooks: wiring.hooks ?? defaultHooks(db, root),
    ...(wiring.spawner ? { spawner: wiring.spawner } : {}),
  };
}

/** The container service over an open engine (what `run`, `create` and the daemon use). */
export function openContainerService(
  engine: LocalEngine,
  wiring: ContainerServiceWiring = {},
): ContainerService {
  const openSnapshotter = snapshotterOpener(engine.root);
  return new ContainerService({
    root: engine.root,
    db: engine.db,
    images: engineImageSource(engine, openSnapshotter),
    snapshotter: openSnapshotter,
    ...serviceOptions(wiring, engine.db, engine.root),
  });
}

/**
 * The container service alone, for verbs that rarely touch images (`ps`, `exec`, `logs`, `stop`,
 * `rm`...): only the metadata database is opened; the image store (and the schema and content
 * code it loads) is opened on first use. Saves a CLI command most of the engine's start-up.
 * Close it with `close()`.
 */
export function openContainerServiceOnly(
  root: string,
  wiring: ContainerServiceWiring = {},
): { service: ContainerService; close(): void } {
  const db = openMetadataDatabase(root, { migrations: CONTAINER_MIGRATIONS });
  const openSnapshotter = snapshotterOpener(root);
  let engine: Promise<LocalEngine> | undefined;
  const images = async (): Promise<ImageSource> => {
    engine ??= import('./local-engine.ts').then(({ openLocalEngine }) => openLocalEngine({ root }));
    return engineImageSource(await engine, openSnapshotter);
  };
  const service = new ContainerService({
    root,
    db,
    images: {
      resolve: async (reference) => (await images()).resolve(reference),
      unpack: async (imageId) => (await images()).unpack(imageId),
      size: async (imageId) => (await images()).size!(imageId),
    },
    snapshotter: openSnapshotter,
    ...serviceOptions(wiring, db, root),
  });
  return {
    service,
    close() {
      service.close();
      db.close();
      void engine?.then(
        (opened) => opened.close(),
        () => undefined,
      );
    },
  };
}
