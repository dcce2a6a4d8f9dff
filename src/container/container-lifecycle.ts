/**
 * One run of a container, from start to its handled exit, and removal. These are the steps that
 * must happen exactly once per run whichever process gets there: the foreground `wharf run`,
 * conmon's exit command (`wharf container cleanup ID --generation N`), or any `wharf` command that
 * reconciles a container whose conmon is gone.
 *
 * Start (under the container's lock):
 *   conmon is spawned and waits on its start pipe, meanwhile: mount the snapshot on
 *   ROOT/containers/ID/rootfs (an overlay by the `sh` that then becomes conmon: its prelude; or,
 *   in a process with a spawner, by its helper: runtime/process-spawner.ts; hooks' `prepare`,
 *   the network, beside it) -> resolve USER in the image's files -> hooks'
 *   `start` (volumes) -> write config.json -> bump the generation (names this run); then conmon
 *   has the runtime create the container (crun: create and start it, `run --detach`) -> record
 *   `running` (the state machine's `start`) -> `runtime start` (runc only) -> health-check loop.
 *   The process may end before it is recorded running: its exit handlers wait for the lock.
 * Exit (cleanup, under the lock, skipped when run N was already handled):
 *   read conmon's exit file (or reconcile: gone with no file = 137) -> stop the health loop ->
 *   release the runtime's state (cgroups, state directory) and unmount (hooks' `stopped`, the
 *   network, meanwhile) -> record `exited` (`die`) or `restarting` with code, OOM, FinishedAt ->
 *   events (oom, die) -> hooks' `exit` (volumes) -> `--rm`'s removal, still under the lock;
 *   then, outside it, the restart policy's delayed start.
 * conmon runs the exit command through `sh`, which skips node entirely when the run's `cleaned-N`
 * marker exists (the foreground `run` usually got there first). For an `--rm` container it first
 * unmounts the root filesystem, at once (see EXIT_UNMOUNT_GUARD), unless a daemon started it.
 *
 * @example
 * const started = await startRun(context, record, {});
 * // ... the process exits ...
 * await cleanupRun(context, started.id, started.generation);
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, NotFoundError } from '../errors/index.ts';
import { removeCgroupTree } from '../runtime/cgroups.ts';
import {
  type ContainerExit,
  createWithConmon,
  readExit,
  reconcileContainer,
  stopContainer,
} from '../runtime/conmon.ts';
import { readHostFacts } from '../runtime/host-facts.ts';
import type { RuntimeDriver } from '../runtime/runtime-driver.ts';
import { runtimePaths } from '../runtime/runtime-paths.ts';
import { type MountRequest, type NetworkMode, serializeRuntimeSpec } from '../runtime/spec.ts';
import { tracePhase } from '../util/phase-trace.ts';
import { unlinkIfPresent } from '../util/sync-fs.ts';
import { effectiveHealthcheck } from './container-config.ts';
import type { ContainerContext } from './container-context.ts';
import { withContainerLock } from './container-lock.ts';
import { containerPaths } from './container-paths.ts';
import type { ContainerRecord } from './container-records.ts';
import { containerRuntimeSpec } from './container-spec.ts';
import { isActive, transition } from './container-state.ts';
import { discardDirectory } from './container-trash.ts';
import { spawnHealthLoop, stopHealthLoop } from './health-check.ts';
import { isMountPointSync } from './mount-points.ts';
import { mkdirInRoot, readFileInRoot } from './root-files.ts';
import {
  mountRootfs,
  rootfsMountCommand,
  systemToolPath,
  type ToolCommand,
  unmountRootfs as unmountRootfsAt,
} from './rootfs-mount.ts';
import { conmonAlive } from './run-liveness.ts';
import {
  ContainerStartError,
  dockerStartMessage,
  EXIT_WHARF_ERROR,
  startErrorExitCode,
} from './start-errors.ts';
import { formatRfc3339Nano, nowNanos, parseTime } from './timestamps.ts';
import { resolveUser } from './user-lookup.ts';

/** Runs the exit command only when run N's exit has not been handled yet (see the module comment). */
const EXIT_GUARD = 'if [ -e "$0" ] || [ ! -d "$1" ]; then exit 0; fi; shift; exec "$@"';

/**
 * EXIT_GUARD for an `--rm` container, which first unmounts its root filesystem, at once (`$2`
 * the rootfs, `$3` umount's path), then waits out the delay (`$4` seconds) itself. Nothing can
 * use that mount again: the removal follows the exit under the lock that also keeps any start
 * out. So the process handling the exit (the foreground `run`, usually a few milliseconds
 * later) finds it unmounted, and does not start an `umount` of its own: conmon is a small
 * process that forks cheaply, where a fork of node blocks it for milliseconds. A failure here
 * is silent: the exit's handling unmounts what is left. Not for the runs of a process with a
 * spawner (the daemon), which unmounts sooner and cheaper itself (see exitCommand).
 */
