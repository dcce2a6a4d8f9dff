/**
 * Whether a directory is a mount point, from /proc/self/mountinfo (mount(8)'s own source), so a
 * container's rootfs is mounted once and unmounted only when it is mounted.
 *
 * @example
 * if (!(await isMountPoint(rootfs))) await mountAt(mounts, rootfs);
 */
import { readFile } from 'node:fs/promises';

/** mountinfo escapes space, tab, newline and backslash as octal. */
function decodeOctalEscapes(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

export async function isMountPoint(dir: string): Promise<boolean> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const target = dir.replace(/\/+$/, '');
  for (const line of text.split('\n')) {
    const mountpoint = line.split(' ')[4];
    if (mountpoint !== undefined && decodeOctalEscapes(mountpoint) === target) return true;
  }
  return false;
}
