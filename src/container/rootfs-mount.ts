/**
 * Mounting a container's root filesystem so that nothing inside it names host paths. The kernel
 * shows overlayfs options in /proc/mounts exactly as given, so an overlay mounted with absolute
 * `lowerdir=/var/lib/wharf/...` tells every container where Wharf keeps its files. Here the
 * overlay's directories are made relative to their common parent and `mount` runs with that
 * parent as its working directory (as containerd does for long option lists): the container sees
 * `lowerdir=l/1,upperdir=snapshots/8/fs,...`. Other mounts (a bind for a one-layer view) go
 * through the snapshotter's `mountAt`.
 *
 * @example
 * await mountRootfs(await snapshotter.mounts(key), '/var/lib/wharf/containers/ID/rootfs');
 */
import { spawn } from 'node:child_process';
import { InternalError } from '../errors/index.ts';
import { mountAt } from '../snapshot/mount.ts';
import type { Mount } from '../snapshot/snapshotter.ts';

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

/** Mounts a snapshot's mounts on `target`, overlays with relative directories. */
export async function mountRootfs(mounts: readonly Mount[], target: string): Promise<void> {
  if (mounts.length !== 1 || mounts[0]!.type !== 'overlay' || mounts[0]!.target) {
    await mountAt(mounts, target);
    return;
  }
  const { options, cwd } = relativeOverlayOptions(mounts[0]!.options);
  await new Promise<void>((resolve, reject) => {
    const child = spawn(
      'mount',
      ['-t', 'overlay', '-o', options.join(','), '--', mounts[0]!.source, target],
      {
        cwd,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    const err: Buffer[] = [];
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error) =>
      reject(new InternalError(`Cannot run mount: ${error.message}`, { cause: error })),
    );
    child.on('close', (code) => {
      if (code === 0) resolve();
      else {
        const message = Buffer.concat(err).toString('utf8').trim();
        reject(
          new InternalError(
            `Cannot mount the root filesystem on ${target}: ${message || `exit code ${code}`}`,
          ),
        );
      }
    });
  });
}
