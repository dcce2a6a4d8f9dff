/**
 * What the parts of the container service share: the root, the records, the snapshotter (opened on
 * first use), the OCI runtime drivers (one per runtime name, made on first use), the way to run
 * `wharf` itself (for conmon's exit command and the health-check loop), and event recording.
 *
 * @example
 * const context = new ContainerContext({ root, db, images, snapshotter: () => openSnapshotter(), wharfCommand });
 * const driver = await context.driver('runc');
 */
import { join } from 'node:path';
import { NotFoundError } from '../errors/index.ts';
import type { MetadataDatabase } from '../metadata/database.ts';
import type { ImageConfig } from '../oci/image-config.ts';
import { OciRuntimeDriver, type RuntimeName } from '../runtime/runtime-driver.ts';
import { runtimePaths } from '../runtime/runtime-paths.ts';
import { findExecutable, type RuntimeSelection, selectRuntime } from '../runtime/runtime-probe.ts';
import { SeccompBpfCache } from '../runtime/seccomp-bpf-cache.ts';
import { type Spawner, type SpawnProcess, spawnWithNode } from '../runtime/spawn-process.ts';
import type { MountRequest, NetworkMode } from '../runtime/spec.ts';
import type { Snapshotter } from '../snapshot/snapshotter.ts';
import { type ContainerDefinition, type ContainerRecord, ContainerRecords } from './container-records.ts';
import { sweepContainerTrash } from './container-trash.ts';
import type { ContainerInspect, ContainerSummary } from './docker-types.ts';
import { nowNanos } from './timestamps.ts';

/** What the container service needs from the images part: find an image, unpack its layers. */
export interface ImageSource {
  /** By name, id or id prefix; NotFoundError otherwise. */
  resolve(reference: string): Promise<{ id: string; config: ImageConfig }>;
  /** Unpacks the image's layers into committed snapshots; returns the top chain ID (undefined for none). */
  unpack(imageId: string): Promise<string | undefined>;
  /** The image's size in bytes (for `ps -s`'s virtual size). */
  size?(imageId: string): Promise<number>;
}

/** What a hook adds to one run of a container. */
export interface StartContribution {
  /** More mounts (volumes, binds), after Wharf's own. */
  mounts?: MountRequest[];
  /** The network namespace to join (a network layer's), instead of `none`'s new one. */
  network?: NetworkMode;
  /** New content of the container's /etc/hosts and /etc/resolv.conf. */
  hosts?: string;
  resolvConf?: string;
}

/**
 * The seam for the layers that add to a container without the container service knowing them
 * (volumes, networks): each hook is called at the matching step of the lifecycle, in order.
 * A hook's failure fails `create` or `start`; at exit and removal it is recorded and ignored.
 */
export interface ContainerHooks {
  /** Network modes (besides none and host) these hooks handle: `bridge`, named networks... */
  acceptsNetworkMode?(mode: string): boolean;
  /** At create, before the record is stored: may check the request and extend the definition. */
  create?(definition: ContainerDefinition, name: string): Promise<void>;
  /**
   * At each start, side by side with mounting the root filesystem, for what needs none of the
   * container's files (a network namespace): its cost hides behind the mount's.
   */
  prepare?(record: ContainerRecord): Promise<StartContribution | undefined>;
  /** At each start, with the root filesystem mounted at `rootfs`. */
  start?(record: ContainerRecord, rootfs: string): Promise<StartContribution | undefined>;
  /**
   * As soon as a run's processes are gone (or its start failed), side by side with the runtime's
   * cleanup and the root filesystem's unmount, for what needs neither (network teardown).
   */
  stopped?(record: ContainerRecord): Promise<void>;
  /**
   * Once the run's process is started (not awaited, errors ignored): for work worth doing soon
   * but not in the start's critical path (the network layer's pool refill forks a helper).
   */
  running?(record: ContainerRecord): void;
  /** After each run's exit is handled (conmon's exit command, stop, kill) or its start failed. */
  exit?(record: ContainerRecord): Promise<void>;
  /** After the container's record is gone; `volumes` with `rm -v` and `--rm`. */
  remove?(record: ContainerRecord, options: { volumes: boolean }): Promise<void>;
  /** Fills in what the layer knows of `inspect`'s view (NetworkSettings...). */
  inspect?(record: ContainerRecord, view: ContainerInspect): Promise<void>;
  /** Fills in what the layer knows of a `ps` entry (Ports, networks...). */
  summary?(record: ContainerRecord, summary: ContainerSummary): Promise<void>;
}

/** How to run `wharf` (absolute node binary and its arguments up to the script). */
export interface WharfCommand {
  path: string;
  args: string[];
}

export interface ContainerServiceOptions {
  root: string;
  db: MetadataDatabase;
  images: ImageSource;
  /** Opens the snapshotter holding image layers and writable layers (called at most once). */
  snapshotter: () => Promise<Snapshotter>;
  /** `wharf` itself, for conmon's exit command and the health-check loop. */
  wharfCommand: WharfCommand;
  /** The runtime for containers that do not name one (default: probed, crun preferred). */
  defaultRuntime?: RuntimeName;
  /** The cgroup conmon moves into (default `/wharf/conmon`; null: stay). */
  conmonCgroup?: string | null;
  /** Parent of the containers' cgroups when `--cgroup-parent` is not given. Default `/wharf`. */
  cgroupParent?: string;
  /** Volumes, networks... (see ContainerHooks). */
  hooks?: readonly ContainerHooks[];
  /**
   * What starts a run's `mount`, conmon and `umount` (and does the mounts itself, with its
   * builtins): a daemon passes one, so that none of them forks it (runtime/process-spawner.ts).
   * Without one, Node's spawn runs the tools.
   */
  spawner?: Spawner;
}

