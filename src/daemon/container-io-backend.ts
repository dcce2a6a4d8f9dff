/**
 * The Engine API's container I/O routes (`ContainerIoBackend`) over the container service and
 * the container filesystem service: attach (hijacked), logs, stats, export and `docker cp`'s
 * archive calls.
 *
 * Attach is what `docker run` (without `-d`), `docker start -a` and `docker attach` stand on.
 * The CLI attaches before it starts the container, so a session on a container that is not
 * running waits for its next start (the `start` event), then carries that run: output from the
 * container's log as conmon writes it (since the moment of the attach, so nothing between attach
 * and start is lost), stdin through conmon's attach socket (container-service `attachRecord`),
 * until the run exits (conmon's exit file, watched by container-watch.ts) and its last output
 * is sent. A client that leaves, or types the detach keys, ends the session and leaves the
 * container running.
 *
 * @example
 * const session = await io.attach(id, { stream: true, stdout: true, stderr: true, stdin: false, logs: false });
 * await session.run(connection);
 */

import { type Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerRecord, StoredEvent } from '../container/container-records.ts';
import type { ContainerService } from '../container/container-service.ts';
import type { ContainerFilesService } from '../engine/container-files-service.ts';
import { frame, type HijackedConnection, type StdStream } from '../engine-api/hijack.ts';
import type {
  AttachOptions,
  ContainerIoBackend,
  LogEntry,
  LogsOptions,
  PathStat,
} from '../engine-api/routes/container-routes.ts';
import type { JsonObject } from '../engine-api/routes/json-types.ts';
import type { StdioSession } from '../engine-api/routes/stdio-session.ts';
import { ConflictError } from '../errors/index.ts';
import { type LogEntry as ContainerLogEntry, formatLogTimestamp } from '../runtime/logs.ts';
import { type StatsReading, statsDocument, systemCpuNanos } from './container-stats.ts';
import type { ContainerWatch } from './container-watch.ts';
import { DEFAULT_DETACH_KEYS, DetachKeyFilter, parseDetachKeys } from './detach-keys.ts';

export interface ContainerIoParts {
  service: ContainerService;
  files: ContainerFilesService;
  watch: ContainerWatch;
}

/** Unix seconds (fractional) as nanoseconds; undefined for 0 (none). */
function secondsToNanos(seconds: number): bigint | undefined {
  if (!seconds || seconds <= 0) return undefined;
  const whole = Math.floor(seconds);
  return BigInt(whole) * 1_000_000_000n + BigInt(Math.round((seconds - whole) * 1e9));
}

function nowNanos(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/**
 * A Writable that frames what it gets (without a TTY) onto the connection's output, waiting for
 * it to drain; once the client is gone, writes are dropped so the writer never waits forever.
 */
function outputSink(output: Writable, stream: StdStream, tty: boolean): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (output.destroyed || output.writableEnded) {
        callback();
        return;
      }
      if (output.write(tty ? chunk : frame(stream, chunk))) {
        callback();
        return;
      }
      const done = () => {
        output.off('drain', done);
        output.off('close', done);
        callback();
      };
      output.on('drain', done);
      output.on('close', done);
    },
  });
}

function logData(entry: ContainerLogEntry): Buffer {
  return Buffer.from(entry.partial ? entry.text : `${entry.text}\n`);
}

export class LocalContainerIoBackend implements ContainerIoBackend {
  readonly #service: ContainerService;
  readonly #files: ContainerFilesService;
  readonly #watch: ContainerWatch;

  constructor(parts: ContainerIoParts) {
    this.#service = parts.service;
    this.#files = parts.files;
    this.#watch = parts.watch;
  }

  async attach(id: string, options: AttachOptions): Promise<StdioSession> {
    const record = await this.#service.get(id);
    if (record.state === 'paused') {
      throw new ConflictError('You cannot attach to a paused container, unpause it first');
    }
    if (record.state === 'restarting') {
      throw new ConflictError('You cannot attach to a restarting container, wait until it is running');
    }
    const keys = parseDetachKeys(options.detachKeys ?? DEFAULT_DETACH_KEYS);
    const since = nowNanos();
    const tty = record.definition.Config.Tty === true;
    return {
      tty,
      run: (connection) => this.#runAttach(record, options, { since, tty, keys }, connection),
    };
  }

