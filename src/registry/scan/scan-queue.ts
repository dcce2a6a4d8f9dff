/**
 * The registry's scans run in the background, one at a time, in the order asked: a scan reads
 * every layer of an image and the OSV database, so running several at once would only make each
 * slower and take memory from the requests. A key (the manifest digest) is queued at most once;
 * asking again while it waits or runs changes nothing. What a key is doing (queued, running, or
 * failed with a message) is kept in memory for the API; success forgets it (the report is stored).
 *
 * @example
 * const queue = new ScanQueue();
 * queue.enqueue(digest, async (signal) => scanAndStore(digest, signal));
 * queue.state(digest); // { status: 'queued' }
 */

export type ScanState = { status: 'queued' | 'running' } | { status: 'failed'; error: string; at: Date };

export type ScanJob = (signal: AbortSignal) => Promise<void>;

export interface ScanQueueOptions {
  /** Told about every failed job (logging). */
  onError?: (key: string, error: unknown) => void;
}

export class ScanQueue {
  readonly #pending: Array<{ key: string; job: ScanJob }> = [];
  readonly #states = new Map<string, ScanState>();
  readonly #abort = new AbortController();
  readonly #onError: ((key: string, error: unknown) => void) | undefined;
  #running: Promise<void> | undefined;
  #idle: Array<() => void> = [];

  constructor(options: ScanQueueOptions = {}) {
    this.#onError = options.onError;
  }

  /** Queues `job` under `key`; false (nothing done) when the key is already queued or running. */
  enqueue(key: string, job: ScanJob): boolean {
    if (this.#abort.signal.aborted) return false;
    const status = this.#states.get(key)?.status;
    if (status === 'queued' || status === 'running') return false;
    this.#states.set(key, { status: 'queued' });
    this.#pending.push({ key, job });
    // Never on the caller's stack: a push answers before its scan starts.
    if (!this.#running)
      this.#running = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#drain());
    return true;
  }

  /** What `key` is doing; undefined when it is neither queued, running nor failed. */
  state(key: string): ScanState | undefined {
    return this.#states.get(key);
  }

  /** Resolves when nothing is queued or running (tests, shutdown). */
  idle(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Drops what waits, aborts the running job and waits for it to stop. */
  async close(): Promise<void> {
    this.#abort.abort();
    for (const { key } of this.#pending.splice(0)) this.#states.delete(key);
    await this.idle();
  }

  async #drain(): Promise<void> {
    for (let next = this.#pending.shift(); next; next = this.#pending.shift()) {
      const { key, job } = next;
      this.#states.set(key, { status: 'running' });
      try {
        await job(this.#abort.signal);
        this.#states.delete(key);
      } catch (error) {
        this.#states.set(key, { status: 'failed', error: (error as Error).message, at: new Date() });
        if (!this.#abort.signal.aborted) this.#onError?.(key, error);
      }
    }
    this.#running = undefined;
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}
