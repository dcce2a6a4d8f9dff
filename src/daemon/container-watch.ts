/**
 * What the daemon watches about containers, for the requests that wait on them (`wait`, attach
 * before start, `logs -f`) and to handle the exits of the runs it starts:
 *
 * - the event log: every state change of a container, made by this daemon, the CLI or conmon's
 *   exit command, is a row in SQLite (`container_events`). One tail reads the new rows (every
 *   100 ms while anyone listens, and at once after this daemon's own changes: `poke`) and hands
 *   them to the listeners, each of which sees only rows newer than its subscription.
 * - exits: one fs.watch on conmon's exit directory (plus a one-second poll) notices a run's end
 *   the moment conmon writes its exit file. Runs this daemon started are started with conmon's
 *   exit command delayed by a second and cleaned up here right away (unmount, `--rm`, restart
 *   policy), as the foreground `wharf run` does; if the daemon dies, the exit command still
 *   does it a second later. Runs started elsewhere are only observed.
 *
 * Nothing here keeps the process alive (timers and the watcher are unref'd): the daemon's
 * shutdown does not have to know about it.
 *
 * @example
 * const watch = new ContainerWatch(service);
 * const stop = watch.subscribe((event) => console.log(event.action, event.actorId));
 * watch.track(record, { cleanup: true }).then((exit) => console.log(exit.exitCode));
 */
import { type FSWatcher, mkdirSync, watch as watchDirectory } from 'node:fs';
import type { ContainerRecord, StoredEvent } from '../container/container-records.ts';
import type { ContainerService } from '../container/container-service.ts';
import { isActive } from '../container/container-state.ts';
import type { ContainerExit } from '../runtime/conmon.ts';
import { runtimePaths } from '../runtime/runtime-paths.ts';
import { tracePhase } from '../util/phase-trace.ts';

export type EventListener = (event: StoredEvent) => void;

interface Listener {
  from: number;
  callback: EventListener;
}

interface TrackedRun {
  record: ContainerRecord;
  cleanup: boolean;
  exit: Promise<ContainerExit>;
  resolve(exit: ContainerExit): void;
  checking: boolean;
}

const TAIL_MS = 100;
const EXIT_POLL_MS = 1000;
/** How long an `--rm` removal waits for attached sessions to finish reading. */
const HOLD_LIMIT_MS = 10_000;
/**
 * How long the exit's handling waits (under the container's lock) for attached sessions to let
 * go, to remove in the same step: an attach reads the end of the log after the exit (a few thread
 * pool round trips, 1-6 ms), which the exit's handling may now outrun; past this, the removal
 * waits outside the lock (#cleanup), up to HOLD_LIMIT_MS.
 */
const IN_STEP_HOLD_MS = 50;

export class ContainerWatch {
  readonly #service: ContainerService;
  readonly #listeners = new Set<Listener>();
  #lastSeq = -1;
  #tailTimer: NodeJS.Timeout | undefined;
  #pokeQueued = false;
  #closed = false;
  /** Tracked runs by `ID:GENERATION`. */
  readonly #runs = new Map<string, TrackedRun>();
  #exitWatcher: FSWatcher | undefined;
  #exitTimer: NodeJS.Timeout | undefined;
  readonly #holds = new Map<string, number>();
  readonly #busy = new Map<string, Promise<void>>();
  readonly #holdWaiters = new Set<() => void>();

  constructor(service: ContainerService) {
    this.#service = service;
  }

  /** The newest event's sequence number now. */
  seq(): number {
    return this.#service.context.records.lastEventSeq();
  }

