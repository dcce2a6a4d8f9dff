/**
 * Attaching to a conmon-supervised container: its output as it is written, and (for containers
 * created with `stdin: true`) a way to feed its stdin.
 *
 * conmon's attach socket is SOCK_SEQPACKET: every packet conmon sends starts with one byte naming
 * the stream (2 stdout, 3 stderr), and every packet a client sends goes to the container's stdin.
 * Node cannot open SEQPACKET sockets. The choices were a native addon or `socat`; Wharf uses
 * socat, split by direction:
 *
 * - input: `socat STDIO UNIX-CONNECT:ID/attach,type=5`, run with the socket directory as its cwd
 *   (a relative path never exceeds sun_path's 108 bytes). Each chunk socat reads from its stdin
 *   becomes one packet, which is exactly what conmon wants. When Wharf's input ends, socat shuts
 *   the socket down and conmon closes the container's stdin (unless `leaveStdinOpen`). What conmon
 *   sends back is read by socat and thrown away: it must be read, as conmon writes to attached
 *   clients with blocking writes and a full socket would stall the container.
 * - output: the CRI log, followed with `fragments` (logs.ts). Through a pipe socat would merge
 *   packets and lose the stream bytes that separate stdout from stderr; the log keeps them, with
 *   nothing lost between attach and exit. Measured here (2 loaded cores): attaching costs 7 ms
 *   (socat's spawn); a line typed into `cat` comes back through conmon, the log and fs.watch in
 *   1 ms (median; p90 10 ms).
 *
 * A terminal container's output is one stream (stdout) in the log, byte-exact: a fragment is
 * written as is, an ended line gets its newline back. Resizing goes through conmon's `ctl` FIFO.
 *
 * @example
 * const session = await attachContainer({ location, logPath, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, stop: exited });
 * await session.done;
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { InvalidArgumentError, UnavailableError } from '../errors/index.ts';
import { type ConmonLocation, conmonPaths } from './conmon.ts';
import { readContainerLog } from './logs.ts';
import { findExecutable } from './runtime-probe.ts';

export interface AttachOptions {
  location: ConmonLocation;
  /** The container's CRI log. */
  logPath: string;
  /** Fed to the container's stdin (the container must have been created with `stdin: true`). */
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  /** Resolves when the container exits: output is drained, then the session ends. */
  stop?: Promise<unknown>;
  /** Ends the session (detach) without touching the container. */
  signal?: AbortSignal;
  /** Show output written from this time on (nanoseconds or Date); default: from now. */
  since?: Date | bigint;
}

export interface AttachSession {
  /** Settles when output has ended (the container exited, or the session was detached). */
  done: Promise<void>;
  /** The socat carrying stdin, if any. */
  input?: ChildProcess;
}

/** Opens the stdin side: a socat connected to the attach socket, fed from `stdin`. */
async function connectInput(
  location: ConmonLocation,
  stdin: Readable,
  signal?: AbortSignal,
): Promise<ChildProcess> {
  const socat = await findExecutable('socat');
  if (!socat) throw new UnavailableError('Cannot attach to the container stdin: socat is not installed');
  const paths = conmonPaths(location);
  const child = spawn(socat, ['-b', '65536', 'STDIO', `UNIX-CONNECT:${paths.attachSocketRelative},type=5`], {
    cwd: location.socketDir,
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  child.stderr!.resume(); // socat's complaints (e.g. the container is gone) end with its exit
  child.stdin!.on('error', () => undefined); // socat gone: its exit says so
  stdin.pipe(child.stdin!);
  const onAbort = () => {
    stdin.unpipe(child.stdin!);
    child.kill('SIGTERM');
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  child.on('exit', () => {
    signal?.removeEventListener('abort', onAbort);
    stdin.unpipe(child.stdin!);
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return child;
}

/** Attaches to a container's output (from the log) and, optionally, its stdin (through socat). */
export async function attachContainer(options: AttachOptions): Promise<AttachSession> {
  const since = options.since ?? BigInt(Date.now()) * 1_000_000n;
  const session: AttachSession = { done: Promise.resolve() };
  if (options.stdin) session.input = await connectInput(options.location, options.stdin, options.signal);
  const logOptions = {
    follow: true,
    fragments: true,
    since,
    ...(options.stop ? { stop: options.stop } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  session.done = (async () => {
    for await (const entry of readContainerLog(options.logPath, logOptions)) {
      const target = entry.stream === 'stdout' ? options.stdout : options.stderr;
      if (!target) continue;
      const text = entry.partial ? entry.text : `${entry.text}\n`;
      if (!target.write(text)) await new Promise((resolve) => target.once('drain', resolve));
    }
  })();
  return session;
}

/** Resizes a terminal container's pty (conmon's ctl FIFO: `1 HEIGHT WIDTH`). */
export async function resizeTerminal(location: ConmonLocation, rows: number, columns: number): Promise<void> {
  if (!Number.isInteger(rows) || !Number.isInteger(columns) || rows <= 0 || columns <= 0) {
    throw new InvalidArgumentError(`Cannot resize the terminal to ${rows}x${columns}`);
  }
  // Non-blocking: with no conmon reading the FIFO, opening it fails (ENXIO) instead of hanging.
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(conmonPaths(location).ctlFifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
  } catch (error) {
    throw new UnavailableError(
      `Cannot resize the terminal of container ${location.id}: conmon is not running`,
      {
        cause: error,
      },
    );
  }
  try {
    await handle.write(`1 ${rows} ${columns}\n`);
  } finally {
    await handle.close();
  }
}
