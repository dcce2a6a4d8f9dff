/**
 * The shape of a process start that Wharf's process runs (conmon, `mount`, `umount`) use, so that
 * a caller can be given another way to start processes than Node's spawn: a daemon passes its
 * ProcessSpawner (process-spawner.ts), which does not fork it. Node's ChildProcess is a
 * SpawnedProcess; `spawnWithNode` is the default.
 *
 * @example
 * const child = (options.spawn ?? spawnWithNode)('/usr/bin/umount', [target], { stdio: ['ignore', 'ignore', 'pipe'] });
 */
import type { Readable, Writable } from 'node:stream';
import { childProcess } from '../util/child-process.ts';

/** What a process run uses of a child process: Node's ChildProcess is one. */
export interface SpawnedProcess {
  readonly stdio: readonly (Readable | Writable | null | undefined)[];
  readonly stderr: Readable | null;
  readonly pid?: number | undefined;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  kill(signal?: NodeJS.Signals): boolean;
  unref(): void;
  // biome-ignore lint/suspicious/noExplicitAny: Node's own listener type (ChildProcess, EventEmitter)
  on(event: string, listener: (...args: any[]) => void): this;
  // biome-ignore lint/suspicious/noExplicitAny: as `on`
  once(event: string, listener: (...args: any[]) => void): this;
}

export interface SpawnProcessOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  detached?: boolean;
  /** One entry per fd of the child from 0: /dev/null or a relayed pipe. */
  stdio: readonly ('ignore' | 'pipe')[];
}

/** Starts `file` with `args` (argv[0] is `file`). */
export type SpawnProcess = (
  file: string,
  args: readonly string[],
  options: SpawnProcessOptions,
) => SpawnedProcess;

/** What starts a caller's processes: a ProcessSpawner (or a stand-in of its shape). */
export interface Spawner {
  readonly spawn: SpawnProcess;
  /** See ProcessSpawner's `builtins`. */
  readonly builtins: boolean;
}

/** Node's own spawn, for processes that do not keep a spawner. */
export const spawnWithNode: SpawnProcess = (file, args, options) =>
  childProcess().spawn(file, args, {
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    ...(options.env !== undefined ? { env: options.env } : {}),
    ...(options.detached !== undefined ? { detached: options.detached } : {}),
    stdio: [...options.stdio],
  });
