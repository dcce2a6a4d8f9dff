/**
 * Unix socket files: before listening, a socket file left by a daemon that died is removed
 * (nothing answers on it), while one that answers means another daemon is running; after
 * listening, the socket gets mode 0660 (and a group, when asked) so that only root and that
 * group reach the API, as Docker does with its `docker` group.
 *
 * @example
 * await prepareSocketPath('/run/wharf/wharf.sock');
 * await server.listen({ path });
 * await secureSocket(path, undefined);
 */
import { chmod, chown, lstat, mkdir, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { FailedPreconditionError, isErrno, NotFoundError } from '../errors/index.ts';

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function prepareSocketPath(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  let info: Awaited<ReturnType<typeof lstat>>;
  try {
    info = await lstat(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return;
    throw error;
  }
  if (!info.isSocket()) {
    throw new FailedPreconditionError(`Cannot listen on ${path}: it exists and is not a socket`);
  }
  if (await answers(path)) {
    throw new FailedPreconditionError(`Cannot listen on ${path}: another daemon is listening on it`);
  }
  await rm(path, { force: true });
}

async function groupId(name: string): Promise<number> {
  if (/^\d+$/.test(name)) return Number(name);
  const groups = await readFile('/etc/group', 'utf8');
  for (const line of groups.split('\n')) {
    const [group, , gid] = line.split(':');
    if (group === name && gid !== undefined) return Number(gid);
  }
  throw new NotFoundError(`Cannot give the socket to group ${name}: no such group`);
}

export async function secureSocket(path: string, group: string | undefined): Promise<void> {
  if (group !== undefined) await chown(path, 0, await groupId(group));
  await chmod(path, 0o660);
}

/** Removes the socket file at shutdown (ignoring one already gone). */
export async function removeSocket(path: string): Promise<void> {
  await rm(path, { force: true });
}
