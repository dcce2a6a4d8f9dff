/**
 * What the container verbs (run.ts, container.ts, inspect.ts, events.ts) share: opening the
 * engine and its container service for one command, Docker's flag value parsers (sizes, restart
 * policies, env files, times), and an attached session (output, stdin, terminal, detach keys,
 * signal proxying) used by `run`, `start -a` and `attach`.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { Command } from 'commander';
import type { ContainerRecord } from '../../container/container-records.ts';
import type { ContainerService } from '../../container/container-service.ts';
import type { RestartPolicy } from '../../container/docker-types.ts';
import { parseGoDuration } from '../../container/go-duration.ts';
import { openContainerService, openContainerServiceOnly } from '../../engine/containers-service.ts';
import { currentWharfCommand } from '../../engine/current-wharf-command.ts';
import type { LocalEngine } from '../../engine/local-engine.ts';
import { InvalidArgumentError, NotFoundError, WharfError } from '../../errors/index.ts';
import { deleteAfterExit } from '../../util/background-delete.ts';
import { CliExit } from '../cli-error.ts';
import type { CliContext } from '../context.ts';
import { collect, parseEnvValue, readKeyValueFile } from './env-flags.ts';

export { collect, parseEnvValue, readKeyValueFile };

import { tracePhase } from '../../util/phase-trace.ts';

/** Opens the engine and its container service for one command, and closes both after. */
export async function withContainers<T>(
  context: CliContext,
  fn: (service: ContainerService, engine: LocalEngine) => Promise<T>,
): Promise<T> {
  const { openLocalEngine } = await import('../../engine/local-engine.ts');
  // a command: its removals' deletes go to a process of their own when it is done
  deleteAfterExit();
  const engine = await openLocalEngine({ root: context.root() });
  const service = openContainerService(engine, { wharfCommand: currentWharfCommand() });
  try {
    return await fn(service, engine);
  } finally {
    service.close();
    engine.close();
  }
}

/**
 * Like `withContainers`, for verbs that rarely read images (`ps`, `exec`, `logs`, `stop`...):
 * only the metadata database opens, the image store on first use, so these start quickly.
 */
export async function withContainerService<T>(
  context: CliContext,
  fn: (service: ContainerService) => Promise<T>,
): Promise<T> {
  tracePhase('cli: opening service');
  deleteAfterExit();
  const opened = openContainerServiceOnly(context.root(), { wharfCommand: currentWharfCommand() });
  tracePhase('cli: service open');
  try {
    return await fn(opened.service);
  } finally {
    opened.close();
    tracePhase('cli: service closed');
  }
}

/**
 * Runs `fn` for each argument as Docker's multi-container verbs do: errors are printed as they
 * come, the others still run, and the command fails (exit 1) if any did. With `ignoreNotFound`
 * (`rm -f`, as docker/cli's runRm), a name that matches nothing is still printed but does not
 * fail the command, so `rm -f NAME` is safe in a script whether NAME exists or not.
 */
export async function forEachContainer(
  context: CliContext,
  names: readonly string[],
  fn: (name: string) => Promise<void>,
  options: { ignoreNotFound?: boolean } = {},
): Promise<void> {
  let failed = false;
  for (const name of names) {
    try {
      await fn(name);
    } catch (error) {
      if (!(options.ignoreNotFound && error instanceof NotFoundError)) failed = true;
      const message = error instanceof Error ? error.message : String(error);
      context.stderr.write(`Error response from daemon: ${message}\n`);
      if (context.debug() && error instanceof Error && error.stack) context.stderr.write(`${error.stack}\n`);
      if (!(error instanceof WharfError) && !context.debug()) {
        context.stderr.write('(unexpected error; run with --debug for details)\n');
      }
    }
  }
  if (failed) throw new CliExit(1);
}

/** Docker's `RAMInBytes`: `32m`, `1g`, `512k`, `100` (binary units, optional `b`). */
export function parseBytes(text: string, what = 'size'): number {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmgtp]?)(?:i?b)?$/i.exec(text.trim());
  if (!match) throw new InvalidArgumentError(`invalid ${what}: '${text}'`);
  const unit = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[
    match[2]!.toLowerCase() as 'b'
  ];
  return Math.floor(Number(match[1]) * unit);
}

/** `--memory-swap`: bytes, or -1 for unlimited. */
export function parseSwap(text: string): number {
  return text.trim() === '-1' ? -1 : parseBytes(text, 'memory-swap');
}

