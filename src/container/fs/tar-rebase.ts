/**
 * Renaming the top entry of a tar stream on the fly (moby's RebaseArchiveEntries): `from/x`
 * becomes `to/x`, hardlink targets too; data passes through untouched. `docker cp` uses it so
 * that an archive of `dir` lands as `newname` when the destination names a path that does not
 * exist yet, or when a symlink was followed.
 *
 * @example
 * for await (const chunk of rebaseArchiveEntries(tar, 'dir', 'copy')) out.write(chunk);
 */
import { encodeTarHeader, TAR_TRAILER, tarPadding } from '../../image/layer/tar-format.ts';
import { TarReader } from '../../image/layer/tar-reader.ts';

function rebase(name: string, from: string, to: string): string {
  if (name === from || name === `${from}/`) return name.endsWith('/') ? `${to}/` : to;
  if (name.startsWith(`${from}/`)) return `${to}${name.slice(from.length)}`;
  return name;
}

export async function* rebaseArchiveEntries(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  from: string,
  to: string,
): AsyncGenerator<Buffer> {
  const reader = new TarReader(source);
  try {
    for (let header = await reader.next(); header; header = await reader.next()) {
      header.name = rebase(header.name, from, to);
      if (header.type === 'link') header.linkname = rebase(header.linkname, from, to);
      yield encodeTarHeader(header);
      if (header.type !== 'file' || header.size === 0) continue;
      for await (const chunk of reader.body()) yield Buffer.from(chunk);
      const padding = tarPadding(header.size);
      if (padding.length > 0) yield padding;
    }
    yield TAR_TRAILER;
  } finally {
    await reader.close();
  }
}
