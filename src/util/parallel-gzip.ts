/**
 * Block-parallel gzip, as pigz does: the input is cut into 1 MiB blocks, each compressed as its
 * own raw deflate stream on a worker thread (primed with the previous block's last 32 KiB as
 * dictionary, ended with a sync flush), concatenated into one standard gzip member. Block
 * boundaries depend only on the input, so the same bytes always give the same output.
 *
 * Why worker threads rather than zlib's asynchronous calls on libuv's pool (the previous design):
 * an asynchronous zlib call comes back to the main thread for every 16 KiB output buffer it fills,
 * so a deflate thread stalled whenever the main thread was busy (making the tar it compresses,
 * say), and each call allocated its zlib state and buffers in the main isolate, where that churn
 * set off a full garbage collection every dozen blocks (measured on a 200 MB layer: 19 instead of
 * 7, and 0.9 s of GC threads). Here a block is copied into this compression's shared memory, a
 * worker deflates it in one synchronous call and computes its CRC-32, and only the compressed
 * bytes come back (transferred); the CRCs are combined in order on the main thread. The workers
 * are shared by all compressions of the process (layers pushed side by side share the threads),
 * unreferenced while idle and ended after 30 s unused. An input shorter than a block is deflated
 * on libuv's pool instead, with the same options: no worker is started for it.
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
import { Worker } from 'node:worker_threads';
import { crc32, deflateRaw, constants as zc } from 'node:zlib';
import { InternalError } from '../errors/index.ts';

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
/** zlib's output buffer: more than any block can deflate to (level 1 worst case: +0.1%). */
const OUT_CHUNK = BLOCK + BLOCK / 8;
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

/**
 * The raw deflate stream of an input that is a single block, on libuv's pool (the workers use the
 * same options, so the same bytes); one output buffer big enough for the whole block, so zlib
 * never stops to come back to the main thread for more room.
 */
function deflateBlock(block: Buffer, level: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    deflateRaw(block, { level, finishFlush: zc.Z_SYNC_FLUSH, chunkSize: OUT_CHUNK }, (error, out) =>
      error ? reject(error) : resolve(out),
    );
  });
}

// The CRC-32 of two concatenated pieces from the CRCs of each (zlib's crc32_combine, in the
// x^(2^n) form): multiplication modulo the CRC polynomial, bit-reflected.
const POLY = 0xedb88320;

function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** x^(2^n) modulo the polynomial, for n = 0..31. */
const X2N = (() => {
  const table = new Array<number>(32);
  let p = 0x40000000; // x^1
  table[0] = p;
  for (let n = 1; n < 32; n++) table[n] = p = multModP(p, p);
  return table;
})();

/** CRC-32 of A followed by B, from crc(A), crc(B) and B's length in bytes. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  // x^(8 * lengthB) modulo the polynomial, then crcA times it, plus crcB.
  let p = 0x80000000; // x^0
  let k = 3;
  for (let n = lengthB; n > 0; n = Math.floor(n / 2), k++) {
    if (n % 2 === 1) p = multModP(X2N[k % 32]!, p);
  }
  return (multModP(p, crcA >>> 0) ^ crcB) >>> 0;
}

// --- the deflate workers ---------------------------------------------------------------------

/** A slot of a compression's shared memory: the dictionary (up to 32 KiB), then the block. */
const SLOT = DICTIONARY + BLOCK;