/** Docker's `--restart no|always|unless-stopped|on-failure[:N]`. */
export function parseRestartPolicy(text: string): RestartPolicy {
  const [name = '', count] = text.split(':');
  if (!['no', 'always', 'unless-stopped', 'on-failure', ''].includes(name)) {
    throw new InvalidArgumentError(`invalid restart policy format: unknown policy '${name}'`);
  }
  if (count !== undefined && name !== 'on-failure') {
    throw new InvalidArgumentError(
      `invalid restart policy format: maximum retry count can only be used with 'on-failure'`,
    );
  }
  const retries = count === undefined ? 0 : Number(count);
  if (!Number.isInteger(retries) || retries < 0) {
    throw new InvalidArgumentError(
      `invalid restart policy format: maximum retry count must be a positive integer`,
    );
  }
  return { Name: (name || 'no') as RestartPolicy['Name'], MaximumRetryCount: retries };
}

/**
 * Docker's `--since` / `--until` for logs and events: an RFC 3339 time, Unix seconds (with
 * fraction), or a Go duration before now (`10m`, `1h30m`). Nanoseconds since the epoch.
 */
export function parseTimeFlag(text: string, now = Date.now()): bigint {
  const value = text.trim();
  if (/^\d+(\.\d+)?$/.test(value)) {
    const [seconds = '0', fraction = ''] = value.split('.');
    return BigInt(seconds) * 1_000_000_000n + BigInt(fraction.padEnd(9, '0').slice(0, 9));
  }
  if (/^[-+]?(\d|\.\d)/.test(value) && /[a-z\u00b5]$/i.test(value) && !/[T:]/.test(value)) {
    const nanos = parseGoDuration(value);
    return BigInt(now) * 1_000_000n - BigInt(nanos);
  }
  const match = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}(?::\d{2})?)(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(
    value,
  );
  if (!match)
    throw new InvalidArgumentError(
      `Cannot parse time "${text}": expected a date, Unix seconds or a duration`,
    );
  const base = Date.parse(`${match[1]}T${match[2] ?? '00:00:00'}${match[4] ?? 'Z'}`);
  if (Number.isNaN(base)) throw new InvalidArgumentError(`Cannot parse time "${text}"`);
  const fraction = (match[3] ?? '.').slice(1).padEnd(9, '0').slice(0, 9);
  return BigInt(base) * 1_000_000n + BigInt(fraction);
}

/** Go durations for health flags and timeouts: nanoseconds. */
export function parseDurationFlag(text: string, flag: string): number {
  try {
    const nanos = parseGoDuration(text);
    if (nanos < 0) throw new InvalidArgumentError(`${flag} cannot be negative`);
    return nanos;
  } catch (error) {
    if (error instanceof InvalidArgumentError) {
      throw new InvalidArgumentError(`invalid argument "${text}" for "${flag}" flag: ${error.message}`);
    }
    throw error;
  }
}

/** Parses Docker's `--detach-keys` (`ctrl-p,ctrl-q`, `a`, `ctrl-@`) into bytes. */
export function parseDetachKeys(text: string): number[] {
  const keys: number[] = [];
  for (const part of text.split(',')) {
    const key = part.trim().toLowerCase();
    if (key.length === 1) keys.push(key.charCodeAt(0));
    else if (/^ctrl-[a-z@[\\\]^_]$/.test(key)) {
      const ch = key.slice(5);
      keys.push(ch >= 'a' && ch <= 'z' ? ch.charCodeAt(0) - 96 : ch.charCodeAt(0) - 64);
    } else throw new InvalidArgumentError(`Unknown character: '${part}'`);
  }
  return keys;
}

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/** Watches input for the detach sequence: passes everything else through, calls `onDetach` on it. */
class DetachWatcher extends Transform {
  readonly #keys: number[];
  readonly #onDetach: () => void;
  #matched: number[] = [];