export class ContainerContext {
  readonly root: string;
  readonly records: ContainerRecords;
  readonly images: ImageSource;
  readonly wharfCommand: WharfCommand;
  readonly conmonCgroup: string | null | undefined;
  readonly cgroupParent: string;
  readonly hooks: readonly ContainerHooks[];
  /** See ContainerServiceOptions' `spawner`. */
  readonly spawner: Spawner | undefined;
  /** How a run's processes start: the spawner's, or Node's spawn. */
  readonly spawn: SpawnProcess;
  /** Compiled seccomp filters, so crun compiles a profile once per root (seccomp-bpf-cache.ts). */
  readonly seccompFilters: SeccompBpfCache;
  readonly #openSnapshotter: () => Promise<Snapshotter>;
  #snapshotter: Promise<Snapshotter> | undefined;
  readonly #defaultRuntime: RuntimeName | undefined;
  #selection: Promise<RuntimeSelection> | undefined;
  readonly #drivers = new Map<string, Promise<OciRuntimeDriver>>();

  constructor(options: ContainerServiceOptions) {
    this.root = options.root;
    this.records = new ContainerRecords(options.db);
    this.images = options.images;
    this.wharfCommand = options.wharfCommand;
    this.conmonCgroup = options.conmonCgroup;
    this.cgroupParent = options.cgroupParent ?? '/wharf';
    this.hooks = options.hooks ?? [];
    this.spawner = options.spawner;
    this.spawn = options.spawner?.spawn ?? spawnWithNode;
    this.seccompFilters = new SeccompBpfCache(runtimePaths(this.root).seccompDir);
    this.#openSnapshotter = options.snapshotter;
    this.#defaultRuntime = options.defaultRuntime;
  }

  snapshotter(): Promise<Snapshotter> {
    // the snapshotter's open sweeps what dead processes left of snapshots; the containers'
    // trash directories (container-trash.ts) are swept at the same moment
    this.#snapshotter ??= Promise.all([
      this.#openSnapshotter(),
      sweepContainerTrash(this.root).catch(() => undefined),
    ]).then(([snapshotter]) => snapshotter);
    return this.#snapshotter;
  }

  /** True once the snapshotter has been opened (so closing knows whether to close it). */
  get snapshotterOpened(): Promise<Snapshotter> | undefined {
    return this.#snapshotter;
  }

  /** The probed default runtime (crun when it works here, else runc; see runtime-probe.ts). */
  selection(): Promise<RuntimeSelection> {
    this.#selection ??= selectRuntime({
      root: this.root,
      ...(this.#defaultRuntime ? { requested: this.#defaultRuntime } : {}),
    });
    return this.#selection;
  }

  /**
   * The driver for runtime `name` ('' for the default). A container keeps the runtime it was
   * started with: its state lives in that runtime's state directory.
   */
  driver(name: string): Promise<OciRuntimeDriver> {
    const key = name || '';
    let driver = this.#drivers.get(key);
    if (!driver) {
      driver = (async () => {
        if (key === '') return (await this.selection()).driver;
        if (key !== 'crun' && key !== 'runc')
          throw new NotFoundError(`Cannot use runtime ${key}: unknown runtime`);
        const binary = await findExecutable(key);
        if (!binary) throw new NotFoundError(`Cannot use runtime ${key}: it is not installed`);
        const paths = runtimePaths(this.root);
        return new OciRuntimeDriver({
          name: key,
          binary,
          stateDir: paths.stateDir(key),
          scratchDir: paths.scratchDir,
        });
      })();
      this.#drivers.set(key, driver);
    }
    return driver;
  }

  /** Records a container event with Docker's attributes (image, name, labels, and `extra`). */
  emit(action: string, record: ContainerRecord, extra: Record<string, string> = {}): void {
    const attributes: Record<string, string> = {
      ...(record.definition.Config.Labels ?? {}),
      image: record.definition.Config.Image,
      name: record.name,
      ...extra,
    };
    this.records.addEvent({
      timeNano: nowNanos(),
      type: 'container',
      action,
      actorId: record.id,
      attributes,
    });
  }

  /** Whether a hook handles network mode `mode`. */
  hookedNetwork(mode: string): boolean {
    return this.hooks.some((hook) => hook.acceptsNetworkMode?.(mode) === true);
  }

  /**
   * Runs `stopped`, `exit` or `remove` hooks, recording failures on the record instead of failing.
   * `failedStart` runs `stopped` then `exit`: what a start that failed half way may have made.
   */
  async runCleanupHooks(
    step: 'stopped' | 'exit' | 'remove' | 'failedStart',
    record: ContainerRecord,
    options: { volumes: boolean } = { volumes: false },
  ): Promise<void> {
    if (step === 'failedStart') {
      await this.runCleanupHooks('stopped', record);
      return this.runCleanupHooks('exit', record);
    }
    for (const hook of this.hooks) {
      try {
        if (step === 'stopped') await hook.stopped?.(record);
        else if (step === 'exit') await hook.exit?.(record);
        else await hook.remove?.(record, options);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (step !== 'remove') {
          try {
            this.records.update(record.id, () => ({ error: message }));
          } catch {
            // removed meanwhile
          }
        }
      }
    }
  }

  /** The `wharf` invocation prefix with this root: `node script --root ROOT`. */
  wharfArgs(): string[] {
    return [...this.wharfCommand.args, '--root', this.root];
  }

  /** A scratch path under the root for short-lived files. */
  scratch(name: string): string {
    return join(runtimePaths(this.root).scratchDir, name);
  }
}