  /** Calls `callback` with every event stored after this call, until the returned function runs. */
  subscribe(callback: EventListener): () => void {
    const listener: Listener = { from: this.seq(), callback };
    if (this.#lastSeq < 0 || this.#listeners.size === 0) this.#lastSeq = listener.from;
    this.#listeners.add(listener);
    if (!this.#tailTimer) {
      this.#tailTimer = setInterval(() => this.#read(), TAIL_MS);
      this.#tailTimer.unref();
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0 && this.#tailTimer) {
        clearInterval(this.#tailTimer);
        this.#tailTimer = undefined;
      }
    };
  }

  /** Reads new events now (after a change this process made), once per tick however often called. */
  poke(): void {
    if (this.#pokeQueued || this.#listeners.size === 0) return;
    this.#pokeQueued = true;
    queueMicrotask(() => {
      this.#pokeQueued = false;
      this.#read();
    });
  }

  #read(): void {
    if (this.#closed || this.#listeners.size === 0) return;
    let events: StoredEvent[];
    try {
      events = this.#service.context.records.events({ afterSeq: this.#lastSeq });
    } catch {
      return; // the database is closing with the daemon
    }
    for (const event of events) {
      this.#lastSeq = event.seq;
      for (const listener of [...this.#listeners]) {
        if (event.seq > listener.from) {
          try {
            listener.callback(event);
          } catch {
            // a listener's failure is its own
          }
        }
      }
    }
  }

  /**
   * Watches run `record.generation` of a container for its exit; with `cleanup`, handles the
   * exit as soon as conmon records it (see the module comment). Resolves with conmon's exit.
   */
  track(record: ContainerRecord, options: { cleanup: boolean }): Promise<ContainerExit> {
    const key = `${record.id}:${record.generation}`;
    const existing = this.#runs.get(key);
    if (existing) {
      existing.cleanup ||= options.cleanup;
      return existing.exit;
    }
    let resolve!: (exit: ContainerExit) => void;
    const exit = new Promise<ContainerExit>((done) => {
      resolve = done;
    });
    const run: TrackedRun = { record, cleanup: options.cleanup, exit, resolve, checking: false };
    this.#runs.set(key, run);
    this.#startExitWatch();
    void this.#check(run);
    return exit;
  }

  /** The exit promise of a tracked run, if this daemon tracks it. */
  tracked(id: string, generation: number): Promise<ContainerExit> | undefined {
    return this.#runs.get(`${id}:${generation}`)?.exit;
  }

  /**
   * At the daemon's start: tracks (and cleans up after) every run that is active now, the runs a
   * previous daemon started; removes the `--rm` containers a previous daemon left exited (it died
   * between an exit and the removal), as dockerd does at its start.
   */
  adoptRunning(): void {
    let records: ContainerRecord[];
    try {
      records = this.#service.context.records.list();
    } catch {
      return;
    }
    for (const record of records) {
      if (isActive(record.state) && record.state !== 'restarting' && record.conmonPid > 0) {
        void this.track(record, { cleanup: true });
      } else if (record.state === 'exited' && record.definition.HostConfig.AutoRemove) {
        void this.serialize(record.id, () => this.#service.remove(record.id, { force: false })).catch(
          () => undefined,
        );
      }
    }
  }

  #startExitWatch(): void {
    if (this.#exitTimer || this.#closed) return;
    this.#exitTimer = setInterval(() => this.#checkAll(), EXIT_POLL_MS);
    this.#exitTimer.unref();
    if (this.#exitWatcher) return;
    const exitDir = runtimePaths(this.#service.context.root).exitDir;
    try {
      mkdirSync(exitDir, { recursive: true });
      this.#exitWatcher = watchDirectory(exitDir, (_event, name) => {
        // conmon writes ID.XXXXXX, then renames it to ID
        const id = name === null ? undefined : String(name).slice(0, 64);
        if (id === undefined) this.#checkAll();
        else for (const run of this.#runs.values()) if (run.record.id === id) void this.#check(run);
      });
      this.#exitWatcher.on('error', () => undefined);
      this.#exitWatcher.unref();
    } catch {
      this.#exitWatcher = undefined; // the poll alone then
    }
  }

  /**
   * Stops the poll when no run is tracked. The directory's watch stays until `close`: removing an
   * inotify watch waits for an SRCU grace period in the kernel, a few milliseconds of this
   * event loop blocked, and a daemon that starts a container now will start another.
   */
  #stopExitWatchIfIdle(): void {
    if (this.#runs.size > 0 && !this.#closed) return;
    if (this.#exitTimer) clearInterval(this.#exitTimer);
    this.#exitTimer = undefined;
    if (!this.#closed) return;
    this.#exitWatcher?.close();
    this.#exitWatcher = undefined;
  }

  #checkAll(): void {
    for (const run of this.#runs.values()) void this.#check(run);
  }

  async #check(run: TrackedRun): Promise<void> {
    if (run.checking || this.#closed) return;
    run.checking = true;
    try {
      const exit = await this.#service.lastExit(run.record);
      if (!exit) {
        // a run that ended without conmon (killed, or handled by someone else meanwhile)
        const current = this.#service.context.records.get(run.record.id);
        if (current && current.generation === run.record.generation && isActive(current.state)) return;
        this.#finish(run, {
          exitCode: current?.exitCode ?? run.record.exitCode,
          oomKilled: current?.oomKilled ?? false,
          source: 'assumed',
        });
        return;
      }
      tracePhase('watch: exit seen', run.record.id);
      this.#finish(run, exit);
      if (run.cleanup) await this.#cleanup(run.record, exit);
    } catch {
      // read errors: the next poll tries again
    } finally {
      run.checking = false;
    }
  }

  /**
   * Runs `fn` after every other change this daemon makes to container `id` through `serialize`
   * has finished. The container service's lock excludes other processes but is re-entrant
   * within one, where the daemon's requests and its exit handling run concurrently: two of them
   * handling the same exit would both unmount.
   */
  async serialize<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#busy.get(id) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = before.then(() => mine);
    this.#busy.set(id, tail);
    try {
      await before;
      return await fn();
    } finally {
      release();
      if (this.#busy.get(id) === tail) this.#busy.delete(id);
    }
  }

  /**
   * Handles a run's exit: recorded at once (`die`), then `--rm`'s removal once the sessions
   * holding the container (attached clients still reading its log) are done with it: in the
   * same step (under the same lock, without releasing again what the exit's handling just
   * released) when none holds it by then, which is usual (an attached client's stream closes
   * when the container exits), else below once they let go.
   */
  async #cleanup(record: ContainerRecord, exit: ContainerExit): Promise<void> {
    const handle = () =>
      this.#service
        .cleanup(record.id, record.generation, {
          autoRemove: async () => {
            await this.#released(record.id, IN_STEP_HOLD_MS);
            return !this.#holds.has(record.id);
          },
          exit,
        })
        .catch(() => undefined);
    // A restart policy's back-off runs inside the cleanup: holding the container that long would
    // keep `docker stop` waiting, so those runs are handled outside `serialize`.
    const policy = record.definition.HostConfig.RestartPolicy?.Name ?? 'no';
    const result =
      policy === 'no' || policy === '' ? await this.serialize(record.id, handle) : await handle();
    this.poke();
    const after = result?.record;
    if (!after) return;
    // a restart policy started the next run here: watch it too
    if (after.generation > record.generation && after.state === 'running') {
      void this.track(after, { cleanup: true });
      return;
    }
    if (!after.definition.HostConfig.AutoRemove || isActive(after.state)) return;
    await this.#released(record.id);
    tracePhase('watch: removing', record.id);
    const current = this.#service.context.records.get(record.id);
    if (current && current.generation === record.generation && !isActive(current.state)) {
      await this.serialize(record.id, () => this.#service.remove(record.id, { force: false })).catch(
        () => undefined,
      );
      this.poke();
    }
  }

  /**
   * Keeps an `--rm` container from being removed by this daemon until the returned function is
   * called (an attached session reading its output).
   */
  hold(id: string): () => void {
    this.#holds.set(id, (this.#holds.get(id) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#holds.get(id) ?? 1) - 1;
      if (left > 0) this.#holds.set(id, left);
      else this.#holds.delete(id);
      for (const waiter of [...this.#holdWaiters]) waiter();
    };
  }

  /** Waits until no session holds `id`, for at most `limitMs`. */
  async #released(id: string, limitMs = HOLD_LIMIT_MS): Promise<void> {
    const deadline = Date.now() + limitMs;
    while (this.#holds.has(id) && Date.now() < deadline && !this.#closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(200, Math.max(1, deadline - Date.now())));
        timer.unref();
        const waiters = this.#holdWaiters;
        function done() {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
        waiters.add(done);
      });
    }
  }

  #finish(run: TrackedRun, exit: ContainerExit): void {
    this.#runs.delete(`${run.record.id}:${run.record.generation}`);
    run.resolve(exit);
    this.#stopExitWatchIfIdle();
  }

  /** Stops watching (the daemon is going away). */
  close(): void {
    this.#closed = true;
    this.#listeners.clear();
    if (this.#tailTimer) clearInterval(this.#tailTimer);
    this.#tailTimer = undefined;
    this.#runs.clear();
    this.#stopExitWatchIfIdle();
  }
}
