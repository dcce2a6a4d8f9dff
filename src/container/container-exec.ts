/**
 * `exec`: a new process in a running container, through `runtime exec` with the container's own
 * process settings (capabilities, rlimits, environment from its config.json) and the exec's
 * command, environment, user (resolved in the container's files), working directory and terminal.
 * Attached, the runtime's stdio is the process's (a terminal: the runtime makes a pty and relays
 * it to its own stdio); detached, the runtime returns once the process runs.
 *
 * @example
 * const session = await execInContainer(context, record, { cmd: ['ls'], stdio: 'inherit' });
 * const code = await session.exitCode;
 */
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ConflictError, InvalidArgumentError } from '../errors/index.ts';
import { readHostFacts } from '../runtime/host-facts.ts';
import type { RuntimeSpec } from '../runtime/oci-runtime-spec.ts';
import { readOnlyRuntime } from '../runtime/read-only-runtime.ts';
import type { ExecOptions } from '../runtime/runtime-driver.ts';
import { buildExecProcess, type ExecProcessOptions } from '../runtime/spec.ts';
import type { FdStdio } from '../util/fd-spawn.ts';
import { tracePhase } from '../util/phase-trace.ts';
import { randomHex } from '../util/random-hex.ts';
import type { ContainerContext } from './container-context.ts';
import { containerPaths } from './container-paths.ts';
import type { ContainerRecord } from './container-records.ts';
import { readFileInRoot } from './root-files.ts';
import { ContainerStartError, EXIT_CANNOT_INVOKE, startErrorExitCode } from './start-errors.ts';
import { resolveUser } from './user-lookup.ts';

export interface ExecRequest {
  cmd: string[];
  env?: string[];
  /** `user`, `uid`, `user:group`, `uid:gid`. */
  user?: string;
  workdir?: string;
  tty?: boolean;
  detach?: boolean;
  privileged?: boolean;
  consoleSize?: { height: number; width: number };
  /** The runtime's (and so the process's) stdio when attached; default pipes. */
  stdio?: StdioOptions;
}

export interface ExecHandle {
  /** Docker's exec id (for events). */
  id: string;
  /** Attached: the runtime process, whose stdio is the exec'd process's. */
  child?: ChildProcess;
  /** Attached: the process's exit code (126/127 when it could not start, as Docker gives them). */
  exitCode: Promise<number>;
  /** Detached: the process's host pid. */
  pid?: number;
}

export async function execInContainer(
  context: ContainerContext,
  record: ContainerRecord,
  request: ExecRequest,
): Promise<ExecHandle> {
  if (record.state === 'paused') {
    throw new ConflictError(`Container ${record.id} is paused, unpause the container before exec`);
  }
  if (record.state !== 'running') throw new ConflictError(`Container ${record.id} is not running`);
  if (request.cmd.length === 0) throw new InvalidArgumentError('No exec command specified');
  tracePhase('exec: begin', record.id);
  const paths = containerPaths(context.root, record.id);
  // synchronous: a few KB, where a thread-pool round trip costs more than the read
  const spec = JSON.parse(readFileSync(paths.configJson, 'utf8')) as RuntimeSpec;
  const options: ExecProcessOptions = {
    args: request.cmd,
    terminal: request.tty === true,
  };
  if (request.tty) options.env = ['TERM=xterm'];
  if (request.env?.length) options.env = [...(options.env ?? []), ...request.env];
  if (request.workdir) options.cwd = request.workdir;
  if (request.consoleSize) options.consoleSize = request.consoleSize;
  if (request.user) {
    const [passwd, group] = await Promise.all([
      readFileInRoot(paths.rootfs, '/etc/passwd'),
      readFileInRoot(paths.rootfs, '/etc/group'),
    ]);
    let user: ReturnType<typeof resolveUser>;
    try {
      user = resolveUser(request.user, { passwd, group });
    } catch (error) {
      // moby's exec start: a failure before the process runs leaves the exec with exit code 126
      if (error instanceof InvalidArgumentError)
        throw new ContainerStartError(error.message, EXIT_CANNOT_INVOKE, { cause: error });
      throw error;
    }
    options.user = { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids };
  }
  if (request.privileged) {
    options.privileged = true;
    options.host = await readHostFacts();
  }
  const processSpec = buildExecProcess(spec.process, options);
  const driver = await context.driver(record.runtime);
  // crun from its read-only view does not copy itself first (read-only-runtime.ts): 3-8 ms
  const launch = driver.name === 'crun' ? await readOnlyRuntime(driver.binary) : undefined;
  const launchOption: Pick<ExecOptions, 'launch'> = launch ? { launch } : {};
  const execId = randomHex(32);
  const command = request.cmd.join(' ');
  // both in one write transaction: one commit, not two
  const recordStart = () =>
    context.records.db.write(() => {
      context.emit(`exec_create: ${command}`, record, { execID: execId });
      context.emit(`exec_start: ${command}`, record, { execID: execId });
    });
  tracePhase('exec: spawning', record.id);
  if (request.detach) {
    recordStart();
    try {
      const { pid } = await driver.exec(record.id, processSpec, { ...launchOption, detach: true });
      return { id: execId, pid, exitCode: Promise.resolve(0) };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new ContainerStartError(message, startErrorExitCode(message), { cause: error });
    }
  }
  const fds = descriptorsOnly(request.stdio);
  const session = fds
    ? await driver.execWithFds(record.id, processSpec, { ...launchOption, stdio: fds })
    : await driver.exec(record.id, processSpec, { ...launchOption, stdio: request.stdio ?? 'pipe' });
  tracePhase('exec: spawned', record.id);
  // Recorded while the runtime joins the container rather than before its spawn: a SQLite commit
  // (1-2 ms: the first write of this process also starts the WAL) off the critical path. Still
  // before exec_die, which waits for the exit (an event no sooner than the next turn of the loop).
  // The process runs already when this fails (the database busy past its timeout): the caller
  // still gets its handle, to pump its stdio, and the failure when it ends, as with exec_die's.
  let recordFailure: { error: unknown } | undefined;
  try {
    recordStart();
  } catch (error) {
    recordFailure = { error };
  }
  const exitCode = session.exitCode.then(
    (code) => {
      tracePhase('exec: exited', record.id);
      if (recordFailure) throw recordFailure.error;
      context.emit('exec_die', record, { execID: execId, exitCode: String(code) });
      return code;
    },
    (error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      const code = startErrorExitCode(message);
      context.emit('exec_die', record, { execID: execId, exitCode: String(code) });
      throw new ContainerStartError(message, code, { cause: error });
    },
  );
  return { id: execId, ...('child' in session ? { child: session.child } : {}), exitCode };
}

/**
 * `stdio` as three descriptors shared with this process or /dev/null (the CLI's `exec`), for
 * execWithFds; undefined when it asks for pipes (the daemon, health checks).
 */
function descriptorsOnly(stdio: StdioOptions | undefined): [FdStdio, FdStdio, FdStdio] | undefined {
  const kinds = stdio === 'inherit' || stdio === 'ignore' ? [stdio, stdio, stdio] : stdio;
  if (!Array.isArray(kinds) || kinds.length !== 3) return undefined;
  if (!kinds.every((kind) => kind === 'inherit' || kind === 'ignore')) return undefined;
  return kinds as [FdStdio, FdStdio, FdStdio];
}