  async #runAttach(
    attached: ContainerRecord,
    options: AttachOptions,
    session: { since: bigint; tty: boolean; keys: number[] },
    connection: HijackedConnection,
  ): Promise<void> {
    const { tty } = session;
    const detach = new AbortController();
    const signal = AbortSignal.any([connection.signal, detach.signal]);
    // an `--rm` container is not removed (its log with it) before this session has read it
    const release = this.#watch.hold(attached.id);
    const stdout = options.stdout ? outputSink(connection.output, 'stdout', tty) : undefined;
    const stderr = options.stderr ? outputSink(connection.output, 'stderr', tty) : undefined;
    try {
      if (options.logs) {
        for await (const entry of this.#service.logs(attached.id, { signal })) {
          const sink = entry.stream === 'stdout' ? stdout : stderr;
          if (sink && !sink.write(logData(entry))) {
            await new Promise((resolve) => sink.once('drain', resolve));
          }
        }
      }
      if (!options.stream || signal.aborted) return;
      const withStdin =
        options.stdin && connection.input !== null && attached.definition.Config.OpenStdin === true;
      const run = await this.#nextRun(attached, signal);
      if (!run) return;
      let input: Readable | undefined;
      if (withStdin && connection.input) {
        input = connection.input;
        if (tty) input = input.pipe(new DetachKeyFilter(session.keys, () => detach.abort()));
      }
      const exit = this.#watch.tracked(run.id, run.generation) ?? this.#watch.track(run, { cleanup: false });
      const stop = Promise.race([
        exit.catch(() => undefined),
        new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true })),
      ]);
      const attachment = await this.#service.attachRecord(run, {
        ...(input ? { stdin: input } : {}),
        ...(stdout ? { stdout } : {}),
        ...(stderr ? { stderr } : {}),
        since: session.since,
        signal,
        stop,
      });
      try {
        await attachment.done;
      } finally {
        attachment.input?.kill('SIGTERM');
        if (input && connection.input && input !== connection.input) {
          connection.input.unpipe(input as unknown as NodeJS.WritableStream);
        }
      }
    } finally {
      release();
      connection.close();
    }
  }

  /**
   * The run to attach to: the current one when the container runs, else the next start's
   * (undefined when the container is removed first, or the client leaves).
   */
  async #nextRun(record: ContainerRecord, signal: AbortSignal): Promise<ContainerRecord | undefined> {
    const queue: StoredEvent[] = [];
    let wake: (() => void) | undefined;
    const unsubscribe = this.#watch.subscribe((event) => {
      if (event.actorId !== record.id) return;
      queue.push(event);
      wake?.();
    });
    const onAbort = () => wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      for (;;) {
        const current = this.#service.context.records.get(record.id);
        if (!current || signal.aborted) return undefined;
        // a run that started (and maybe already ended) since the attach, or the one running now
        if (current.generation > record.generation) return current;
        if (current.state === 'running') return current;
        if (queue.some((event) => event.action === 'destroy')) return undefined;
        queue.length = 0;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1000);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    } finally {
      unsubscribe();
      signal.removeEventListener('abort', onAbort);
    }
  }

  async logs(id: string, options: LogsOptions): Promise<{ tty: boolean; entries: AsyncIterable<LogEntry> }> {
    const record = await this.#service.get(id); // a missing container is a 404, before the 200
    const since = secondsToNanos(options.since);
    const until = secondsToNanos(options.until);
    const lines = this.#service.logs(record.id, {
      follow: options.follow,
      stdout: options.stdout,
      stderr: options.stderr,
      ...(options.tail !== undefined ? { tail: options.tail } : {}),
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
      signal: options.signal,
    });
    async function* entries(): AsyncGenerator<LogEntry> {
      for await (const entry of lines) {
        yield { stream: entry.stream, data: logData(entry), time: formatLogTimestamp(entry.timestamp) };
      }
    }
    return { tty: record.definition.Config.Tty === true, entries: entries() };
  }

  async *stats(
    id: string,
    options: { stream: boolean; oneShot: boolean; signal: AbortSignal },
  ): AsyncIterable<JsonObject> {
    const read = async (): Promise<StatsReading> => {
      const [sample, systemNanos] = await Promise.all([this.#service.statsSample(id), systemCpuNanos()]);
      return { sample, systemNanos };
    };
    const pause = async (): Promise<boolean> => {
      try {
        await sleep(1000, undefined, { signal: options.signal });
        return true;
      } catch {
        return false; // the client left
      }
    };
    let previous: StatsReading | undefined;
    let current = await read();
    if (!options.stream) {
      // a CPU percentage needs two readings: Docker's collector takes them a second apart
      if (!options.oneShot && current.sample.cgroup) {
        previous = current;
        if (!(await pause())) return;
        current = await read();
      }
      yield statsDocument(current, previous);
      return;
    }
    for (;;) {
      yield statsDocument(current, previous);
      if (!(await pause())) return;
      previous = current;
      current = await read();
    }
  }

  export(id: string, signal: AbortSignal): Promise<Readable> {
    return this.#files.export(id, signal);
  }

  statPath(id: string, path: string): Promise<PathStat> {
    return this.#files.statPath(id, path);
  }

  getArchive(id: string, path: string, signal: AbortSignal): Promise<{ stat: PathStat; stream: Readable }> {
    return this.#files.getArchive(id, path, signal);
  }

  putArchive(
    id: string,
    path: string,
    tar: Readable,
    options: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean; signal: AbortSignal },
  ): Promise<void> {
    return this.#files.putArchive(id, path, tar, options);
  }
}
