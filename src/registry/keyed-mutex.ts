/**
 * An in-process mutex per key (a digest, an upload id). The registry owns its storage alone (one
 * server per storage directory, see `storage-lock.ts`), so serializing in-process is enough to keep
 * "move the bytes, then insert the row" and "delete the row, then remove the bytes" of the same
 * digest from interleaving. Keys with no waiter cost nothing.
 *
 * @example
 * await locks.run(digest, async () => { await driver.move(from, to); await store.linkBlob(repo, blob); });
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `fn` once every earlier `run` with the same key has settled. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key);
    let release!: () => void;
    const current = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous ? previous.then(() => current) : current;
    this.#tails.set(key, tail);
    try {
      if (previous) await previous;
      return await fn();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  /** True while some `run` holds or waits for `key`. */
  isHeld(key: string): boolean {
    return this.#tails.has(key);
  }
}
