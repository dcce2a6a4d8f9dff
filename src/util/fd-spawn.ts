/**
 * Starts a program whose stdin, stdout and stderr are this process's own (or /dev/null), and
 * reports its exit, through libuv's process handle: Node's `process_wrap` binding, which
 * node:child_process itself drives. node:child_process is for pipes and streams; loading it
 * loads net, stream and dgram, 3.5-4 ms of `wharf exec` here (a command scripts run in loops),
 * whose runtime only ever shares this process's descriptors. Where the binding is not there or
 * refuses (another Node), child_process does it, with the same result.
 *
 * @example
 * const started = spawnWithFds('/usr/bin/crun', ['exec', '--process', file, id], {
 *   stdio: ['ignore', 'inherit', 'inherit'],
 * });
 * const { code, signal } = await started.exit;
 */
import { getSystemErrorName } from 'node:util';
import { childProcess } from './child-process.ts';

/** One of the child's three standard descriptors: this process's own, or /dev/null. */
export type FdStdio = 'inherit' | 'ignore';

export interface FdSpawned {
  pid: number;
  /** The exit: a code, or the signal that ended it. Rejects when the program could not start. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The part of libuv's process handle (src/process_wrap.cc) used here. */
interface ProcessHandle {
  pid: number;
  onexit: (exitStatus: number, termSignal: string) => void;
  spawn(options: {
    file: string;
    args: string[];
    envPairs: string[];
    stdio: ({ type: 'ignore' } | { type: 'fd'; fd: number })[];
    detached: boolean;
    windowsHide: boolean;
    windowsVerbatimArguments: boolean;
  }): number;
  close(): void;
}

type ProcessConstructor = new () => ProcessHandle;

let processClass: ProcessConstructor | null | undefined;

/** The binding's Process class, or null where this Node does not offer it. */
function processHandleClass(): ProcessConstructor | null {
  if (processClass !== undefined) return processClass;
  try {
    const binding = (
      process as unknown as { binding(name: string): { Process?: ProcessConstructor } }
    ).binding('process_wrap');
    processClass = typeof binding.Process === 'function' ? binding.Process : null;
  } catch {
    processClass = null;
  }
  return processClass;
}

export function spawnWithFds(
  file: string,
  args: readonly string[],
  options: { stdio: readonly [FdStdio, FdStdio, FdStdio]; env?: NodeJS.ProcessEnv },
): FdSpawned {
  const env = options.env ?? process.env;
  const Process = processHandleClass();
  if (!Process) return withChildProcess(file, args, options.stdio, env);
  const handle = new Process();
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    handle.onexit = (exitStatus, termSignal) => {
      handle.close();
      resolve(
        termSignal
          ? { code: null, signal: termSignal as NodeJS.Signals }
          : { code: exitStatus, signal: null },
      );
    };
  });
  const status = handle.spawn({
    file,
    args: [file, ...args],
    envPairs: Object.entries(env)
      .filter((entry): entry is [string, string] => entry[1] !== undefined)
      .map(([key, value]) => `${key}=${value}`),
    stdio: options.stdio.map((kind, fd) =>
      kind === 'ignore' ? { type: 'ignore' as const } : { type: 'fd' as const, fd },
    ),
    detached: false,
    windowsHide: false,
    windowsVerbatimArguments: false,
  });
  if (status < 0) {
    handle.close();
    // worded as child_process words it (`spawn FILE ENOENT`), with the same code
    const name = getSystemErrorName(status);
    const error = Object.assign(new Error(`spawn ${file} ${name}`), {
      code: name,
      errno: status,
      path: file,
    });
    return { pid: 0, exit: Promise.reject(error) };
  }
  return { pid: handle.pid, exit };
}

function withChildProcess(
  file: string,
  args: readonly string[],
  stdio: readonly [FdStdio, FdStdio, FdStdio],
  env: NodeJS.ProcessEnv,
): FdSpawned {
  const child = childProcess().spawn(file, [...args], { stdio: [...stdio], env });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return { pid: child.pid ?? 0, exit };
}
