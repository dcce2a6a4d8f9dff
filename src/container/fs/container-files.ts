/**
 * The filesystem verbs of containers over the container service: `diff` (changes), `export`,
 * `cp` (stat, archive, extract) and `commit`, each in Docker's shapes. It decides how to reach a
 * container's files (container-root.ts): through the running container's own root, or through a
 * temporary mount of its snapshot when it is stopped (under the container's lock when writing,
 * so that it cannot start meanwhile), with its volumes and binds shown where they would be
 * mounted. Whatever it mounts is unmounted when the operation (or its stream) ends, also on
 * failure or when the stream is abandoned.
 *
 * @example
 * const files = new ContainerFiles(containers, engine.images.store);
 * const changes = await files.changes('web'); // [{ kind: 'C', path: '/etc' }, ...]
 */
import { Readable } from 'node:stream';
import { InvalidArgumentError, NotFoundError } from '../../errors/index.ts';
import type { ImageStore } from '../../image/image-store.ts';
import { parseNormalizedReference } from '../../oci/reference.ts';
import type { ContainerContext } from '../container-context.ts';
import { premounted } from '../container-lifecycle.ts';
import { withContainerLock } from '../container-lock.ts';
import { containerPaths } from '../container-paths.ts';
import type { ContainerRecord } from '../container-records.ts';
import type { ContainerService } from '../container-service.ts';
import { INIT_PATH } from '../container-spec.ts';
import { isMountPoint } from '../mount-points.ts';
import { mountPointsOf } from '../volume/mount-points.ts';
import { archiveEntry } from './archive-writer.ts';
import { getArchive, type PathStat, putArchive, statPath } from './container-archive.ts';
import { type Change, containerChanges } from './container-changes.ts';
import { type CommitResult, commitContainer } from './container-commit.ts';
import { type OpenedRoot, openLiveRoot, openOfflineRoot } from './container-root.ts';
import { RootedFs, type RootMount } from './rooted-fs.ts';

/** Where the OCI runtime makes mount points of its own (Docker keeps these in its init layer). */
const RUNTIME_MOUNT_POINTS = [
  '/proc',
  '/dev',
  '/dev/pts',
  '/dev/shm',
  '/dev/mqueue',
  '/sys',
  '/sys/fs/cgroup',
  '/etc/hostname',
  '/etc/hosts',
  '/etc/resolv.conf',
];

export interface CommitOptions {
  /** `REPO[:TAG]`. */
  reference?: string;
  /** `-m`. */
  comment?: string;
  /** `-a`. */
  author?: string;
  /** Pause a running container meanwhile (Docker's default: true). */
  pause?: boolean;
  /** `-c` Dockerfile instructions. */
  changes?: readonly string[];
  /** A config to take over the container's (the Engine API's body). */
  config?: Record<string, unknown>;
}

export interface PutArchiveOptions {
  /** Refuse to replace a directory by a file or the reverse (Docker's `cp`: always). */
  noOverwriteDirNonDir?: boolean;
  /** Keep the archive's owners (`cp -a`); otherwise everything belongs to root (0:0). */
  copyUIDGID?: boolean;
  signal?: AbortSignal;
}

function isLive(record: ContainerRecord): boolean {
  return (record.state === 'running' || record.state === 'paused') && record.pid > 0;
}

export class ContainerFiles {
  readonly #service: ContainerService;
  readonly #images: ImageStore;

  constructor(service: ContainerService, images: ImageStore) {
    this.#service = service;
    this.#images = images;
  }

  /** `docker diff`: A/C/D changes of the writable layer against the image. */
  async changes(idOrName: string): Promise<Change[]> {
    const record = await this.#service.get(idOrName);
    const snapshotter = await this.#service.context.snapshotter();
    return containerChanges(await snapshotter.mounts(record.definition.SnapshotKey), {
      stubs: stubsOf(record),
    });
  }

