/**
 * A read-only view of the crun binary, so that crun need not copy itself at every start.
 *
 * Against CVE-2019-5736 (a container overwriting the runtime's binary on the host through
 * /proc/PID/exe), crun 1.8 begins every invocation by bind-mounting its own binary read-only in
 * /tmp, or copying it into a sealed memfd, and executing itself again from there: an exec, the
 * dynamic loader and three mount-table changes, 3-8 ms here, once per container. It skips that
 * when it already runs from a read-only filesystem and `_LIBCONTAINER_CLONED_BINARY` is set
 * (crun's is_self_cloned, and runc's, which documents the same for an administrator's
 * read-only bind mount): a binary on a read-only mount cannot be written through
 * /proc/PID/exe either, so the protection is the same.
 *
 * Layout, one per crun build (KEY: its device, inode, size and mtime in µs, in hex, so an
 * upgraded crun gets its own), shared by every Wharf root and process and kept until the host reboots:
 *
 *   /run/wharf/runtimes/
 *     crun-KEY      an empty file, with the binary bind-mounted read-only over it
 *
 * It is made on first use (`mount --bind -o ro`), checked before each use (mounted, read-only,
 * the same inode as the binary), and made again when missing (after a reboot the file stays, the
 * mount does not). Two processes making it at once stack two identical mounts, which is
 * harmless. Anything unexpected means the plain binary, which copies itself as before.
 *
 * @example
 * const launch = await readOnlyRuntime('/usr/bin/crun');
 * // { path: '/run/wharf/runtimes/crun-803-4a1b2-77a88-5f3a...', env: { _LIBCONTAINER_CLONED_BINARY: '1' } }
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { childProcess } from '../util/child-process.ts';
import { findExecutable } from './runtime-probe.ts';

export const READ_ONLY_RUNTIME_DIR = '/run/wharf/runtimes';

export interface RuntimeLaunch {
  /** The binary to execute: the read-only view. */
  path: string;
  /** Environment the runtime needs to trust it. */
  env: Record<string, string>;
}

/** mountinfo's per-mount options of `path` (the last mount there wins), or undefined. */
function mountOptions(path: string): string[] | undefined {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  let options: string[] | undefined;
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (fields[4] === path) options = (fields[5] ?? '').split(',');
  }
  return options;
}

/**
 * Whether `target` is a read-only mount of `binary`. Synchronous (a stat and a read of
 * mountinfo, microseconds each), as it is checked before every container start.
 */
function isReadOnlyView(target: string, binary: { dev: number; ino: number }): boolean {
  const info = statOrUndefined(target);
  return info?.dev === binary.dev && info.ino === binary.ino && mountOptions(target)?.includes('ro') === true;
}

function statOrUndefined(path: string): { dev: number; ino: number } | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function bindReadOnly(binary: string, target: string): Promise<boolean> {
  return findExecutable('mount').then(
    (mount) =>
      new Promise<boolean>((resolve) => {
        const child = childProcess().spawn(mount ?? 'mount', ['--bind', '-o', 'ro', binary, target], {
          stdio: 'ignore',
        });
        child.on('error', () => resolve(false));
        child.on('close', (code) => resolve(code === 0));
      }),
  );
}

const known = new Map<string, Promise<RuntimeLaunch | undefined>>();

/**
 * The read-only view of `binary` with the environment that makes crun use it as is, or
 * undefined when it cannot be had (not root, no mount): then run `binary` itself.
 */
export function readOnlyRuntime(
  binary: string,
  dir = READ_ONLY_RUNTIME_DIR,
): Promise<RuntimeLaunch | undefined> {
  const cacheKey = `${dir}\0${binary}`;
  const launch = known.get(cacheKey);
  if (!launch) {
    // prepare checks the view itself: a fresh one needs no second look (an exec's first call)
    const prepared = prepare(binary, dir).catch(() => undefined);
    known.set(cacheKey, prepared);
    // a failure is not final (a mount table in flux, a missing directory): ask again later
    void prepared.then((result) => {
      if (!result) setTimeout(() => known.delete(cacheKey), 60_000).unref();
    });
    return prepared;
  }
  return launch.then((result) => {
    if (!result) return undefined;
    // unmounted behind our back (by hand): the plain binary this time, the view again next time
    const info = statOrUndefined(binary);
    try {
      if (info && isReadOnlyView(result.path, info)) return result;
    } catch {
      // unreadable mountinfo: as if not mounted
    }
    known.delete(cacheKey);
    return undefined;
  });
}

/**
 * The build's identity in hex, as is: unique without a hash, and no digest to compute (a
 * process's first one initialises OpenSSL's digests, 0.5-3 ms of an exec here).
 */
function viewKey(info: { dev: number; ino: number; size: number; mtimeMs: number }): string {
  return [info.dev, info.ino, info.size, Math.round(info.mtimeMs * 1000)]
    .map((part) => part.toString(16))
    .join('-');
}

/**
 * Whether `binary` is an ELF executable. Only the runtime's own binary clones itself; a script in
 * front of it (the Engine API's TTY exec wrapper, a fresh file per daemon) would gain nothing
 * from a view, and each would keep a mount until the host reboots.
 */
function isElf(binary: string): boolean {
  const fd = openSync(binary, 'r');
  try {
    const magic = Buffer.alloc(4);
    return readSync(fd, magic, 0, 4, 0) === 4 && magic.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    closeSync(fd);
  }
}

async function prepare(binary: string, dir: string): Promise<RuntimeLaunch | undefined> {
  if (process.getuid?.() !== 0 || !isElf(binary)) return undefined;
  const info = statSync(binary);
  const target = join(dir, `${basename(binary)}-${viewKey(info)}`);
  const launch: RuntimeLaunch = { path: target, env: { _LIBCONTAINER_CLONED_BINARY: '1' } };
  if (isReadOnlyView(target, info)) return launch;
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await writeFile(target, '', { flag: 'a', mode: 0o755 });
  if (!(await bindReadOnly(binary, target))) return undefined;
  return isReadOnlyView(target, info) ? launch : undefined;
}