const EXIT_UNMOUNT_GUARD =
  'LC_ALL=C "$3" -R -- "$2" 2>/dev/null; [ "$4" = 0 ] || sleep "$4"; ' +
  'if [ -e "$0" ] || [ ! -d "$1" ]; then exit 0; fi; shift 4; exec "$@"';

export interface StartRunOptions {
  /** A start by the restart policy (counts in RestartCount). */
  restart?: boolean;
  /** Terminal size for `-t`. */
  consoleSize?: { height: number; width: number };
  /**
   * Seconds conmon waits before running the exit command. A foreground `run` that handles the
   * exit itself sets 1, so the exit command usually finds the run handled and costs nothing.
   */
  exitDelaySeconds?: number;
}

/** Mounts under way ahead of a start (`premountRootfs`), by root and container id. */
const premounts = new Map<string, Promise<void>>();

/** Waits for a premount of this container still under way in this process. */
export async function premounted(context: ContainerContext, id: string): Promise<void> {
  await premounts.get(`${context.root}\0${id}`)?.catch(() => undefined);
}

async function mountContainerRootfs(context: ContainerContext, record: ContainerRecord): Promise<string> {
  await premounted(context, record.id);
  return mountContainerRootfsNow(context, record);
}

async function mountContainerRootfsNow(context: ContainerContext, record: ContainerRecord): Promise<string> {
  const paths = containerPaths(context.root, record.id);
  // synchronous: one directory and a short mountinfo, so that the `mount` starts within this
  // turn of the event loop (createWithConmon lets the caller's work go first)
  mkdirSync(paths.rootfs, { recursive: true });
  if (!isMountPointSync(paths.rootfs)) {
    const snapshotter = await context.snapshotter();
    await mountRootfs(await snapshotter.mounts(record.definition.SnapshotKey), paths.rootfs, {
      volatile: record.definition.HostConfig.AutoRemove === true,
      ...(context.spawner ? { spawner: context.spawner } : {}),
    });
  }
  return paths.rootfs;
}

interface RootfsMountPlan {
  /** The `mount` run for conmon's prelude. */
  prelude?: ToolCommand;
  /** Mounted by `mountContainerRootfs` instead (not one overlay). */
  inProcess: boolean;
}

/**
 * How a start mounts the root filesystem: nothing to do when it is mounted (a premount, or a
 * mount a failed cleanup left), else conmon's prelude for an overlay, else in this process.
 */
async function planRootfsMount(context: ContainerContext, record: ContainerRecord): Promise<RootfsMountPlan> {
  await premounted(context, record.id);
  const paths = containerPaths(context.root, record.id);
  // synchronous: one directory and a short mountinfo (each thread-pool round trip costs more)
  mkdirSync(paths.rootfs, { recursive: true });
  if (isMountPointSync(paths.rootfs)) return { inProcess: false };
  const snapshotter = await context.snapshotter();
  const prelude = await rootfsMountCommand(
    await snapshotter.mounts(record.definition.SnapshotKey),
    paths.rootfs,
    { volatile: record.definition.HostConfig.AutoRemove === true },
  );
  return prelude ? { prelude, inProcess: false } : { inProcess: true };
}

/**
 * Mounts a created container's root filesystem ahead of its start (see ContainerService's
 * `premount`); nothing happens once it has started or is gone.
 */
export function premountRootfs(context: ContainerContext, id: string): Promise<void> {
  const key = `${context.root}\0${id}`;
  // Known at once (a start or removal waits for it), done after this turn of the event loop: the
  // caller's answer goes out first (the lock and the lookups cost ~1 ms of this thread).
  const mounting = new Promise((resolve) => setImmediate(resolve))
    .then(() =>
      withContainerLock(context.records, id, async () => {
        const record = context.records.get(id);
        if (record?.state === 'created') await mountContainerRootfsNow(context, record);
      }),
    )
    .finally(() => {
      if (premounts.get(key) === mounting) premounts.delete(key);
    });
  premounts.set(key, mounting);
  return mounting;
}

