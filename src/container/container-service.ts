/**
 * The container service: Docker's container verbs over Wharf's records (SQLite), snapshots
 * (overlay), the OCI runtime and conmon. Every method finds containers by full id, name or unique
 * id prefix, reconciles what it reads (a container whose conmon is gone is seen exited), and
 * returns Docker's shapes. No state lives in this process: conmon supervises each run and its
 * exit command (`wharf container cleanup`) records the exit, so any process may call any method.
 *
 * Lifecycle steps shared by several verbs live in container-lifecycle.ts; exec in
 * container-exec.ts; health checks in health-check.ts; shapes in container-views.ts.
 *
 * @example
 * const service = new ContainerService({ root, db, images, snapshotter, wharfCommand });
 * const { id } = await service.create({ config: { Image: 'busybox', Cmd: ['echo', 'hi'] } });
 * await service.start(id);
 * const { StatusCode } = await service.wait(id);
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { availableParallelism, constants as osConstants, hostname as osHostname, totalmem } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../errors/index.ts';
import { attachContainer, resizeTerminal } from '../runtime/attach.ts';
import { type CgroupStats, readCgroupStats } from '../runtime/cgroups.ts';
import { type ContainerExit, readExit, stopContainer, waitForExit } from '../runtime/conmon.ts';
import { readHostFacts } from '../runtime/host-facts.ts';
import { type InterfaceCounters, readInterfaceStats } from '../runtime/interface-stats.ts';
import { type LogEntry, readContainerLog } from '../runtime/logs.ts';
import { buildRuntimeSpec } from '../runtime/spec.ts';
import { GC_ROOT_LABEL } from '../snapshot/gc.ts';
import { tracePhase } from '../util/phase-trace.ts';
import { randomHex } from '../util/random-hex.ts';
import { mergeImageConfig, processPathAndArgs } from './container-config.ts';
import { ContainerContext, type ContainerServiceOptions } from './container-context.ts';
import { type ExecHandle, type ExecRequest, execInContainer } from './container-exec.ts';
import { type ContainerFilters, containerMatcher } from './container-filters.ts';
import {
  type CleanupOptions,
  type CleanupResult,
  cleanupRun,
  killAndCleanup,
  premountRootfs,
  reconcileRecord,
  removeContainer,
  type StartRunOptions,
  startRun,
} from './container-lifecycle.ts';
import { withContainerLock } from './container-lock.ts';
import { checkContainerName, randomContainerName } from './container-names.ts';
import { containerPaths } from './container-paths.ts';
import type { ContainerRecord, EndpointConfig } from './container-records.ts';
import { networkModeOf, resourcesOf } from './container-spec.ts';
import { isActive, transition } from './container-state.ts';
import { inspectView, summaryView } from './container-views.ts';
import {
  type ContainerConfig,
  type ContainerInspect,
  type ContainerSummary,
  defaultHostConfig,
  type EventMessage,
  type HostConfig,
} from './docker-types.ts';
import { containerResolvConf, hostHostsFile, hostResolvConf, hostsFile } from './etc-files.ts';
import { runHealthProbe } from './health-check.ts';
import { formatRfc3339Nano, nowNanos, parseTime } from './timestamps.ts';

export interface CreateContainerRequest {
  /** `--name`; a random `adjective_surname` when absent. */
  name?: string;
  /** Docker's Config; `Image` is required. */
  config: ContainerConfig;
  /**
   * Docker's HostConfig; missing fields take the defaults (no restart...). The network is
   * `bridge` when a network layer is plugged in (Docker's default), else `none`.
   */
  hostConfig?: Partial<HostConfig>;
  /** Docker's NetworkingConfig: aliases and `--ip` per network, extra networks to join. */
  networkingConfig?: { EndpointsConfig?: Record<string, EndpointConfig> | null };
}

export interface ListContainersOptions {
  all?: boolean;
  /** Only the last N created (implies all). */
  limit?: number;
  size?: boolean;
  filters?: ContainerFilters;
}

export interface StopOptions {
  /** Seconds before SIGKILL; default the container's StopTimeout, else 10. -1 waits forever. */
  timeoutSeconds?: number;
  /** Default the container's StopSignal, else SIGTERM. */
  signal?: string;
}

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export interface LogsOptions {
  follow?: boolean;
  tail?: number;
  since?: Date | bigint;
  until?: Date | bigint;
  stdout?: boolean;
  stderr?: boolean;
  signal?: AbortSignal;
}

export interface AttachOptions {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  /** Output written from this time on (default: now). */
  since?: Date | bigint;
  signal?: AbortSignal;
  /** Settles when output should end (default: when the container stops). */
  stop?: Promise<unknown>;
}

export interface TopResult {
  Titles: string[];
  Processes: string[][];
}