  constructor(keys: number[], onDetach: () => void) {
    super();
    this.#keys = keys;
    this.#onDetach = onDetach;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const out: number[] = [];
    for (const byte of chunk) {
      if (byte === this.#keys[this.#matched.length]) {
        this.#matched.push(byte);
        if (this.#matched.length === this.#keys.length) {
          this.#matched = [];
          if (out.length > 0) this.push(Buffer.from(out));
          this.#onDetach();
          callback();
          return;
        }
        continue;
      }
      // Not the sequence after all: what was held back goes through.
      out.push(...this.#matched, byte);
      this.#matched = [];
    }
    if (out.length > 0) this.push(Buffer.from(out));
    callback();
  }
}

export interface AttachedSessionOptions {
  /** Feed this process's stdin to the container (its OpenStdin must be set). */
  interactive: boolean;
  tty: boolean;
  detachKeys?: string;
  /** Forward SIGINT, SIGTERM... to the container (non-terminal sessions). */
  sigProxy: boolean;
  /** Show output written from this time on. */
  since?: bigint;
}

/**
 * Streams a container's output to this process's stdout/stderr until its run exits (or the user
 * detaches), feeding stdin with `interactive`; a terminal session puts the local terminal in raw
 * mode and forwards resizes. Returns the run's exit code, or `detached`.
 */
export async function attachedSession(
  service: ContainerService,
  record: ContainerRecord,
  options: AttachedSessionOptions,
): Promise<{ detached: true } | { detached: false; exitCode: number }> {
  const detach = new AbortController();
  const exited = service.waitForRunExit(record, detach.signal);
  exited.catch(() => undefined); // aborted by a detach
  let detached = false;
  const stdin = process.stdin;
  const rawMode = options.tty && options.interactive && stdin.isTTY === true;
  let input: NodeJS.ReadableStream | undefined;
  if (options.interactive) {
    const keys = parseDetachKeys(options.detachKeys ?? DEFAULT_DETACH_KEYS);
    input = options.tty
      ? stdin.pipe(
          new DetachWatcher(keys, () => {
            detached = true;
            detach.abort();
          }),
        )
      : stdin;
  }
  if (rawMode) stdin.setRawMode(true);
  const onResize = () => {
    const { rows, columns } = process.stdout;
    if (rows && columns) void service.resize(record.id, rows, columns).catch(() => undefined);
  };
  if (options.tty && process.stdout.isTTY) process.stdout.on('resize', onResize);
  const forwarded: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
  const proxy = (signal: NodeJS.Signals) => {
    void service.kill(record.id, signal).catch(() => undefined);
  };
  if (options.sigProxy && !options.tty) for (const signal of forwarded) process.on(signal, proxy);
  try {
    const stop = Promise.race([
      exited.catch(() => undefined),
      new Promise((resolve) => detach.signal.addEventListener('abort', resolve, { once: true })),
    ]);
    const session = await service.attachRecord(record, {
      ...(input ? { stdin: input as import('node:stream').Readable } : {}),
      stdout: process.stdout,
      stderr: process.stderr,
      ...(options.since !== undefined ? { since: options.since } : {}),
      signal: detach.signal,
      stop,
    });
    await session.done;
    if (session.input && !detached) {
      // The container is gone: its socat has nothing left to carry.
      session.input.kill('SIGTERM');
    }
    if (detached) {
      session.input?.kill('SIGTERM');
      return { detached: true };
    }
    return { detached: false, exitCode: (await exited).exitCode };
  } finally {
    if (!detach.signal.aborted) detach.abort();
    if (rawMode) stdin.setRawMode(false);
    if (input) {
      stdin.unpipe();
      stdin.pause();
    }
    process.stdout.off('resize', onResize);
    for (const signal of forwarded) process.off(signal, proxy);
  }
}

/** Adds `-f/--format` and `-s/--size` for `inspect`-style verbs. */
export function inspectOptions(command: Command): Command {
  return command
    .option('-f, --format <template>', "format output using a custom template ('json' or a Go template)")
    .option('-s, --size', 'display total file sizes');
}

/** `--filter key=value` flags as Docker's filter map. */
export function parseFilterFlagsList(flags: readonly string[]): Record<string, string[]> {
  const filters: Record<string, string[]> = {};
  for (const flag of flags) {
    const equals = flag.indexOf('=');
    if (equals <= 0) throw new InvalidArgumentError(`bad format of filter (expected name=value): ${flag}`);
    (filters[flag.slice(0, equals).trim().toLowerCase()] ??= []).push(flag.slice(equals + 1));
  }
  return filters;
}

/**
 * Looks up one container for `inspect` (top-level and `container inspect`). Its JSON keeps
 * Docker's field order (the API's struct order); templates see Docker's typed struct first
 * (container-inspect-view.ts), then, when that fails, the JSON as a map.
 */
export async function inspectContainer(
  engine: LocalEngine,
  ref: string,
  options: { size?: boolean } = {},
): Promise<{ raw: unknown; typed: unknown }> {
  const [{ GO_MARSHAL_JSON }, { containerInspectView }] = await Promise.all([
    import('../format/go-value.ts'),
    import('../format/container-inspect-view.ts'),
  ]);
  const service = openContainerService(engine, { wharfCommand: currentWharfCommand() });
  try {
    const view = await service.inspect(ref, options);
    const raw = structuredClone(view) as unknown as Record<string | symbol, unknown>;
    Object.defineProperty(raw, GO_MARSHAL_JSON, { enumerable: false, value: () => JSON.stringify(view) });
    // templates run on Docker's typed struct first (nil slices print [], unset fields exist)
    return { raw, typed: containerInspectView(structuredClone(view) as unknown as Record<string, unknown>) };
  } finally {
    service.close();
  }
}
