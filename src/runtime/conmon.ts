/**
 * Containers supervised by conmon (2.1.6), the way Podman runs them: conmon calls `runtime
 * create`, stays as the container's parent (a subreaper), writes its stdout and stderr to a CRI
 * log file, records the exit code and any OOM kill, and runs an exit command when the container
 * ends. It daemonizes, so it outlives the Wharf process that started it: any later process can
 * read the log, the exit file, or signal the container through the runtime.
 *
 * The handshake (conmon's contract, see ../../../shared/docs/traps.md):
 *   1. spawn conmon with two inherited socketpairs, announced as `_OCI_SYNCPIPE=3` and
 *      `_OCI_STARTPIPE=4`; conmon blocks reading the start pipe, while the caller finishes what
 *      the runtime needs (`beforeStart`: the root filesystem, config.json). With a `prelude`
 *      (the root filesystem's `mount`), the process spawned is `sh`, which runs the prelude and
 *      then execs conmon: one fork of node fewer (see ConmonOptions' `prelude`);
 *   2. write to the start pipe; conmon forks (the first process exits after writing the conmon
 *      pid file) and runs `runtime create` (or, with `startOnCreate`, `run --detach`);
 *   3. read `{"data": PID}` from the sync pipe: PID > 0 is the container's init; a negative
 *      number is a failure, with `message` holding the runtime's stderr (the runtime's JSON log,
 *      written through `--runtime-arg --log`, holds the same words when the message is empty);
 *   4. move conmon's daemon out of the caller's cgroup (as Podman does, so that it shares
 *      neither the caller's limits nor its fate), as soon as its first process has exited,
 *      while the runtime creates the container (this process waits for the runtime then, with
 *      nothing else to do). Podman moves conmon before step 2; not here: a write to
 *      `cgroup.procs` can wait for an RCU grace period (5-20 ms) while holding the lock every
 *      fork takes, which would hold up the caller's preparation (the prelude's `mount`). The
 *      runtime's own writes then find that wait paid or pay it themselves: one grace period in
 *      all, as when the move came after step 3. The container's processes are in their own
 *      cgroup; its exit command starts in conmon's;
 *   5. `runtime start` (the driver's `start`) runs the user's process, unless `startOnCreate`.
 *
 * Files of one container (paths from `conmonPaths`):
 *
 *   USERDATA/                  conmon's cwd and --persist-dir (the container layer owns it)
 *     conmon.pid               -P: conmon's daemon pid
 *     pidfile                  -p: the container init's host pid (written by the runtime)
 *     exit                     the exit code, written by conmon (128+N when killed by signal N)
 *     oom                      present when the kernel OOM-killed a process of the container
 *     runtime.log              the runtime's own JSON log (create errors)
 *   EXITDIR/ID                 the exit code again, in the root-wide --exit-dir
 *   SOCKETDIR/ID -> BUNDLE     conmon's symlink; SOCKETDIR/ID/attach is the SEQPACKET socket
 *   BUNDLE/ctl, BUNDLE/winsz   FIFOs: `1 H W` resizes the terminal, `2 0 0` reopens the log
 *   LOGPATH                    the CRI log (logs.ts reads it)
 *
 * @example
 * const paths = conmonPaths({ id, bundle, userdataDir, exitDir, socketDir });
 * const { pid } = await createWithConmon({ runtime, id, bundle, userdataDir, exitDir, socketDir, logPath });
 * await runtime.start(id);
 * const exit = await waitForExit({ id, exitDir, userdataDir });
 */
