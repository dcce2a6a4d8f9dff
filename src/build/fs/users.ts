/**
 * Users and groups of an image, read from its /etc/passwd and /etc/group, for the two places a
 * build needs numbers:
 *
 * - `RUN` under `USER` (BuildKit's executor, runc's `GetExecUser`): `name`, `uid`, `name:group`,
 *   `uid:gid`; a name must exist in /etc/passwd; a bare uid takes the gid of its passwd entry or
 *   0; without a group, the supplementary groups are those of /etc/group listing the user.
 * - `COPY --chown` and `WORKDIR`'s owner (BuildKit's `readUser`): a name not found counts as 0,
 *   a bare uid is also the gid, `root` is 0.
 *
 * @example
 * execUser('/mnt/rootfs', 'nobody');       // { uid: 65534, gid: 65534, additionalGids: [] }
 * chownUser('/mnt/rootfs', '1000');        // { uid: 1000, gid: 1000 }
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { InvalidArgumentError, isErrno } from '../../errors/index.ts';
import { rootPath } from './root-path.ts';

const MAX_USER_FILE = 10 << 20;

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** The text of a root's /etc/passwd or /etc/group, or undefined when missing. */
function readUserFile(root: string, path: string): string | undefined {
  const file = rootPath(root, path);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return undefined;
    throw error;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile())
      throw new InvalidArgumentError(`Cannot read ${path} of the image: it is not a regular file`);
    if (st.size > MAX_USER_FILE)
      throw new InvalidArgumentError(`Cannot read ${path} of the image: it exceeds 10 MiB`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

const isNumeric = (s: string): boolean => /^\d+$/.test(s);

function parsePasswd(text: string | undefined): PasswdEntry[] {
  if (text === undefined) return [];
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const f = trimmed.split(':');
    out.push({
      name: f[0] ?? '',
      uid: Number.parseInt(f[2] ?? '', 10) || 0,
      gid: Number.parseInt(f[3] ?? '', 10) || 0,
    });
  }
  return out;
}

function parseGroup(text: string | undefined): GroupEntry[] {
  if (text === undefined) return [];
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const f = trimmed.split(':');
    out.push({
      name: f[0] ?? '',
      gid: Number.parseInt(f[2] ?? '', 10) || 0,
      members: (f[3] ?? '').split(',').filter((m) => m !== ''),
    });
  }
  return out;
}

export interface ExecUser {
  uid: number;
  gid: number;
  additionalGids: number[];
}

/** The process user of a RUN step for `USER spec` (empty: root). */
export function execUser(root: string, spec: string): ExecUser {
  if (spec === '') return { uid: 0, gid: 0, additionalGids: [] };
  const [userPart = '', groupPart] = spec.split(/:(.*)/s, 2) as [string, string | undefined];
  // BuildKit's fast path: both numeric, no file read.
  const num = (s: string) => (s === 'root' ? 0 : isNumeric(s) ? Number(s) : undefined);
  if (groupPart !== undefined && num(userPart) !== undefined && num(groupPart) !== undefined) {
    return { uid: num(userPart)!, gid: num(groupPart)!, additionalGids: [] };
  }
  const passwd = parsePasswd(readUserFile(root, '/etc/passwd'));
  const groups = parseGroup(readUserFile(root, '/etc/group'));
  let uid: number;
  let gid = 0;
  let name: string | undefined;
  if (isNumeric(userPart)) {
    uid = Number(userPart);
    const entry = passwd.find((p) => p.uid === uid);
    if (entry) {
      gid = entry.gid;
      name = entry.name;
    }
  } else {
    const entry = passwd.find((p) => p.name === userPart);
    if (!entry)
      throw new InvalidArgumentError(`unable to find user ${userPart}: no matching entries in passwd file`);
    uid = entry.uid;
    gid = entry.gid;
    name = entry.name;
  }
  if (groupPart !== undefined && groupPart !== '') {
    if (isNumeric(groupPart)) gid = Number(groupPart);
    else {
      const group = groups.find((g) => g.name === groupPart);
      if (!group)
        throw new InvalidArgumentError(
          `unable to find group ${groupPart}: no matching entries in group file`,
        );
      gid = group.gid;
    }
    return { uid, gid, additionalGids: [] };
  }
  const additionalGids =
    name === undefined ? [] : groups.filter((g) => g.members.includes(name)).map((g) => g.gid);
  return { uid, gid, additionalGids };
}

export interface Owner {
  uid: number;
  gid: number;
}

/** The owner `--chown=spec` (or a WORKDIR created under `USER spec`) gives. */
export function chownUser(root: string, spec: string): Owner {
  const colon = spec.indexOf(':');
  const userPart = colon < 0 ? spec : spec.slice(0, colon);
  const groupPart = colon < 0 ? undefined : spec.slice(colon + 1);
  const id = (s: string) => (s === 'root' ? 0 : /^-?\d+$/.test(s) ? Number(s) : undefined);
  const owner: Owner = { uid: 0, gid: 0 };
  const uid = id(userPart);
  if (uid !== undefined) {
    owner.uid = uid;
    owner.gid = uid;
  } else {
    const entry = parsePasswd(readUserFile(root, '/etc/passwd')).find((p) => p.name === userPart);
    if (entry) {
      owner.uid = entry.uid;
      owner.gid = entry.gid;
    }
  }
  if (groupPart !== undefined) {
    const gid = id(groupPart);
    if (gid !== undefined) owner.gid = gid;
    else {
      const group = parseGroup(readUserFile(root, '/etc/group')).find((g) => g.name === groupPart);
      if (group) owner.gid = group.gid;
    }
  }
  return owner;
}
