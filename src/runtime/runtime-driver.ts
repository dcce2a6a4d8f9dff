/**
 * The OCI runtime driver: Wharf's one door to runc and crun. Each method is one runtime command,
 * run with `--root` set to a state directory owned by one Wharf root, so two roots (or two test
 * runs) never see each other's containers.
 *
 * The lifecycle, as the runtime spec tells it: `create` makes the container's namespaces and
 * cgroup and leaves its init waiting; `start` runs the user's process; the process exits (or is
 * killed) and the container is `stopped`; `delete` removes the runtime's state and cgroup.
 * In Wharf, `create` is normally issued by conmon (see conmon.ts), which stays behind as the
 * container's parent; the driver's own `create` is for callers that supervise themselves.
 *
 * Errors: a runtime that says the container does not exist becomes NotFoundError; any other
 * failure becomes FailedPreconditionError carrying the runtime's own message.
 *
 * @example
 * const driver = new OciRuntimeDriver({ name: 'runc', binary: '/usr/sbin/runc', stateDir: '/var/lib/wharf/runtime/state/runc' });
 * await driver.kill(id, 'SIGTERM');
 * const { status } = await driver.state(id);
 */
import type { ChildProcess, SpawnOptions, StdioOptions } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../errors/index.ts';
import { childProcess } from '../util/child-process.ts';
import { type FdStdio, spawnWithFds } from '../util/fd-spawn.ts';
import { randomHex } from '../util/random-hex.ts';
import { readTextIfPresent, unlinkIfPresent } from '../util/sync-fs.ts';
import { cgroupPids } from './cgroups.ts';
import type { RuntimeProcess, RuntimeResources, RuntimeState } from './oci-runtime-spec.ts';
import { serializeRuntimeSpec } from './spec.ts';

export type RuntimeName = 'crun' | 'runc';

export interface CreateOptions {
  /** Where the runtime writes the init's host pid. */
  pidFile?: string;
  /** A unix socket that receives the pty master (terminal containers). */
  consoleSocket?: string;
  /** The container process's stdio (it inherits the runtime's); defaults to /dev/null for all. */
  stdio?: StdioOptions;
}

/**
 * Another path to the runtime's binary and the environment it needs there: crun's read-only view
 * of itself (read-only-runtime.ts), which spares it copying itself before every command.
 */
export interface RuntimeBinaryLaunch {
  path: string;
  env: Record<string, string>;
}

export interface ExecOptions {
  /** Run the runtime from here (see RuntimeBinaryLaunch) rather than from `binary`. */
  launch?: RuntimeBinaryLaunch;
  /** Return once the process runs, leaving it to run on its own (`runtime exec --detach`). */
  detach?: boolean;
  /** With `detach`: where the runtime writes the process's host pid. */
  pidFile?: string;
  /** Attached exec: the stdio of the runtime, which the process shares. Default: pipes. */
  stdio?: StdioOptions;
  /** With a terminal and `detach`: the socket that receives the pty master. */
  consoleSocket?: string;
}

/** An attached exec: the runtime process (its stdio is the exec'd process's) and its exit. */
export interface ExecSession {
  child: ChildProcess;
  /** The exec'd process's exit code (128+N when killed by signal N). */
  exitCode: Promise<number>;
}

/**
 * What every OCI runtime Wharf drives can do. Ids are the container ids given at create;
 * `bundle` is a directory holding config.json.
 */
export interface RuntimeDriver {
  readonly name: RuntimeName;
  /** Absolute path of the runtime binary. */
  readonly binary: string;
  /** The `--root` state directory. */
  readonly stateDir: string;
  /** Global arguments every invocation carries (for conmon's `--runtime-arg`). */
  globalArgs(): string[];
  create(id: string, bundle: string, options?: CreateOptions): Promise<void>;
  start(id: string): Promise<void>;
  state(id: string): Promise<RuntimeState>;
  list(): Promise<RuntimeState[]>;
  /** Signal the init (or, with `all`, every process of the container). */
  kill(id: string, signal?: NodeJS.Signals | number, options?: { all?: boolean }): Promise<void>;
  delete(id: string, options?: { force?: boolean }): Promise<void>;
  exec(
    id: string,
    process: RuntimeProcess,
    options: ExecOptions & { detach: true },
  ): Promise<{ pid: number }>;
  exec(id: string, process: RuntimeProcess, options?: ExecOptions & { detach?: false }): Promise<ExecSession>;
  /** An attached exec sharing this process's descriptors (or /dev/null): no child_process. */
  execWithFds(
    id: string,
    process: RuntimeProcess,
    options: { stdio: readonly [FdStdio, FdStdio, FdStdio]; launch?: RuntimeBinaryLaunch },
  ): Promise<{ pid: number; exitCode: Promise<number> }>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  /** Change limits of a live container (`runtime update --resources`). */
  update(id: string, resources: RuntimeResources): Promise<void>;
  /** Host pids of the container's processes. */
  ps(id: string): Promise<number[]>;
}