/** Unmounts the container's rootfs when it is mounted (and what a volatile mount left). */
export function unmountRootfs(
  context: ContainerContext,
  record: Pick<ContainerRecord, 'id' | 'definition'>,
): Promise<void> {
  // one unmount at a time per container in this process: a second caller waits for the first
  const key = `${context.root}\0${record.id}`;
  const inFlight = unmounts.get(key);
  if (inFlight) return inFlight;
  const unmounting = (async () => {
    await premounted(context, record.id);
    // An `--rm` container's layer keeps the mark of its volatile mount: the layer goes with the
    // container, and any mount of it before that is volatile too, which removes a mark first
    // (rootfs-mount.ts). Looking up the layer and removing the mark cost milliseconds of the exit.
    const snapshotMounts = record.definition.HostConfig.AutoRemove
      ? undefined
      : async () => {
          const snapshotter = await context.snapshotter();
          return snapshotter.mounts(record.definition.SnapshotKey).catch(() => undefined);
        };
    await unmountRootfsAt(
      containerPaths(context.root, record.id).rootfs,
      snapshotMounts,
      context.spawner ? { spawner: context.spawner } : {},
    );
  })().finally(() => {
    if (unmounts.get(key) === unmounting) unmounts.delete(key);
  });
  unmounts.set(key, unmounting);
  return unmounting;
}

/** Unmounts under way, by root and container id. */
const unmounts = new Map<string, Promise<void>>();

/**
 * Starts a new run of `record` (the caller holds the lock and has checked that the state allows
 * `start`). Throws ContainerStartError (exit code 125, 126 or 127) when the process cannot start;
 * the record then carries the error and the code, its state unchanged.
 *
 * What the runtime's create needs (the mounted root filesystem, the user, config.json, the
 * network) is made while conmon starts: conmon waits on its start pipe until it is ready
 * (createWithConmon's `beforeStart`). A restart policy's start that a `stop` overtook (stop does
 * not wait for the lock of the process waiting out the back-off) leaves the container stopped.
 */
