/**
 * `ADD` of a local archive: a tar (plain, gzip, bzip2, xz or zstd, told by its first bytes) is
 * extracted at the destination instead of copied, as BuildKit's file op does (`unpack`, with
 * moby's `Untar`): implied parent directories are created (0755, root), existing directories are
 * merged, anything else in an entry's way is replaced, entries keep their mode, mtime and owner
 * (or take `--chown`'s). Names are cleaned and resolved inside the image root, so `../` and
 * symlinks in the archive or the image never lead out of it.
 *
 * @example
 * if (await isArchive(file)) await extractArchive(file, '/mnt/rootfs', '/opt/app/', undefined);
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  createReadStream,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { InvalidArgumentError } from '../../errors/index.ts';
import { looksLikeTar } from '../../image/compression.ts';
import { openDecompressed } from '../../image/layer/compression.ts';
import { cleanRelative } from '../../image/layer/root-path.ts';
import { TarReader } from '../../image/layer/tar-reader.ts';
import { lstatOrUndefined } from '../../util/sync-fs.ts';
import { mkdirAll } from './copy.ts';
import { resolveRelative, rootPath } from './root-path.ts';
import type { Owner } from './users.ts';

/** True when `path` is a regular file holding a tar archive, maybe compressed (moby's isArchivePath). */
export async function isArchive(path: string): Promise<boolean> {
  try {
    if (!lstatSync(path).isFile()) return false;
  } catch {
    return false;
  }
  const fd = openSync(path, 'r');
  const head = Buffer.alloc(512);
  let n: number;
  try {
    n = readSync(fd, head, 0, 512, 0);
  } finally {
    closeSync(fd);
  }
  const plain = head.subarray(0, n);
  const magic = plain.subarray(0, 6);
  const compressed =
    (magic[0] === 0x1f && magic[1] === 0x8b) ||
    magic.subarray(0, 3).equals(Buffer.from('BZh')) ||
    magic.equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) ||
    magic.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
  if (!compressed) return n === 512 && looksLikeTar(plain) && !plain.every((b) => b === 0);
  // A compressed stream: look at its first decompressed block.
  try {
    const { chunks } = await openDecompressed(createReadStream(path, { highWaterMark: 64 * 1024 }));
    const parts: Buffer[] = [];
    let size = 0;
    for await (const chunk of chunks) {
      parts.push(chunk);
      size += chunk.length;
      if (size >= 512) break;
    }
    const block = Buffer.concat(parts).subarray(0, 512);
    return block.length === 512 && looksLikeTar(block) && !block.every((b) => b === 0);
  } catch {
    return false;
  }
}

/** Extracts `file` into `destPath` (absolute in the image) under `root`. */
export async function extractArchive(
  file: string,
  root: string,
  destPath: string,
  owner: Owner | undefined,
): Promise<number> {
  const destRel = resolveRelative(root, destPath);
  mkdirAll(destRel === '' ? root : `${root}/${destRel}`, 0o755, owner);
  const { chunks } = await openDecompressed(createReadStream(file, { highWaterMark: 256 * 1024 }));
  const reader = new TarReader(chunks);
  const dirTimes: { path: string; mtime: number }[] = [];
  let count = 0;
  for (let h = await reader.next(); h; h = await reader.next()) {
    const name = cleanRelative(h.name);
    if (name === '') continue;
    const inImage = destRel === '' ? name : `${destRel}/${name}`;
    const rel = resolveRelative(root, inImage, false);
    const path = `${root}/${rel}`;
    const parent = path.slice(0, path.lastIndexOf('/'));
    if (!lstatOrUndefined(parent)) mkdirAll(parent, 0o755, undefined);
    const existing = lstatOrUndefined(path);
    if (existing && !(existing.isDirectory() && h.type === 'dir'))
      rmSync(path, { recursive: true, force: true });
    switch (h.type) {
      case 'dir':
        if (!existing?.isDirectory()) mkdirSync(path, { mode: h.mode & 0o777 });
        break;
      case 'file': {
        const fd = openSync(path, 'w', h.mode & 0o777);
        try {
          for await (const chunk of reader.body()) {
            let off = 0;
            while (off < chunk.length) off += writeSync(fd, chunk, off);
          }
        } finally {
          closeSync(fd);
        }
        break;
      }
      case 'symlink':
        symlinkSync(h.linkname, path);
        break;
      case 'link': {
        const linkRel = cleanRelative(h.linkname);
        const target = rootPath(root, destRel === '' ? linkRel : `${destRel}/${linkRel}`, false);
        if (!lstatOrUndefined(target))
          throw new InvalidArgumentError(
            `Cannot extract ${h.name}: its link target ${h.linkname} does not exist`,
          );
        linkSync(target, path);
        break;
      }
      default: {
        const args =
          h.type === 'fifo'
            ? [path, 'p']
            : [path, h.type === 'char' ? 'c' : 'b', String(h.devmajor), String(h.devminor)];
        const r = spawnSync('mknod', args, { stdio: 'ignore' });
        if (r.status !== 0) throw new InvalidArgumentError(`Cannot extract ${h.name}: mknod failed`);
      }
    }
    const uid = owner?.uid ?? h.uid;
    const gid = owner?.gid ?? h.gid;
    lchownSync(path, uid, gid);
    if (h.type === 'symlink') lutimesSync(path, h.mtime, h.mtime);
    else if (h.type !== 'link') {
      chmodSync(path, h.mode & 0o7777);
      if (h.type === 'dir') dirTimes.push({ path, mtime: h.mtime });
      else utimesSync(path, h.mtime, h.mtime);
    }
    count++;
  }
  // Directory times last: writing inside a directory moves its mtime.
  for (const d of dirTimes.reverse()) utimesSync(d.path, d.mtime, d.mtime);
  return count;
}
