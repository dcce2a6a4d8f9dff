/**
 * Block-parallel gzip, as pigz does: the input is cut into 1 MiB blocks, each compressed as its
 * own raw deflate stream on libuv's thread pool (primed with the previous block's last 32 KiB as
 * dictionary, ended with a sync flush), concatenated into one standard gzip member. Block
 * boundaries depend only on the input, so the same bytes always give the same output.
 *
 * With `storeIncompressible`, a block whose samples look random is written as stored deflate
 * blocks (copied, no match search), as Go's compress/flate does with incompressible input: zlib
 * alone spends its full effort on such data (about 25-45 MB/s a thread here) to save nothing.
 * That choice also depends only on the input, so the output stays deterministic.
 *
 * Shared by layer diffs (src/image/layer) and pushes (src/distribution).
 *
 * @example
 * for await (const chunk of parallelGzip(tarChunks(), { level: 1 })) out.write(chunk);
 */
import { availableParallelism } from 'node:os';
import { crc32, deflateRaw, constants as zc } from 'node:zlib';

export interface ParallelGzipOptions {
  /** zlib level, 1 (fastest, the default) to 9. */
  level?: number;
  /** Blocks compressed at once; default: the number of CPUs. */
  concurrency?: number;
  /** Store blocks that look incompressible instead of deflating them (default false). */
  storeIncompressible?: boolean;
}

const BLOCK = 1024 * 1024;
const DICTIONARY = 32 * 1024;
/** An empty final block with fixed Huffman codes: ends the deflate stream after byte-aligned blocks. */
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);
const STORED_MAX = 65_535;
const SAMPLE = 4096;
const SAMPLES = 4;
/** A block whose samples carry more bits a byte than this is stored (random data: about 7.99). */
const INCOMPRESSIBLE_BITS = 7.9;

/**
 * True when deflating `block` would save (almost) nothing, judged by the byte entropy of a few
 * samples: random and already-compressed data is near 8 bits a byte, text and code far below.
 * (A histogram costs a few microseconds; deflating the samples would cost a zlib set-up each.)
 */
export function looksIncompressible(block: Buffer): boolean {
  if (block.length < SAMPLE * SAMPLES) return false;
  const counts = new Uint32Array(256);
  const step = Math.floor((block.length - SAMPLE) / (SAMPLES - 1));
  for (let i = 0; i < SAMPLES; i++) {
    const end = i * step + SAMPLE;
    for (let j = i * step; j < end; j++) counts[block[j]!]!++;
  }
  const total = SAMPLE * SAMPLES;
  let entropy = 0;
  for (const count of counts) {
    if (count === 0) continue;
    const p = count / total;
    entropy -= p * Math.log2(p);
  }
  return entropy > INCOMPRESSIBLE_BITS;
}

/** `block` as stored deflate blocks (not final), starting and ending byte-aligned; no copy of the data. */
function storedBlocks(block: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let offset = 0; offset < block.length; offset += STORED_MAX) {
    const length = Math.min(STORED_MAX, block.length - offset);
    const header = Buffer.allocUnsafe(5);
    header[0] = 0x00; // BFINAL 0, BTYPE 00 (stored), padding to the byte boundary
    header.writeUInt16LE(length, 1);
    header.writeUInt16LE(~length & 0xffff, 3);
    out.push(header, block.subarray(offset, offset + length));
  }
  return out;
}

function toBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** gzip-compresses `source` on several threads; the output is one standard gzip member. */
export async function* parallelGzip(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: ParallelGzipOptions = {},
): AsyncGenerator<Buffer> {
  const level = options.level ?? 1;
  const concurrency = Math.max(1, options.concurrency ?? availableParallelism());
  // mtime 0 and OS 255 (unknown), as Go's compress/gzip writes them: nothing of the host leaks in.
  yield Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, level === 1 ? 4 : level === 9 ? 2 : 0, 0xff]);
  let crc = 0;
  let total = 0;
  let previous: Buffer | undefined;
  const inFlight: Promise<Buffer[]>[] = [];
  const start = (block: Buffer): void => {
    crc = crc32(block, crc);
    total += block.length;
    const dictionary = previous ? previous.subarray(Math.max(0, previous.length - DICTIONARY)) : undefined;
    previous = block;
    const encoded =
      options.storeIncompressible && looksIncompressible(block)
        ? Promise.resolve(storedBlocks(block))
        : new Promise<Buffer[]>((resolve, reject) => {
            deflateRaw(
              block,
              { level, finishFlush: zc.Z_SYNC_FLUSH, ...(dictionary ? { dictionary } : {}) },
              (error, out) => (error ? reject(error) : resolve([out])),
            );
          });
    // Observed at once so a failure never counts as unhandled; awaiting it still throws.
    encoded.catch(() => {});
    inFlight.push(encoded);
  };
  let pending: Buffer[] = [];
  let pendingLength = 0;
  try {
    for await (const value of source) {
      let chunk = toBuffer(value);
      while (chunk.length > 0) {
        const take = Math.min(chunk.length, BLOCK - pendingLength);
        pending.push(chunk.subarray(0, take));
        pendingLength += take;
        chunk = chunk.subarray(take);
        if (pendingLength === BLOCK) {
          // A block that arrived whole is used as is (sources hand out fresh buffers, as Node
          // streams do); pieces are joined.
          start(pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingLength));
          pending = [];
          pendingLength = 0;
          while (inFlight.length >= concurrency) yield* await inFlight.shift()!;
        }
      }
    }
    if (pendingLength > 0) start(Buffer.concat(pending, pendingLength));
    while (inFlight.length > 0) yield* await inFlight.shift()!;
  } finally {
    inFlight.length = 0;
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(total % 2 ** 32, 4);
  yield Buffer.concat([FINAL_BLOCK, trailer]);
}
