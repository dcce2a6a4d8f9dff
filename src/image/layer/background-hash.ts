/**
 * sha256 on another thread, for the diffID of a layer being applied. Hashing 200 MB takes about
 * 150 ms of the main thread here, a third of what `tar -x` spends on the whole layer, so the
 * bytes are copied (about 20 ms per 200 MB) into a ring of eight 1 MiB slots of shared memory that
 * a worker thread hashes in order. Producer and consumer hand slots over with Atomics (the worker
 * polls), so the worker keeps hashing while the main thread is busy with synchronous filesystem
 * work and never needs the event loop; the memory is touched once per worker, so no page faults
 * per block.
 * Workers (with their rings) are pooled and unreferenced while idle. Inputs below `THRESHOLD`
 * bytes are hashed on the spot: for them the hand-over costs more than it saves.
 *
 * @example
 * const hash = new BackgroundHash();
 * for (const chunk of chunks) hash.update(chunk);
 * const digest = await hash.digest(); // 'sha256:…'
 */
import { Worker } from 'node:worker_threads';
import { InternalError } from '../../errors/index.ts';
import type { Digest } from '../../oci/digest.ts';
import { nodeCrypto } from '../../util/node-crypto.ts';

const THRESHOLD = 4 * 1024 * 1024;
const SLOT = 1024 * 1024;
const SLOTS = 8;
const FREE = 0;
const FULL = 1;

