/**
 * gzip for pushing layers, fast on every kind of data: the shared block-parallel gzip with
 * incompressible blocks stored rather than deflated (random or already-compressed data is the
 * bulk of many layers). The output depends only on the input, so the same layer always gives the
 * same bytes (the same digest on every push).
 *
 * @example
 * await client.pushBlob(repo, gzipForPush(content.read(diffId)), { mode: 'stream' });
 */
import { looksIncompressible, parallelGzip } from '../util/parallel-gzip.ts';

export { looksIncompressible };

export interface PushCompressorOptions {
  /** zlib level for compressible blocks (default 1: pushes trade ratio for speed). */
  level?: number;
  /** Blocks compressed at once; default: the number of CPUs. */
  concurrency?: number;
}

/** gzip-compresses `source` on several threads; the output is one standard gzip member. */
export function gzipForPush(
  source: AsyncIterable<Uint8Array>,
  options: PushCompressorOptions = {},
): AsyncGenerator<Buffer> {
  return parallelGzip(source, { ...options, storeIncompressible: true });
}