export async function startRun(
  context: ContainerContext,
  record: ContainerRecord,
  options: StartRunOptions = {},
): Promise<ContainerRecord> {
  const { id } = record;
  const { Config: config, HostConfig: hostConfig } = record.definition;
  const paths = containerPaths(context.root, id);
  tracePhase('start: begin', id);
  const driver = await context.driver(hostConfig.Runtime);
  const fail = async (error: unknown, exitCode?: number): Promise<never> => {
    const message = dockerStartMessage(
      error instanceof Error ? error.message : String(error),
      record.definition.Path,
    );
    const code = exitCode ?? startErrorExitCode(message);
    await unmountRootfs(context, record).catch(() => undefined);
    context.records.update(id, (current) =>
      current.state === 'restarting'
        ? {
            error: message,
            exitCode: code,
            state: transition(current.state, 'die', current.name),
            finishedAt: formatRfc3339Nano(nowNanos()),
          }
        : { error: message, exitCode: code },
    );
    throw new ContainerStartError(message, code, { cause: error });
  };

  // The root filesystem's mount, when it is one overlay, runs in the process that becomes conmon
  // (its prelude): one fork of this process fewer before the container exists. A spawner with
  // builtins mounts it (or finds it mounted) beside conmon's start, which then comes first: the
  // plan's look at the mount and the snapshot is left to the mount itself.
  let plan: RootfsMountPlan;
  try {
    plan = context.spawner?.builtins ? { inProcess: true } : await planRootfsMount(context, record);
  } catch (error) {
    return fail(error, EXIT_WHARF_ERROR);
  }
  const generation = record.generation + 1;
  let prepareFailed = false;
  // A restart policy's start that a `stop` overtook (stop does not take the lock of the process
  // waiting out the back-off): the container stays stopped.
  let restartCancelled = false;
  let seccompToKeep: string | undefined;
  const prepare = async (preludeDone: Promise<void>): Promise<void> => {
    // A run that crashed between `create` and its record can leave runtime state under this id.
    const staleState = hasRuntimeState(driver, id).then(async (stale) => {
      if (stale) await driver.delete(id, { force: true }).catch(() => undefined);
    });
    try {
      // The hooks' `prepare` (the network namespace) runs while the root filesystem is mounted
      // and read; `start` (volumes) once it is mounted. Everything settles before a failure is
      // thrown, so the cleanup hooks never race a hook still at work.
      const [prepared, mounted, host] = await settleAll([
        settleAll(context.hooks.map((hook) => hook.prepare?.(record))),
        (async () => {
          if (plan.inProcess) await mountContainerRootfs(context, record);
          else await preludeDone;
          const rootfs = paths.rootfs;
          tracePhase('start: mounted', id);
          const [passwd, group] = await Promise.all([
            readFileInRoot(rootfs, '/etc/passwd'),
            readFileInRoot(rootfs, '/etc/group'),
          ]);
          const user = resolveUser(config.User ?? '', { passwd, group }, hostConfig.GroupAdd ?? []);
          if (config.WorkingDir) await mkdirInRoot(rootfs, config.WorkingDir);
          const started = await settleAll(context.hooks.map((hook) => hook.start?.(record, rootfs)));
          return { user, started };
        })(),
        readHostFacts(),
      ] as const);
      const { user, started } = mounted;
      const extraMounts: MountRequest[] = [];
      let network: NetworkMode | undefined;
      const etcFiles: Promise<void>[] = [];
      for (const added of [...prepared, ...started]) {
        if (!added) continue;
        extraMounts.push(...(added.mounts ?? []));
        if (added.network) network = added.network;
        if (added.hosts !== undefined) etcFiles.push(writeFile(paths.hosts, added.hosts));
        if (added.resolvConf !== undefined) etcFiles.push(writeFile(paths.resolvConf, added.resolvConf));
      }
      const spec = await containerRuntimeSpec(record, {
        paths,
        host,
        user,
        hostname: config.Hostname ?? id.slice(0, 12),
        extraMounts,
        ...(network ? { network } : {}),
        ...(options.consoleSize ? { consoleSize: options.consoleSize } : {}),
      });
      seccompToKeep = await context.seccompFilters.annotate(spec, driver);
      // config.json synchronously (a few KB, no flush: a fraction of a millisecond, where a
      // thread-pool round trip costs milliseconds under load, on the way to the runtime's create)
      writeFileSync(paths.configJson, serializeRuntimeSpec(spec));
      await Promise.all(etcFiles);
      tracePhase('start: config.json written', id);
    } catch (error) {
      prepareFailed = true;
      await staleState;
      throw error;
    }
    await staleState;
    const latest = context.records.get(id);
    if (options.restart && (!latest || latest.manuallyStopped || latest.state !== 'restarting')) {
      restartCancelled = true;
      throw new ConflictError(`Cannot restart container ${id}: it was stopped`);
    }
    context.records.update(id, () => ({ generation, runtime: driver.name }));
  };
  const logSize = parseSize(hostConfig.LogConfig?.Config?.['max-size']);
  // crun creates and starts in one process (`run --detach`): one runtime process per run instead
  // of two; the lock held here keeps every exit handler waiting until the run is recorded
  const startOnCreate = driver.name === 'crun';
  let started: { pid: number; conmonPid: number };
  try {
    started = await createWithConmon({
      ...paths.location,
      runtime: driver,
      name: record.name,
      logPath: paths.log,
      ...(logSize ? { logSizeMax: logSize } : {}),
      // an `--rm` container's log is deleted with it right after the exit: no fsync at the exit
      ...(hostConfig.AutoRemove === true ? { syncLog: false } : {}),
      terminal: config.Tty === true,
      stdin: config.OpenStdin === true,
      leaveStdinOpen: config.OpenStdin === true && config.StdinOnce !== true,
      ...(context.conmonCgroup !== undefined ? { conmonCgroup: context.conmonCgroup } : {}),
      exitCommand: await exitCommand(context, record, generation, options.exitDelaySeconds ?? 0),
      beforeStart: prepare,
      ...(plan.prelude ? { prelude: plan.prelude } : {}),
      startOnCreate,
      spawn: context.spawn,
    });
  } catch (error) {
    await context.runCleanupHooks('failedStart', record);
    if (restartCancelled) {
      await unmountRootfs(context, record).catch(() => undefined);
      return context.records.get(id) ?? record;
    }
    if (prepareFailed) return fail(error, EXIT_WHARF_ERROR);
    // conmon may still run its exit command for this run: mark the run handled.
    await writeFile(paths.cleanedMarker(generation), '').catch(() => undefined);
    context.records.update(id, (current) =>
      current.generation === generation ? { cleanedGeneration: generation } : undefined,
    );
    return fail(error);
  }
  tracePhase('start: created under conmon', id);
  for (const hook of context.hooks) {
    try {
      hook.running?.(record);
    } catch {
      // best effort by contract (see ContainerHooks.running)
    }
  }

  const healthcheck = effectiveHealthcheck(config);
  let stoppedMeanwhile = false;
  const running = context.records.update(id, (current) => {
    stoppedMeanwhile = options.restart === true && current.manuallyStopped;
    return {
      state: transition(current.state, 'start', current.name),
      pid: started.pid,
      conmonPid: started.conmonPid,
      startedAt: formatRfc3339Nano(nowNanos()),
      exitCode: 0,
      oomKilled: false,
      error: '',
      manuallyStopped: stoppedMeanwhile,
      restartCount: options.restart ? current.restartCount + 1 : 0,
      health: healthcheck ? { Status: 'starting', FailingStreak: 0, Log: [] } : undefined,
      healthPid: 0,
    };
  });
  // crun's compiled seccomp filter is read from its state before anything can delete it
  const kept = seccompToKeep ? context.seccompFilters.remember(seccompToKeep, driver, id) : undefined;
  try {
    if (!startOnCreate) await driver.start(id);
  } catch (error) {
    await kept;
    await driver.kill(id, 'SIGKILL', { all: true }).catch(() => undefined);
    await cleanupRun(context, id, generation, { restart: false }).catch(() => undefined);
    return fail(error);
  }
  await kept;
  context.emit(options.restart ? 'restart' : 'start', running);
  if (stoppedMeanwhile) {
    // stopped while this restart was being made: undo it at once (its exit is not restarted)
    await stopContainer(paths.location, driver, { timeoutMs: 0, cgroupsPath: record.definition.CgroupsPath });
    await cleanupRun(context, id, generation, { restart: false });
    return context.records.get(id) ?? running;
  }
  if (healthcheck) {
    const pid = spawnHealthLoop(context, running, healthcheck);
    return context.records.update(id, (current) =>
      current.generation === generation ? { healthPid: pid } : undefined,
    );
  }
  return running;
}

