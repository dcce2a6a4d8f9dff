/**
 * The Engine API's container lifecycle routes (`ContainerBackend`) over the container service:
 * create (Docker's body mapped by create-request.ts), start, stop, restart, kill, pause, unpause,
 * remove, list, inspect, wait, rename, update, prune, resize, top, changes.
 *
 * Runs started here are watched by the daemon (container-watch.ts): their exits are handled the
 * moment conmon records them, so `docker run --rm` sees its container removed without waiting
 * for conmon's exit command. `wait` follows the event log in SQLite (`die`, `destroy`), so it
 * also sees what the CLI or conmon's exit command did in other processes.
 *
 * @example
 * const backend = new LocalContainerBackend({ service, files, watch });
 * const { Id } = await backend.create({ body: { Image: 'busybox', Cmd: ['true'] } });
 * await backend.start(Id, {});
 */
import type { StoredEvent } from '../container/container-records.ts';
import type { ContainerService, UpdateRequest } from '../container/container-service.ts';
import { isActive } from '../container/container-state.ts';
import type { RestartPolicy } from '../container/docker-types.ts';
import type { ContainerFilesService } from '../engine/container-files-service.ts';
import type { ContainerBackend, WaitCondition } from '../engine-api/routes/container-routes.ts';
import type { Filters, JsonObject } from '../engine-api/routes/json-types.ts';
import { InvalidArgumentError, NotFoundError } from '../errors/index.ts';
import type { Platform } from '../oci/platform.ts';
import { tracePhase } from '../util/phase-trace.ts';
import type { ContainerWatch } from './container-watch.ts';
import { consoleSizeOf, createRequestFromBody } from './create-request.ts';

export interface ContainerBackendParts {
  service: ContainerService;
  files: ContainerFilesService;
  watch: ContainerWatch;
}

/** How often `wait` re-reads a container it waits on, besides its events (a conmon gone, say). */
const WAIT_RECHECK_MS = 1000;