import { existsSync, mkdirSync, watch } from 'node:fs';
import { access, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { FailedPreconditionError, InternalError, UnavailableError } from '../errors/index.ts';
import { shellQuote } from '../util/shell-quote.ts';
import { readTextIfPresent, unlinkIfPresent } from '../util/sync-fs.ts';
import { moveProcessToCgroup, readOomKills } from './cgroups.ts';
import { readOnlyRuntime } from './read-only-runtime.ts';
import type { RuntimeDriver } from './runtime-driver.ts';
import { runtimeErrorMessage } from './runtime-driver.ts';
import { findExecutable } from './runtime-probe.ts';
import { type SpawnedProcess, type SpawnProcess, spawnWithNode } from './spawn-process.ts';

export interface ConmonLocation {
  id: string;
  bundle: string;
  /** The container's own directory for conmon's files (see the layout above). */
  userdataDir: string;
  /** Root-wide directory of exit files (`ROOT/runtime/exits`). */
  exitDir: string;
  /** Root-wide directory of attach-socket symlinks (`ROOT/runtime/sockets`). */
  socketDir: string;
}

export interface ConmonOptions extends ConmonLocation {
  runtime: RuntimeDriver;
  /** Defaults to the id. */
  name?: string;
  /** The CRI log file conmon writes. */
  logPath: string;
  /** Bytes; conmon starts the file afresh when it would grow past this. */
  logSizeMax?: number;
  /**
   * Whether conmon fsyncs the log when the container exits (its default, true). `false` passes
   * `--no-sync-log`, for a log deleted right after the exit (an `--rm` container's).
   */
  syncLog?: boolean;
  /** Run when the container exits (Wharf passes `wharf container cleanup ID`). */
  exitCommand?: { path: string; args?: string[]; delaySeconds?: number };
  /** Allocate a pty for the container (`-t`). */
  terminal?: boolean;
  /** Give the container a stdin pipe, fed through the attach socket (`-i`). */
  stdin?: boolean;
  /** Keep the container's stdin open when an attached client leaves. */
  leaveStdinOpen?: boolean;
  /**
   * Absolute cgroup to move conmon into once it has created the container (step 4 above), so
   * that it does not share the fate (or limits) of the caller's cgroup. Defaults to
   * `/wharf/conmon`; `null` keeps it where the caller is.
   */
  conmonCgroup?: string | null;
  /** Extra environment for conmon and thus for the exit command (PATH is always passed). */
  env?: Record<string, string>;
  /** The conmon binary; defaults to `conmon` on PATH. */
  conmonPath?: string;
  /** How long to wait for the container's pid. Default 30 s. */
  timeoutMs?: number;
  /**
   * Work that must be done before the runtime creates the container (config.json, the root
   * filesystem), run while conmon starts: conmon waits on its start pipe until this resolves.
   * When it rejects, conmon is killed before it forks and that rejection is thrown.
   * createWithConmon never returns or throws before it has settled. It is given the `prelude`'s
   * outcome (resolved at once when there is none).
   */
  beforeStart?: (prelude: Promise<void>) => Promise<void>;
  /**
   * A command the caller needs run before the container can be made (the root filesystem's
   * `mount`), run in the process that becomes conmon: `sh` runs it, then execs conmon. A fork
   * of a large process such as node blocks it for milliseconds (its page tables are copied),
   * so this saves one on the way to the container's start. When it fails, conmon never
   * starts, and the promise given to `beforeStart` rejects with the command's stderr.
   */
  prelude?: ConmonPrelude;
  /**
   * Have the runtime start the process at once (`run --detach` in place of `create`): the
   * container is running when this returns and no `runtime start` follows, which saves a
   * runtime process per run. conmon only knows `create`, so it runs the runtime through a
   * one-line `sh` that swaps the verb (see RUN_INSTEAD_OF_CREATE).
   */
  startOnCreate?: boolean;
  /**
   * How conmon (or the prelude's `sh`) is started: Node's spawn unless told (a daemon passes its
   * ProcessSpawner's, which does not fork the daemon: process-spawner.ts).
   */
  spawn?: SpawnProcess;
}

/** See ConmonOptions' `prelude`. */
export interface ConmonPrelude {
  path: string;
  args: string[];
  /** Its working directory (conmon's own stays `userdataDir`). */
  cwd: string;
  /** Variables set for it alone (`LC_ALL=C`). */
  env?: Record<string, string>;
  /** What it does, for its error: `Cannot ${describe}: ${stderr}`. */
  describe: string;
}

/**
 * `sh -c` script run as conmon's runtime: `$0` is the real runtime, and the first `create` among
 * the arguments (global flags come before it, the container id is hex) becomes `run --detach`.
 */
const RUN_INSTEAD_OF_CREATE =
  'd=; for a in "$@"; do shift; if [ -z "$d" ] && [ "$a" = create ]; then d=1; set -- "$@" run --detach; else set -- "$@" "$a"; fi; done; exec "$0" "$@"';

export interface ConmonPaths {
  conmonPidFile: string;
  pidFile: string;
  persistDir: string;
  exitFile: string;
  persistExitFile: string;
  oomFile: string;
  runtimeLog: string;
  /** The attach socket's path relative to the socket dir (connect with that dir as cwd). */
  attachSocketRelative: string;
  attachSocket: string;
  ctlFifo: string;
  winszFifo: string;
}

export function conmonPaths(location: ConmonLocation): ConmonPaths {
  return {
    conmonPidFile: join(location.userdataDir, 'conmon.pid'),
    pidFile: join(location.userdataDir, 'pidfile'),
    persistDir: location.userdataDir,
    exitFile: join(location.exitDir, location.id),
    persistExitFile: join(location.userdataDir, 'exit'),
    oomFile: join(location.userdataDir, 'oom'),
    runtimeLog: join(location.userdataDir, 'runtime.log'),
    attachSocketRelative: join(location.id, 'attach'),
    attachSocket: join(location.socketDir, location.id, 'attach'),
    ctlFifo: join(location.bundle, 'ctl'),
    winszFifo: join(location.bundle, 'winsz'),
  };
}

export const DEFAULT_CONMON_CGROUP = '/wharf/conmon';

export interface ConmonStarted {
  /** The container init's host pid. */
  pid: number;
  /** conmon's (daemon) pid. */
  conmonPid: number;
}

interface SyncMessage {
  data: number;
  message?: string;
}

/** Reads newline-separated JSON messages from conmon's sync pipe until one arrives or it closes. */
function readSyncMessage(stream: Readable, timeoutMs: number): Promise<SyncMessage | undefined> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const finish = (value: SyncMessage | undefined, error?: Error) => {
      clearTimeout(timer);
      stream.removeAllListeners('data');
      stream.removeAllListeners('end');
      stream.removeAllListeners('close');
      stream.on('error', () => {});
      if (error) reject(error);
      else resolve(value);
    };
    const timer = setTimeout(
      () =>
        finish(
          undefined,
          new UnavailableError(`Cannot create container: conmon sent no pid in ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffer += chunk;
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (line) {
          try {
            const parsed = JSON.parse(line) as SyncMessage;
            if (typeof parsed.data === 'number') return finish(parsed);
          } catch {
            // not a sync message: conmon writes nothing else here, but do not die on it
          }
        }
        newline = buffer.indexOf('\n');
      }
    });
    stream.on('end', () => finish(undefined));
    stream.on('close', () => finish(undefined));
    stream.on('error', (error) => finish(undefined, error));
  });
}

function childExit(child: SpawnedProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

let conmonFound: Promise<string | undefined> | undefined;

/** conmon on PATH, looked up once per process (a miss is looked up again next time). */
function conmonBinary(): Promise<string | undefined> {
  conmonFound ??= findExecutable('conmon').then((path) => {
    if (!path) conmonFound = undefined;
    return path;
  });
  return conmonFound;
}

/**
 * conmon's argv, as Podman builds it (see the list in traps.md); `runtimePath` is the runtime
 * binary to run (its read-only view, see read-only-runtime.ts).
 */
export function conmonArgs(
  options: ConmonOptions,
  paths: ConmonPaths,
  runtimePath = options.runtime.binary,
): string[] {
  const { runtime } = options;
  const runtimeLogArgs =
    runtime.name === 'crun'
      ? [`--log=file:${paths.runtimeLog}`, '--log-format=json']
      : [`--log=${paths.runtimeLog}`, '--log-format=json'];
  const args = [
    '--api-version',
    '1',
    '-c',
    options.id,
    '-u',
    options.id,
    '-n',
    options.name ?? options.id,
    '-r',
    options.startOnCreate ? '/bin/sh' : runtimePath,
    '-b',
    options.bundle,
    '-p',
    paths.pidFile,
    '-P',
    paths.conmonPidFile,
    '--persist-dir',
    paths.persistDir,
    '--exit-dir',
    options.exitDir,
    '--socket-dir-path',
    options.socketDir,
    '-l',
    `k8s-file:${options.logPath}`,
  ];
  const runtimeArgs = [...runtime.globalArgs(), ...runtimeLogArgs];
  if (options.startOnCreate) runtimeArgs.unshift('-c', RUN_INSTEAD_OF_CREATE, runtimePath);
  for (const arg of runtimeArgs) args.push('--runtime-arg', arg);
  if (options.logSizeMax !== undefined && options.logSizeMax > 0)
    args.push('--log-size-max', String(options.logSizeMax));
  if (options.syncLog === false) args.push('--no-sync-log');
  if (options.terminal) args.push('-t');
  if (options.stdin) args.push('-i');
  if (options.leaveStdinOpen) args.push('--leave-stdin-open');
  if (options.exitCommand) {
    args.push('--exit-command', options.exitCommand.path);
    for (const arg of options.exitCommand.args ?? []) args.push('--exit-command-arg', arg);
    if (options.exitCommand.delaySeconds !== undefined) {
      args.push('--exit-delay', String(options.exitCommand.delaySeconds));
    }
  }
  return args;
}

/**
 * Creates a container under a new conmon and returns once the runtime has made it (status
 * `created`); `runtime.start(id)` then runs its process. conmon stays behind, detached.
 */
export async function createWithConmon(options: ConmonOptions): Promise<ConmonStarted> {
  const paths = conmonPaths(options);
  const conmon = options.conmonPath ?? (await conmonBinary());
  if (!conmon) throw new UnavailableError('Cannot create container: conmon is not installed');
  // crun from a read-only view does not copy itself first (read-only-runtime.ts)
  const launch = options.runtime.name === 'crun' ? await readOnlyRuntime(options.runtime.binary) : undefined;
  // Synchronous, these: three directories that usually exist and five files that usually do not
  // cost microseconds each, where a thread-pool round trip costs 0.1-0.5 ms. Stale files from
  // an earlier run of the same id would be read as this run's (conmon writes none of them
  // before its start pipe).
  for (const dir of [options.userdataDir, options.exitDir, options.socketDir])
    mkdirSync(dir, { recursive: true });
  for (const file of [
    paths.exitFile,
    paths.persistExitFile,
    paths.oomFile,
    paths.pidFile,
    paths.runtimeLog,
  ]) {
    unlinkIfPresent(file);
  }
  // `prepared` never rejects: its outcome is looked at below. The caller's work starts first and,
  // with Node's spawn, gets one turn of the event loop, so that its own processes (the root
  // filesystem's `mount`, when it has no prelude) are started before conmon's spawn holds this
  // thread for a few milliseconds. A spawner holds nothing: conmon's start (its exec, its
  // libraries) then overlaps the caller's work at once.
  const prelude = deferred();
  const prepared = Promise.allSettled([(async () => options.beforeStart?.(prelude.promise))()]);
  if (!options.spawn) await new Promise((resolve) => setImmediate(resolve));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    ...options.env,
    ...launch?.env,
    _OCI_SYNCPIPE: '3',
    _OCI_STARTPIPE: '4',
  };
  const args = conmonArgs(options, paths, launch?.path);
  const spawnProcess = options.spawn ?? spawnWithNode;
  const child = options.prelude
    ? spawnProcess('/bin/sh', ['-c', preludeScript(options.prelude, conmon, args, options.userdataDir)], {
        cwd: options.prelude.cwd,
        env,
        detached: true,
        stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
      })
    : spawnProcess(conmon, args, {
        cwd: options.userdataDir, // conmon writes a second `oom` file into its cwd
        env,
        detached: true,
        stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
      });
  // Node's spawn knows at once whether the exec worked (`pid`); a spawner says so a moment later
  const started = new Promise<boolean>((resolve) => {
    if (child.pid !== undefined) resolve(true);
    child.once('spawn', () => resolve(true));
    child.once('error', () => resolve(false));
  });
  if (options.prelude) {
    readPreludeOutcome(statusPipe(child), options.prelude.describe).then(prelude.resolve, prelude.reject);
  } else prelude.resolve();
  const exited = childExit(child);
  const stderrChunks: Buffer[] = [];
  child.stderr!.on('data', (chunk: Buffer) => stderrChunks.push(chunk));
  const syncPipe = child.stdio[3] as Readable;
  const startPipe = child.stdio[4] as Writable;
  startPipe.on('error', () => {}); // conmon may die before reading it; that is reported below
  const timeoutMs = options.timeoutMs ?? 30_000;
  const syncMessage = readSyncMessage(syncPipe, timeoutMs);
  try {
    // the caller's failure first: it is the reason this container cannot start
    for (const outcome of await prepared) if (outcome.status === 'rejected') throw outcome.reason;
    // Written before the spawn is known to have worked: a spawner hands the write to conmon once
    // it is exec'd (or drops it when the exec failed), so its report is not waited for first.
    startPipe.end('0');
    if (!(await started)) {
      const { code } = await exited.catch((error: unknown) => {
        throw new UnavailableError(`Cannot create container ${options.id}: cannot run conmon`, {
          cause: error,
        });
      });
      throw new UnavailableError(`Cannot create container ${options.id}: conmon did not start (${code})`);
    }
    // conmon's first process exits as soon as it has forked its daemon and written the daemon's
    // pid: the daemon moves into its cgroup while the runtime creates the container (step 4).
    const cgroup = options.conmonCgroup === undefined ? DEFAULT_CONMON_CGROUP : options.conmonCgroup;
    const daemon = exited.then(async ({ code }) => {
      if (code !== 0) return undefined;
      const pid = Number((await readFile(paths.conmonPidFile, 'utf8')).trim());
      // never 0: writing 0 to cgroup.procs would move this process
      if (!Number.isInteger(pid) || pid <= 0) {
        throw new UnavailableError(`Cannot create container ${options.id}: conmon wrote no pid`);
      }
      if (cgroup !== null) await moveProcessToCgroup(pid, cgroup);
      return pid;
    });
    daemon.catch(() => undefined); // looked at below, unless the sync pipe failed first
    const message = await syncMessage;
    const { code } = await exited;
    const [moved] = await Promise.allSettled([daemon]);
    const stderr = Buffer.concat(stderrChunks).toString('utf8').trim();
    if (!message || message.data <= 0) {
      const log = await readFile(paths.runtimeLog, 'utf8').catch(() => '');
      const reason = message?.message?.trim()
        ? runtimeErrorMessage(message.message)
        : log.trim()
          ? runtimeErrorMessage(log)
          : stderr || `conmon exited with status ${code} and no message`;
      throw new FailedPreconditionError(
        `Cannot create container ${options.id}: ${options.runtime.name}: ${reason}`,
      );
    }
    if (code !== 0) {
      throw new UnavailableError(
        `Cannot create container ${options.id}: conmon exited with ${code}: ${stderr}`,
      );
    }
    if (moved.status === 'rejected' || moved.value === undefined) {
      // the container must not outlive its conmon, which goes below
      await options.runtime.kill(options.id, 'SIGKILL', { all: true }).catch(() => undefined);
      throw moved.status === 'rejected'
        ? moved.reason
        : new UnavailableError(`Cannot create container ${options.id}: conmon wrote no pid`);
    }
    return { pid: message.data, conmonPid: moved.value };
  } catch (error) {
    // Leave nothing half-made: a conmon still waiting on the start pipe, or one that forked and
    // never answered (a failed create makes conmon exit by itself). A prelude still running
    // finishes (its status pipe closes when its command has exited) before `prepared` settles.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await prepared; // the caller's cleanup must not race its own preparation
    if (await isConmonAlive(options)) {
      const daemon = Number((await readFile(paths.conmonPidFile, 'utf8').catch(() => '')).trim());
      if (daemon > 0) {
        try {
          process.kill(daemon, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
    throw error;
  } finally {
    syncPipe.destroy();
    startPipe.destroy();
    child.stderr!.destroy();
    statusPipe(child)?.destroy();
    child.unref();
  }
}

/** The prelude's status pipe: the child's fd 5, when it has one. */
function statusPipe(child: SpawnedProcess): Readable | undefined {
  return ((child.stdio as unknown as (Readable | null)[])[5] ?? undefined) as Readable | undefined;
}

/** A promise with its settling functions (settling twice does nothing). */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: unknown) => void } {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // the caller may never look (a failed spawn)
  return { promise, resolve, reject };
}

/** What the prelude's `sh` writes to its status pipe (fd 5) once the command has succeeded. */
const PRELUDE_DONE = '\n:wharf-prelude-done\n';

/**
 * The `sh` script that runs a prelude, then conmon: the command with its stderr on the status
 * pipe (fd 5); on success the done mark there, fd 5 closed (conmon must not keep it open), and
 * conmon exec'd from its own directory; on failure an exit, so conmon never starts.
 */
function preludeScript(prelude: ConmonPrelude, conmon: string, args: readonly string[], cwd: string): string {
  const assignments = Object.entries(prelude.env ?? {}).map(([key, value]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key))
      throw new FailedPreconditionError(`Cannot set ${key}: not a name`);
    return `${key}=${shellQuote(value)} `;
  });
  const command = [prelude.path, ...prelude.args].map(shellQuote).join(' ');
  return [
    `${assignments.join('')}${command} 2>&5 || exit 125`,
    `printf '%s' ${shellQuote(PRELUDE_DONE)} >&5`,
    'exec 5>&-',
    `cd ${shellQuote(cwd)} || exit 125`,
    `exec ${[conmon, ...args].map(shellQuote).join(' ')}`,
  ].join('\n');
}

/** Resolves when the status pipe closes after the done mark; rejects with its text otherwise. */
function readPreludeOutcome(pipe: Readable | null | undefined, describe: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!pipe) {
      reject(new InternalError(`Cannot ${describe}: it did not run`));
      return;
    }
    let text = '';
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      if (text.endsWith(PRELUDE_DONE)) resolve();
      else {
        const message = text.trim();
        reject(new InternalError(`Cannot ${describe}: ${message || 'it did not run to its end'}`));
      }
    };
    pipe.setEncoding('utf8');
    pipe.on('data', (chunk: string) => {
      text += chunk;
    });
    pipe.on('end', finish);
    pipe.on('close', finish);
    pipe.on('error', finish);
  });
}

export interface ContainerExit {
  /** The process's exit code, 128+N when killed by signal N. */
  exitCode: number;
  oomKilled: boolean;
  /**
   * `conmon`: conmon saw the exit. `assumed`: conmon died before the container did, so nobody
   * saw the exit; the container is gone and 137 (killed) is reported, as Podman does.
   */
  source: 'conmon' | 'assumed';
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The exit conmon recorded, or undefined while the container has not exited. conmon's files are
 * read synchronously (a few bytes each, every exit's handling and every poll reads them), the
 * cgroup's OOM count through the thread pool.
 */
export async function readExit(
  location: ConmonLocation,
  options: { cgroupsPath?: string } = {},
): Promise<ContainerExit | undefined> {
  const paths = conmonPaths(location);
  const text = readTextIfPresent(paths.exitFile) ?? readTextIfPresent(paths.persistExitFile);
  if (text === undefined || text.trim() === '') return undefined;
  const exitCode = Number(text.trim());
  // conmon's OOM event can lose the race with the exit; the cgroup's own count cannot (until
  // the runtime deletes the cgroup). Both are read.
  const kills = options.cgroupsPath ? await readOomKills(options.cgroupsPath).catch(() => 0) : 0;
  const oomKilled = existsSync(paths.oomFile) || kills > 0;
  return { exitCode: Number.isFinite(exitCode) ? exitCode : -1, oomKilled, source: 'conmon' };
}

/** How long after an exit a watch is closed (see waitForExit). */
const WATCH_CLOSE_DELAY_MS = 100;

/** Waits for conmon's exit file (fs.watch on the exit dir, with polling as a safety net). */
export async function waitForExit(
  location: ConmonLocation,
  options: { signal?: AbortSignal; pollMs?: number; cgroupsPath?: string } = {},
): Promise<ContainerExit> {
  const readOptions = options.cgroupsPath ? { cgroupsPath: options.cgroupsPath } : {};
  const first = await readExit(location, readOptions);
  if (first) return first;
  options.signal?.throwIfAborted();
  return new Promise<ContainerExit>((resolve, reject) => {
    let done = false;
    let checking = false;
    let again = false;
    const cleanup = () => {
      done = true;
      // Removing an inotify watch blocks this thread for an SRCU grace period (milliseconds):
      // later, when the exit's handling (which the caller does now) is over.
      // Unref'd, both: a CLI process that is done exits at once and the kernel drops the watch.
      const closing = watcher;
      if (closing) {
        closing.unref();
        setTimeout(() => closing.close(), WATCH_CLOSE_DELAY_MS).unref();
      }
      clearInterval(poller);
      options.signal?.removeEventListener('abort', onAbort);
    };
    const check = async () => {
      if (done) return;
      if (checking) {
        again = true;
        return;
      }
      checking = true;
      try {
        do {
          again = false;
          const exit = await readExit(location, readOptions);
          if (exit && !done) {
            cleanup();
            resolve(exit);
            return;
          }
        } while (again && !done);
      } catch (error) {
        if (!done) {
          cleanup();
          reject(error);
        }
      } finally {
        checking = false;
      }
    };
    const onAbort = () => {
      cleanup();
      reject(options.signal?.reason);
    };
    let watcher: ReturnType<typeof watch> | undefined;
    try {
      watcher = watch(location.exitDir, (_event, name) => {
        // conmon writes ID.XXXXXX, then renames it to ID.
        if (name === null || String(name).startsWith(location.id)) void check();
      });
      watcher.on('error', () => undefined);
    } catch {
      watcher = undefined; // polling alone then
    }
    const poller = setInterval(() => void check(), options.pollMs ?? (watcher ? 1000 : 100));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    // The file may have appeared between the first read and the watch.
    void check();
  });
}

/** True when the pid in conmon's pid file is a live conmon for this container. */
export async function isConmonAlive(location: ConmonLocation): Promise<boolean> {
  const paths = conmonPaths(location);
  let pid: number;
  try {
    pid = Number((await readFile(paths.conmonPidFile, 'utf8')).trim());
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    // The pid could have been reused: check it is conmon, for this container.
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && cmdline[0]?.endsWith('conmon') === true && cmdline.includes(location.id);
  } catch {
    return false;
  }
}

export type ReconciledState =
  | { status: 'exited'; exit: ContainerExit }
  | { status: 'running' | 'created' | 'paused'; pid: number; supervised: boolean };

/**
 * What is true of a container now, from the files conmon leaves and the runtime's state. Used
 * after a reboot or a killed conmon: a container whose conmon died and whose runtime state says
 * stopped (or is gone) has exited; with no exit file that exit is `assumed` (137). A container
 * still running without its conmon is reported `supervised: false` (its output is no longer logged
 * and its exit will not be recorded: the caller should stop it).
 */
export async function reconcileContainer(
  location: ConmonLocation,
  runtime: RuntimeDriver,
  options: { cgroupsPath?: string } = {},
): Promise<ReconciledState> {
  const recorded = await readExit(location, options);
  if (recorded) return { status: 'exited', exit: recorded };
  const supervised = await isConmonAlive(location);
  let state: Awaited<ReturnType<RuntimeDriver['state']>> | undefined;
  try {
    state = await runtime.state(location.id);
  } catch (error) {
    if (!(error instanceof Error && error.name === 'NotFoundError')) throw error;
  }
  if (state && state.status !== 'stopped') {
    if (supervised || state.status !== 'creating') {
      const status = state.status === 'creating' ? 'created' : state.status;
      return { status, pid: state.pid, supervised };
    }
  }
  if (supervised) {
    // conmon is alive and the container stopped: the exit file is being written right now.
    const exit = await waitForExit(location, { signal: AbortSignal.timeout(5000), ...options }).catch(
      () => undefined,
    );
    if (exit) return { status: 'exited', exit };
  }
  let oomKilled = await fileExists(conmonPaths(location).oomFile);
  if (!oomKilled && options.cgroupsPath) {
    oomKilled = (await readOomKills(options.cgroupsPath).catch(() => 0)) > 0;
  }
  return { status: 'exited', exit: { exitCode: 137, oomKilled, source: 'assumed' } };
}

export interface StopOptions {
  /** The signal asking the process to stop (the image's STOPSIGNAL); default SIGTERM. */
  signal?: NodeJS.Signals | number;
  /** How long to wait before SIGKILL; default 10 s (Docker's). 0 kills at once. */
  timeoutMs?: number;
  cgroupsPath?: string;
}

/**
 * Docker's stop: send the stop signal to the init, wait up to the timeout for conmon's exit file,
 * then SIGKILL every process of the container and wait again. Works from any process; when conmon
 * is gone the runtime's state is polled instead and the exit is reconciled.
 */
export async function stopContainer(
  location: ConmonLocation,
  runtime: RuntimeDriver,
  options: StopOptions = {},
): Promise<ContainerExit> {
  const waitOptions = options.cgroupsPath ? { cgroupsPath: options.cgroupsPath } : {};
  const already = await readExit(location, waitOptions);
  if (already) return already;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const waitFor = async (ms: number): Promise<ContainerExit | undefined> => {
    if (await isConmonAlive(location)) {
      return waitForExit(location, { ...waitOptions, signal: AbortSignal.timeout(ms) }).catch(
        (error: unknown) => {
          if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))
            return undefined;
          throw error;
        },
      );
    }
    const deadline = Date.now() + ms;
    for (;;) {
      const state = await reconcileContainer(location, runtime, waitOptions);
      if (state.status === 'exited') return state.exit;
      if (Date.now() >= deadline) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const ignoreGone = (error: unknown) => {
    // Already gone between the check and the signal (crun: `open pidfd: No such process`): the
    // wait below tells how it ended.
    if (
      !(
        error instanceof Error &&
        (error.name === 'NotFoundError' || /not running|stopped|No such process/.test(error.message))
      )
    ) {
      throw error;
    }
  };
  if (timeoutMs > 0) {
    await runtime.kill(location.id, options.signal ?? 'SIGTERM').catch(ignoreGone);
    const exit = await waitFor(timeoutMs);
    if (exit) return exit;
  }
  await runtime.kill(location.id, 'SIGKILL', { all: true }).catch(ignoreGone);
  const exit = await waitFor(10_000);
  if (!exit) {
    throw new UnavailableError(`Cannot stop container ${location.id}: it did not exit 10 s after SIGKILL`);
  }
  return exit;
}

/**
 * Removes the root-wide files conmon left for a container (its exit file and attach-socket
 * symlink); the container's own directory is its owner's to remove.
 */
export async function removeConmonFiles(location: ConmonLocation): Promise<void> {
  await rm(join(location.exitDir, location.id), { force: true });
  await rm(join(location.socketDir, location.id), { force: true });
}
