/**
 * Reading conmon's k8s-file (CRI) logs. Each record is one line:
 *
 *   2024-05-01T10:00:00.123456789+00:00 stdout F hello
 *   TIMESTAMP (RFC 3339, nanoseconds, local offset) STREAM TAG TEXT
 *
 * where TAG `F` ends a line and `P` marks a fragment of a longer line (or of output not ended by a
 * newline yet); the fragments of one stream join, in order, up to its next `F`. Entries here are
 * whole lines: fragments joined, stamped with the time of their first fragment.
 *
 * `follow` keeps reading as the file grows (fs.watch, with polling as a safety net), survives
 * conmon starting a fresh file at --log-size-max (a new inode renamed over the path: the old one
 * is drained first), and ends when `stop` settles (e.g. the container's exit) after a last read.
 *
 * @example
 * for await (const entry of readContainerLog(logPath, { tail: 10, follow: true, stop: exited })) {
 *   process.stdout.write(`${formatLogTimestamp(entry.timestamp)} ${entry.text}\n`);
 * }
 */
import { watch } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { InvalidArgumentError, isErrno, NotFoundError } from '../errors/index.ts';

export type LogStream = 'stdout' | 'stderr';

export interface LogEntry {
  /** Nanoseconds since the epoch, from the line's first fragment. */
  timestamp: bigint;
  stream: LogStream;
  /** The line's text without its newline. */
  text: string;
  /** True when the line has not ended yet (its `F` has not been written). */
  partial: boolean;
}

export interface ReadLogOptions {
  /** Only the last N lines (before following). */
  tail?: number;
  /** Only lines stamped at or after this time (a Date, or nanoseconds since the epoch). */
  since?: Date | bigint;
  /** Only lines stamped before this time. */
  until?: Date | bigint;
  stdout?: boolean;
  stderr?: boolean;
  follow?: boolean;
  /** With `follow`: stop (after reading what is there) once this settles. */
  stop?: Promise<unknown>;
  signal?: AbortSignal;
  /** With `follow`: the polling interval, also the delay to notice a new file. Default 250 ms. */
  pollMs?: number;
  /**
   * Yield fragments as they come (`partial` entries are pieces of a line, the next entry of the
   * stream continues it) instead of whole lines: what an attached terminal needs to show a prompt.
   * `tail` then counts fragments.
   */
  fragments?: boolean;
}

interface LogRecord {
  timestamp: bigint;
  stream: LogStream;
  partial: boolean;
  text: string;
}

const RECORD =
  /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2}) (stdout|stderr) ([PF]) ?(.*)$/s;

/** Nanoseconds since the epoch of an RFC 3339 timestamp with up to nanosecond precision. */
export function parseLogTimestamp(text: string): bigint {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (!match) throw new InvalidArgumentError(`Cannot parse log timestamp "${text}"`);
  return toNanos(match[1]!, match[2], match[3]!);
}

function toNanos(seconds: string, fraction: string | undefined, offset: string): bigint {
  const millis = Date.parse(`${seconds}${offset}`);
  return BigInt(millis) * 1_000_000n + BigInt((fraction ?? '').padEnd(9, '0'));
}

/** One CRI log record; undefined for a line that is not one. */
export function parseCriLine(line: string): LogRecord | undefined {
  const match = RECORD.exec(line);
  if (!match) return undefined;
  return {
    timestamp: toNanos(match[1]!, match[2], match[3]!),
    stream: match[4] as LogStream,
    partial: match[5] === 'P',
    text: match[6]!,
  };
}

/** Docker's `logs -t` form: RFC 3339 in UTC with nanoseconds, e.g. `2024-05-01T10:00:00.123456789Z`. */
export function formatLogTimestamp(nanos: bigint): string {
  const millis = nanos / 1_000_000n;
  const iso = new Date(Number(millis)).toISOString(); // ...T10:00:00.123Z
  const fraction = (nanos % 1_000_000_000n).toString().padStart(9, '0');
  return `${iso.slice(0, 19)}.${fraction}Z`;
}

function toNanosOption(value: Date | bigint | undefined): bigint | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'bigint' ? value : BigInt(value.getTime()) * 1_000_000n;
}

/** Joins fragments per stream into whole lines. */
class LineJoiner {
  #pending = new Map<LogStream, { timestamp: bigint; parts: string[] }>();

  push(record: LogRecord): LogEntry | undefined {
    const pending = this.#pending.get(record.stream);
    if (record.partial) {
      if (pending) pending.parts.push(record.text);
      else this.#pending.set(record.stream, { timestamp: record.timestamp, parts: [record.text] });
      return undefined;
    }
    if (pending) {
      this.#pending.delete(record.stream);
      pending.parts.push(record.text);
      return {
        timestamp: pending.timestamp,
        stream: record.stream,
        text: pending.parts.join(''),
        partial: false,
      };
    }
    return { timestamp: record.timestamp, stream: record.stream, text: record.text, partial: false };
  }

  /** Lines still waiting for their end, oldest first. */
  unfinished(): LogEntry[] {
    return [...this.#pending.entries()]
      .map(([stream, p]) => ({ timestamp: p.timestamp, stream, text: p.parts.join(''), partial: true }))
      .sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0));
  }
}

/** The joiner's shape for `fragments`: every record is an entry. */
class FragmentPassThrough {
  push(record: LogRecord): LogEntry {
    return { ...record };
  }

  unfinished(): LogEntry[] {
    return [];
  }
}

/** Reads newline-terminated records from a file handle, from an offset, chunk by chunk. */
class RecordReader {
  handle: FileHandle;
  offset = 0;
  #rest = '';
  #decoder = new TextDecoder('utf-8');