/** One reading of a container's cgroup, for `stats`. */
export interface StatsSample {
  id: string;
  name: string;
  /** When it was read (ms since the epoch, high resolution). */
  read: number;
  cgroup: CgroupStats | undefined;
  /**
   * The container's interfaces but `lo` (Docker's `networks`); undefined when it is not running
   * or shares the host's network, where Docker has no `networks` either.
   */
  networks: Record<string, InterfaceCounters> | undefined;
  /** Bytes of memory of the host (the limit `stats` shows when there is none). */
  hostMemory: number;
  onlineCpus: number;
}

export interface UpdateRequest {
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  NanoCpus?: number;
  CpuShares?: number;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpusetCpus?: string;
  PidsLimit?: number;
  RestartPolicy?: HostConfig['RestartPolicy'];
}

export interface EventsOptions {
  /** Nanoseconds since the epoch. */
  since?: bigint;
  until?: bigint;
  filters?: Record<string, readonly string[]>;
  /** Keep waiting for new events (until `until` or the signal). */
  follow?: boolean;
  signal?: AbortSignal;
}

const RESTART_POLICIES = new Set(['', 'no', 'always', 'unless-stopped', 'on-failure']);

/** A container id as Docker makes them: 64 hex digits whose short form is not all decimal. */
function newContainerId(): string {
  for (;;) {
    const id = randomHex(32);
    if (!/^\d+$/.test(id.slice(0, 12))) return id;
  }
}

function signalName(signal: string | number | undefined, fallback: string): string {
  if (signal === undefined || signal === '') return fallback;
  if (typeof signal === 'number' || /^\d+$/.test(signal)) return String(signal);
  const upper = signal.toUpperCase();
  return upper.startsWith('SIG') ? upper : `SIG${upper}`;
}

/**
 * moby's signal.ParseSignal: a number above 0, or a name the host knows, with or without `SIG`,
 * in any case (`RTMIN+3` too). The daemon refuses a create whose StopSignal fails it.
 */
function isSignal(text: string): boolean {
  if (/^\d+$/.test(text)) return Number(text) > 0;
  const name = text.toUpperCase().replace(/^SIG/, '');
  if (/^RTM(IN|AX)([+-]\d+)?$/.test(name)) return true;
  return (osConstants.signals as Record<string, number>)[`SIG${name}`] !== undefined;
}

function signalNumber(name: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  return (osConstants.signals as Record<string, number>)[name] ?? 15;
}

export class ContainerService implements Disposable {
  readonly context: ContainerContext;

  constructor(options: ContainerServiceOptions) {
    this.context = new ContainerContext(options);
  }

