/**
 * The Engine API's exec routes (`ExecBackend`) over the container service's exec: create keeps
 * the exec's configuration in this daemon's memory (as dockerd does: exec instances do not
 * survive a restart), start runs it attached (the hijacked connection carries its stdio) or
 * detached, inspect reports `Running`, `ExitCode` and `Pid`.
 *
 * With a TTY, the OCI runtime wants a terminal as its own stdio (runc's `exec -t` relays between
 * it and the pty it makes inside the container), and a daemon's stdio are pipes: the runtime is
 * run through a small wrapper that gives it one with script(1) (see `ttyRuntimeWrapper`). The
 * runtime puts that outer terminal in raw mode, so bytes pass through unchanged; resizing sets
 * its size (`stty -F`), which signals the runtime to resize the inner one. Without a TTY the
 * runtime hands its pipes to the process: stdout and stderr arrive apart and are framed.
 *
 * A client that leaves ends the session: the process gets SIGTERM through the runtime (which
 * forwards signals), then SIGKILL if it lingers, so no runtime process or pipe outlives it.
 *
 * @example
 * const { Id } = await execs.create(containerId, { Cmd: ['sh'], AttachStdin: true, Tty: true });
 * const session = await execs.start(Id, { detach: false, tty: true });
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, readlink, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ContainerContext } from '../container/container-context.ts';
import { type ExecHandle, type ExecRequest, execInContainer } from '../container/container-exec.ts';
import type { ContainerService } from '../container/container-service.ts';
import { ContainerStartError } from '../container/start-errors.ts';
import { frame, type HijackedConnection } from '../engine-api/hijack.ts';
import type { ExecBackend } from '../engine-api/routes/exec-routes.ts';
import type { JsonObject } from '../engine-api/routes/json-types.ts';
import type { StdioSession } from '../engine-api/routes/stdio-session.ts';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../errors/index.ts';
import { OciRuntimeDriver } from '../runtime/runtime-driver.ts';
import { runtimePaths } from '../runtime/runtime-paths.ts';
import { findExecutable } from '../runtime/runtime-probe.ts';
import { shellQuote } from '../util/shell-quote.ts';
import { DEFAULT_DETACH_KEYS, DetachKeyFilter, parseDetachKeys } from './detach-keys.ts';

interface ExecInstance {
  id: string;
  containerId: string;
  cmd: string[];
  env: string[];
  user: string;
  workdir: string;
  tty: boolean;
  privileged: boolean;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
  detachKeys: string;
  started: boolean;
  running: boolean;
  exitCode: number | null;
  pid: number;
  /** The script(1) process of a TTY exec (its child is the runtime, on the outer terminal). */
  terminalHolder: number | undefined;
  finishedAt: number | undefined;
  /** Called once the terminal has its first size (or there will be none): input flows then. */
  sized?: (() => void) | undefined;
}

/**
 * How long a TTY exec's input waits for the client's first resize. API 1.41 clients (docker CLI
 * 28) send the size only after the start, so a fast runtime has the shell up before it lands; a
 * command typed at once (`stty size`) would then meet the SIGWINCH mid-call (busybox runs applets
 * in the shell's fork, with its handler: EINTR). Holding input until the size is set orders them.
 */
const FIRST_RESIZE_WAIT_MS = 500;

/** Finished exec instances are forgotten after this long (dockerd keeps them until the container goes). */
const KEEP_FINISHED_MS = 10 * 60_000;
const KILL_GRACE_MS = 2000;

function strings(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
    throw new InvalidArgumentError(`Cannot create an exec instance: ${field} must be a list of strings`);
  }
  return value as string[];
}

/**
 * A runtime binary that runs the real one on a terminal of its own: script(1) makes a pty, runs
 * the runtime on it, and relays between the pty and its own stdio (our pipes). `-e` returns the
 * runtime's exit status, `-f` flushes at once, the typescript goes to /dev/null.
 */
