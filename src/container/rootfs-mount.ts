/**
 * Mounting a container's root filesystem so that nothing inside it names host paths. The kernel
 * shows overlayfs options in /proc/mounts exactly as given, so an overlay mounted with absolute
 * `lowerdir=/var/lib/wharf/...` tells every container where Wharf keeps its files. Here the
 * overlay's directories are made relative to their common parent and `mount` runs with that
 * parent as its working directory (as containerd does for long option lists): the container sees
 * `lowerdir=l/1,upperdir=snapshots/8/fs,...`. Other mounts (a bind for a one-layer view) go
 * through the snapshotter's `mountAt`.
 *
 * `volatile` (for `--rm` containers, as Podman does): overlayfs then skips every sync of the
 * upper layer, above all the syncfs of the whole host filesystem that an unmount does, which
 * costs tens of milliseconds while other processes write. A container whose writable layer is
 * thrown away at exit loses nothing by it. The kernel leaves `WORKDIR/work/incompat/volatile`
 * behind and refuses any later mount while it exists (it marks a layer that may have lost
 * writes in a crash), so the unmount here removes it after a clean unmount, and a volatile mount
 * removes one a crash left.
 *
 * `mount` and `umount` are run by absolute path, found once per process (a PATH search costs an
 * exec attempt per directory).
 *
 * @example
 * await mountRootfs(await snapshotter.mounts(key), '/var/lib/wharf/containers/ID/rootfs', { volatile: true });
 * await unmountRootfs('/var/lib/wharf/containers/ID/rootfs', await snapshotter.mounts(key));
 */
import { existsSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InternalError } from '../errors/index.ts';
import { findExecutable } from '../runtime/runtime-probe.ts';
import { type Spawner, spawnWithNode } from '../runtime/spawn-process.ts';
import { mountAt } from '../snapshot/mount.ts';
import type { Mount } from '../snapshot/snapshotter.ts';
import { mountsUnder, mountsUnderSync } from './mount-points.ts';

const PATH_OPTIONS = ['lowerdir', 'upperdir', 'workdir'];

function commonParent(paths: readonly string[]): string {
  let common = paths[0]!.slice(0, paths[0]!.lastIndexOf('/')) || '/';
  for (const path of paths) {
    while (common !== '/' && !path.startsWith(`${common}/`))
      common = common.slice(0, common.lastIndexOf('/')) || '/';
  }
  return common;
}

/** An overlay mount's options with its directories relative to one parent, and that parent. */
export function relativeOverlayOptions(options: readonly string[]): { options: string[]; cwd: string } {
  const paths: string[] = [];
  for (const option of options) {
    const [key, value] = [option.slice(0, option.indexOf('=')), option.slice(option.indexOf('=') + 1)];
    if (PATH_OPTIONS.includes(key)) paths.push(...value.split(':'));
  }
  if (paths.length === 0 || paths.some((path) => !path.startsWith('/')))
    return { options: [...options], cwd: '/' };
  const cwd = commonParent(paths);
  const cut = cwd === '/' ? 1 : cwd.length + 1;
  const rewritten = options.map((option) => {
    const equals = option.indexOf('=');
    const key = option.slice(0, equals);
    if (!PATH_OPTIONS.includes(key)) return option;
    return `${key}=${option
      .slice(equals + 1)
      .split(':')
      .map((path) => path.slice(cut))
      .join(':')}`;
  });
  return { options: rewritten, cwd };
}

export interface RootfsMountOptions {
  /** Mount a writable overlay with `volatile` (see the module comment). */
  volatile?: boolean;
  /** How `mount` runs (Node's spawn unless told: a daemon passes its spawner). */
  spawner?: Spawner;
}

const toolPaths = new Map<string, Promise<string>>();

/** The absolute path of a system tool (its bare name when it is not found: spawn then fails). */
export function systemToolPath(name: string): Promise<string> {
  let found = toolPaths.get(name);
  if (!found) {
    found = findExecutable(name).then((path) => path ?? name);
    toolPaths.set(name, found);
  }
  return found;
}

function optionValue(options: readonly string[], key: string): string | undefined {
  const option = options.find((candidate) => candidate.startsWith(`${key}=`));
  return option?.slice(key.length + 1);
}

/** The mark a volatile overlay leaves in its work directory (`workdir=` of `options`). */
function volatileMark(options: readonly string[]): string | undefined {
  const workdir = optionValue(options, 'workdir');
  return workdir === undefined ? undefined : join(workdir, 'work', 'incompat', 'volatile');
}

/** A system tool's run: what `runTool` spawns, or what conmon's prelude runs (conmon.ts). */
export interface ToolCommand {
  path: string;
  args: string[];
  cwd: string;
  /** Set for the tool alone. */
  env: Record<string, string>;
  /** For its error: `Cannot ${describe}: ${stderr}`. */
  describe: string;
  /**
   * The arguments of the spawner's builtin of the same name (`:mount`, `:umount`: the system
   * call without the tool) when it does the same, for a spawner that has builtins.
   */
  builtin?: string[];
}

/**
 * Options of an overlay mount that go to the file system as they are (mount(8) passes them on
 * unchanged): a mount with only these can be the `:mount` builtin. Generic ones (`ro`, `nosuid`...)
 * are flags mount(8) parses, so a mount with any of them runs the tool.
 */
