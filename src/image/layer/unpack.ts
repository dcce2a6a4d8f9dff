/**
 * Unpacking an image's layers into committed snapshots named by chain ID, so that every image and
 * container whose layers start the same way shares the same snapshots.
 *
 * For each layer not unpacked yet: prepare an active snapshot under a private key on the previous
 * chain ID, apply the layer (checking its diffID), commit it as its chain ID. Two unpacks of the
 * same chain may run at once, in one process or several: in one process they share the work; across
 * processes both apply, the first commit wins, and the loser (AlreadyExists) drops its copy. A failed
 * apply removes its half-made snapshot. The private keys carry the unpacking process's identity
 * (pid and start time), so unpacks that a killed process left behind are removed the next time any
 * process unpacks with that snapshotter (and by garbage collection, since nothing references them).
 *
 * @example
 * const { chainID } = await unpackLayers(snapshotter, manifest.layers.map((l, i) => ({
 *   diffID: config.rootfs.diff_ids[i], open: () => contentStore.read(l.digest),
 * })));
 */
import { readFileSync } from 'node:fs';
import { AlreadyExistsError, InvalidArgumentError, isErrno, NotFoundError } from '../../errors/index.ts';
import { chainIds } from '../../oci/chain-id.ts';
import type { Digest } from '../../oci/digest.ts';
import type { Snapshotter } from '../../snapshot/snapshotter.ts';
import { randomHex } from '../../util/random-hex.ts';
import type { LayerInput } from './apply.ts';
import { applyLayerToMounts } from './apply-to-mounts.ts';

/** The blob's file path (fastest), a readable stream or async iterable, or chunks in memory. */
export type LayerBytes = LayerInput;

export interface LayerSource {
  /** The layer's diffID (from the image config's rootfs.diff_ids). */
  diffID: Digest;
  /** Opens the layer blob (compressed or not); called only when the layer must be applied. */
  open: () => LayerBytes | Promise<LayerBytes>;
}

export interface UnpackOptions {
  signal?: AbortSignal;
  /** Told about each layer as it is applied or found already there. */
  onProgress?: (event: { chainID: Digest; index: number; state: 'exists' | 'applied' }) => void;
}

export interface UnpackResult {
  /** Chain ID of the top layer: the parent for a container's snapshot. Undefined for no layers. */
  chainID: Digest | undefined;
  chainIDs: Digest[];
  /** How many layers were applied now (the rest already existed). */
  applied: number;
}

/** Label on private unpack snapshots: `<pid>:<process start time>` of the unpacking process. */
export const UNPACK_OWNER_LABEL = 'wharf.unpack/owner';
const KEY_PREFIX = 'extract-';

const inFlight = new WeakMap<Snapshotter, Map<Digest, Promise<boolean>>>();
const swept = new WeakSet<Snapshotter>();

export async function unpackLayers(
  snapshotter: Snapshotter,
  layers: readonly LayerSource[],
  options: UnpackOptions = {},
): Promise<UnpackResult> {
  if (!swept.has(snapshotter)) {
    swept.add(snapshotter);
    await sweepStaleUnpacks(snapshotter);
  }
  const ids = chainIds(layers.map((l) => l.diffID));
  // From the top down: the first chain ID present means everything below it is too.
  let start = ids.length;
  while (start > 0 && !(await exists(snapshotter, ids[start - 1]!))) start--;
  for (let i = 0; i < start; i++) options.onProgress?.({ chainID: ids[i]!, index: i, state: 'exists' });
  let applied = 0;
  for (let i = start; i < ids.length; i++) {
    options.signal?.throwIfAborted();
    const chainID = ids[i]!;
    const parent = i === 0 ? undefined : ids[i - 1];
    let running = inFlight.get(snapshotter);
    if (!running) inFlight.set(snapshotter, (running = new Map()));
    let job = running.get(chainID);
    if (!job) {
      job = unpackOne(snapshotter, chainID, parent, layers[i]!, options).finally(() =>
        running.delete(chainID),
      );
      running.set(chainID, job);
    }
    if (await job) applied++;
    options.onProgress?.({ chainID, index: i, state: 'applied' });
  }
  return { chainID: ids.at(-1), chainIDs: ids, applied };
}

/** Applies one layer as snapshot `chainID`; false when it turned out to exist already. */
async function unpackOne(
  snapshotter: Snapshotter,
  chainID: Digest,
  parent: Digest | undefined,
  layer: LayerSource,
  options: UnpackOptions,
): Promise<boolean> {
  if (await exists(snapshotter, chainID)) return false;
  const key = `${KEY_PREFIX}${process.pid}-${randomHex(6)} ${chainID}`;
  const mounts = await snapshotter.prepare(key, parent, {
    labels: { [UNPACK_OWNER_LABEL]: processToken(process.pid) },
  });
  try {
    const source = await layer.open();
    await applyLayerToMounts(mounts, source, {
      expectedDiffID: layer.diffID,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    try {
      await snapshotter.commit(chainID, key);
      return true;
    } catch (error) {
      if (!(error instanceof AlreadyExistsError)) throw error;
      await snapshotter.remove(key); // another process committed the same chain first
      return false;
    }
  } catch (error) {
    await snapshotter.remove(key).catch(() => {});
    if (error instanceof InvalidArgumentError)
      throw new InvalidArgumentError(`Cannot unpack layer ${layer.diffID}: ${error.message}`, {
        cause: error,
      });
    throw error;
  }
}

/** Removes private unpack snapshots whose process is gone (killed mid-unpack). */
export async function sweepStaleUnpacks(snapshotter: Snapshotter): Promise<string[]> {
  const stale: string[] = [];
  await snapshotter.walk(
    (info) => {
      const owner = info.labels[UNPACK_OWNER_LABEL];
      if (!info.name.startsWith(KEY_PREFIX) || owner === undefined) return;
      const pid = Number(owner.split(':')[0]);
      if (processToken(pid) !== owner) stale.push(info.name);
    },
    { kind: 'active' },
  );
  for (const key of stale) {
    await snapshotter.remove(key).catch((error) => {
      if (!(error instanceof NotFoundError)) throw error;
    });
  }
  return stale;
}

async function exists(snapshotter: Snapshotter, name: string): Promise<boolean> {
  try {
    const info = await snapshotter.stat(name);
    return info.kind === 'committed';
  } catch (error) {
    if (error instanceof NotFoundError) return false;
    throw error;
  }
}

/** `<pid>:<start time in clock ticks since boot>`: tells a live process from a reused pid. */
function processToken(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime) comes after the command name, which sits in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return `${pid}:${fields[19]}`;
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ESRCH')) return `${pid}:gone`;
    throw error;
  }
}
