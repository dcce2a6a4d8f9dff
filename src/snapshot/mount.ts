/**
 * Putting a snapshotter's `Mount`s on a directory, and taking them off, with util-linux's `mount`
 * and `umount` (Node has no mount(2)).
 *
 * The kernel copies mount options from one 4 KiB page, and util-linux 2.38 has no `lowerdir+`, so
 * a long overlay chain's options can be too long. When they are, the lower directories are made
 * relative to their longest common parent directory and `mount` runs with that directory as its
 * working directory (what containerd does); with the overlay snapshotter's short `l/` names that
 * is about 5 bytes a layer, so the kernel's 500-layer limit is reached before the page is full.
 *
 * @example
 * await mountAt(await snapshotter.mounts(key), '/run/wharf/rootfs/abc');
 * await unmount('/run/wharf/rootfs/abc');
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InternalError, InvalidArgumentError } from '../errors/index.ts';
import type { Mount } from './snapshotter.ts';

/** Room left for the kernel's page (4096 bytes, with its NUL) after our own safety margin. */
const MAX_OPTIONS = 4096 - 512;

/** Mounts each of `mounts` in order on `dir` (or on `dir` + its `target`). */
export async function mountAt(mounts: readonly Mount[], dir: string): Promise<void> {
  const done: string[] = [];
  try {
    for (const mount of mounts) {
      const where = mount.target ? join(dir, mount.target) : dir;
      await mountOne(mount, where);
      done.push(where);
    }
  } catch (error) {
    for (const where of done.reverse()) await unmount(where).catch(() => {});
    throw error;
  }
}

/** Unmounts `dir` and everything mounted below it. */
export async function unmount(dir: string): Promise<void> {
  await run('umount', ['-R', dir]);
}

/**
 * Mounts `mounts` on a fresh temporary directory, runs `fn` with it, then unmounts and removes
 * the directory (also when `fn` throws).
 */
export async function withTempMount<T>(
  mounts: readonly Mount[],
  fn: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-mount-'));
  try {
    await mountAt(mounts, dir);
    try {
      return await fn(dir);
    } finally {
      await unmount(dir);
    }
  } finally {
    await rmdir(dir).catch(() => {});
  }
}

async function mountOne(mount: Mount, where: string): Promise<void> {
  if (mount.type === 'bind') {
    // `-o bind,ro` makes util-linux do the bind and the read-only remount in one go.
    await run('mount', ['-o', mount.options.join(','), '--', mount.source, where]);
    return;
  }
  let options = mount.options;
  let cwd: string | undefined;
  if (mount.type === 'overlay' && options.join(',').length > MAX_OPTIONS) {
    ({ options, cwd } = compactLowerdirs(options));
    if (options.join(',').length > MAX_OPTIONS) {
      throw new InvalidArgumentError(
        `Cannot mount overlay on ${where}: its options are ${options.join(',').length} bytes even with relative lower directories`,
      );
    }
  }
  await run('mount', ['-t', mount.type, '-o', options.join(','), '--', mount.source, where], cwd);
}

/** Rewrites `lowerdir=` with paths relative to their common parent; returns that parent as cwd. */
function compactLowerdirs(options: readonly string[]): { options: string[]; cwd: string } {
  const index = options.findIndex((o) => o.startsWith('lowerdir='));
  if (index < 0) return { options: [...options], cwd: '/' };
  const lowers = options[index]!.slice('lowerdir='.length).split(':');
  let common = parentDir(lowers[0]!);
  for (const lower of lowers) {
    while (common !== '/' && !lower.startsWith(`${common}/`)) common = parentDir(common);
  }
  const prefix = common === '/' ? 1 : common.length + 1;
  const out = [...options];
  out[index] = `lowerdir=${lowers.map((l) => l.slice(prefix)).join(':')}`;
  return { options: out, cwd: common };
}

function parentDir(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? '/' : path.slice(0, slash);
}

function run(command: string, args: string[], cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], ...(cwd ? { cwd } : {}) });
    const err: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (error) =>
      reject(new InternalError(`Cannot run ${command}: ${error.message}`, { cause: error })),
    );
    child.on('close', (code) => {
      if (code === 0) resolve();
      else {
        const message = Buffer.concat(err).toString('utf8').trim();
        reject(new InternalError(`Cannot ${command} ${args.at(-1)}: ${message || `exit code ${code}`}`));
      }
    });
  });
}