/** Like Promise.all, but waits for every promise to settle before throwing the first failure. */
async function settleAll<T extends readonly unknown[]>(
  promises: T,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const outcomes = await Promise.allSettled(promises);
  for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
  return outcomes.map((outcome) => (outcome as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}

/** Whether the runtime keeps state for `id` (its directory under the runtime's --root). */
async function hasRuntimeState(driver: { stateDir: string }, id: string): Promise<boolean> {
  // synchronous: one lookup on the way of every start (see createWithConmon's)
  return existsSync(join(driver.stateDir, id));
}

/**
 * Forgets a container whose processes are all gone, as `runtime delete` does for a stopped
 * container (runc's and crun's `destroy`: remove the cgroups, then the state directory; Wharf
 * uses no hooks), without starting the runtime a third time per run: a Go runtime costs tens of
 * milliseconds of CPU to start. When anything is unexpected (processes left in the cgroup, a
 * cgroup that will not go), the runtime's own `delete --force` does it. The kernel refuses to
 * remove a cgroup that holds processes (EBUSY), so no list of them is read first: the refusal
 * says it, and the state directory is still there for the runtime.
 */
async function releaseRuntimeState(
  context: ContainerContext,
  driver: RuntimeDriver,
  id: string,
  cgroupsPath: string,
): Promise<void> {
  const viaRuntime = () =>
    driver.delete(id, { force: true }).catch((error: unknown) => {
      if (!(error instanceof NotFoundError)) throw error;
    });
  try {
    await removeCgroupTree(cgroupsPath, context.spawner ? { spawner: context.spawner } : {});
  } catch {
    return viaRuntime();
  }
  // The state directory is renamed into the containers' trash (one rename instead of a
  // directory's worth of unlinks before the exit is recorded) and deleted in the background;
  // on another file system (a runtime state dir on tmpfs), it is deleted here.
  await discardDirectory(context.root, join(driver.stateDir, id));
}

/** conmon's exit command for run `generation`: `wharf container cleanup`, guarded (see EXIT_GUARD). */
async function exitCommand(
  context: ContainerContext,
  record: ContainerRecord,
  generation: number,
  delaySeconds: number,
): Promise<{ path: string; args: string[]; delaySeconds?: number }> {
  const paths = containerPaths(context.root, record.id);
  const cleanup = [
    context.wharfCommand.path,
    ...context.wharfArgs(),
    'container',
    'cleanup',
    record.id,
    '--generation',
    String(generation),
  ];
  const marker = paths.cleanedMarker(generation);
  // A process whose spawner unmounts with a system call of its own (the daemon) unmounts at the
  // exit faster than a `sh` and an `umount` forked by conmon would, which would only compete
  // for the cores then: its exit command waits out the delay in conmon, forking nothing.
  if (record.definition.HostConfig.AutoRemove === true && !context.spawner?.builtins) {
    const umount = await systemToolPath('umount');
    return {
      path: '/bin/sh',
      args: [
        '-c',
        EXIT_UNMOUNT_GUARD,
        marker,
        paths.dir,
        paths.rootfs,
        umount,
        String(delaySeconds),
        ...cleanup,
      ],
    };
  }
  return {
    path: '/bin/sh',
    args: ['-c', EXIT_GUARD, marker, paths.dir, ...cleanup],
    ...(delaySeconds > 0 ? { delaySeconds } : {}),
  };
}

/** Docker's `--log-opt max-size` (`10m`, `1g`, bytes): conmon's --log-size-max. */
function parseSize(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]?)b?$/i.exec(text.trim());
  if (!match) return undefined;
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[
    match[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'
  ];
  return Math.floor(Number(match[1]) * unit);
}

export interface CleanupOptions {
  /** Apply the restart policy (false: the exit is recorded, the container stays exited). */
  restart?: boolean;
  /**
   * Apply `--rm` (default true). A function is asked at the moment of the removal, under the
   * lock: the daemon removes in the same step unless an attached session still holds the
   * container after a short wait (then it removes later, itself).
   */
  autoRemove?: boolean | (() => boolean | Promise<boolean>);
  /**
   * This run's exit as the caller has just read it (the daemon's exit watch): not read again.
   * Only used for the run `generation` names, checked under the lock as always.
   */
  exit?: ContainerExit;
}

export interface CleanupResult {
  record: ContainerRecord | undefined;
  exit?: ContainerExit;
  /** The container is still running: nothing was done. */
  running?: boolean;
}

/** Whether the restart policy restarts a container that exited with `exitCode`. */
function shouldRestart(record: ContainerRecord, exitCode: number): boolean {
  if (record.manuallyStopped) return false;
  const policy = record.definition.HostConfig.RestartPolicy;
  switch (policy.Name) {
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure':
      return (
        exitCode !== 0 && (policy.MaximumRetryCount <= 0 || record.restartCount < policy.MaximumRetryCount)
      );
    default:
      return false;
  }
}

/** Docker's back-off: 100 ms doubling per restart, at most a minute, back to 100 ms after a 10 s run. */
function restartDelayMs(record: ContainerRecord): number {
  const started = parseTime(record.startedAt) ?? 0;
  const finished = parseTime(record.finishedAt) ?? Date.now();
  if (finished - started >= 10_000) return 100;
  return Math.min(100 * 2 ** record.restartCount, 60_000);
}

/**
 * Handles the exit of run `generation` of container `id` (see the module comment). Idempotent: a
 * run already handled, a newer run, or a removed container is left alone.
 */
export async function cleanupRun(
  context: ContainerContext,
  id: string,
  generation: number,
  options: CleanupOptions = {},
): Promise<CleanupResult> {
  // The container lock keeps other processes out but lets this one in again (nested calls), so
  // two handlers here (the daemon's exit watch and a reading request that reconciles) could
  // both handle the run: the second waits for the first and reports what it left.
  const key = `${context.root}\0${id}\0${generation}`;
  const inFlight = cleanupsInFlight.get(key);
  if (inFlight) {
    await inFlight.catch(() => undefined);
    return { record: context.records.get(id) };
  }
  const done = cleanupRunOnce(context, id, generation, options);
  cleanupsInFlight.set(key, done);
  try {
    return await done;
  } finally {
    cleanupsInFlight.delete(key);
  }
}

/**
 * Leaves the marker that makes conmon's exit command skip node for run `generation` (see
 * EXIT_GUARD), and drops the last run's. Synchronous: two tiny file operations, on the path of
 * every exit. Best effort: without the marker the exit command starts and finds nothing to do.
 */
function markCleaned(paths: ReturnType<typeof containerPaths>, generation: number): void {
  try {
    writeFileSync(paths.cleanedMarker(generation), '');
    unlinkIfPresent(paths.cleanedMarker(generation - 1));
  } catch {
    // the directory is gone (removed meanwhile)
  }
}

/** Cleanups under way in this process, by root, id and generation. */
const cleanupsInFlight = new Map<string, Promise<CleanupResult>>();

async function cleanupRunOnce(
  context: ContainerContext,
  id: string,
  generation: number,
  options: CleanupOptions,
): Promise<CleanupResult> {
  const pending = (r: ContainerRecord | undefined) =>
    r !== undefined && r.generation === generation && r.cleanedGeneration < generation;
  let record = context.records.get(id);
  if (!pending(record)) return { record };
  // An `--rm` container's root filesystem serves nothing once its run has ended (no restart
  // policy; removal follows): its unmount starts now, while the lock is taken. The exit read
  // here is this run's (a start removes the last run's exit files) and stays valid under the
  // lock, where the generation is checked again.
  let ended: ContainerExit | undefined;
  if (record!.definition.HostConfig.AutoRemove && isActive(record!.state)) {
    ended =
      options.exit ??
      (await readExit(containerPaths(context.root, id).location, {
        cgroupsPath: record!.definition.CgroupsPath,
      }).catch(() => undefined));
    // the unmount below, under the lock, joins this one (and meets its failure)
    if (ended) void unmountRootfs(context, record!).catch(() => undefined);
  }
  let restart = false;
  const result = await withContainerLock(context.records, id, async (): Promise<CleanupResult> => {
    record = context.records.get(id);
    if (!pending(record)) return { record };
    const current = record!;
    const paths = containerPaths(context.root, id);
    if (!isActive(current.state) || current.state === 'restarting') {
      // The run never got to `running` (a failed start): only make sure nothing stays mounted.
      await unmountRootfs(context, current);
      record = context.records.update(id, () => ({ cleanedGeneration: generation }));
      return { record };
    }
    const driver = await context.driver(current.runtime);
    const cgroupsPath = current.definition.CgroupsPath;
    let exit = ended ?? options.exit ?? (await readExit(paths.location, { cgroupsPath }));
    tracePhase('cleanup: exit read', id);
    if (!exit) {
      const state = await reconcileContainer(paths.location, driver, { cgroupsPath });
      if (state.status !== 'exited') return { record: current, running: true };
      exit = state.exit;
    }
    await stopHealthLoop(current);
    await Promise.all([
      releaseRuntimeState(context, driver, id, cgroupsPath),
      unmountRootfs(context, current),
      context.runCleanupHooks('stopped', current),
    ]);
    tracePhase('cleanup: runtime state and mounts released', id);
    const finishedAt = formatRfc3339Nano(nowNanos());
    const exitCode = exit.exitCode;
    record = context.records.update(id, (latest) => {
      if (!pending(latest)) return undefined;
      restart = options.restart !== false && shouldRestart(latest, exitCode);
      return {
        state: transition(latest.state, restart ? 'schedule-restart' : 'die', latest.name),
        exitCode,
        oomKilled: exit.oomKilled,
        finishedAt,
        pid: 0,
        conmonPid: 0,
        healthPid: 0,
        cleanedGeneration: generation,
      };
    });
    markCleaned(paths, generation);
    if (exit.oomKilled) context.emit('oom', record);
    context.emit('die', record, { exitCode: String(exitCode) });
    await context.runCleanupHooks('exit', record);
    tracePhase('cleanup: done', id);
    const autoRemove =
      typeof options.autoRemove === 'function' ? await options.autoRemove() : options.autoRemove !== false;
    if (!restart && record.definition.HostConfig.AutoRemove && autoRemove) {
      // `--rm`: removed under the same lock, without releasing again what was just released
      await removeContainer(context, id, { force: false, volumes: true, released: true }).catch(
        (error: unknown) => {
          if (!(error instanceof NotFoundError)) throw error;
        },
      );
      return { record: undefined, exit };
    }
    return { record, exit };
  });
  if (!result.exit || !result.record) return result;
  if (restart) {
    await restartLater(context, result.record, generation);
    return { ...result, record: context.records.get(id) };
  }
  return result;
}

/** The restart policy's start, after its back-off, unless the container was stopped or removed meanwhile. */
async function restartLater(
  context: ContainerContext,
  record: ContainerRecord,
  generation: number,
): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, restartDelayMs(record)));
  await withContainerLock(context.records, record.id, async () => {
    const current = context.records.get(record.id);
    if (
      !current ||
      current.generation !== generation ||
      current.state !== 'restarting' ||
      current.manuallyStopped
    ) {
      return;
    }
    await startRun(context, current, { restart: true }).catch(() => undefined);
  });
}