const OVERLAY_OPTIONS = new Set([
  'lowerdir',
  'upperdir',
  'workdir',
  'index',
  'volatile',
  'redirect_dir',
  'metacopy',
  'xino',
  'userxattr',
  'nfs_export',
  'uuid',
]);

// the C locale: util-linux otherwise loads a dozen locale files before it starts
const TOOL_ENV = { LC_ALL: 'C' };

async function toolCommand(
  name: string,
  args: string[],
  cwd: string,
  describe: string,
): Promise<ToolCommand> {
  return { path: await systemToolPath(name), args, cwd, env: TOOL_ENV, describe };
}

function runTool(tool: ToolCommand, spawner?: Spawner): Promise<void> {
  const name = tool.path.slice(tool.path.lastIndexOf('/') + 1);
  const builtin = spawner?.builtins === true && tool.builtin !== undefined;
  return new Promise<void>((resolve, reject) => {
    const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...tool.env };
    const spawnProcess = spawner?.spawn ?? spawnWithNode;
    const child = builtin
      ? spawnProcess(`:${name}`, tool.builtin!, { cwd: tool.cwd, env, stdio: ['ignore', 'ignore', 'pipe'] })
      : spawnProcess(tool.path, tool.args, { cwd: tool.cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr!.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error: Error) =>
      reject(new InternalError(`Cannot run ${name}: ${error.message}`, { cause: error })),
    );
    child.on('close', (code: number | null) => {
      if (code === 0) resolve();
      else {
        const message = Buffer.concat(err).toString('utf8').trim();
        reject(new InternalError(`Cannot ${tool.describe}: ${message || `exit code ${code}`}`));
      }
    });
  });
}

/** Mounts a snapshot's mounts on `target`, overlays with relative directories. */
export async function mountRootfs(
  mounts: readonly Mount[],
  target: string,
  options: RootfsMountOptions = {},
): Promise<void> {
  const command = await rootfsMountCommand(mounts, target, options);
  if (!command) {
    await mountAt(mounts, target);
    return;
  }
  await runTool(command, options.spawner);
}

/**
 * The `mount` run that puts a snapshot's overlay on `target` (with relative directories), for
 * the caller to run (mountRootfs, or conmon's prelude: see container-lifecycle.ts), or undefined
 * when the snapshot's mounts are not one overlay (mountRootfs mounts those in its own way). A
 * volatile mount's leftover mark is removed here, before the run.
 */
export async function rootfsMountCommand(
  mounts: readonly Mount[],
  target: string,
  options: RootfsMountOptions = {},
): Promise<ToolCommand | undefined> {
  if (mounts.length !== 1 || mounts[0]!.type !== 'overlay' || mounts[0]!.target) return undefined;
  let overlayOptions = mounts[0]!.options;
  const mark = volatileMark(overlayOptions);
  if (options.volatile && mark !== undefined && optionValue(overlayOptions, 'upperdir') !== undefined) {
    // a crash's leftover (see the module comment); synchronous: usually absent, and then no
    // rmSync (which loads Node's rimraf on first use)
    if (existsSync(mark)) rmSync(mark, { recursive: true, force: true });
    overlayOptions = [...overlayOptions, 'volatile'];
  }
  const relative = relativeOverlayOptions(overlayOptions);
  const command = await toolCommand(
    'mount',
    ['-t', 'overlay', '-o', relative.options.join(','), '--', mounts[0]!.source, target],
    relative.cwd,
    `mount the root filesystem on ${target}`,
  );
  const plain = relative.options.every((option) => {
    const equals = option.indexOf('=');
    return OVERLAY_OPTIONS.has(equals < 0 ? option : option.slice(0, equals));
  });
  if (plain) command.builtin = [mounts[0]!.source, target, 'overlay', relative.options.join(',')];
  return command;
}

/**
 * Unmounts `target` and everything mounted below it (deepest first, one `umount`), then removes
 * the mark a volatile overlay leaves; `snapshotMounts` gives the snapshot's mounts (where its
 * work directory is), asked only then. Returns false when nothing was mounted there.
 */
export async function unmountRootfs(
  target: string,
  snapshotMounts?: () => Promise<readonly Mount[] | undefined>,
  options: { spawner?: Spawner } = {},
): Promise<boolean> {
  // synchronous (see isMountPointSync): the unmount starts within this turn of the event loop
  const mounted = mountsUnderSync(target);
  if (mounted.length === 0) return false;
  try {
    const mountpoints = mounted.map((entry) => entry.mountpoint);
    const tool = await toolCommand('umount', mountpoints, '/', `unmount ${target}`);
    tool.builtin = mountpoints;
    await runTool(tool, options.spawner);
  } catch (error) {
    // another handler of the same exit unmounted it meanwhile: done all the same
    if ((await mountsUnder(target)).length > 0) throw error;
  }
  // newer kernels show the option as `fsync=volatile`
  const volatile = mounted.some(
    (entry) => entry.superOptions.includes('volatile') || entry.superOptions.includes('fsync=volatile'),
  );
  if (volatile && snapshotMounts) {
    const mounts = await snapshotMounts();
    const mark =
      mounts?.length === 1 && mounts[0]!.type === 'overlay' ? volatileMark(mounts[0]!.options) : undefined;
    if (mark !== undefined) await rm(mark, { recursive: true, force: true });
  }
  return true;
}