async function ttyRuntimeWrapper(dir: string, runtime: string): Promise<string> {
  const script = await findExecutable('script');
  if (!script) {
    throw new ConflictError(
      'Cannot run an exec with a TTY: script(1) is not installed (apt-get install bsdutils)',
    );
  }
  const name = runtime.replaceAll('/', '_');
  const path = join(dir, `tty-exec${name}.sh`);
  const text = [
    '#!/bin/sh',
    '# Written by the Wharf daemon: runs the OCI runtime on a terminal of its own (exec -t).',
    `cmd="exec ${shellQuote(runtime).replaceAll('"', '\\"')}"`,
    'for arg in "$@"; do',
    `  cmd="$cmd '$(printf '%s' "$arg" | sed "s/'/'\\\\\\\\''/g")'"`,
    'done',
    `SHELL=/bin/sh exec ${shellQuote(script)} -qfec "$cmd" /dev/null`,
    '',
  ].join('\n');
  const existing = await readFile(path, 'utf8').catch(() => undefined);
  if (existing !== text) {
    await mkdir(dir, { recursive: true });
    const temp = `${path}.${randomBytes(4).toString('hex')}`;
    await writeFile(temp, text, { mode: 0o755 });
    await chmod(temp, 0o755);
    await rename(temp, path);
  }
  return path;
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 5000 }, (error) => (error ? reject(error) : resolve()));
  });
}

/** The first child of `pid` (its main thread's), or undefined when it has none or is gone. */
async function firstChild(pid: number | string): Promise<string | undefined> {
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return children.trim().split(/\s+/)[0] || undefined;
}

/** The last process down the first-child line from `pid` (below it), or undefined when it has none. */
async function leafChild(pid: number): Promise<string | undefined> {
  let leaf: string | undefined;
  for (let next = await firstChild(pid), depth = 0; next !== undefined && depth < 8; depth++) {
    leaf = next;
    next = await firstChild(next);
  }
  return leaf;
}

export class LocalExecBackend implements ExecBackend {
  readonly #service: ContainerService;
  readonly #execs = new Map<string, ExecInstance>();

  constructor(service: ContainerService) {
    this.#service = service;
  }

