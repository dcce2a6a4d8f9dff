/**
 * Child processes for the benchmarks: one command run to its end and timed, the same with a
 * non-zero exit turned into an error, a long-lived process (a daemon) whose stderr is kept for the
 * error that says why it did not start, and the stop of such a process by its PID.
 *
 * Why it exists: every benchmark that times a CLI (wharf, docker, podman, tar...) needs exactly
 * this, and the copies each file had drifted only in their error messages. Timings are wall time
 * from just before the spawn to the child's `close` (its pipes drained), as they always were.
 *
 * @example
 * const { ms, stdout } = await must('/usr/bin/docker', ['version'], env);
 * const daemon = spawnWithLog('/usr/sbin/dockerd', args);
 * await stopByPid(daemon.child);
 */
import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';

export interface RunResult {
  /** Exit code, -1 when the child was ended by a signal. */
  code: number;
  /** Wall time from the spawn to `close`, in ms. */
  ms: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /**
   * `'pipe'` (default) collects stdout and stderr; `'ignore'` gives the child no pipes at all
   * (the runtime benchmark times a bare `<runtime> run` this way: no output to read, nothing to
   * drain), and the result's stdout and stderr are empty.
   */
  output?: 'pipe' | 'ignore';
}

/**
 * How a failed command reads in `must`'s error: `'line'` (default) `CMD ARGS exited N: <last
 * 1,500 characters of stderr>`; `'block'`, as the build benchmarks print it, `CMD ARGS failed
 * (N):` then the last 3,000 characters of stderr on their own lines (a failed build says a lot).
 */
export type FailureStyle = 'line' | 'block';

export interface MustOptions extends RunOptions {
  failure?: FailureStyle;
}

/**
 * Runs `command` to its end: exit code, wall time and output. Never rejects for a non-zero exit
 * (see `must`), only when the command cannot be spawned.
 *
 * @example
 * const { code } = await run('/usr/bin/podman', ['rm', '-f', '-a'], env);
 */
export function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  options: RunOptions = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const stdio: StdioOptions = options.output === 'ignore' ? 'ignore' : ['ignore', 'pipe', 'pipe'];
    const child = spawn(command, args, { stdio, env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code: code ?? -1,
        ms: performance.now() - t0,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      }),
    );
  });
}

/**
 * `run`, throwing when the command exits non-zero (with the end of its stderr in the message).
 *
 * @example
 * const id = (await must(wharfBin, ['run', '-d', 'busybox', 'sleep', '60'], env)).stdout.trim();
 */
export async function must(
  command: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
  options: MustOptions = {},
): Promise<RunResult> {
  const result = await run(command, args, env, options);
  if (result.code === 0) return result;
  throw new Error(
    options.failure === 'block'
      ? `${command} ${args.join(' ')} failed (${result.code}):\n${result.stderr.slice(-3000)}`
      : `${command} ${args.join(' ')} exited ${result.code}: ${result.stderr.slice(-1500)}`,
  );
}

/**
 * `must` with its failure message in `style`, for a benchmark that wants one style throughout.
 *
 * @example
 * const must = mustWith('block');
 */
export function mustWith(
  style: FailureStyle,
): (command: string, args: string[], env?: NodeJS.ProcessEnv) => Promise<RunResult> {
  return (command, args, env) => must(command, args, env, { failure: style });
}

/** A long-lived child (a daemon) and what it has written on stderr so far. */
export interface LoggedChild {
  child: ChildProcess;
  log(): string;
}

/**
 * Spawns a daemon with stdout ignored and stderr kept, so that a daemon that does not come up can
 * be reported with its own last words.
 *
 * @example
 * const { child, log } = spawnWithLog(wharfBin, ['system', 'service', '-H', `unix://${socket}`]);
 */
export function spawnWithLog(command: string, args: string[]): LoggedChild {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (chunk) => (log += chunk));
  return { child, log: () => log };
}

/**
 * Stops a child by its PID: SIGTERM, then SIGKILL if it is still there after 30 s; resolves once
 * it exited (at once if it already had). Safe to call twice and after a failed start.
 *
 * @example
 * try { ... } finally { await stopByPid(daemon); }
 */
export function stopByPid(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
      resolve();
      return;
    }
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, 30_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    process.kill(child.pid, 'SIGTERM');
  });
}

/** Resolves after `ms` milliseconds (between polls of a daemon that is starting). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