export interface OciRuntimeDriverOptions {
  name: RuntimeName;
  binary: string;
  stateDir: string;
  /** Temp files (process.json of an exec); defaults to `<stateDir>/.scratch`. */
  scratchDir?: string;
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The runtime's own error text: runc's logrus `msg="..."`, crun's plain line, or JSON log lines. */
export function runtimeErrorMessage(text: string): string {
  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const messages: string[] = [];
  for (const line of lines) {
    if (line.startsWith('{')) {
      try {
        const entry = JSON.parse(line) as { level?: string; msg?: string };
        if (entry.msg && (entry.level === undefined || entry.level === 'error' || entry.level === 'fatal')) {
          messages.push(entry.msg);
        }
        continue;
      } catch {
        // not JSON after all: keep the raw line below
      }
    }
    const logrus = /level=(?:error|fatal) msg="((?:[^"\\]|\\.)*)"/.exec(line);
    if (logrus) messages.push(logrus[1]!.replace(/\\(.)/g, '$1'));
    else if (!/level=(?:debug|info|warning)/.test(line)) messages.push(line);
  }
  return messages.join('; ') || 'no message from the runtime';
}

/** A process's status as a shell gives it: its exit code, or 128+N when signal N ended it. */
function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  return code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
}

function signalNumber(signal: NodeJS.Signals | number): number {
  if (typeof signal === 'number') return signal;
  const name = (signal.startsWith('SIG') ? signal : `SIG${signal}`).toUpperCase() as NodeJS.Signals;
  const number = constants.signals[name];
  if (number === undefined) throw new InvalidArgumentError(`Cannot send signal ${signal}: unknown signal`);
  return number;
}

export class OciRuntimeDriver implements RuntimeDriver {
  readonly name: RuntimeName;
  readonly binary: string;
  readonly stateDir: string;
  #scratchDir: string;

  constructor(options: OciRuntimeDriverOptions) {
    this.name = options.name;
    this.binary = options.binary;
    this.stateDir = options.stateDir;
    this.#scratchDir = options.scratchDir ?? join(options.stateDir, '.scratch');
  }

  globalArgs(): string[] {
    return [`--root=${this.stateDir}`];
  }

  /** Global flags that send the runtime's log (its error messages) to `path` as JSON lines. */
  logArgs(path: string): string[] {
    return this.name === 'crun'
      ? [`--log=file:${path}`, '--log-format=json']
      : [`--log=${path}`, '--log-format=json'];
  }

