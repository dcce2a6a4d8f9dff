/** Shared by the layer tests: building tars in memory, describing trees, hashing a sentinel. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import {
  encodeTarHeader,
  TAR_TRAILER,
  type TarHeader,
  tarPadding,
} from '../../../src/image/layer/tar-format.ts';
import { isLayerXattr } from '../../../src/image/layer/whiteout.ts';
import { readXattrsRecursive } from '../../../src/image/layer/xattr.ts';

export type EntrySpec = Partial<TarHeader> & { name: string; body?: string | Buffer };

/** A tar made of `entries` (type defaults to file, mode 0644, owner root, mtime 1e9). */
export function tarOf(entries: EntrySpec[]): Buffer {
  const parts: Buffer[] = [];
  for (const spec of entries) {
    const body = spec.body === undefined ? Buffer.alloc(0) : Buffer.from(spec.body);
    const header: TarHeader = {
      name: spec.name,
      type: spec.type ?? 'file',
      mode: spec.mode ?? (spec.type === 'dir' ? 0o755 : 0o644),
      uid: spec.uid ?? 0,
      gid: spec.gid ?? 0,
      size: (spec.type ?? 'file') === 'file' ? body.length : 0,
      mtime: spec.mtime ?? 1_000_000_000,
      linkname: spec.linkname ?? '',
      devmajor: spec.devmajor ?? 0,
      devminor: spec.devminor ?? 0,
      xattrs: spec.xattrs ?? new Map(),
    };
    parts.push(encodeTarHeader(header));
    if (header.type === 'file') parts.push(body, tarPadding(body.length));
  }
  parts.push(TAR_TRAILER);
  return Buffer.concat(parts);
}

export interface EntryDescription {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  mtime?: number;
  link?: string;
  rdev?: number;
  sha256?: string;
  xattrs: Record<string, string>;
  /** The first path (sorted) of this entry's inode, when it has several. */
  hardlinkGroup?: string;
}

/**
 * Everything a layer must carry about each entry under `dir` (the root itself excluded): types,
 * modes, owners, sizes, whole-second mtimes (directories' too unless `dirTimes` is false),
 * symlink targets, devices, content hashes, layer xattrs, hardlink identity.
 */
export async function describeTree(
  dir: string,
  options: { dirTimes?: boolean; times?: boolean } = {},
): Promise<Record<string, EntryDescription>> {
  const xattrs = await readXattrsRecursive(dir);
  const out: Record<string, EntryDescription> = {};
  const inodes = new Map<string, string[]>();
  const walk = (rel: string): void => {
    const abs = rel === '' ? dir : `${dir}/${rel}`;
    for (const name of readdirSync(abs).sort()) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const path = `${dir}/${childRel}`;
      const st = lstatSync(path);
      const type = st.isFile()
        ? 'file'
        : st.isDirectory()
          ? 'dir'
          : st.isSymbolicLink()
            ? 'symlink'
            : st.isCharacterDevice()
              ? 'char'
              : st.isBlockDevice()
                ? 'block'
                : st.isFIFO()
                  ? 'fifo'
                  : 'other';
      const entry: EntryDescription = {
        type,
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        xattrs: Object.fromEntries(
          [...(xattrs.get(path) ?? [])]
            .filter(([k]) => isLayerXattr(k))
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(([k, v]) => [k, v.toString('base64')]),
        ),
      };
      if (type === 'symlink') entry.mode = 0;
      if (options.times !== false && (type !== 'dir' || options.dirTimes !== false))
        entry.mtime = Math.floor(st.mtimeMs / 1000);
      if (type === 'file') {
        entry.size = st.size;
        entry.sha256 = createHash('sha256').update(readFileSync(path)).digest('hex');
      }
      if (type === 'symlink') entry.link = readlinkSync(path);
      if (type === 'char' || type === 'block') entry.rdev = st.rdev;
      if (type !== 'dir' && st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        inodes.set(key, [...(inodes.get(key) ?? []), childRel]);
        (entry as EntryDescription & { inode?: string }).inode = key;
      }
      out[childRel] = entry;
      if (type === 'dir') walk(childRel);
    }
  };
  walk('');
  for (const entry of Object.values(out) as (EntryDescription & { inode?: string })[]) {
    if (entry.inode) {
      const paths = inodes.get(entry.inode)!;
      if (paths.length > 1) entry.hardlinkGroup = [...paths].sort()[0]!;
      delete entry.inode;
    }
  }
  return out;
}

/** A hash of everything under `dir` (names, types, modes, owners, sizes, mtimes, contents, xattrs). */
export function hashTree(dir: string): string {
  const listing = execFileSync('find', [dir, '-printf', '%P %y %m %U %G %s %T@ %l\\n'], { encoding: 'utf8' })
    .split('\n')
    .sort()
    .join('\n');
  const hash = createHash('sha256').update(listing);
  const files = execFileSync('find', [dir, '-type', 'f', '-print0'], { encoding: 'utf8' })
    .split('\0')
    .filter(Boolean)
    .sort();
  for (const file of files) hash.update(file).update(readFileSync(file));
  hash.update(
    execFileSync('getfattr', ['-R', '-h', '-d', '-m', '-', '--absolute-names', dir], { encoding: 'utf8' }),
  );
  return hash.digest('hex');
}

/** Runs a shell command (for building fixtures), throwing with its stderr on failure. */
export function sh(command: string): string {
  return execFileSync('/bin/bash', ['-c', command], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}