function number(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** `docker update`'s body: zero and empty values mean "unchanged", as the CLI sends them. */
function updateRequest(body: JsonObject): UpdateRequest {
  const out: UpdateRequest = {};
  for (const key of [
    'Memory',
    'MemorySwap',
    'MemoryReservation',
    'NanoCpus',
    'CpuShares',
    'CpuPeriod',
    'CpuQuota',
  ] as const) {
    const value = number(body[key]);
    if (value !== undefined && value !== 0) out[key] = value;
  }
  if (typeof body.CpusetCpus === 'string' && body.CpusetCpus !== '') out.CpusetCpus = body.CpusetCpus;
  // a pointer in Docker's API: present means asked; 0 and -1 are "unlimited"
  const pids = number(body.PidsLimit);
  if (pids !== undefined) out.PidsLimit = Math.max(pids, 0);
  const policy = body.RestartPolicy as { Name?: unknown; MaximumRetryCount?: unknown } | undefined;
  if (policy && typeof policy.Name === 'string' && policy.Name !== '') {
    out.RestartPolicy = {
      Name: policy.Name as RestartPolicy['Name'],
      MaximumRetryCount: number(policy.MaximumRetryCount) ?? 0,
    };
  }
  return out;
}

/** Docker's `ps_args`: words split on blanks (`-o pid,comm`). */
function psArguments(text: string): string[] {
  const words = text.trim().split(/\s+/).filter(Boolean);
  return words.length > 0 ? words : ['-ef'];
}

export class LocalContainerBackend implements ContainerBackend {
  readonly #service: ContainerService;
  readonly #files: ContainerFilesService;
  readonly #watch: ContainerWatch;
  /** `-t`'s console size from create, used by the first start (then resizes take over). */
  readonly #consoleSizes = new Map<string, { height: number; width: number }>();

  constructor(parts: ContainerBackendParts) {
    this.#service = parts.service;
    this.#files = parts.files;
    this.#watch = parts.watch;
  }

  async list(options: {
    all: boolean;
    limit?: number;
    size: boolean;
    filters: Filters;
  }): Promise<JsonObject[]> {
    const summaries = await this.#service.list({
      all: options.all,
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
      size: options.size,
      filters: options.filters,
    });
    return summaries as unknown as JsonObject[];
  }

  async create(request: {
    name?: string;
    platform?: Platform;
    body: JsonObject;
  }): Promise<{ Id: string; Warnings: string[] }> {
    if (request.platform && request.platform.os !== 'linux') {
      throw new InvalidArgumentError(
        `Cannot create a container for platform ${request.platform.os}: this daemon runs linux containers`,
      );
    }
    const create = createRequestFromBody(request.body, { layers: this.#service.context.hooks.length > 0 });
    if (request.name !== undefined) create.name = request.name;
    const { id, warnings } = await this.#service.create(create);
    const size = create.config.Tty ? consoleSizeOf(request.body) : undefined;
    if (size) this.#consoleSizes.set(id, size);
    // `docker run --rm` in the foreground (attached, removed at exit) starts it at once: its
    // root filesystem is mounted while the client attaches and asks to wait (a start or a
    // removal that comes meanwhile waits for that mount, see container-lifecycle.ts).
    const attached = create.config.AttachStdout === true || create.config.AttachStderr === true;
    if (attached && create.hostConfig?.AutoRemove === true) {
      tracePhase('premount: begin', id);
      void this.#service.premount(id).then(() => tracePhase('premount: done', id));
    }
    this.#watch.poke();
    return { Id: id, Warnings: warnings };
  }

  async inspect(id: string, options: { size: boolean }): Promise<JsonObject> {
    return (await this.#service.inspect(id, { size: options.size })) as unknown as JsonObject;
  }

  async start(id: string, _options: { detachKeys?: string }): Promise<boolean> {
    const record = await this.#service.get(id);
    if (record.state === 'running') return false;
    const consoleSize = this.#consoleSizes.get(record.id);
    this.#consoleSizes.delete(record.id);
    let started: Awaited<ReturnType<ContainerService['start']>>;
    try {
      // this daemon handles the exit (container-watch.ts); conmon's exit command is the fallback
      started = await this.#watch.serialize(record.id, () =>
        this.#service.start(record.id, {
          exitDelaySeconds: 1,
          ...(consoleSize ? { consoleSize } : {}),
        }),
      );
    } catch (error) {
      // Docker removes an `--rm` container whose start failed (the CLI waits for that)
      if (record.definition.HostConfig.AutoRemove) {
        await this.#watch
          .serialize(record.id, () => this.#service.remove(record.id, { force: true }))
          .catch(() => undefined);
      }
      this.#watch.poke();
      throw error;
    }
    if (started.state === 'running') void this.#watch.track(started, { cleanup: true });
    this.#watch.poke();
    return true;
  }

  async stop(id: string, options: { timeout?: number; signal?: string }): Promise<boolean> {
    const record = await this.#service.get(id);
    if (!isActive(record.state)) return false;
    try {
      await this.#watch.serialize(record.id, () =>
        this.#service.stop(record.id, {
          ...(options.timeout !== undefined ? { timeoutSeconds: options.timeout } : {}),
          ...(options.signal !== undefined ? { signal: options.signal } : {}),
        }),
      );
    } finally {
      this.#watch.poke();
    }
    return true;
  }

  async restart(id: string, options: { timeout?: number; signal?: string }): Promise<void> {
    await this.stop(id, options);
    await this.start(id, {});
  }

  async kill(id: string, signal: string): Promise<void> {
    const record = await this.#service.get(id);
    try {
      await this.#watch.serialize(record.id, () => this.#service.kill(id, signal));
    } finally {
      this.#watch.poke();
    }
  }

  async pause(id: string): Promise<void> {
    const record = await this.#service.get(id);
    await this.#watch.serialize(record.id, () => this.#service.pause(record.id));
    this.#watch.poke();
  }

  async unpause(id: string): Promise<void> {
    const record = await this.#service.get(id);
    await this.#watch.serialize(record.id, () => this.#service.unpause(record.id));
    this.#watch.poke();
  }

  async remove(id: string, options: { force: boolean; volumes: boolean; link: boolean }): Promise<void> {
    if (options.link) {
      throw new InvalidArgumentError('Cannot remove a link: this daemon has no container links');
    }
    // `v` (anonymous volumes) has nothing to remove: containers get no anonymous volumes here yet
    const record = await this.#service.get(id);
    try {
      await this.#watch.serialize(record.id, () => this.#service.remove(id, { force: options.force }));
    } finally {
      this.#watch.poke();
    }
  }

  /**
   * Resolves once `condition` holds: `not-running` (at once when it is not running), `next-exit`
   * (the next `die` event), `removed` (the `destroy` event). The exit code is the `die`'s.
   */
  async wait(
    id: string,
    options: { condition: WaitCondition; signal: AbortSignal },
  ): Promise<{ StatusCode: number; Error?: { Message: string } | null }> {
    const { condition, signal } = options;
    const queue: StoredEvent[] = [];
    let wake: (() => void) | undefined;
    const unsubscribe = this.#watch.subscribe((event) => {
      queue.push(event);
      wake?.();
    });
    const onAbort = () => wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      let record = await this.#service.get(id);
      let exitCode = record.exitCode;
      const done = (state: typeof record.state | undefined): boolean =>
        state === undefined || (condition === 'not-running' && !isActive(state));
      if (done(record.state)) return { StatusCode: exitCode };
      let recheckAt = Date.now() + WAIT_RECHECK_MS;
      for (;;) {
        while (queue.length > 0) {
          const event = queue.shift()!;
          if (event.type !== 'container' || event.actorId !== record.id) continue;
          if (event.action === 'die') {
            const code = Number(event.attributes.exitCode);
            if (Number.isInteger(code)) exitCode = code;
            if (condition !== 'removed') return { StatusCode: exitCode };
          } else if (event.action === 'destroy') {
            return { StatusCode: exitCode };
          }
        }
        signal.throwIfAborted();
        if (Date.now() >= recheckAt) {
          // reading reconciles: a run whose conmon died gets its `die` here
          recheckAt = Date.now() + WAIT_RECHECK_MS;
          try {
            record = await this.#service.get(record.id);
            if (condition === 'not-running' && done(record.state)) return { StatusCode: record.exitCode };
          } catch (error) {
            if (error instanceof NotFoundError) return { StatusCode: exitCode };
            throw error;
          }
          continue;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(0, recheckAt - Date.now()));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
          if (queue.length > 0 || signal.aborted) wake();
        });
        wake = undefined;
      }
    } finally {
      unsubscribe();
      signal.removeEventListener('abort', onAbort);
    }
  }

  async rename(id: string, name: string): Promise<void> {
    await this.#service.rename(id, name);
    this.#watch.poke();
  }

  async update(id: string, body: JsonObject): Promise<{ Warnings: string[] | null }> {
    const result = await this.#service.update(id, updateRequest(body));
    this.#watch.poke();
    return { Warnings: result.Warnings.length > 0 ? result.Warnings : null };
  }

  async prune(filters: Filters): Promise<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }> {
    const result = await this.#service.prune({ filters });
    this.#watch.poke();
    return {
      ContainersDeleted: result.ContainersDeleted.length > 0 ? result.ContainersDeleted : null,
      SpaceReclaimed: result.SpaceReclaimed,
    };
  }

  async resize(id: string, size: { height: number; width: number }): Promise<void> {
    const record = await this.#service.get(id);
    if (!record.definition.Config.Tty) return; // Docker ignores it without a terminal
    if (record.state !== 'running' && record.state !== 'paused') {
      // before the first start: the size applies when it starts
      this.#consoleSizes.set(record.id, size);
      return;
    }
    await this.#service.resize(record.id, size.height, size.width);
  }

  top(id: string, psArgs: string): Promise<{ Titles: string[]; Processes: string[][] }> {
    return this.#service.top(id, psArguments(psArgs));
  }

  changes(id: string): Promise<Array<{ Path: string; Kind: number }> | null> {
    return this.#files.changes(id);
  }
}