  #isNotFound(message: string): boolean {
    return (
      /container does not exist|container `[^`]*` does not exist/.test(message) ||
      (message.includes('No such file or directory') && message.includes(this.stateDir))
    );
  }

  #fail(action: string, id: string, message: string): never {
    if (this.#isNotFound(message)) {
      throw new NotFoundError(`Cannot ${action} container ${id}: the ${this.name} runtime does not know it`);
    }
    throw new FailedPreconditionError(`Cannot ${action} container ${id}: ${this.name}: ${message}`);
  }

  #run(args: string[], input?: string): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const child = childProcess().spawn(this.binary, [...this.globalArgs(), ...args], {
        stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout!.on('data', (chunk: Buffer) => out.push(chunk));
      child.stderr!.on('data', (chunk: Buffer) => err.push(chunk));
      child.on('error', reject);
      child.on('close', (code, signal) =>
        resolve({
          code: exitStatus(code, signal),
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        }),
      );
      if (input !== undefined) child.stdin!.end(input);
    });
  }

  async #simple(action: string, id: string, args: string[], input?: string): Promise<RunResult> {
    const result = await this.#run(args, input);
    if (result.code !== 0) this.#fail(action, id, runtimeErrorMessage(result.stderr));
    return result;
  }

  /** Runs a command whose stdio belongs to a container process; errors come through `--log`. */
  async #runWithLog(
    action: string,
    id: string,
    args: string[],
    spawnOptions: SpawnOptions,
    launch?: RuntimeBinaryLaunch,
  ): Promise<void> {
    await mkdir(this.#scratchDir, { recursive: true });
    const logPath = join(this.#scratchDir, `${action}-${id}-${randomHex(4)}.log`);
    try {
      const code = await new Promise<number>((resolve, reject) => {
        const child = childProcess().spawn(
          launch?.path ?? this.binary,
          [...this.globalArgs(), ...this.logArgs(logPath), ...args],
          launch ? { ...spawnOptions, env: { ...process.env, ...launch.env } } : spawnOptions,
        );
        child.on('error', reject);
        // 'exit', not 'close': the container's init keeps the stdio we gave it open.
        child.on('exit', (code, signal) => resolve(exitStatus(code, signal)));
      });
      if (code !== 0) {
        const log = await readFile(logPath, 'utf8').catch(() => '');
        this.#fail(action, id, runtimeErrorMessage(log));
      }
    } finally {
      await rm(logPath, { force: true });
    }
  }

  async create(id: string, bundle: string, options: CreateOptions = {}): Promise<void> {
    // crun reports a missing bundle on its stderr (the container's, often ignored) before it
    // opens its log: tell it here
    await access(join(bundle, 'config.json')).catch((error: Error) =>
      this.#fail('create', id, `cannot read the bundle: ${error.message}`),
    );
    const args = ['create', '--bundle', bundle];
    if (options.pidFile) args.push('--pid-file', options.pidFile);
    if (options.consoleSocket) args.push('--console-socket', options.consoleSocket);
    args.push(id);
    await this.#runWithLog('create', id, args, { stdio: options.stdio ?? 'ignore' });
  }

  async start(id: string): Promise<void> {
    await this.#simple('start', id, ['start', id]);
  }

  async state(id: string): Promise<RuntimeState> {
    const { stdout } = await this.#simple('inspect', id, ['state', id]);
    return JSON.parse(stdout) as RuntimeState;
  }

  async list(): Promise<RuntimeState[]> {
    const result = await this.#run(['list', '--format', 'json']);
    if (result.code !== 0) {
      throw new FailedPreconditionError(
        `Cannot list containers: ${this.name}: ${runtimeErrorMessage(result.stderr)}`,
      );
    }
    const text = result.stdout.trim();
    return text === '' || text === 'null' ? [] : (JSON.parse(text) as RuntimeState[]);
  }

  async kill(
    id: string,
    signal: NodeJS.Signals | number = 'SIGTERM',
    options: { all?: boolean } = {},
  ): Promise<void> {
    const args = ['kill'];
    if (options.all) args.push('--all');
    args.push(id, String(signalNumber(signal)));
    await this.#simple('kill', id, args);
  }

  async delete(id: string, options: { force?: boolean } = {}): Promise<void> {
    await this.#simple('delete', id, options.force ? ['delete', '--force', id] : ['delete', id]);
  }

  exec(
    id: string,
    process: RuntimeProcess,
    options: ExecOptions & { detach: true },
  ): Promise<{ pid: number }>;
  exec(id: string, process: RuntimeProcess, options?: ExecOptions & { detach?: false }): Promise<ExecSession>;
  async exec(
    id: string,
    spec: RuntimeProcess,
    options: ExecOptions = {},
  ): Promise<{ pid: number } | ExecSession> {
    const processFile = this.#writeProcessFile(id, spec);
    const args = ['exec', '--process', processFile];
    if (options.consoleSocket) args.push('--console-socket', options.consoleSocket);
    if (options.detach) {
      const pidFile = options.pidFile ?? join(this.#scratchDir, `exec-${id}-${randomHex(6)}.pid`);
      try {
        await this.#runWithLog(
          'exec in',
          id,
          [...args, '--detach', '--pid-file', pidFile, id],
          { stdio: 'ignore' },
          options.launch,
        );
        return { pid: Number(readFileSync(pidFile, 'utf8').trim()) };
      } finally {
        unlinkIfPresent(processFile);
        if (!options.pidFile) unlinkIfPresent(pidFile);
      }
    }
    const logPath = `${processFile}.log`;
    const child = childProcess().spawn(
      options.launch?.path ?? this.binary,
      [...this.globalArgs(), ...this.logArgs(logPath), ...args, id],
      {
        stdio: options.stdio ?? 'pipe',
        ...(options.launch ? { env: { ...process.env, ...options.launch.env } } : {}),
      },
    );
    const exitCode = new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) => resolve(exitStatus(code, signal)));
    });
    return { child, exitCode: this.#execEnded(id, exitCode, processFile, logPath) };
  }

  /**
   * An attached exec whose stdio are this process's own descriptors or /dev/null (`wharf exec`):
   * the runtime is started by fd-spawn.ts, so a CLI exec never loads node:child_process.
   */
  async execWithFds(
    id: string,
    spec: RuntimeProcess,
    options: { stdio: readonly [FdStdio, FdStdio, FdStdio]; launch?: RuntimeBinaryLaunch },
  ): Promise<{ pid: number; exitCode: Promise<number> }> {
    const processFile = this.#writeProcessFile(id, spec);
    const logPath = `${processFile}.log`;
    const started = spawnWithFds(
      options.launch?.path ?? this.binary,
      [...this.globalArgs(), ...this.logArgs(logPath), 'exec', '--process', processFile, id],
      { stdio: options.stdio, ...(options.launch ? { env: { ...process.env, ...options.launch.env } } : {}) },
    );
    const exitCode = started.exit.then(({ code, signal }) => exitStatus(code, signal));
    return { pid: started.pid, exitCode: this.#execEnded(id, exitCode, processFile, logPath) };
  }

  /**
   * The exec's process.json in the scratch directory. Synchronous, the scratch files: a directory
   * that exists, a 2 KB write and two unlinks take microseconds each, where each thread-pool
   * round trip costs 0.1-0.5 ms (several under load) and the first one starts libuv's threads;
   * an exec is short enough for that to show.
   */
  #writeProcessFile(id: string, spec: RuntimeProcess): string {
    mkdirSync(this.#scratchDir, { recursive: true });
    const processFile = join(this.#scratchDir, `exec-${id}-${randomHex(6)}.json`);
    writeFileSync(processFile, serializeRuntimeSpec(spec), { mode: 0o600 });
    return processFile;
  }

  /**
   * An attached exec's end: its scratch files go, and a failure of the runtime itself (its log
   * has an error) becomes the error, as runc and crun exit with the process's status, or 1 with a
   * log entry when exec itself failed (a status of 1 from the process leaves the log without an
   * error).
   */
  #execEnded(id: string, exitCode: Promise<number>, processFile: string, logPath: string): Promise<number> {
    return exitCode.then(
      (code) => {
        const log = code === 0 ? undefined : readTextIfPresent(logPath);
        unlinkIfPresent(processFile);
        unlinkIfPresent(logPath);
        if (log && /"level":"(error|fatal)"/.test(log)) this.#fail('exec in', id, runtimeErrorMessage(log));
        return code;
      },
      (error: unknown) => {
        unlinkIfPresent(processFile);
        unlinkIfPresent(logPath);
        throw error;
      },
    );
  }

  async pause(id: string): Promise<void> {
    await this.#simple('pause', id, ['pause', id]);
  }

  async resume(id: string): Promise<void> {
    await this.#simple('resume', id, ['resume', id]);
  }

  async update(id: string, resources: RuntimeResources): Promise<void> {
    // a file, not `-`: crun opens /dev/stdin, which a socket (Node's stdin pipe) cannot be
    await mkdir(this.#scratchDir, { recursive: true });
    const file = join(this.#scratchDir, `update-${id}-${randomHex(4)}.json`);
    try {
      await writeFile(file, JSON.stringify(resources), { mode: 0o600 });
      await this.#simple('update', id, ['update', '--resources', file, id]);
    } finally {
      await rm(file, { force: true });
    }
  }

  async ps(id: string): Promise<number[]> {
    const result = await this.#run(['ps', '--format', 'json', id]);
    if (result.code !== 0) {
      // crun 1.8 crashes (SIGSEGV) listing a container at its pids limit: read its cgroup instead
      if (result.code > 128) return this.#cgroupPids(id);
      this.#fail('list the processes of', id, runtimeErrorMessage(result.stderr));
    }
    const text = result.stdout.trim();
    return text === '' || text === 'null' ? [] : (JSON.parse(text) as number[]);
  }

  /** The container's processes from the cgroup its init is in (pids, or v2's). */
  async #cgroupPids(id: string): Promise<number[]> {
    const { pid } = await this.state(id);
    if (pid <= 0) return [];
    const membership = await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => '');
    const line =
      membership.split('\n').find((entry) => /^\d+:(?:[^:]*,)?pids(?:,[^:]*)?:/.test(entry)) ??
      membership.split('\n').find((entry) => entry.startsWith('0::'));
    const path = line?.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
    if (!path) return [pid];
    return cgroupPids(path);
  }
}