  constructor(handle: FileHandle) {
    this.handle = handle;
  }

  /** Complete lines available now; an unterminated tail waits for more data. */
  async readLines(): Promise<string[]> {
    const lines: string[] = [];
    const buffer = Buffer.allocUnsafe(64 * 1024);
    for (;;) {
      const { bytesRead } = await this.handle.read(buffer, 0, buffer.length, this.offset);
      if (bytesRead === 0) break;
      this.offset += bytesRead;
      const text = this.#rest + this.#decoder.decode(buffer.subarray(0, bytesRead), { stream: true });
      const parts = text.split('\n');
      this.#rest = parts.pop() ?? '';
      lines.push(...parts);
    }
    return lines;
  }

  reset(): void {
    this.offset = 0;
    this.#rest = '';
    this.#decoder = new TextDecoder('utf-8');
  }
}

async function openLog(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, 'r');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}

/** The lines of a container's CRI log, as an async iterator (see the module comment). */
export async function* readContainerLog(
  path: string,
  options: ReadLogOptions = {},
): AsyncGenerator<LogEntry> {
  const since = toNanosOption(options.since);
  const until = toNanosOption(options.until);
  const wantStdout = options.stdout ?? true;
  const wantStderr = options.stderr ?? true;
  if (options.tail !== undefined && (!Number.isInteger(options.tail) || options.tail < 0)) {
    throw new InvalidArgumentError(`Cannot show the last ${options.tail} lines: not a count`);
  }
  const keep = (entry: LogEntry) =>
    (entry.stream === 'stdout' ? wantStdout : wantStderr) &&
    (since === undefined || entry.timestamp >= since) &&
    (until === undefined || entry.timestamp < until);

  let handle = await openLog(path);
  if (!handle && !options.follow) throw new NotFoundError(`Cannot read log ${path}: it does not exist`);
  const joiner = options.fragments ? new FragmentPassThrough() : new LineJoiner();
  let reader = handle ? new RecordReader(handle) : undefined;
  try {
    // The backlog: everything there now, cut to the last `tail` lines.
    const backlog: LogEntry[] = [];
    if (reader) {
      for (const line of await reader.readLines()) {
        const record = parseCriLine(line);
        if (!record) continue;
        const entry = joiner.push(record);
        if (entry && keep(entry)) {
          backlog.push(entry);
          if (options.tail !== undefined && backlog.length > options.tail) backlog.shift();
        }
      }
    }
    if (!options.follow) {
      const unfinished = joiner.unfinished().filter(keep);
      const all = [...backlog, ...unfinished];
      yield* options.tail !== undefined ? all.slice(Math.max(0, all.length - options.tail)) : all;
      return;
    }
    yield* backlog;
    if (until !== undefined && BigInt(Date.now()) * 1_000_000n >= until) return;

    // Following: wake on fs events, on a timer, and when `stop` settles.
    let wake: (() => void) | undefined;
    let woken = false; // a nudge that came while reading: do not sleep on it
    const nudge = () => {
      const resolve = wake;
      wake = undefined;
      if (resolve) resolve();
      else woken = true;
    };
    let stopped = false;
    options.stop?.then(
      () => {
        stopped = true;
        nudge();
      },
      () => {
        stopped = true;
        nudge();
      },
    );
    const onAbort = () => nudge();
    options.signal?.addEventListener('abort', onAbort);
    let watcher: ReturnType<typeof watch> | undefined;
    const rewatch = () => {
      watcher?.close();
      try {
        watcher = watch(path, () => nudge());
        watcher.on('error', () => undefined);
      } catch {
        watcher = undefined; // the file is not there yet: polling finds it
      }
    };
    rewatch();
    const timer = setInterval(nudge, options.pollMs ?? 250);
    try {
      for (;;) {
        if (options.signal?.aborted) return;
        const finalPass = stopped;
        // A new file at the path (conmon's rotation, or the first one): drain the old, switch.
        const current = await stat(path).catch(() => undefined);
        if (current && reader) {
          const own = await reader.handle.stat();
          if (own.ino !== current.ino) {
            yield* drain(await reader.readLines());
            await reader.handle.close();
            reader = undefined;
          } else if (current.size < reader.offset) {
            reader.reset(); // truncated in place
          }
        }
        if (current && !reader) {
          handle = await openLog(path);
          if (handle) {
            reader = new RecordReader(handle);
            rewatch();
          }
        }
        if (reader) yield* drain(await reader.readLines());
        if (finalPass) {
          yield* joiner.unfinished().filter(keep);
          return;
        }
        if (until !== undefined && BigInt(Date.now()) * 1_000_000n >= until) return;
        if (woken) woken = false;
        else {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          woken = false;
        }
      }
    } finally {
      clearInterval(timer);
      // Removing an inotify watch blocks this thread for an SRCU grace period (milliseconds),
      // and the end of a followed log is when the container's exit is being handled: later.
      const closing = watcher;
      watcher = undefined;
      if (closing) {
        // unref'd too: a CLI that is done exits at once (the kernel drops the watch)
        closing.unref();
        setTimeout(() => closing.close(), 100).unref();
      }
      options.signal?.removeEventListener('abort', onAbort);
    }
  } finally {
    await reader?.handle.close().catch(() => undefined);
  }

  function* drain(lines: string[]): Generator<LogEntry> {
    for (const line of lines) {
      const record = parseCriLine(line);
      if (!record) continue;
      const entry = joiner.push(record);
      if (entry && keep(entry)) yield entry;
    }
  }
}