  get #records() {
    return this.context.records;
  }

  /** Finds a container and reconciles it with reality (NotFoundError `No such container: X`). */
  async get(idOrName: string): Promise<ContainerRecord> {
    const record = this.#records.find(idOrName);
    const reconciled = await reconcileRecord(this.context, record);
    if (!reconciled) throw new NotFoundError(`No such container: ${idOrName}`);
    return reconciled;
  }

  // ---- create ----

  /** `docker create`: the record, the writable layer and the /etc files; the container is `created`. */
  async create(
    request: CreateContainerRequest,
  ): Promise<{ id: string; warnings: string[]; record: ContainerRecord }> {
    const image = await this.context.images.resolve(request.config.Image);
    const hostConfig: HostConfig = { ...defaultHostConfig(), ...request.hostConfig };
    const requestedMode = request.hostConfig?.NetworkMode ?? '';
    if (requestedMode === '' || requestedMode === 'default') {
      hostConfig.NetworkMode = this.context.hookedNetwork('bridge') ? 'bridge' : 'none';
    }
    const network = networkModeOf(hostConfig, (mode) => this.context.hookedNetwork(mode));
    const policy = hostConfig.RestartPolicy ?? { Name: 'no', MaximumRetryCount: 0 };
    if (!RESTART_POLICIES.has(policy.Name)) {
      throw new InvalidArgumentError(`invalid restart policy: unknown policy '${policy.Name}'`);
    }
    if (policy.MaximumRetryCount !== 0 && policy.Name !== 'on-failure') {
      throw new InvalidArgumentError(
        `invalid restart policy: maximum retry count can only be used with 'on-failure'`,
      );
    }
    if (hostConfig.AutoRemove && policy.Name !== '' && policy.Name !== 'no') {
      throw new InvalidArgumentError('Conflicting options: cannot specify both --restart and --rm');
    }
    const stopSignal = request.config.StopSignal;
    if (stopSignal && !isSignal(stopSignal)) throw new InvalidArgumentError(`Invalid signal: ${stopSignal}`);
    const cgroupParent = hostConfig.CgroupParent || this.context.cgroupParent;
    if (!cgroupParent.startsWith('/')) {
      throw new InvalidArgumentError(`Cannot use cgroup parent ${cgroupParent}: it must be an absolute path`);
    }
    const config = mergeImageConfig(request.config, image.config.config);
    const { path, args } = processPathAndArgs(config);
    const id = newContainerId();
    config.Hostname = config.Hostname || (network === 'host' ? osHostname() : id.slice(0, 12));
    config.Image = request.config.Image;
    let name: string;
    if (request.name !== undefined && request.name !== '') name = checkContainerName(request.name);
    else {
      name = randomContainerName();
      for (let retry = 1; this.#records.nameTaken(name) && retry < 100; retry++)
        name = randomContainerName(retry);
    }
    const created = formatRfc3339Nano(nowNanos());
    const record: ContainerRecord = {
      id,
      name,
      imageId: image.id,
      definition: {
        Config: config,
        HostConfig: hostConfig,
        Path: path,
        Args: args,
        Created: created,
        ImageId: image.id,
        SnapshotKey: `container-${id}`,
        CgroupsPath: `${cgroupParent.replace(/\/+$/, '')}/${id}`,
      },
      state: 'created',
      generation: 0,
      cleanedGeneration: 0,
      pid: 0,
      conmonPid: 0,
      exitCode: 0,
      oomKilled: false,
      error: '',
      startedAt: '',
      finishedAt: '',
      restartCount: 0,
      manuallyStopped: false,
      health: undefined,
      healthPid: 0,
      runtime: '',
    };
    const endpoints = request.networkingConfig?.EndpointsConfig;
    if (endpoints && Object.keys(endpoints).length > 0) record.definition.EndpointsConfig = endpoints;
    const paths = containerPaths(this.context.root, id);
    let inserted = false;
    try {
      for (const hook of this.context.hooks) await hook.create?.(record.definition, name);
      this.#records.insert(record, Date.now());
      inserted = true;
      // the writable layer and the container's files side by side; both settle before a
      // failure is handled, so the cleanup below never races either
      const layer = (async () => {
        const chainId = await this.context.images.unpack(image.id);
        const snapshotter = await this.context.snapshotter();
        await snapshotter.prepare(record.definition.SnapshotKey, chainId, {
          labels: { [GC_ROOT_LABEL]: 'container', 'wharf.container': id },
          // an `--rm` container's layer goes at its exit: not worth a disk flush (metastore.ts)
          volatile: hostConfig.AutoRemove === true,
        });
      })();
      // Synchronous: two directories and three files of a few hundred bytes, 0.1-0.3 ms each
      // here, where each thread-pool round trip costs 0.1-0.9 ms quiet and milliseconds under
      // load (a create's own time at load 1-2: 10-12 ms with them asynchronous, 3-5 ms so).
      const files = (async () => {
        mkdirSync(paths.userdata, { recursive: true });
        mkdirSync(paths.bundle, { recursive: true });
        const hosts =
          network === 'host'
            ? await hostHostsFile()
            : hostsFile({
                hostname: config.Hostname ?? '',
                ...(config.Domainname ? { domainname: config.Domainname } : {}),
                addresses: [],
              });
        const resolv =
          network === 'host' ? await hostResolvConf() : containerResolvConf(await hostResolvConf());
        writeFileSync(paths.hostname, `${config.Hostname}\n`);
        writeFileSync(paths.hosts, hosts);
        writeFileSync(paths.resolvConf, resolv);
      })();
      for (const outcome of await Promise.allSettled([layer, files])) {
        if (outcome.status === 'rejected') throw outcome.reason;
      }
    } catch (error) {
      if (inserted) {
        const snapshotter = await this.context.snapshotter().catch(() => undefined);
        await snapshotter?.remove(record.definition.SnapshotKey).catch(() => undefined);
        await rm(paths.dir, { recursive: true, force: true });
        this.#records.delete(id);
      }
      // what the hooks made for it (anonymous volumes) goes with it
      await this.context.runCleanupHooks('remove', record, { volumes: true });
      throw error;
    }
    this.context.emit('create', record);
    tracePhase('create: done', id);
    return { id, warnings: [], record };
  }

  // ---- start, stop and friends ----

  /** `docker start`: a new run under conmon (no-op when running). */
  async start(idOrName: string, options: StartRunOptions = {}): Promise<ContainerRecord> {
    const found = await this.get(idOrName);
    return withContainerLock(this.#records, found.id, async () => {
      const record = this.#records.get(found.id);
      if (!record) throw new NotFoundError(`No such container: ${idOrName}`);
      if (record.state === 'running') return record;
      transition(record.state, 'start', record.name); // throws Docker's refusal
      return startRun(this.context, record, options);
    });
  }

  /**
   * Mounts a created container's root filesystem now, ahead of a start expected at once (the
   * daemon, between `docker run`'s create and its start, while the client attaches and asks
   * to wait): the start then finds it mounted. A container that is not started keeps the mount
   * until it is removed; `cp`, `export` and the like use that mount meanwhile. Failures are for
   * the start to meet and report.
   */
  async premount(id: string): Promise<void> {
    await premountRootfs(this.context, id).catch(() => undefined);
  }

  /** conmon's record of how the current run ended (waits for it). */
  waitForRunExit(record: ContainerRecord, signal?: AbortSignal): Promise<ContainerExit> {
    const paths = containerPaths(this.context.root, record.id);
    return waitForExit(paths.location, {
      cgroupsPath: record.definition.CgroupsPath,
      ...(signal ? { signal } : {}),
    });
  }

  /** Handles the exit of run `generation` (conmon's exit command; idempotent). */
  cleanup(id: string, generation: number, options: CleanupOptions = {}): Promise<CleanupResult> {
    return cleanupRun(this.context, id, generation, options);
  }

  /** `docker stop`: the stop signal, the timeout, then SIGKILL; the restart policy is not applied. */
  async stop(idOrName: string, options: StopOptions = {}): Promise<ContainerRecord> {
    let record = await this.get(idOrName);
    if (!isActive(record.state)) return record;
    record = this.#records.update(record.id, () => ({ manuallyStopped: true }));
    if (record.state === 'restarting') {
      return (await killAndCleanup(this.context, record)) ?? record;
    }
    const config = record.definition.Config;
    const signal = signalName(options.signal ?? config.StopSignal, 'SIGTERM');
    const timeoutSeconds = options.timeoutSeconds ?? config.StopTimeout ?? 10;
    const driver = await this.context.driver(record.runtime);
    const paths = containerPaths(this.context.root, record.id);
    if (record.state === 'paused') await driver.resume(record.id).catch(() => undefined);
    this.context.emit('kill', record, { signal: String(signalNumber(signal)) });
    await stopContainer(paths.location, driver, {
      signal: /^\d+$/.test(signal) ? Number(signal) : (signal as NodeJS.Signals),
      timeoutMs: timeoutSeconds < 0 ? 2_147_000_000 : timeoutSeconds * 1000,
      cgroupsPath: record.definition.CgroupsPath,
    });
    const result = await cleanupRun(this.context, record.id, record.generation, { restart: false });
    const after = result.record ?? this.#records.get(record.id) ?? record;
    this.context.emit('stop', after);
    return after;
  }

  /** `docker kill -s SIGNAL` (default SIGKILL); a SIGKILL'd container is handled before returning. */
  async kill(idOrName: string, signalText = 'SIGKILL'): Promise<ContainerRecord> {
    const record = await this.get(idOrName);
    if (record.state !== 'running' && record.state !== 'paused') {
      throw new ConflictError(`Cannot kill container: ${idOrName}: container ${record.id} is not running`);
    }
    const signal = signalName(signalText, 'SIGKILL');
    const number = signalNumber(signal);
    if (number === 9) {
      this.context.emit('kill', record, { signal: '9' });
      return (await killAndCleanup(this.context, record)) ?? record;
    }
    // Docker: any `kill` counts as stopped by the user, so restart policies leave it be.
    this.#records.update(record.id, () => ({ manuallyStopped: true }));
    const driver = await this.context.driver(record.runtime);
    await driver.kill(record.id, /^\d+$/.test(signal) ? Number(signal) : (signal as NodeJS.Signals));
    if (record.state === 'paused') await driver.resume(record.id).catch(() => undefined);
    this.context.emit('kill', record, { signal: String(number) });
    return record;
  }

  /** `docker restart`: stop (with its timeout), then start. */
  async restart(idOrName: string, options: StopOptions = {}): Promise<ContainerRecord> {
    const record = await this.stop(idOrName, options);
    return this.start(record.id);
  }

  async pause(idOrName: string): Promise<ContainerRecord> {
    const record = await this.get(idOrName);
    return withContainerLock(this.#records, record.id, async () => {
      const current = await this.get(record.id);
      transition(current.state, 'pause', current.name);
      const driver = await this.context.driver(current.runtime);
      await driver.pause(current.id);
      const paused = this.#records.update(current.id, (latest) => ({
        state: transition(latest.state, 'pause', latest.name),
      }));
      this.context.emit('pause', paused);
      return paused;
    });
  }

  async unpause(idOrName: string): Promise<ContainerRecord> {
    const record = await this.get(idOrName);
    return withContainerLock(this.#records, record.id, async () => {
      const current = await this.get(record.id);
      transition(current.state, 'unpause', current.name);
      const driver = await this.context.driver(current.runtime);
      await driver.resume(current.id);
      const resumed = this.#records.update(current.id, (latest) => ({
        state: transition(latest.state, 'unpause', latest.name),
      }));
      this.context.emit('unpause', resumed);
      return resumed;
    });
  }

  /** `docker rm [-f] [-v]`. */
  async remove(
    idOrName: string,
    options: { force?: boolean; volumes?: boolean } = {},
  ): Promise<ContainerRecord> {
    const record = await this.get(idOrName).catch((error: unknown) => {
      if (error instanceof NotFoundError) throw new NotFoundError(`No such container: ${idOrName}`);
      throw error;
    });
    return removeContainer(this.context, record.id, {
      force: options.force === true,
      volumes: options.volumes === true,
    });
  }

  /**
   * `docker wait`: resolves with the exit code once the container is not running (`not-running`,
   * the default), after its next exit (`next-exit`), or once it is removed (`removed`).
   */
  async wait(
    idOrName: string,
    options: { condition?: WaitCondition; signal?: AbortSignal } = {},
  ): Promise<{ StatusCode: number; Error?: { Message: string } }> {
    const condition = options.condition ?? 'not-running';
    let record = await this.get(idOrName);
    const id = record.id;
    if (condition === 'not-running' && !isActive(record.state)) return { StatusCode: record.exitCode };
    const generation = record.generation;
    const exitWatch = new AbortController();
    const onAbort = () => exitWatch.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // conmon's exit file says the code the moment the process ends; the records say the rest.
      let exitCode: number | undefined;
      if (isActive(record.state) && record.state !== 'restarting') {
        void this.waitForRunExit(record, exitWatch.signal).then(
          (exit) => {
            exitCode = exit.exitCode;
          },
          () => undefined,
        );
      }
      for (;;) {
        options.signal?.throwIfAborted();
        const latest = this.#records.get(id);
        if (!latest) return { StatusCode: exitCode ?? record.exitCode };
        record = (await reconcileRecord(this.context, latest)) ?? latest;
        if (condition !== 'removed') {
          if (exitCode !== undefined) return { StatusCode: exitCode };
          if (!isActive(record.state) && (condition === 'not-running' || record.generation >= generation)) {
            if (condition === 'not-running' || record.cleanedGeneration >= generation)
              return { StatusCode: record.exitCode };
          }
          if (record.state === 'restarting' && record.cleanedGeneration >= generation) {
            return { StatusCode: record.exitCode };
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      exitWatch.abort();
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** A promise that settles when the container stops running (for `logs -f`, attach). */
  untilStopped(id: string, signal?: AbortSignal): Promise<unknown> {
    return this.wait(id, signal ? { signal } : {}).catch(() => undefined);
  }

  // ---- output ----

  /** `docker logs`: whole lines from the container's log, following while it runs with `follow`. */
  async *logs(idOrName: string, options: LogsOptions = {}): AsyncGenerator<LogEntry> {
    const record = await this.get(idOrName);
    const paths = containerPaths(this.context.root, record.id);
    const stopper = new AbortController();
    const onAbort = () => stopper.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const stop = options.follow ? this.untilStopped(record.id, stopper.signal) : undefined;
    try {
      yield* readContainerLog(paths.log, {
        ...(options.tail !== undefined ? { tail: options.tail } : {}),
        ...(options.since !== undefined ? { since: options.since } : {}),
        ...(options.until !== undefined ? { until: options.until } : {}),
        ...(options.stdout !== undefined ? { stdout: options.stdout } : {}),
        ...(options.stderr !== undefined ? { stderr: options.stderr } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        follow: options.follow === true,
        ...(stop ? { stop } : {}),
      });
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error; // never started: no log yet
    } finally {
      stopper.abort();
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** `docker attach`: the container's output as it is written, and its stdin (with `-i`). */
  async attach(
    idOrName: string,
    options: AttachOptions = {},
  ): Promise<{ done: Promise<void>; input?: ChildProcess }> {
    const record = await this.get(idOrName);
    if (!isActive(record.state)) {
      throw new ConflictError('You cannot attach to a stopped container, start it first');
    }
    if (record.state === 'paused')
      throw new ConflictError('You cannot attach to a paused container, unpause it first');
    return this.attachRecord(record, options);
  }

  /** Attaches to a run known to the caller (`run` attaches before the process may have ended). */
  async attachRecord(
    record: ContainerRecord,
    options: AttachOptions = {},
  ): Promise<{ done: Promise<void>; input?: ChildProcess }> {
    const paths = containerPaths(this.context.root, record.id);
    const stop = options.stop ?? this.untilStopped(record.id, options.signal);
    return attachContainer({
      location: paths.location,
      logPath: paths.log,
      stop,
      ...(options.stdin && record.definition.Config.OpenStdin ? { stdin: options.stdin } : {}),
      ...(options.stdout ? { stdout: options.stdout } : {}),
      ...(options.stderr ? { stderr: options.stderr } : {}),
      ...(options.since !== undefined ? { since: options.since } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /** Resizes a terminal container's pty. */
  async resize(idOrName: string, rows: number, columns: number): Promise<void> {
    const record = await this.get(idOrName);
    await resizeTerminal(containerPaths(this.context.root, record.id).location, rows, columns);
  }

  /** `docker exec`. */
  async exec(idOrName: string, request: ExecRequest): Promise<ExecHandle> {
    const record = await this.get(idOrName);
    return execInContainer(this.context, record, request);
  }

  /** `docker top CONTAINER [ps OPTIONS]`: the host's `ps` limited to the container's processes. */
  async top(idOrName: string, psArgs: readonly string[] = ['-ef']): Promise<TopResult> {
    const record = await this.get(idOrName);
    if (record.state !== 'running' && record.state !== 'paused') {
      throw new ConflictError(`Container ${record.id} is not running`);
    }
    const driver = await this.context.driver(record.runtime);
    const pids = new Set((await driver.ps(record.id)).map(String));
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn('ps', psArgs.length > 0 ? [...psArgs] : ['-ef'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
      child.on('error', reject);
      child.on('close', (code) => {
        if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
        else
          reject(new InvalidArgumentError(`Error running ps: ${Buffer.concat(err).toString('utf8').trim()}`));
      });
    });
    const lines = output.split('\n').filter((line) => line.trim() !== '');
    const header = (lines[0] ?? '').trim().split(/\s+/);
    const pidIndex = header.indexOf('PID');
    if (pidIndex < 0) throw new InvalidArgumentError("Couldn't find PID field in ps output");
    const processes: string[][] = [];
    for (const line of lines.slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (!pids.has(fields[pidIndex] ?? '')) continue;
      // The last column (the command) keeps its spaces.
      const head = fields.slice(0, header.length - 1);
      const tail = fields.slice(header.length - 1).join(' ');
      processes.push([...head, tail]);
    }
    return { Titles: header, Processes: processes };
  }

  /**
   * One reading of the container's cgroup and network interfaces (usage counters; `stats`
   * computes rates between two).
   */
  async statsSample(idOrName: string): Promise<StatsSample> {
    const record = await this.get(idOrName);
    let cgroup: CgroupStats | undefined;
    let networks: Record<string, InterfaceCounters> | undefined;
    if (record.state === 'running' || record.state === 'paused') {
      // the init's /proc/PID/net/dev lists the interfaces of the container's namespace; with
      // `--network host` that is the host's, which Docker does not count
      [cgroup, networks] = await Promise.all([
        readCgroupStats(record.definition.CgroupsPath).catch(() => undefined),
        record.definition.HostConfig.NetworkMode === 'host'
          ? undefined
          : readInterfaceStats(record.pid).catch(() => undefined),
      ]);
    }
    return {
      id: record.id,
      name: record.name,
      read: performance.timeOrigin + performance.now(),
      cgroup,
      networks,
      hostMemory: totalmem(),
      onlineCpus: availableParallelism(),
    };
  }

  /** `docker rename`. */
  async rename(idOrName: string, newName: string): Promise<ContainerRecord> {
    const record = await this.get(idOrName);
    const name = checkContainerName(newName);
    if (name === record.name)
      throw new InvalidArgumentError('Renaming a container with the same name as its current name');
    const renamed = this.#records.update(record.id, () => ({ name }));
    this.context.emit('rename', renamed, { oldName: `/${record.name}` });
    return renamed;
  }

  /** `docker update`: new limits (applied at once to a running container) or restart policy. */
  async update(idOrName: string, changes: UpdateRequest): Promise<{ Warnings: string[] }> {
    const record = await this.get(idOrName);
    return withContainerLock(this.#records, record.id, async () => {
      const current = this.#records.get(record.id)!;
      const hostConfig: HostConfig = { ...current.definition.HostConfig };
      for (const [key, value] of Object.entries(changes)) {
        if (value !== undefined) (hostConfig as unknown as Record<string, unknown>)[key] = value;
      }
      if (
        changes.NanoCpus !== undefined &&
        changes.CpuPeriod === undefined &&
        changes.CpuQuota === undefined
      ) {
        hostConfig.CpuPeriod = 0;
        hostConfig.CpuQuota = 0;
      }
      if (
        hostConfig.AutoRemove &&
        hostConfig.RestartPolicy.Name !== 'no' &&
        hostConfig.RestartPolicy.Name !== ''
      ) {
        throw new InvalidArgumentError(
          'Restart policy cannot be updated because AutoRemove is enabled for the container',
        );
      }
      if (!RESTART_POLICIES.has(hostConfig.RestartPolicy.Name)) {
        throw new InvalidArgumentError(
          `invalid restart policy: unknown policy '${hostConfig.RestartPolicy.Name}'`,
        );
      }
      // Validate with the spec generator (memory minimum, swap rules...) and get the runtime's shape.
      const spec = buildRuntimeSpec({
        args: ['true'],
        rootfs: '/',
        cgroupsPath: current.definition.CgroupsPath,
        network: { mode: 'none' },
        resources: resourcesOf(hostConfig),
        host: await readHostFacts(),
        seccomp: 'unconfined',
      });
      if (current.state === 'running' || current.state === 'paused') {
        const resources = { ...spec.linux.resources };
        delete resources.devices;
        const driver = await this.context.driver(current.runtime);
        await driver.update(current.id, resources);
      }
      const updated = this.#records.update(current.id, (latest) => ({
        definition: { ...latest.definition, HostConfig: hostConfig },
      }));
      this.context.emit('update', updated);
      return { Warnings: [] };
    });
  }

  /** `docker container prune`: removes every stopped container (matching `until` / `label`). */
  async prune(options: { filters?: Record<string, readonly string[]> } = {}): Promise<{
    ContainersDeleted: string[];
    SpaceReclaimed: number;
  }> {
    const filters = options.filters ?? {};
    for (const key of Object.keys(filters)) {
      if (!['until', 'label', 'label!'].includes(key))
        throw new InvalidArgumentError(`invalid filter '${key}'`);
    }
    const until = (filters.until ?? []).map(parseUntil);
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const listed of this.#records.list()) {
      const record = (await reconcileRecord(this.context, listed)) ?? listed;
      if (isActive(record.state) || record.state === 'removing') continue;
      const labels = record.definition.Config.Labels ?? {};
      const created = parseTime(record.definition.Created) ?? 0;
      if (until.some((limit) => created >= limit)) continue;
      if ((filters.label ?? []).some((spec) => !labelMatch(labels, spec))) continue;
      if ((filters['label!'] ?? []).some((spec) => labelMatch(labels, spec))) continue;
      const size = await this.#sizeRw(record).catch(() => 0);
      try {
        await removeContainer(this.context, record.id, { force: false, volumes: false });
        deleted.push(record.id);
        reclaimed += size;
      } catch (error) {
        if (!(error instanceof NotFoundError) && !(error instanceof ConflictError)) throw error;
      }
    }
    this.context.records.addEvent({
      timeNano: nowNanos(),
      type: 'container',
      action: 'prune',
      actorId: '',
      attributes: { reclaimed: String(reclaimed) },
    });
    return { ContainersDeleted: deleted, SpaceReclaimed: reclaimed };
  }

  async #sizeRw(record: ContainerRecord): Promise<number> {
    const snapshotter = await this.context.snapshotter();
    return (await snapshotter.usage(record.definition.SnapshotKey)).size;
  }

  // ---- reading ----

  /** `docker ps`: running containers (all with `all`), newest first, Docker's filters. */
  async list(options: ListContainersOptions = {}): Promise<ContainerSummary[]> {
    const filters = options.filters ?? {};
    const all = options.all === true || options.limit !== undefined || (filters.status?.length ?? 0) > 0;
    const records = this.#records.list();
    const context: Parameters<typeof containerMatcher>[1] = {};
    if (filters.before?.[0]) context.before = this.#records.find(filters.before[0]);
    if (filters.since?.[0]) context.since = this.#records.find(filters.since[0]);
    if (filters.ancestor?.length) {
      const ancestors = new Set<string>();
      for (const reference of filters.ancestor) {
        const image = await this.context.images.resolve(reference).catch(() => undefined);
        if (image) ancestors.add(image.id);
      }
      context.ancestors = ancestors;
    }
    const match = containerMatcher(filters, context);
    const now = Date.now();
    const out: ContainerSummary[] = [];
    for (const listed of records) {
      const record =
        listed.state === 'created' || listed.state === 'exited' || listed.state === 'dead'
          ? listed
          : await reconcileRecord(this.context, listed);
      if (!record) continue;
      if (!all && !isActive(record.state)) continue;
      if (!match(record)) continue;
      const extras: { sizeRw?: number; sizeRootFs?: number; now: number } = { now };
      if (options.size) {
        extras.sizeRw = await this.#sizeRw(record).catch(() => 0);
        extras.sizeRootFs = extras.sizeRw + (await this.#imageSize(record.imageId));
      }
      const summary = summaryView(record, extras);
      for (const hook of this.context.hooks) await hook.summary?.(record, summary);
      out.push(summary);
      if (options.limit !== undefined && options.limit > 0 && out.length >= options.limit) break;
    }
    return out;
  }

  async #imageSize(imageId: string): Promise<number> {
    return (await this.context.images.size?.(imageId).catch(() => 0)) ?? 0;
  }

  /** `docker inspect CONTAINER`. */
  async inspect(idOrName: string, options: { size?: boolean } = {}): Promise<ContainerInspect> {
    const record = await this.get(idOrName);
    const snapshotter = await this.context.snapshotter();
    const mounts = await snapshotter.mounts(record.definition.SnapshotKey).catch(() => undefined);
    const extras: { mounts?: typeof mounts; sizeRw?: number; sizeRootFs?: number } = {};
    if (mounts) extras.mounts = mounts;
    if (options.size) {
      extras.sizeRw = await this.#sizeRw(record).catch(() => 0);
      extras.sizeRootFs = extras.sizeRw + (await this.#imageSize(record.imageId));
    }
    const view = inspectView(record, this.context.root, extras as Parameters<typeof inspectView>[2]);
    for (const hook of this.context.hooks) await hook.inspect?.(record, view);
    return view;
  }

  /** The exit conmon recorded for the current run, if it ended. */
  async lastExit(record: ContainerRecord): Promise<ContainerExit | undefined> {
    return readExit(containerPaths(this.context.root, record.id).location, {
      cgroupsPath: record.definition.CgroupsPath,
    });
  }

  /** One probe of run `generation`'s health check (the health loop's command); seconds to the next. */
  healthcheck(id: string, generation: number): Promise<number> {
    return runHealthProbe(this.context, id, generation);
  }

  /** `docker events`: stored events in Docker's shape, then new ones as they come with `follow`. */
  async *events(options: EventsOptions = {}): AsyncGenerator<EventMessage> {
    const filters = options.filters ?? {};
    for (const key of Object.keys(filters)) {
      if (!['container', 'event', 'image', 'label', 'type'].includes(key)) {
        throw new InvalidArgumentError(`invalid filter '${key}'`);
      }
    }
    const accept = (event: EventMessage): boolean => {
      const attrs = event.Actor.Attributes;
      if (filters.type?.length && !filters.type.includes(event.Type)) return false;
      if (
        filters.event?.length &&
        !filters.event.some((e) => event.Action === e || event.Action.startsWith(`${e}:`))
      ) {
        return false;
      }
      if (
        filters.container?.length &&
        !filters.container.some((c) => event.Actor.ID.startsWith(c) || attrs.name === c)
      ) {
        return false;
      }
      if (filters.image?.length && !filters.image.some((i) => attrs.image === i)) return false;
      if (filters.label?.length && filters.label.some((spec) => !labelMatch(attrs, spec))) return false;
      return true;
    };
    // Without `since`, only new events (Docker's behaviour); with it, stored ones first.
    let afterSeq = options.since === undefined ? this.#records.lastEventSeq() : 0;
    for (;;) {
      const batch = this.#records.events({
        afterSeq,
        ...(options.since !== undefined ? { sinceNano: options.since } : {}),
        ...(options.until !== undefined ? { untilNano: options.until } : {}),
      });
      for (const stored of batch) {
        afterSeq = stored.seq;
        const message = toEventMessage(stored);
        if (accept(message)) yield message;
      }
      if (!options.follow) return;
      if (options.until !== undefined && nowNanos() >= options.until) return;
      if (options.signal?.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  close(): void {
    void this.context.snapshotterOpened?.then(
      (snapshotter) => snapshotter.close(),
      () => undefined,
    );
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function toEventMessage(stored: {
  timeNano: bigint;
  type: string;
  action: string;
  actorId: string;
  attributes: Record<string, string>;
}): EventMessage {
  const container = stored.type === 'container';
  // in the order of Go's events.Message, which is how dockerd's JSON comes: the deprecated
  // status, id and from first (containers only), then Type ... timeNano
  return {
    ...(container ? { status: stored.action, id: stored.actorId } : {}),
    ...(container && stored.attributes.image !== undefined ? { from: stored.attributes.image } : {}),
    Type: stored.type,
    Action: stored.action,
    Actor: { ID: stored.actorId, Attributes: stored.attributes },
    scope: 'local',
    time: Number(stored.timeNano / 1_000_000_000n),
    timeNano: stored.timeNano,
  };
}

function labelMatch(labels: Record<string, string>, spec: string): boolean {
  const equals = spec.indexOf('=');
  if (equals < 0) return spec in labels;
  return labels[spec.slice(0, equals)] === spec.slice(equals + 1);
}

/** Docker's `until` filter: a timestamp, Unix seconds, or a duration before now (`24h`). */
function parseUntil(value: string): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const duration = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(value);
  if (value !== '' && duration && (duration[1] || duration[2] || duration[3])) {
    return (
      Date.now() -
      (Number(duration[1] ?? 0) * 3_600_000 +
        Number(duration[2] ?? 0) * 60_000 +
        Number(duration[3] ?? 0) * 1000)
    );
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new InvalidArgumentError(`Cannot filter containers: invalid until value "${value}"`);
  return ms;
}
