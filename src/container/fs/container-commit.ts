/**
 * `docker commit`: a container's writable layer becomes a new image on top of its image.
 *
 * The layer is made by the builder's own diff code (src/image/layer/diff-snapshot.ts: the
 * overlay upper directory as an OCI layer tar, whiteouts and opaque directories included) and
 * stored uncompressed under a lease until the image record holds it. The config starts from the
 * container's own (`Cmd`, `Env`... as the container ran), takes the request's config over it,
 * then the `-c` changes (src/image/config-changes.ts); the history gets an entry with the
 * container's command as `created_by`, `-a` as author and `-m` as comment. A container that
 * changed nothing gives an `empty_layer` entry and no new layer, as Docker does.
 *
 * Pausing the container meanwhile (`--pause`) is the caller's: it is a container-service verb.
 *
 * @example
 * const { id } = await commitContainer(store, snapshotter, {
 *   containerId, imageId, snapshotKey, config, changes: ['CMD ["sh"]'], comment: 'fix', reference: 'app:v2',
 * });
 */
import { InternalError } from '../../errors/index.ts';
import { applyConfigChanges } from '../../image/config-changes.ts';
import type { ImageStore } from '../../image/image-store.ts';
import { diffSnapshot } from '../../image/layer/diff-snapshot.ts';
import { cleanRelative } from '../../image/layer/root-path.ts';
import { encodeTarHeader, TAR_TRAILER, tarPadding } from '../../image/layer/tar-format.ts';
import { TarReader } from '../../image/layer/tar-reader.ts';
import type { Digest } from '../../oci/digest.ts';
import type { ContainerConfig, HistoryEntry, ImageConfig } from '../../oci/image-config.ts';
import type { Snapshotter } from '../../snapshot/snapshotter.ts';
import { stubOnlyPaths } from './container-changes.ts';

/** The container config fields an image config carries (OCI `config` plus Docker's extensions). */
const IMAGE_CONFIG_FIELDS = [
  'User',
  'ExposedPorts',
  'Env',
  'Entrypoint',
  'Cmd',
  'Volumes',
  'WorkingDir',
  'Labels',
  'StopSignal',
  'ArgsEscaped',
  'Healthcheck',
  'OnBuild',
  'Shell',
] as const;

/** The size of a layer tar with no entries: its two end blocks. */
const EMPTY_TAR_SIZE = 1024;

export interface CommitRequest {
  containerId: string;
  /** The container's image (`sha256:…`): the new image's parent. */
  imageId: string;
  /** The container's writable snapshot. */
  snapshotKey: string;
  /** The container's Config (Docker's shape; only the fields an image keeps are used). */
  containerConfig: Record<string, unknown>;
  /** A config to take over the container's (the Engine API's body). */
  config?: Record<string, unknown>;
  /** Dockerfile instructions (`-c`). */
  changes?: readonly string[];
  /** `-m`. */
  comment?: string;
  /** `-a`. */
  author?: string;
  /** `REPO[:TAG]`. */
  reference?: string;
  /**
   * Where the runtime made mount points for the container (`/etc/hosts`...): empty stubs there,
   * and directories made only to hold them, stay out of the layer.
   */
  stubs?: readonly string[];
}

export interface CommitResult {
  /** The new image's id (`sha256:…`). */
  id: string;
  /** False when the container changed nothing (no layer was added). */
  layerAdded: boolean;
}

function imageFields(source: Record<string, unknown> | undefined): ContainerConfig {
  const out: Record<string, unknown> = {};
  for (const field of IMAGE_CONFIG_FIELDS) {
    const value = source?.[field];
    if (value !== undefined) out[field] = value;
  }
  return out as ContainerConfig;
}

/** Docker's merge: what the request sets wins, the rest comes from the container. */
function mergeConfig(container: ContainerConfig, request: ContainerConfig): ContainerConfig {
  const out: Record<string, unknown> = { ...container };
  for (const [key, value] of Object.entries(request)) {
    const empty = value === null || (Array.isArray(value) && value.length === 0) || value === '';
    if (!empty) out[key] = value;
  }
  return out as ContainerConfig;
}