// Control words: state of slot i at [i], its byte count at [SLOTS + i] (-1 ends the input). The
// worker polls (sleeping POLL_MS between looks) instead of being woken: on a busy machine a woken
// thread often takes over the waker's core for a while, and waking it for each slot cost the main
// thread more than the hashing it saved.
const POLL_MS = 1;
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', ({ control, data, slots, slot }) => {
  const words = new Int32Array(control);
  const bytes = new Uint8Array(data);
  const hash = createHash('sha256');
  for (let i = 0; ; i = (i + 1) % slots) {
    while (Atomics.load(words, i) === ${FREE}) Atomics.wait(words, i, ${FREE}, ${POLL_MS});
    const length = words[slots + i];
    if (length >= 0) hash.update(bytes.subarray(i * slot, i * slot + length));
    Atomics.store(words, i, ${FREE});
    Atomics.notify(words, i);
    if (length < 0) break;
  }
  parentPort.postMessage(hash.digest('hex'));
});
`;

interface Ring {
  worker: Worker;
  words: Int32Array;
  bytes: Uint8Array;
  control: SharedArrayBuffer;
  data: SharedArrayBuffer;
}

const idle: Ring[] = [];

function takeRing(): Ring {
  const pooled = idle.pop();
  if (pooled) return pooled;
  const control = new SharedArrayBuffer(4 * 2 * SLOTS);
  const data = new SharedArrayBuffer(SLOT * SLOTS);
  // No execArgv: the parent's flags are not the worker's (--input-type=module would break this
  // CommonJS source; --import tsx would load a TypeScript loader into every worker).
  const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
  worker.unref();
  return { worker, control, data, words: new Int32Array(control), bytes: new Uint8Array(data) };
}

export class BackgroundHash {
  /** Until THRESHOLD bytes came, they wait here (copied) and are hashed locally at the end. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #ring: Ring | undefined;
  #cursor = 0;
  /** Slot being filled (-1: none) and how much of it is. */
  #slot = -1;
  #fill = 0;
  #result: Promise<string> | undefined;
  #ended = false;

  /** Adds `chunk` (copied: the caller may reuse it at once). */
  update(chunk: Uint8Array): void {
    if (this.#ended) throw new InternalError('Cannot hash: digest() was already called');
    if (!this.#ring) {
      this.#pending.push(Buffer.from(chunk));
      this.#pendingBytes += chunk.length;
      if (this.#pendingBytes <= THRESHOLD) return;
      this.#start();
      for (const pending of this.#pending) this.#put(pending);
      this.#pending = [];
      return;
    }
    this.#put(chunk);
  }

  /**
   * For a producer that can write in place (reading a file): the next ring slot to fill, which
   * `publishClaimed` hands to the worker; no copy at all. Not to be mixed with `update`.
   */
  claim(): Buffer {
    if (!this.#ring) this.#start();
    const ring = this.#ring!;
    this.#slot = this.#next(ring);
    return Buffer.from(ring.data, this.#slot * SLOT, SLOT);
  }

  /** Hands the claimed slot, holding `length` bytes, to the worker. */
  publishClaimed(length: number): void {
    publish(this.#ring!, this.#slot, length);
    this.#slot = -1;
  }

  /** The sha256 digest of everything passed to `update`. */
  async digest(): Promise<Digest> {
    this.#ended = true;
    if (!this.#ring) {
      const hash = nodeCrypto().createHash('sha256');
      for (const chunk of this.#pending) hash.update(chunk);
      this.#pending = [];
      return `sha256:${hash.digest('hex')}`;
    }
    return `sha256:${await this.#finish()}`;
  }

  /** Stops hashing (an apply failed): the worker returns to the pool. */
  dispose(): void {
    this.#ended = true;
    this.#pending = [];
    if (this.#ring) this.#finish().catch(() => {});
  }

  #start(): void {
    const ring = takeRing();
    this.#ring = ring;
    this.#cursor = 0;
    ring.words.fill(0);
    this.#slot = -1;
    this.#result = new Promise<string>((resolve, reject) => {
      const onError = (error: Error): void => {
        ring.worker.off('message', onMessage);
        reject(new InternalError(`Cannot hash layer: ${error.message}`, { cause: error }));
      };
      const onMessage = (hex: string): void => {
        ring.worker.off('error', onError);
        resolve(hex);
      };
      ring.worker.once('message', onMessage);
      ring.worker.once('error', onError);
    });
    this.#result.catch(() => {});
    ring.worker.postMessage({ control: ring.control, data: ring.data, slots: SLOTS, slot: SLOT });
  }

  /** Copies into the current slot, handing each slot over once full. */
  #put(chunk: Uint8Array): void {
    const ring = this.#ring!;
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#slot < 0) {
        this.#slot = this.#next(ring);
        this.#fill = 0;
      }
      const take = Math.min(chunk.length - offset, SLOT - this.#fill);
      ring.bytes.set(chunk.subarray(offset, offset + take), this.#slot * SLOT + this.#fill);
      this.#fill += take;
      offset += take;
      if (this.#fill === SLOT) {
        publish(ring, this.#slot, SLOT);
        this.#slot = -1;
      }
    }
  }

  /** The next slot, once the worker has freed it. */
  #next(ring: Ring): number {
    const i = this.#cursor;
    // The worker is a whole ring behind: wait for it (it never needs this thread to progress).
    while (Atomics.load(ring.words, i) !== FREE) Atomics.wait(ring.words, i, FULL, 100);
    this.#cursor = (i + 1) % SLOTS;
    return i;
  }

  async #finish(): Promise<string> {
    const ring = this.#ring!;
    this.#ring = undefined;
    if (this.#slot >= 0) publish(ring, this.#slot, this.#fill);
    this.#slot = -1;
    publish(ring, this.#next(ring), -1);
    ring.worker.ref(); // the answer is awaited: keep the process alive for it
    try {
      const hex = await this.#result!;
      idle.push(ring);
      return hex;
    } finally {
      ring.worker.unref();
    }
  }
}

/** Marks slot `i` full; the polling worker finds it within POLL_MS. */
function publish(ring: Ring, i: number, length: number): void {
  ring.words[SLOTS + i] = length;
  Atomics.store(ring.words, i, FULL);
  // The end of the input is awaited: wake the worker for it rather than let it find it.
  if (length < 0) Atomics.notify(ring.words, i);
}
