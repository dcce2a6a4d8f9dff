/**
 * Docker's streamed JSON messages (`application/json`, one object per line, `\r\n` ends each as
 * moby's stream formatter does): what pull, push, load, import and build answer. Writes wait
 * for the socket to drain, so a slow client slows the producer instead of filling memory, and
 * fail as soon as the client is gone, so the producer stops and releases what it holds.
 *
 * @example
 * await out.write({ status: 'Pulling fs layer', id: 'a3ed95caeb02' });
 * await out.write({ stream: 'Loaded image: busybox:latest\n' });
 */
import type { Writable } from 'node:stream';

export interface JsonMessageWriter {
  /** Sends one message; resolves when the client can take more. Rejects once the client is gone. */
  write(message: object): Promise<void>;
  /** Aborted when the client disconnects or the server shuts down. */
  readonly signal: AbortSignal;
  /** True once a message went out (the status line is then 200, whatever happens next). */
  readonly started: boolean;
}

/** Docker's error message line, sent when a stream fails after it started. */
export function errorMessage(error: unknown): { errorDetail: { message: string }; error: string } {
  const message = error instanceof Error ? error.message : String(error);
  return { errorDetail: { message }, error: message };
}

export class StreamGoneError extends Error {
  constructor() {
    super('Cannot write to the client: the connection is closed');
    this.name = 'StreamGoneError';
  }
}

/** Writes messages to `sink`, calling `begin` before the first one (to send the headers). */
/**
 * A message that writes its own JSON text: Go's int64 fields (an event's `timeNano`) can exceed
 * what a JavaScript number holds exactly, and JSON.stringify has no raw numbers in Node 20.
 */
export const OWN_JSON_TEXT: unique symbol = Symbol('wharf.ownJsonText');

function jsonText(message: object): string {
  const own = (message as { [OWN_JSON_TEXT]?: () => string })[OWN_JSON_TEXT];
  return typeof own === 'function' ? own.call(message) : JSON.stringify(message);
}

export class LineJsonMessageWriter implements JsonMessageWriter {
  readonly #sink: Writable;
  readonly #begin: () => void;
  readonly signal: AbortSignal;
  #started = false;

  constructor(sink: Writable, signal: AbortSignal, begin: () => void) {
    this.#sink = sink;
    this.signal = signal;
    this.#begin = begin;
  }

  get started(): boolean {
    return this.#started;
  }

  /** Sends the headers now (once), before any message. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#begin();
  }

  async write(message: object): Promise<void> {
    if (this.signal.aborted || this.#sink.destroyed) throw new StreamGoneError();
    this.start();
    if (this.#sink.write(`${jsonText(message)}\r\n`)) return;
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        this.#sink.off('drain', onDrain);
        this.#sink.off('close', onClose);
        this.signal.removeEventListener('abort', onClose);
        if (error) reject(error);
        else resolve();
      };
      const onDrain = () => done();
      const onClose = () => done(new StreamGoneError());
      this.#sink.on('drain', onDrain);
      this.#sink.on('close', onClose);
      this.signal.addEventListener('abort', onClose);
    });
  }
}

/**
 * Adapts a synchronous progress callback (what pull, push and build producers call) to the
 * writer: messages queue in order and go out as fast as the client takes them. Progress is
 * rate-limited at the source (one byte count per layer per 100 ms), so the queue stays short.
 *
 * @example
 * const queue = new MessageQueue(out);
 * await transfer.pull(ref, { progress: (event) => queue.push(event), signal: out.signal });
 * await queue.flush();
 */
export class MessageQueue {
  readonly #out: JsonMessageWriter;
  readonly #pending: object[] = [];
  #draining: Promise<void> | undefined;
  #failure: unknown;

  constructor(out: JsonMessageWriter) {
    this.#out = out;
  }

  push(message: object): void {
    if (this.#failure !== undefined) return;
    this.#pending.push(message);
    this.#draining ??= this.#drain();
  }

  /** Resolves once every queued message went out; rejects if the client went away. */
  async flush(): Promise<void> {
    while (this.#draining) await this.#draining;
    if (this.#failure !== undefined) throw this.#failure;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending.length > 0) await this.#out.write(this.#pending.shift()!);
    } catch (error) {
      this.#failure = error;
      this.#pending.length = 0;
    } finally {
      this.#draining = undefined;
    }
  }
}
