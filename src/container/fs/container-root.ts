/**
 * Opening a container's root filesystem for `cp`, `export` and seeding, as a RootedFs.
 *
 * - **Live** (the container runs): `/proc/PID/root` of its init, the root its processes see in
 *   their own mount namespace, volumes, binds and tmpfs mounts included, so no mount has to be
 *   rebuilt on the host. The pid is checked to belong to the container (its cgroup) and to be the
 *   same process before and after the open (a pid reused by a host process would otherwise hand
 *   out the host's root). `/proc`, `/sys` and `/dev` are not walked, as Docker's copy shows none
 *   of them.
 * - **Offline, read** (stopped): a read-only overlay whose lower layers are the writable layer on
 *   top of the image's (no upper directory, so it can sit beside any other mount of the same
 *   snapshot), on a private temporary directory; volumes and binds come from a mount table.
 * - **Offline, write** (stopped, `cp` into it): the snapshot's own read-write mounts; the caller
 *   holds the container's lock so that it cannot start meanwhile.
 * - **Rootfs only** (`export`): the host's mount of a running container's rootfs (no volumes), or
 *   the offline read view.
 *
 * A temporary mount is detached as soon as its root is open (see `mountTemporarily`), so it is
 * gone once `release()` closes the root, or once the process ends, however it ends.
 *
 * @example
 * const opened = await openOfflineRoot(snapshotter, key, { mounts, writable: false });
 * try { statPath(opened.root, '/etc'); } finally { await opened.release(); }
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConflictError, FailedPreconditionError, InternalError } from '../../errors/index.ts';
import { optionValue } from '../../image/layer/apply-to-mounts.ts';
import { mountAt, unmount } from '../../snapshot/mount.ts';
import type { Mount, Snapshotter } from '../../snapshot/snapshotter.ts';
import { RootedFs, type RootMount } from './rooted-fs.ts';

/** What a running container's root hides (its kernel file systems). */
export const LIVE_HIDDEN = ['proc', 'sys', 'dev'];

/** A root and what to do once done with it. */
export interface OpenedRoot {
  root: RootedFs;
  /** Closes the root and takes off any temporary mount (idempotent). */
  release(): Promise<void>;
}

/** The start time of a process (field 22 of /proc/PID/stat), or undefined when it is gone. */
async function startTime(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The root of running container process `pid` (which must be in cgroup `cgroupsPath`). */
export async function openLiveRoot(pid: number, cgroupsPath: string): Promise<OpenedRoot> {
  const notRunning = () =>
    new ConflictError(`Cannot open the root of process ${pid}: it is not the container's (has it exited?)`);
  if (pid <= 0) throw notRunning();
  const before = await startTime(pid);
  const cgroups = await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => '');
  const inCgroup = cgroups.split('\n').some((line) => {
    const path = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
    return path === cgroupsPath || path.startsWith(`${cgroupsPath}/`);
  });
  if (before === undefined || !inCgroup) throw notRunning();
  const root = RootedFs.open(`/proc/${pid}/root`, { hidden: LIVE_HIDDEN });
  if ((await startTime(pid)) !== before) {
    root.close();
    throw notRunning();
  }
  return { root, release: async () => root.close() };
}

/** The read-only view of a writable snapshot: its layer and its parents, all as lower layers. */
export function readOnlyView(mounts: readonly Mount[]): Mount[] {
  const only = mounts.length === 1 ? mounts[0]! : undefined;
  if (only?.type === 'overlay') {
    const upper = optionValue(only, 'upperdir');
    const lower = optionValue(only, 'lowerdir');
    if (upper !== undefined && lower !== undefined) {
      return [{ type: 'overlay', source: 'overlay', options: ['index=off', `lowerdir=${upper}:${lower}`] }];
    }
    return [{ ...only, options: [...only.options.filter((o) => o !== 'rw'), 'ro'] }];
  }
  if (only?.type === 'bind') {
    return [{ ...only, options: [...only.options.filter((o) => o !== 'rw' && o !== 'ro'), 'ro'] }];
  }
  throw new FailedPreconditionError(
    'Cannot show the container filesystem: its snapshot has an unexpected mount layout',
  );
}

export interface OfflineRootOptions {
  /** Mount the snapshot read-write (the caller holds the container's lock). */
  writable: boolean;
  /** Volumes, binds and files that show over the rootfs. */
  mounts?: readonly RootMount[];
  /** The rootfs itself is read-only (`--read-only`). */
  readonly?: boolean;
}

/** A stopped container's root, mounted on a temporary directory (see the module comment). */
export async function openOfflineRoot(
  snapshotter: Snapshotter,
  snapshotKey: string,
  options: OfflineRootOptions,
): Promise<OpenedRoot> {
  const mounts = await snapshotter.mounts(snapshotKey);
  return mountTemporarily(options.writable ? mounts : readOnlyView(mounts), {
    ...(options.mounts ? { mounts: options.mounts } : {}),
    readonly: options.readonly === true || !options.writable,
  });
}

/**
 * Mounts `mounts` on a fresh temporary directory, opens it as a root, and detaches the mount at
 * once (`umount -l`): the root's descriptor keeps it alive and every walk goes through
 * descriptors, so nothing else can see it, and it vanishes when the descriptors close, even if
 * this process is killed before `release()`.
 */
export async function mountTemporarily(
  mounts: readonly Mount[],
  options: { mounts?: readonly RootMount[]; readonly?: boolean } = {},
): Promise<OpenedRoot> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-ctrfs-'));
  let mounted = false;
  try {
    await mountAt(mounts, dir);
    mounted = true;
    const root = RootedFs.open(dir, {
      ...(options.mounts ? { mounts: options.mounts } : {}),
      ...(options.readonly ? { readonly: true } : {}),
    });
    try {
      await detach(dir);
    } catch (error) {
      root.close();
      throw error;
    }
    mounted = false;
    await rmdir(dir).catch(() => {});
    return { root, release: async () => root.close() };
  } catch (error) {
    if (mounted) await unmount(dir).catch(() => {});
    await rmdir(dir).catch(() => {});
    throw error;
  }
}

/** `umount -l`: takes the mount out of the tree; it lives on while descriptors hold it. */
function detach(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('umount', ['-l', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error) =>
      reject(new InternalError(`Cannot run umount: ${error.message}`, { cause: error })),
    );
    child.on('close', (code) => {
      if (code === 0) resolve();
      else
        reject(
          new InternalError(
            `Cannot detach ${dir}: ${Buffer.concat(err).toString('utf8').trim() || `exit code ${code}`}`,
          ),
        );
    });
  });
}