  /** `docker export`: the container's root filesystem (no volumes) as a tar stream. */
  async export(idOrName: string, options: { signal?: AbortSignal } = {}): Promise<Readable> {
    const record = await this.#service.get(idOrName);
    const rootfs = containerPaths(this.#service.context.root, record.id).rootfs;
    let opened: OpenedRoot;
    if (record.state === 'created') await premounted(this.#service.context, record.id);
    if ((isLive(record) || record.state === 'created') && (await isMountPoint(rootfs))) {
      // running, or created and mounted ahead of its start (ContainerService.premount)
      const root = RootedFs.open(rootfs);
      opened = { root, release: async () => root.close() };
    } else {
      const snapshotter = await this.#service.context.snapshotter();
      opened = await openOfflineRoot(snapshotter, record.definition.SnapshotKey, { writable: false });
    }
    return await streamWithRoot(opened, (root) => {
      const top = root.lookup('/', { follow: false });
      return {
        stream: archiveEntry(root, top, {
          name: '.',
          skipTop: true,
          ...(options.signal ? { signal: options.signal } : {}),
        }),
        close: () => top.close(),
      };
    });
  }

  /** `HEAD /containers/ID/archive`: what is at `path` in the container. */
  async statPath(idOrName: string, path: string): Promise<PathStat> {
    const record = await this.#service.get(idOrName);
    const opened = await this.#openForRead(record);
    try {
      return statPath(opened.root, path);
    } catch (error) {
      throw inContainer(error, record);
    } finally {
      await opened.release();
    }
  }

  /** `docker cp CONTAINER:PATH -`: a tar of `path` (its top entry named after it) and its stat. */
  async getArchive(
    idOrName: string,
    path: string,
    options: { signal?: AbortSignal; onFile?: (size: number) => void } = {},
  ): Promise<{ stat: PathStat; stream: Readable }> {
    const record = await this.#service.get(idOrName);
    const opened = await this.#openForRead(record);
    let stat: PathStat | undefined;
    try {
      const stream = await streamWithRoot(opened, (root) => {
        const archive = getArchive(root, path, options);
        stat = archive.stat;
        return archive;
      });
      return { stat: stat!, stream };
    } catch (error) {
      throw inContainer(error, record);
    }
  }

  /** `docker cp - CONTAINER:DIR`: extracts a tar into directory `path` of the container. */
  async putArchive(
    idOrName: string,
    path: string,
    tar: AsyncIterable<Uint8Array>,
    options: PutArchiveOptions = {},
  ): Promise<{ entries: number; bytes: number }> {
    const record = await this.#service.get(idOrName);
    const extract = async (opened: OpenedRoot) => {
      try {
        return await putArchive(opened.root, path, tar, {
          noOverwriteDirNonDir: options.noOverwriteDirNonDir === true,
          ...(options.copyUIDGID ? {} : { chown: { uid: 0, gid: 0 } }),
          ...(options.signal ? { signal: options.signal } : {}),
        });
      } catch (error) {
        throw inContainer(error, record);
      } finally {
        await opened.release();
      }
    };
    if (isLive(record)) {
      const live = await openLiveRoot(record.pid, record.definition.CgroupsPath).catch(() => undefined);
      if (live) return extract(live);
    }
    // Stopped: mount it writable, holding its lock so that it cannot start meanwhile.
    return withContainerLock(this.#service.context.records, record.id, async () => {
      const current = await this.#service.get(record.id);
      if (isLive(current)) return extract(await openLiveRoot(current.pid, current.definition.CgroupsPath));
      const premounted = await this.#premounted(current, { writable: true });
      if (premounted) return extract(premounted);
      const snapshotter = await this.#service.context.snapshotter();
      return extract(
        await openOfflineRoot(snapshotter, current.definition.SnapshotKey, {
          writable: true,
          mounts: mountTableOf(this.#service.context.root, current),
          readonly: current.definition.HostConfig.ReadonlyRootfs,
        }),
      );
    });
  }

  /** `docker commit`: the writable layer becomes a new image (see container-commit.ts). */
  async commit(idOrName: string, options: CommitOptions = {}): Promise<CommitResult> {
    if (options.reference) {
      const ref = parseNormalizedReference(options.reference);
      if (ref.digest !== undefined) {
        throw new InvalidArgumentError(
          `Cannot commit as ${options.reference}: refusing to create a tag with a digest reference`,
        );
      }
    }
    const record = await this.#service.get(idOrName);
    let paused = false;
    if (options.pause !== false && record.state === 'running') {
      await this.#service.pause(record.id);
      paused = true;
    }
    try {
      const snapshotter = await this.#service.context.snapshotter();
      return await commitContainer(this.#images, snapshotter, {
        containerId: record.id,
        imageId: record.imageId,
        snapshotKey: record.definition.SnapshotKey,
        containerConfig: record.definition.Config as unknown as Record<string, unknown>,
        stubs: stubsOf(record),
        ...(options.config ? { config: options.config } : {}),
        ...(options.changes ? { changes: options.changes } : {}),
        ...(options.comment ? { comment: options.comment } : {}),
        ...(options.author ? { author: options.author } : {}),
        ...(options.reference ? { reference: options.reference } : {}),
      });
    } finally {
      if (paused) await this.#service.unpause(record.id).catch(() => undefined);
    }
  }

  #premounted(record: ContainerRecord, options: { writable: boolean }): Promise<OpenedRoot | undefined> {
    return premountedRoot(this.#service.context, record, options);
  }

  async #openForRead(record: ContainerRecord): Promise<OpenedRoot> {
    if (isLive(record)) {
      const live = await openLiveRoot(record.pid, record.definition.CgroupsPath).catch(() => undefined);
      if (live) return live;
    }
    const premounted = await this.#premounted(record, { writable: false });
    if (premounted) return premounted;
    const snapshotter = await this.#service.context.snapshotter();
    return openOfflineRoot(snapshotter, record.definition.SnapshotKey, {
      writable: false,
      mounts: mountTableOf(this.#service.context.root, record),
    });
  }
}

/**
 * A created container whose root filesystem the daemon mounted ahead of its start
 * (ContainerService.premount): that mount is its layer's one writable view, so it is used
 * rather than a second overlay of the same upper directory beside it.
 */
async function premountedRoot(
  context: ContainerContext,
  record: ContainerRecord,
  options: { writable: boolean },
): Promise<OpenedRoot | undefined> {
  const { root } = context;
  if (record.state !== 'created') return undefined;
  await premounted(context, record.id); // one under way: use it, not a second overlay beside it
  const rootfs = containerPaths(root, record.id).rootfs;
  if (!(await isMountPoint(rootfs))) return undefined;
  const opened = RootedFs.open(rootfs, {
    mounts: mountTableOf(root, record),
    ...(options.writable && !record.definition.HostConfig.ReadonlyRootfs ? {} : { readonly: true }),
  });
  return { root: opened, release: async () => opened.close() };
}

/** What shows over a stopped container's rootfs: its volumes and binds, and its /etc files. */
export function mountTableOf(root: string, record: ContainerRecord): RootMount[] {
  const paths = containerPaths(root, record.id);
  const table: RootMount[] = [
    { at: '/etc/hostname', source: paths.hostname, readonly: false },
    { at: '/etc/hosts', source: paths.hosts, readonly: false },
    { at: '/etc/resolv.conf', source: paths.resolvConf, readonly: false },
  ];
  for (const point of mountPointsOf(record.definition)) {
    if (point.Type === 'tmpfs' || point.Source === '') continue;
    table.push({ at: point.Destination, source: point.Source, readonly: !point.RW });
  }
  return table;
}

/** The paths where the runtime makes mount points for this container (not changes of its own). */
export function stubsOf(record: ContainerRecord): string[] {
  const stubs = [...RUNTIME_MOUNT_POINTS];
  if (record.definition.HostConfig.Init) stubs.push(INIT_PATH);
  for (const path of Object.keys(record.definition.HostConfig.Tmpfs ?? {})) stubs.push(path);
  for (const point of mountPointsOf(record.definition)) stubs.push(point.Destination);
  return stubs;
}

/** A not-found path in Docker's words, naming the container (`Could not find the file X in container NAME`). */
function inContainer(error: unknown, record: ContainerRecord): unknown {
  if (error instanceof NotFoundError && error.message.endsWith(' in container')) {
    return new NotFoundError(`${error.message} ${record.name}`, { cause: error });
  }
  return error;
}

/**
 * A Readable over a stream made from an opened root, releasing the root (closing descriptors,
 * unmounting) when the stream ends, fails or is destroyed, even if it is never read.
 */
async function streamWithRoot(
  opened: OpenedRoot,
  make: (root: RootedFs) => { stream: AsyncGenerator<Buffer>; close: () => void },
): Promise<Readable> {
  let made: { stream: AsyncGenerator<Buffer>; close: () => void };
  try {
    made = make(opened.root);
  } catch (error) {
    await opened.release();
    throw error;
  }
  let released: Promise<void> | undefined;
  const release = () => {
    released ??= (async () => {
      made.close();
      await opened.release();
    })();
    return released;
  };
  async function* body(): AsyncGenerator<Buffer> {
    try {
      yield* made.stream;
    } finally {
      await release();
    }
  }
  const readable = Readable.from(body(), { objectMode: false });
  readable.once('close', () => void release().catch(() => {}));
  return readable;
}