/**
 * Brings a record in line with reality: a run whose conmon is gone (killed, or a reboot) is
 * handled as exited, with conmon's recorded code or 137. A run that a restart policy may restart
 * is handed to a detached cleanup process (as conmon's exit command would), so reading commands
 * never wait out a back-off.
 */
export async function reconcileRecord(
  context: ContainerContext,
  record: ContainerRecord,
): Promise<ContainerRecord | undefined> {
  if (record.state === 'restarting') {
    // Waiting out its back-off in the process that will restart it. Past the longest back-off,
    // that process is gone (killed, a reboot): the container stays exited.
    const since = parseTime(record.finishedAt) ?? 0;
    if (Date.now() - since < 2 * 60_000) return record;
    return context.records.update(record.id, (current) =>
      current.state === 'restarting' ? { state: transition(current.state, 'die', current.name) } : undefined,
    );
  }
  if (!isActive(record.state) || record.cleanedGeneration >= record.generation) return record;
  const paths = containerPaths(context.root, record.id);
  if (record.conmonPid === 0) {
    // Between `create` and the record of `running`: the starting process decides.
    return record;
  }
  const supervised = await conmonAlive(record.conmonPid, record.id);
  const exit = await readExit(paths.location, { cgroupsPath: record.definition.CgroupsPath });
  if (supervised) {
    // Running, or exited with conmon about to run its exit command: the exit is handled here as
    // well (whoever comes first does it), unless a restart policy wants the exit command's start.
    if (!exit || shouldRestart(record, exit.exitCode)) return record;
    return cleanupForReader(context, record);
  }
  if (!exit) {
    const driver = await context.driver(record.runtime);
    const state = await reconcileContainer(paths.location, driver, {
      cgroupsPath: record.definition.CgroupsPath,
    });
    if (state.status !== 'exited') return record;
  }
  if (exit && shouldRestart(record, exit.exitCode)) {
    spawnCleanup(context, record);
    return record;
  }
  return cleanupForReader(context, record);
}

