/**
 * One layer blob of the registry's storage as the entries src/scan/final-tree-files.ts reads:
 * decompressed on the fly (gzip with zlib, or a plain tar, told apart by the first bytes, not the
 * media type, which some pushers get wrong), parsed with tar-stream, each name classified by the
 * OCI whiteout rules (src/oci/layer-path.ts). Bodies the reader does not ask for are drained, or
 * tar-stream would stall. zstd layers are refused: Node 20's zlib has no zstd.
 *
 * @example
 * const tree = new FinalTreeFiles(INVENTORY_PATHS);
 * await tree.addLayer(layerTreeItems(await blobs.open(record, { offset: 0, length: record.size })));
 */
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { InvalidArgumentError } from '../../errors/index.ts';
import { classifyLayerPath } from '../../oci/layer-path.ts';
import type { TreeItem } from '../../scan/final-tree-files.ts';

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

type EntryType = (TreeItem & { kind: 'entry' })['type'];

function startsWith(head: Uint8Array, magic: readonly number[]): boolean {
  return head.length >= magic.length && magic.every((byte, i) => head[i] === byte);
}

function entryType(type: tar.Header['type'] | undefined): EntryType {
  switch (type) {
    case 'file':
    case 'contiguous-file':
      return 'file';
    case 'directory':
      return 'dir';
    case 'symlink':
    case 'link':
      return type;
    default:
      return 'other';
  }
}

/** The first chunk, and every chunk again (the first one included). */
async function peek(
  source: AsyncIterable<Uint8Array>,
): Promise<{ head: Uint8Array; chunks: AsyncIterable<Uint8Array> }> {
  const iterator = source[Symbol.asyncIterator]();
  const first = await iterator.next();
  const head = first.done ? new Uint8Array(0) : first.value;
  async function* replay(): AsyncGenerator<Uint8Array> {
    try {
      if (first.done) return;
      yield head;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
    } finally {
      await iterator.return?.();
    }
  }
  return { head, chunks: replay() };
}

/** The tar entries of one layer blob, in order; stopping early closes the blob. */
export async function* layerTreeItems(blob: AsyncIterable<Uint8Array>): AsyncGenerator<TreeItem> {
  const { head, chunks } = await peek(blob);
  if (startsWith(head, ZSTD_MAGIC))
    throw new InvalidArgumentError(
      'Cannot read the layer: zstd-compressed layers are not supported by the registry scanner',
    );
  const source = Readable.from(chunks, { objectMode: false });
  const extract = tar.extract();
  // Errors reach the loop below through `extract` (pipeline destroys every stream with them).
  const ignore = () => {};
  if (startsWith(head, GZIP_MAGIC)) pipeline(source, createGunzip(), extract, ignore);
  else pipeline(source, extract, ignore);
  try {
    for await (const entry of extract) {
      const header = entry.header;
      const path = classifyLayerPath(header.name);
      let read = false;
      if (path.kind === 'opaque' || path.kind === 'whiteout') yield path;
      else if (path.kind === 'entry') {
        yield {
          kind: 'entry',
          rel: path.rel,
          dir: path.dir,
          type: entryType(header.type),
          size: header.size ?? 0,
          linkname: header.linkname ?? '',
          body: () => {
            read = true;
            return entry as AsyncIterable<Uint8Array>;
          },
        };
      }
      if (!read) entry.resume();
    }
  } finally {
    if (!extract.destroyed) extract.destroy();
    if (!source.destroyed) source.destroy();
  }
}