// Runs in each worker: deflates the block in slot `slot` of `memory` (its dictionary just before
// it) with the options deflateBlock uses, and returns the compressed bytes (transferred, not
// cloned) with the block's CRC-32.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { crc32, deflateRawSync, constants } = require('node:zlib');
parentPort.on('message', (job) => {
  const base = job.slot * ${SLOT};
  const memory = new Uint8Array(job.memory);
  const block = memory.subarray(base + ${DICTIONARY}, base + ${DICTIONARY} + job.length);
  try {
    const options = { level: job.level, finishFlush: constants.Z_SYNC_FLUSH, chunkSize: ${OUT_CHUNK} };
    if (job.dictionaryLength > 0)
      options.dictionary = memory.subarray(base + ${DICTIONARY} - job.dictionaryLength, base + ${DICTIONARY});
    const out = deflateRawSync(block, options);
    const crc = crc32(block);
    const copy = new Uint8Array(out.length);
    copy.set(out);
    parentPort.postMessage({ crc, out: copy }, [copy.buffer]);
  } catch (error) {
    parentPort.postMessage({ error: String((error && error.message) || error) });
  }
});
`;

interface Job {
  memory: SharedArrayBuffer;
  slot: number;
  length: number;
  dictionaryLength: number;
  level: number;
  resolve: (value: { out: Buffer; crc: number }) => void;
  reject: (error: Error) => void;
}

interface Reply {
  crc?: number;
  out?: Uint8Array;
  error?: string;
}

/** Most workers ever started, whatever concurrency callers ask for. */
const MAX_WORKERS = 16;
/** Workers end after this long without a job (a daemon should not keep them forever). */
const IDLE_MS = 30_000;

/**
 * The deflate workers, shared by every compression of the process: jobs wait in one queue, so
 * layers pushed side by side share the threads rather than each starting its own. There are as
 * many workers as the highest concurrency asked for (started when first needed); each is
 * unreferenced while idle, so it never keeps the process alive, and all end after IDLE_MS unused.
 */
class DeflateWorkers {
  #idle: Worker[] = [];
  #running = new Map<Worker, Job>();
  #queue: Job[] = [];
  #count = 0;
  #timer: NodeJS.Timeout | undefined;

  /** Deflates the block a compression copied into `slot` of `memory`, on one of `threads` workers. */
  deflate(job: Omit<Job, 'resolve' | 'reject'>, threads: number): Promise<{ out: Buffer; crc: number }> {
    return new Promise((resolve, reject) => {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      while (this.#count < Math.min(threads, MAX_WORKERS)) this.#start();
      this.#queue.push({ ...job, resolve, reject });
      this.#dispatch();
    });
  }

  #start(): void {
    // No execArgv: the parent's flags are not the worker's (--input-type=module would make this
    // CommonJS source fail; --import tsx would load a TypeScript loader into every worker).
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
    worker.on('message', (reply: Reply) => this.#settle(worker, reply));
    worker.on('error', (error) =>
      this.#lose(
        worker,
        new InternalError(`Cannot compress: a deflate worker failed: ${error.message}`, { cause: error }),
      ),
    );
    worker.on('exit', (code) =>
      this.#lose(worker, new InternalError(`Cannot compress: a deflate worker exited with code ${code}`)),
    );
    worker.unref(); // after the listeners: adding a 'message' listener refs the worker again
    this.#count++;
    this.#idle.push(worker);
  }

  #dispatch(): void {
    while (this.#queue.length > 0 && this.#idle.length > 0) {
      const worker = this.#idle.pop()!;
      const job = this.#queue.shift()!;
      this.#running.set(worker, job);
      worker.ref(); // a job is awaited: keep the process alive for it
      const { memory, slot, length, dictionaryLength, level } = job;
      worker.postMessage({ memory, slot, length, dictionaryLength, level });
    }
  }

  #settle(worker: Worker, reply: Reply): void {
    const job = this.#running.get(worker);
    if (!job) return;
    this.#running.delete(worker);
    worker.unref();
    this.#idle.push(worker);
    this.#dispatch();
    if (reply.out && reply.crc !== undefined) {
      const out = reply.out;
      job.resolve({ out: Buffer.from(out.buffer, out.byteOffset, out.byteLength), crc: reply.crc >>> 0 });
    } else
      job.reject(new InternalError(`Cannot compress: ${reply.error ?? 'a deflate worker returned nothing'}`));
    if (this.#running.size === 0 && this.#queue.length === 0) this.#idleTimer();
  }

  /**
   * A worker died: its job fails, and the queued ones too if no worker is left (a worker that
   * cannot start must not be replaced forever); the next compression starts new ones.
   */
  #lose(worker: Worker, error: Error): void {
    const job = this.#running.get(worker);
    const idleAt = this.#idle.indexOf(worker);
    if (!job && idleAt < 0) return; // already counted out ('error' then 'exit')
    this.#running.delete(worker);
    if (idleAt >= 0) this.#idle.splice(idleAt, 1);
    this.#count--;
    worker.removeAllListeners();
    worker.on('error', () => {});
    void worker.terminate();
    job?.reject(error);
    if (this.#count === 0) for (const queued of this.#queue.splice(0)) queued.reject(error);
  }

  #idleTimer(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#running.size > 0 || this.#queue.length > 0) return;
      for (const worker of this.#idle.splice(0)) {
        worker.removeAllListeners();
        worker.on('error', () => {});
        void worker.terminate();
      }
      this.#count = 0;
    }, IDLE_MS);
    this.#timer.unref();
  }
}

const workers = new DeflateWorkers();

function toBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

interface Encoded {
  out: Buffer[];
  crc: number;
  length: number;
}

/**
 * gzip-compresses `source` on several threads; the output is one standard gzip member. Each
 * chunk of `source` is copied before the next is asked for, so a source may reuse its buffers.
 */
export async function* parallelGzip(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: ParallelGzipOptions = {},
): AsyncGenerator<Buffer> {
  const level = options.level ?? 1;
  const concurrency = Math.max(1, options.concurrency ?? availableParallelism());
  // Blocks in flight: one more than the threads, so the next block is ready when one is done.
  const window = concurrency + 1;
  // mtime 0 and OS 255 (unknown), as Go's compress/gzip writes them: nothing of the host leaks in.
  yield Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, level === 1 ? 4 : level === 9 ? 2 : 0, 0xff]);
  // This compression's slots: block b is gathered in slot b % window, after its dictionary.
  const memory = new SharedArrayBuffer(SLOT * window);
  const slots = Buffer.from(memory);
  let crc = 0;
  let total = 0;
  let blocks = 0;
  /** Bytes of the block being gathered; -1 while its slot may still be in use. */
  let fill = -1;
  /** The last DICTIONARY bytes of the previous block (a copy: its slot is reused). */
  const dictionary = Buffer.allocUnsafe(DICTIONARY);
  let dictionaryLength = 0;
  const inFlight: Promise<Encoded>[] = [];
  const blockAt = (slot: number, length: number): Buffer =>
    slots.subarray(slot * SLOT + DICTIONARY, slot * SLOT + DICTIONARY + length);
  /** Starts compressing the gathered block, in order after the blocks before it. */
  const start = (alone: boolean): void => {
    const slot = blocks % window;
    const length = fill;
    const block = blockAt(slot, length);
    let encoded: Promise<Encoded>;
    if (options.storeIncompressible && looksIncompressible(block)) {
      // Stored blocks are the input itself: copied out of the slot, which will be reused.
      const copy = Buffer.from(block);
      encoded = Promise.resolve({ out: storedBlocks(copy), crc: crc32(copy), length });
    } else if (alone) {
      // The whole input is less than a block: deflate it on libuv's pool, no workers needed.
      const copy = Buffer.from(block);
      encoded = deflateBlock(copy, level).then((out) => ({ out: [out], crc: crc32(copy), length }));
    } else {
      slots.set(
        dictionary.subarray(DICTIONARY - dictionaryLength),
        slot * SLOT + DICTIONARY - dictionaryLength,
      );
      encoded = workers
        .deflate({ memory, slot, length, dictionaryLength, level }, concurrency)
        .then(({ out, crc: blockCrc }) => ({ out: [out], crc: blockCrc, length }));
    }
    // Only the last block can be shorter than the dictionary, and nothing follows it.
    const tail = block.subarray(Math.max(0, length - DICTIONARY));
    dictionary.set(tail, DICTIONARY - tail.length);
    dictionaryLength = tail.length;
    blocks++;
    fill = -1;
    // Observed at once so a failure never counts as unhandled; awaiting it still throws.
    encoded.catch(() => {});
    inFlight.push(encoded);
  };
  const finish = async function* (): AsyncGenerator<Buffer> {
    const done = await inFlight.shift()!;
    crc = crc32Combine(crc, done.crc, done.length);
    total += done.length;
    yield* done.out;
  };
  try {
    for await (const value of source) {
      const chunk = toBuffer(value);
      for (let offset = 0; offset < chunk.length; ) {
        if (fill < 0) {
          // A slot is reused only once the block that had it is done (blocks finish in order).
          while (inFlight.length >= window) yield* finish();
          fill = 0;
        }
        const take = Math.min(chunk.length - offset, BLOCK - fill);
        slots.set(chunk.subarray(offset, offset + take), (blocks % window) * SLOT + DICTIONARY + fill);
        fill += take;
        offset += take;
        if (fill === BLOCK) start(false);
      }
    }
    if (fill > 0) start(blocks === 0);
    while (inFlight.length > 0) yield* finish();
  } finally {
    // Blocks still in flight (the consumer stopped early, or one failed) finish on their own;
    // the shared memory is this call's alone, so nothing else can be disturbed.
    inFlight.length = 0;
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(total % 2 ** 32, 4);
  yield Buffer.concat([FINAL_BLOCK, trailer]);
}
