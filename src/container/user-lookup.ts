/**
 * Resolving a container's USER in its own `/etc/passwd` and `/etc/group`, as runc's
 * `user.GetExecUser` does for Docker:
 *
 *   ''            root: uid 0, gid 0 (or root's passwd entry)
 *   'name'        the passwd entry (an error when there is none)
 *   'uid'         the passwd entry with that uid, or uid with gid 0 when there is none
 *   'u:g'         user as above; the group by name (an error when missing) or number
 *
 * Without an explicit group, the supplementary groups are those of /etc/group that list the
 * user's name as a member. `--group-add` adds more (names looked up, numbers taken as they are).
 * HOME is the passwd entry's home directory, `/` without one.
 *
 * @example
 * const user = resolveUser('nobody', { passwd, group });
 * // { uid: 65534, gid: 65534, additionalGids: [], home: '/home' }
 */
import { InvalidArgumentError } from '../errors/index.ts';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

export function parsePasswd(text: string | undefined): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    const uid = Number(fields[2]);
    const gid = Number(fields[3]);
    if (!fields[0] || !Number.isInteger(uid)) continue;
    entries.push({ name: fields[0], uid, gid: Number.isInteger(gid) ? gid : 0, home: fields[5] ?? '' });
  }
  return entries;
}

export function parseGroup(text: string | undefined): GroupEntry[] {
  const entries: GroupEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    const gid = Number(fields[2]);
    if (!fields[0] || !Number.isInteger(gid)) continue;
    const members = (fields[3] ?? '')
      .split(',')
      .map((m) => m.trim())
      .filter(Boolean);
    entries.push({ name: fields[0], gid, members });
  }
  return entries;
}

const NUMERIC = /^\d+$/;
const MAX_ID = 2 ** 31 - 1;

function numeric(text: string, what: string): number {
  const value = Number(text);
  if (value > MAX_ID) throw new InvalidArgumentError(`${what} ${text} is out of range`);
  return value;
}

/** Resolves a USER spec against the container's passwd and group files (see the module comment). */
export function resolveUser(
  spec: string,
  files: { passwd: string | undefined; group: string | undefined },
  groupAdd: readonly string[] = [],
): ResolvedUser {
  const passwd = parsePasswd(files.passwd);
  const groups = parseGroup(files.group);
  const colon = spec.indexOf(':');
  const userPart = colon < 0 ? spec : spec.slice(0, colon);
  const groupPart = colon < 0 ? '' : spec.slice(colon + 1);

  let entry: PasswdEntry | undefined;
  let uid: number;
  let gid = 0;
  let home = '/';
  if (userPart === '') {
    entry = passwd.find((p) => p.uid === 0);
    uid = 0;
  } else if (NUMERIC.test(userPart)) {
    uid = numeric(userPart, 'uid');
    entry = passwd.find((p) => p.uid === uid);
  } else {
    entry = passwd.find((p) => p.name === userPart);
    if (!entry)
      throw new InvalidArgumentError(`unable to find user ${userPart}: no matching entries in passwd file`);
    uid = entry.uid;
  }
  if (entry) {
    gid = entry.gid;
    if (entry.home) home = entry.home;
  }

  let additionalGids: number[] = [];
  if (groupPart !== '') {
    const named = NUMERIC.test(groupPart) ? undefined : groups.find((g) => g.name === groupPart);
    if (NUMERIC.test(groupPart)) gid = numeric(groupPart, 'gid');
    else if (named) gid = named.gid;
    else
      throw new InvalidArgumentError(`unable to find group ${groupPart}: no matching entries in group file`);
  } else if (entry) {
    const name = entry.name;
    additionalGids = groups.filter((g) => g.members.includes(name)).map((g) => g.gid);
  }
  for (const extra of groupAdd) {
    if (NUMERIC.test(extra)) additionalGids.push(numeric(extra, 'gid'));
    else {
      const named = groups.find((g) => g.name === extra);
      if (!named)
        throw new InvalidArgumentError(`Unable to find group ${extra}: no matching entries in group file`);
      additionalGids.push(named.gid);
    }
  }
  // containerd (Docker's runtime layer) lists the primary group among the supplementary ones.
  additionalGids = [...new Set([gid, ...additionalGids])];
  return { uid, gid, additionalGids, home };
}