export async function commitContainer(
  store: ImageStore,
  snapshotter: Snapshotter,
  request: CommitRequest,
): Promise<CommitResult> {
  const parent = await store.config(request.imageId);
  // Validate the changes before the (possibly long) diff.
  const base = mergeConfig(imageFields(request.containerConfig), imageFields(request.config));
  if (base.Shell === undefined && parent.config?.Shell) base.Shell = parent.config.Shell;
  const config = applyConfigChanges(base, request.changes ?? []);
  const parentLayers = await store.layers(request.imageId);
  return store.leases.withLease(async (lease) => {
    for (const layer of parentLayers) store.leases.addResource(lease.id, 'content', layer.digest);
    const mounts = await snapshotter.mounts(request.snapshotKey);
    const drop = request.stubs?.length ? await stubOnlyPaths(mounts, request.stubs) : new Set<string>();
    const diff = await diffSnapshot(snapshotter, request.snapshotKey);
    let layer: { diffID: Digest; size: number; entries: number };
    if (drop.size === 0) {
      const ingested = await store.content.ingest(diff.stream, { lease: lease.id });
      const result = await diff.result;
      if (ingested.digest !== result.diffID) {
        throw new InternalError(
          `Cannot commit ${request.containerId}: the layer hashed differently while stored`,
        );
      }
      layer = {
        diffID: result.diffID,
        size: ingested.size,
        entries: result.diffSize > EMPTY_TAR_SIZE ? 1 : 0,
      };
    } else {
      // The same layer without the stubs: the stored (uncompressed) blob's digest is its diffID.
      const counter = { entries: 0 };
      const ingested = await store.content.ingest(withoutEntries(diff.stream, drop, counter), {
        lease: lease.id,
      });
      await diff.result;
      layer = { diffID: ingested.digest, size: ingested.size, entries: counter.entries };
    }
    const empty = layer.entries === 0;
    const created = new Date().toISOString();
    const cmd = request.containerConfig.Cmd;
    const history: HistoryEntry = {
      created,
      created_by: Array.isArray(cmd) ? cmd.join(' ') : '',
      ...(request.author ? { author: request.author } : {}),
      ...(request.comment ? { comment: request.comment } : {}),
      ...(empty ? { empty_layer: true } : {}),
    };
    const image: ImageConfig = {
      architecture: parent.architecture,
      ...(parent.variant ? { variant: parent.variant } : {}),
      os: parent.os,
      ...(parent['os.version'] ? { 'os.version': parent['os.version'] } : {}),
      created,
      ...(request.author ? { author: request.author } : {}),
      ...(request.comment ? { comment: request.comment } : {}),
      config,
      container: request.containerId,
      rootfs: { type: 'layers', diff_ids: [...parent.rootfs.diff_ids, ...(empty ? [] : [layer.diffID])] },
      history: [...(parent.history ?? []), history],
    };
    const layers = parentLayers.map((layer) => ({ digest: layer.digest, size: layer.size }));
    if (!empty) layers.push({ digest: layer.diffID, size: layer.size });
    const stored = await store.createImage({
      config: Buffer.from(JSON.stringify(image)),
      layers,
      lease: lease.id,
      parent: request.imageId,
      ...(request.reference ? { tags: [request.reference] } : {}),
    });
    return { id: stored.image.id, layerAdded: !empty };
  });
}

/** A layer tar without the entries named in `drop` (relative paths); counts what is kept. */
async function* withoutEntries(
  source: AsyncIterable<Uint8Array>,
  drop: ReadonlySet<string>,
  counter: { entries: number },
): AsyncGenerator<Buffer> {
  const reader = new TarReader(source);
  try {
    for (let header = await reader.next(); header; header = await reader.next()) {
      if (drop.has(cleanRelative(header.name))) continue;
      counter.entries++;
      yield encodeTarHeader(header);
      if (header.type !== 'file' || header.size === 0) continue;
      for await (const chunk of reader.body()) yield Buffer.from(chunk);
      const padding = tarPadding(header.size);
      if (padding.length > 0) yield padding;
    }
    yield TAR_TRAILER;
  } finally {
    await reader.close();
  }
}