/**
 * Handles an exit on behalf of a reading command (ps, inspect, prune). Another process may be
 * handling the same exit at that moment (conmon's exit command removing an `--rm` container, a
 * second reader): then the reader reports what the database says now instead of failing.
 */
async function cleanupForReader(
  context: ContainerContext,
  record: ContainerRecord,
): Promise<ContainerRecord | undefined> {
  try {
    return (await cleanupRun(context, record.id, record.generation, { restart: false })).record;
  } catch (error) {
    if (error instanceof ConflictError || error instanceof NotFoundError)
      return context.records.get(record.id);
    throw error;
  }
}

/** Runs `wharf container cleanup ID --generation N` detached, as conmon's exit command would. */
function spawnCleanup(context: ContainerContext, record: ContainerRecord): void {
  const child = spawn(
    context.wharfCommand.path,
    [...context.wharfArgs(), 'container', 'cleanup', record.id, '--generation', String(record.generation)],
    { detached: true, stdio: 'ignore' },
  );
  child.on('error', () => undefined);
  child.unref();
}

/**
 * Removes a container: its runtime state, mounts, writable layer, files and record. A running
 * container needs `force` (it is killed first). Failures leave it `dead` with the error.
 */
export async function removeContainer(
  context: ContainerContext,
  id: string,
  options: {
    force: boolean;
    volumes?: boolean;
    /**
     * The caller holds the lock and has just handled the exit (cleanupRun of an `--rm` run): the
     * health loop, the runtime's state and the mounts are gone already.
     */
    released?: boolean;
  },
): Promise<ContainerRecord> {
  return withContainerLock(context.records, id, async () => {
    let record = context.records.get(id);
    if (!record) throw new NotFoundError(`No such container: ${id}`);
    if (isActive(record.state)) {
      if (!options.force) transition(record.state, 'remove', record.name); // throws Docker's refusal
      await killAndCleanup(context, record);
      record = context.records.get(id)!;
    }
    record = context.records.update(id, (current) => ({
      state: transition(current.state, 'remove', current.name),
    }));
    const paths = containerPaths(context.root, id);
    try {
      const removing = record;
      // what holds the container (its runtime state, its mounts) goes first, side by side
      if (!options.released)
        await settleAll([
          stopHealthLoop(removing),
          (async () => {
            if (!removing.runtime) return;
            const driver = await context.driver(removing.runtime);
            if (!(await hasRuntimeState(driver, id))) return;
            await driver.delete(id, { force: true }).catch((error: unknown) => {
              if (!(error instanceof NotFoundError)) throw error;
            });
          })(),
          unmountRootfs(context, removing),
        ] as const);
      // then its files, all at once: the writable layer and the container's directory are
      // renamed away and deleted in the background (deleting a few hundred files takes
      // milliseconds that `wait?condition=removed` need not wait for; a process that dies first
      // leaves `rm-PID-...` names, which sweepContainerTrash and the snapshotter's open delete,
      // and a CLI process waits for them before it ends), conmon's go
      const runtime = runtimePaths(context.root);
      await settleAll([
        context.snapshotter().then((snapshotter) =>
          snapshotter
            .remove(removing.definition.SnapshotKey, {
              volatile: removing.definition.HostConfig.AutoRemove === true,
              background: true,
            })
            .catch((error: unknown) => {
              if (!(error instanceof NotFoundError)) throw error;
            }),
        ),
        discardDirectory(context.root, paths.dir),
      ] as const);
      // conmon's exit file and attach link: an unlink each, synchronous (see moveToTrash)
      unlinkIfPresent(join(runtime.exitDir, id));
      unlinkIfPresent(join(runtime.socketDir, id));
      context.records.delete(id);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      context.records.update(id, (current) => ({
        state: transition(current.state, 'fail', current.name),
        error: message,
      }));
      throw error;
    }
    tracePhase('remove: done', id);
    context.emit('destroy', record);
    await context.runCleanupHooks('remove', record, { volumes: options.volumes === true });
    return record;
  });
}

/** SIGKILL every process of a running container and handle its exit here (no restart). */
export async function killAndCleanup(
  context: ContainerContext,
  record: ContainerRecord,
): Promise<ContainerRecord | undefined> {
  record = context.records.update(record.id, () => ({ manuallyStopped: true }));
  if (record.state === 'restarting') {
    return context.records.update(record.id, (current) =>
      current.state === 'restarting'
        ? { state: transition(current.state, 'die', current.name), finishedAt: formatRfc3339Nano(nowNanos()) }
        : undefined,
    );
  }
  const driver = await context.driver(record.runtime);
  const paths = containerPaths(context.root, record.id);
  if (record.state === 'paused') {
    // A frozen process cannot die: signal it, then thaw it.
    await driver.kill(record.id, 'SIGKILL', { all: true }).catch(() => undefined);
    await driver.resume(record.id).catch(() => undefined);
  }
  await stopContainer(paths.location, driver, { timeoutMs: 0, cgroupsPath: record.definition.CgroupsPath });
  const result = await cleanupRun(context, record.id, record.generation, {
    restart: false,
    autoRemove: false,
  });
  return result.record;
}
