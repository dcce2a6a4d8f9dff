/**
 * Docker's detach keys on a hijacked stdin (`attach`, `exec` with a TTY): the sequence
 * (`ctrl-p,ctrl-q` unless the client names another with `detachKeys`) is taken out of the input
 * and ends the session without touching the container; bytes that only began the sequence go
 * through once it is broken. The docker CLI watches for the sequence itself too and closes the
 * connection, so this is what clients that do not (dockerode, scripts) rely on.
 *
 * @example
 * const keys = parseDetachKeys('ctrl-p,ctrl-q'); // [16, 17]
 * input.pipe(new DetachKeyFilter(keys, () => session.detach()));
 */
import { Transform, type TransformCallback } from 'node:stream';
import { InvalidArgumentError } from '../errors/index.ts';

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/** Parses Docker's `--detach-keys` (`ctrl-p,ctrl-q`, `a`, `ctrl-@`) into bytes. */
export function parseDetachKeys(text: string): number[] {
  const keys: number[] = [];
  for (const part of text.split(',')) {
    const key = part.trim().toLowerCase();
    if (key.length === 1) keys.push(key.charCodeAt(0));
    else if (/^ctrl-[a-z@[\\\]^_]$/.test(key)) {
      const ch = key.slice(5);
      keys.push(ch >= 'a' && ch <= 'z' ? ch.charCodeAt(0) - 96 : ch.charCodeAt(0) - 64);
    } else {
      throw new InvalidArgumentError(`Invalid detach keys (${text}) provided: unknown character '${part}'`);
    }
  }
  return keys;
}

/** Passes input through, minus the detach sequence, whose arrival calls `onDetach` (once). */
export class DetachKeyFilter extends Transform {
  readonly #keys: number[];
  readonly #onDetach: () => void;
  #matched = 0;
  #detached = false;

  constructor(keys: number[], onDetach: () => void) {
    super();
    this.#keys = keys;
    this.#onDetach = onDetach;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#detached) {
      callback();
      return;
    }
    const out: number[] = [];
    for (const byte of chunk) {
      if (byte === this.#keys[this.#matched]) {
        this.#matched++;
        if (this.#matched === this.#keys.length) {
          this.#detached = true;
          if (out.length > 0) this.push(Buffer.from(out));
          this.#onDetach();
          callback();
          return;
        }
        continue;
      }
      // not the sequence after all: what was held back goes through
      out.push(...this.#keys.slice(0, this.#matched));
      this.#matched = 0;
      if (byte === this.#keys[0]) this.#matched = 1;
      else out.push(byte);
    }
    if (out.length > 0) this.push(Buffer.from(out));
    callback();
  }
}
