/**
 * Whether a directory is a mount point, and what is mounted at or below it, from
 * /proc/self/mountinfo (mount(8)'s own source), so a container's rootfs is mounted once and
 * unmounted only when it is mounted.
 *
 * @example
 * if (!(await isMountPoint(rootfs))) await mountAt(mounts, rootfs);
 * const below = await mountsUnder(rootfs); // deepest first
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** One line of mountinfo: where, and the filesystem's own (super block) options. */
export interface MountEntry {
  mountpoint: string;
  fstype: string;
  superOptions: string[];
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function decodeOctalEscapes(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/** Parses mountinfo text (`ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS] - FSTYPE SOURCE SUPEROPTS`). */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const mountpoint = line.split(' ', 5)[4];
    const separator = line.indexOf(' - ');
    if (mountpoint === undefined || separator < 0) continue;
    const [fstype = '', , superOptions = ''] = line.slice(separator + 3).split(' ');
    entries.push({
      mountpoint: decodeOctalEscapes(mountpoint),
      fstype,
      superOptions: superOptions.split(','),
    });
  }
  return entries;
}

export async function isMountPoint(dir: string): Promise<boolean> {
  return mountInfoHas(await readFile('/proc/self/mountinfo', 'utf8'), dir);
}

/**
 * `isMountPoint`, reading mountinfo synchronously: for a container's start and exit, where the
 * read (tens of microseconds for a few hundred mounts) costs less than a thread-pool round trip.
 */
export function isMountPointSync(dir: string): boolean {
  return mountInfoHas(readFileSync('/proc/self/mountinfo', 'utf8'), dir);
}

function mountInfoHas(text: string, dir: string): boolean {
  const target = dir.replace(/\/+$/, '');
  for (const line of text.split('\n')) {
    const mountpoint = line.split(' ')[4];
    if (mountpoint !== undefined && decodeOctalEscapes(mountpoint) === target) return true;
  }
  return false;
}

/**
 * Every mount at `dir` or below it, deepest (last mounted) first: the order to unmount them in.
 * Empty when nothing is mounted there.
 */
export async function mountsUnder(dir: string): Promise<MountEntry[]> {
  return mountsBelow(parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')), dir);
}

/** `mountsUnder`, reading mountinfo synchronously (see isMountPointSync). */
export function mountsUnderSync(dir: string): MountEntry[] {
  return mountsBelow(parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8')), dir);
}

/** The entries of `entries` (in mount order) at `dir` or below it, deepest first. */
export function mountsBelow(entries: readonly MountEntry[], dir: string): MountEntry[] {
  const target = dir.replace(/\/+$/, '');
  return entries
    .filter((entry) => entry.mountpoint === target || entry.mountpoint.startsWith(`${target}/`))
    .reverse();
}