  async create(containerId: string, config: JsonObject): Promise<{ Id: string }> {
    const record = await this.#service.get(containerId);
    if (record.state === 'paused') {
      throw new ConflictError(`Container ${record.id} is paused, unpause the container before exec`);
    }
    if (record.state !== 'running') throw new ConflictError(`Container ${record.id} is not running`);
    const cmd = strings(config.Cmd, 'Cmd');
    if (cmd.length === 0) throw new InvalidArgumentError('No exec command specified');
    const text = (value: unknown) => (typeof value === 'string' ? value : '');
    const detachKeys = text(config.DetachKeys);
    if (detachKeys) parseDetachKeys(detachKeys); // a bad sequence is the create's 400
    this.#forgetOld();
    const id = randomBytes(32).toString('hex');
    this.#execs.set(id, {
      id,
      containerId: record.id,
      cmd,
      env: strings(config.Env, 'Env'),
      user: text(config.User),
      workdir: text(config.WorkingDir),
      tty: config.Tty === true,
      privileged: config.Privileged === true,
      attachStdin: config.AttachStdin === true,
      attachStdout: config.AttachStdout === true,
      attachStderr: config.AttachStderr === true,
      detachKeys,
      started: false,
      running: false,
      exitCode: null,
      pid: 0,
      terminalHolder: undefined,
      finishedAt: undefined,
    });
    return { Id: id };
  }

  #get(execId: string): ExecInstance {
    const exec = this.#execs.get(execId);
    if (!exec) throw new NotFoundError(`No such exec instance: ${execId}`);
    return exec;
  }

  #forgetOld(): void {
    const now = Date.now();
    for (const [id, exec] of this.#execs) {
      if (exec.finishedAt !== undefined && now - exec.finishedAt > KEEP_FINISHED_MS) this.#execs.delete(id);
    }
  }

  #request(exec: ExecInstance, tty: boolean, consoleSize?: [number, number]): ExecRequest {
    return {
      cmd: exec.cmd,
      env: exec.env,
      ...(exec.user ? { user: exec.user } : {}),
      ...(exec.workdir ? { workdir: exec.workdir } : {}),
      tty,
      privileged: exec.privileged,
      ...(tty && consoleSize && consoleSize[0] > 0 && consoleSize[1] > 0
        ? { consoleSize: { height: consoleSize[0], width: consoleSize[1] } }
        : {}),
    };
  }

  async start(
    execId: string,
    options: { detach: boolean; tty: boolean; consoleSize?: [number, number] },
  ): Promise<StdioSession | undefined> {
    const exec = this.#get(execId);
    if (exec.started) throw new ConflictError(`Error: Exec command ${execId} has already run`);
    const record = await this.#service.get(exec.containerId);
    if (record.state !== 'running') throw new ConflictError(`Container ${record.id} is not running`);
    exec.started = true;
    const tty = exec.tty || options.tty;
    if (options.detach) {
      // a detached process has nobody on its terminal: it runs without one
      try {
        const handle = await this.#service.exec(record.id, { ...this.#request(exec, false), detach: true });
        exec.pid = handle.pid ?? 0;
        exec.running = true;
      } catch (error) {
        exec.exitCode = error instanceof ContainerStartError ? error.exitCode : 126;
        exec.finishedAt = Date.now();
        throw error;
      }
      return undefined;
    }
    const keys = parseDetachKeys(exec.detachKeys || DEFAULT_DETACH_KEYS);
    return {
      tty,
      run: (connection) => this.#run(exec, tty, keys, options.consoleSize, connection),
    };
  }

  async #run(
    exec: ExecInstance,
    tty: boolean,
    keys: number[],
    consoleSize: [number, number] | undefined,
    connection: HijackedConnection,
  ): Promise<void> {
    const withStdin = exec.attachStdin && connection.input !== null;
    const output = connection.output;
    const send = (stream: 'stdout' | 'stderr', data: Buffer) =>
      new Promise<void>((resolve) => {
        if (output.destroyed || output.writableEnded) {
          resolve();
          return;
        }
        if (output.write(tty ? data : frame(stream, data))) resolve();
        else {
          const done = () => {
            output.off('drain', done);
            output.off('close', done);
            resolve();
          };
          output.on('drain', done);
          output.on('close', done);
        }
      });
    let handle: ExecHandle | undefined;
    try {
      const request: ExecRequest = {
        ...this.#request(exec, tty, consoleSize),
        stdio: [withStdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      };
      const record = await this.#service.get(exec.containerId);
      handle = tty
        ? await execInContainer(await this.#ttyContext(), record, request)
        : await this.#service.exec(record.id, request);
      const child = handle.child!;
      exec.running = true;
      exec.pid = child.pid ?? 0;
      if (tty) exec.terminalHolder = child.pid;
      if (tty && consoleSize) void this.resize(exec.id, { height: consoleSize[0], width: consoleSize[1] });
      const ended = () => {
        // the client left or detached: the process is told to stop, and made to if it lingers
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        }, KILL_GRACE_MS);
        timer.unref();
        child.once('exit', () => clearTimeout(timer));
      };
      connection.signal.addEventListener('abort', ended, { once: true });
      if (withStdin && child.stdin) {
        child.stdin.on('error', () => undefined); // the process closed its stdin: what is left is dropped
        let input: Readable = connection.input!;
        if (tty) input = input.pipe(new DetachKeyFilter(keys, ended));
        const stdin = child.stdin;
        if (tty) {
          const flow = () => {
            exec.sized = undefined;
            clearTimeout(timer);
            input.pipe(stdin);
          };
          const timer = setTimeout(flow, FIRST_RESIZE_WAIT_MS);
          exec.sized = flow;
        } else {
          input.pipe(stdin);
        }
      }
      const copy = async (stream: 'stdout' | 'stderr', from: Readable | null) => {
        if (!from) return;
        for await (const chunk of from) await send(stream, chunk as Buffer);
      };
      const [code] = await Promise.all([
        handle.exitCode,
        copy('stdout', child.stdout),
        copy('stderr', child.stderr),
      ]);
      connection.signal.removeEventListener('abort', ended);
      exec.exitCode = code;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      exec.exitCode = error instanceof ContainerStartError ? error.exitCode : 126;
      // dockerd writes a failed start to the stream's stdout
      await send('stdout', Buffer.from(`${message}\r\n`));
    } finally {
      exec.running = false;
      exec.finishedAt = Date.now();
      exec.terminalHolder = undefined;
      connection.close();
    }
  }

  /** The container context with a runtime driver that runs on a terminal of its own. */
  async #ttyContext(): Promise<ContainerContext> {
    const context = this.#service.context;
    const scratchDir = runtimePaths(context.root).scratchDir;
    const driver = async (name: string) => {
      const base = await context.driver(name);
      return new OciRuntimeDriver({
        name: base.name,
        binary: await ttyRuntimeWrapper(scratchDir, base.binary),
        stateDir: base.stateDir,
        scratchDir,
      });
    };
    return Object.create(context, { driver: { value: driver } }) as ContainerContext;
  }

  async resize(execId: string, size: { height: number; width: number }): Promise<void> {
    const exec = this.#get(execId);
    if (!exec.tty || size.height <= 0 || size.width <= 0) return;
    try {
      await this.#resizeTerminal(exec, size);
    } finally {
      exec.sized?.();
    }
  }

  async #resizeTerminal(exec: ExecInstance, size: { height: number; width: number }): Promise<void> {
    // the runtime may not be on its terminal yet right after the start: try for a moment
    for (let attempt = 0; attempt < 100; attempt++) {
      if (exec.terminalHolder === undefined) {
        if (exec.finishedAt !== undefined) return;
      } else {
        const terminal = await this.#outerTerminal(exec.terminalHolder);
        if (terminal) {
          await run('stty', ['-F', terminal, 'rows', String(size.height), 'cols', String(size.width)]).catch(
            () => undefined,
          );
          // The first size gates the input: wait until the runtime has passed it on to the
          // process's own terminal (it does so on the SIGWINCH this caused, a moment later).
          if (exec.sized) await this.#innerTerminalSized(exec, size);
          return;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /**
   * Waits (up to about a second) until the exec'd process's terminal, inside, reports `size`.
   * The process is the leaf of the holder's tree (script -> runtime -> [the runtime's own
   * intermediate child] -> process): a loaded machine may not have spawned it yet, and an
   * intermediate's stdin is the outer terminal, sized already, so nothing short of the leaf's
   * own terminal having the size lets the input go. A size set on the outer terminal before the
   * runtime listens for SIGWINCH never reaches the inner one (seen as `0 0` for good): after a
   * few tries the inner terminal is sized directly, through the process's own stdin.
   */
  async #innerTerminalSized(exec: ExecInstance, size: { height: number; width: number }): Promise<void> {
    const want = `${size.height} ${size.width}`;
    const stty = (args: string[]) =>
      new Promise<string | undefined>((resolve) =>
        execFile('stty', args, { timeout: 2000 }, (error, stdout) =>
          resolve(error ? undefined : stdout.trim()),
        ),
      );
    for (let attempt = 0; attempt < 100 && exec.finishedAt === undefined; attempt++) {
      const leaf = exec.terminalHolder === undefined ? undefined : await leafChild(exec.terminalHolder);
      if (leaf !== undefined) {
        const terminal = `/proc/${leaf}/fd/0`;
        const seen = await stty(['-F', terminal, 'size']);
        if (seen === want) return;
        if (seen !== undefined && attempt >= 3) {
          await stty(['-F', terminal, 'rows', String(size.height), 'cols', String(size.width)]);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** The pty script(1) made: the runtime's (script's child's) stdin. */
  async #outerTerminal(holder: number): Promise<string | undefined> {
    const runtimePid = await firstChild(holder);
    if (!runtimePid) return undefined;
    const target = await readlink(`/proc/${runtimePid}/fd/0`).catch(() => '');
    return target.startsWith('/dev/pts/') ? target : undefined;
  }

  async inspect(execId: string): Promise<JsonObject> {
    const exec = this.#get(execId);
    if (exec.running && exec.terminalHolder === undefined && exec.pid > 0 && exec.finishedAt === undefined) {
      // a detached process: running while its pid lives
      const alive = await readFile(`/proc/${exec.pid}/stat`, 'utf8').then(
        (stat) => !/^\d+ \(.*\) Z/.test(stat),
        () => false,
      );
      if (!alive) {
        exec.running = false;
        exec.finishedAt = Date.now();
      }
    }
    const [entrypoint = '', ...args] = exec.cmd;
    return {
      CanRemove: false,
      ContainerID: exec.containerId,
      DetachKeys: exec.detachKeys,
      ExitCode: exec.exitCode,
      ID: exec.id,
      OpenStderr: exec.attachStderr,
      OpenStdin: exec.attachStdin,
      OpenStdout: exec.attachStdout,
      ProcessConfig: {
        arguments: args,
        entrypoint,
        privileged: exec.privileged,
        tty: exec.tty,
        user: exec.user,
      },
      Running: exec.running,
      Pid: exec.pid,
    };
  }
}
