/**
 * Volumes, and the mounts of containers: the records (volume-store.ts), the local driver
 * (local-driver.ts), and the resolver that turns a create request's `-v`, `--mount`, `--tmpfs`,
 * `--volumes-from` and the image's `VOLUME`s into mount points, then into OCI mounts.
 *
 * A container's mounts go through three steps, called by the container service:
 *
 *   create   points = volumes.resolveMounts({ config, hostConfig })
 *            named volumes that do not exist are made (with `--mount`'s volume-opt and labels),
 *            anonymous ones too (64 hex names, Docker's anonymous label). The points are stored in
 *            the container's definition (`definition.MountPoints`): they are how volumes in use
 *            and a container's anonymous volumes are known.
 *   start    mounts = await volumes.prepareMounts(points, rootfs)   (rootfs mounted)
 *            devices of local volumes with options are mounted; a volume still empty receives a
 *            copy of the image's content at its destination (owners, modes, xattrs; not with
 *            `nocopy`); binds of `-v` whose source is missing get it made. Returns the OCI mounts,
 *            parents before children.
 *   exit     await volumes.releaseMounts(id, points)   devices no running container needs are unmounted
 *   rm -v, --rm   await volumes.removeAnonymousVolumes(id, points)   after the record is gone
 *
 * Precedence is moby's: `--volumes-from` first, then `-v` (Binds) and `--mount` (duplicates
 * between them, or with `--tmpfs`, are errors), each replacing what `--volumes-from` put at the
 * same destination; then the image's VOLUMEs where nothing is mounted yet (nor a `--tmpfs`).
 *
 * @example
 * const volumes = new VolumeManager(db, root);
 * const points = volumes.resolveMounts({ config, hostConfig });
 * const mounts = await volumes.prepareMounts(points, rootfs);
 */
import { existsSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, InvalidArgumentError, isErrno, NotFoundError } from '../../errors/index.ts';
import type { MetadataDatabase } from '../../metadata/database.ts';
import { EventLog } from '../../metadata/event-log.ts';
import type { MountRequest } from '../../runtime/spec.ts';
import { goMapOrder } from '../../util/go-map-order.ts';
import { randomHex } from '../../util/random-hex.ts';
import { ContainerRecords } from '../container-records.ts';
import { extractArchive } from '../fs/archive-extractor.ts';
import { archiveEntry } from '../fs/archive-writer.ts';
import { RootedFs } from '../fs/rooted-fs.ts';
import { isMountPoint } from '../mount-points.ts';
import {
  checkLocalOptions,
  hasDevice,
  LOCAL_DRIVER,
  mountLocalVolume,
  unmountLocalVolume,
} from './local-driver.ts';
import {
  type MountPointView,
  mountPointsOf,
  mountPointsView,
  type StoredMountPoint,
} from './mount-points.ts';
import {
  checkVolumeName,
  type MountSpec,
  type Propagation,
  parseBind,
  parseTmpfsOptions,
  parseVolumesFrom,
  validateMountSpec,
} from './mount-spec.ts';
import {
  ANONYMOUS_LABEL,
  type VolumeRecord,
  VolumeStore,
  volumeDataPath,
  volumesDir,
} from './volume-store.ts';

export interface CreateVolumeRequest {
  /** Default: 64 random hex digits. */
  name?: string;
  driver?: string;
  labels?: Record<string, string>;
  /** The driver's options (`--opt`). */
  options?: Record<string, string>;
  /** Made for one container (gets Docker's anonymous label). */
  anonymous?: boolean;
}

/** Docker's `Volume` (API 1.43), what `volume inspect` prints (a type, so it is plain JSON to the API). */
export type VolumeView = {
  CreatedAt: string;
  Driver: string;
  Labels: Record<string, string> | null;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string> | null;
  Scope: 'local';
  UsageData?: { RefCount: number; Size: number };
};

/** The Docker fields the resolver reads from a create request. */
export interface MountFields {
  config: { Volumes?: Record<string, unknown> | null };
  hostConfig: {
    Binds?: string[] | null;
    Mounts?: MountSpec[] | null;
    Tmpfs?: Record<string, string> | null;
    VolumesFrom?: string[] | null;
    VolumeDriver?: string;
  };
}

export interface PruneVolumesOptions {
  /** Remove unused named volumes too (`volume prune -a`, filter `all=true`). */
  all?: boolean;
  /** label, label!, all. */
  filters?: Record<string, readonly string[]>;
}

const PRUNE_FILTERS = new Set(['label', 'label!', 'all']);
const LIST_FILTERS = new Set(['dangling', 'driver', 'label', 'name']);

function labelMatches(labels: Record<string, string>, spec: string): boolean {
  const eq = spec.indexOf('=');
  if (eq < 0) return spec in labels;
  return labels[spec.slice(0, eq)] === spec.slice(eq + 1);
}

/** Docker's CreatedAt: RFC 3339 to the second. */
function createdNow(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

function cleanTarget(path: string): string {
  const parts = path.split('/').filter((part) => part !== '' && part !== '.');
  return `/${parts.join('/')}`;
}

function depth(path: string): number {
  return path.split('/').filter(Boolean).length;
}

export class VolumeManager {
  readonly store: VolumeStore;
  readonly root: string;

  constructor(db: MetadataDatabase, root: string) {
    this.store = new VolumeStore(db);
    this.root = root;
  }

  // ---- volumes ----

  /** `$root/volumes/NAME/_data`. */
  dataPath(name: string): string {
    return volumeDataPath(this.root, name);
  }

  /** `volume create`: makes the volume, or returns the existing one of that name. */
  create(request: CreateVolumeRequest = {}): VolumeRecord {
    const driver = request.driver || LOCAL_DRIVER;
    if (driver !== LOCAL_DRIVER) {
      throw new NotFoundError(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    }
    const name = request.name || randomHex(32);
    checkVolumeName(name);
    const existing = this.store.get(name);
    if (existing) return existing;
    const options = { ...(request.options ?? {}) };
    checkLocalOptions(options);
    const labels = { ...(request.labels ?? {}) };
    if (request.anonymous) labels[ANONYMOUS_LABEL] = '';
    const record: VolumeRecord = {
      name,
      driver,
      labels,
      options,
      createdAt: createdNow(),
      anonymous: request.anonymous === true,
    };
    mkdirSync(this.dataPath(name), { recursive: true, mode: 0o755 });
    try {
      this.store.insert(record);
    } catch (error) {
      const raced = this.store.get(name);
      if (raced) return raced;
      throw error;
    }
    this.#event('create', name);
    return record;
  }

  /** NotFoundError `get NAME: no such volume`. */
  get(name: string): VolumeRecord {
    return this.store.find(name);
  }

  /** `volume ls`: by name, with Docker's filters (dangling, driver, label, name). */
  list(filters: Record<string, readonly string[]> = {}): VolumeRecord[] {
    for (const key of Object.keys(filters)) {
      if (!LIST_FILTERS.has(key)) throw new InvalidArgumentError(`invalid filter '${key}'`);
    }
    const counts = filters.dangling ? this.store.usageCounts() : undefined;
    return this.store.list().filter((volume) => {
      for (const value of filters.dangling ?? []) {
        if (!['true', 'false', '1', '0'].includes(value)) {
          throw new InvalidArgumentError(`invalid filter 'dangling=${value}'`);
        }
        const dangling = !counts!.has(volume.name);
        if ((value === 'true' || value === '1') !== dangling) return false;
      }
      if (filters.driver?.length && !filters.driver.includes(volume.driver)) return false;
      if ((filters.label ?? []).some((spec) => !labelMatches(volume.labels, spec))) return false;
      if (filters.name?.length && !filters.name.some((pattern) => nameMatches(volume.name, pattern)))
        return false;
      return true;
    });
  }

  /** Docker's `Volume` shape of a record. */
  view(volume: VolumeRecord, usage?: { refCount: number; size: number }): VolumeView {
    return {
      CreatedAt: volume.createdAt,
      Driver: volume.driver,
      // Go's encoding/json writes map keys sorted; Docker's inspect shows them so
      Labels: Object.keys(volume.labels).length > 0 ? goMapOrder(volume.labels) : null,
      Mountpoint: this.dataPath(volume.name),
      Name: volume.name,
      Options: Object.keys(volume.options).length > 0 ? goMapOrder(volume.options) : null,
      Scope: 'local',
      ...(usage ? { UsageData: { RefCount: usage.refCount, Size: usage.size } } : {}),
    };
  }

  /** The containers whose records mount the volume. */
  users(name: string): string[] {
    return this.store.users(name);
  }

  /**
   * `volume rm`: refuses a volume any container uses (ConflictError, Docker's message); `force`
   * only makes a missing volume no error.
   */
  async remove(name: string, options: { force?: boolean } = {}): Promise<void> {
    const volume = this.store.get(name);
    if (!volume) {
      if (options.force) return;
      throw new NotFoundError(`get ${name}: no such volume`);
    }
    const users = this.store.users(name);
    if (users.length > 0) throw new ConflictError(`remove ${name}: volume is in use - [${users.join(', ')}]`);
    await this.#destroy(volume);
  }

  /** `volume prune`: unused anonymous volumes (all unused ones with `all`). */
  async prune(options: PruneVolumesOptions = {}): Promise<{ removed: string[]; reclaimed: number }> {
    const filters = options.filters ?? {};
    for (const key of Object.keys(filters)) {
      if (!PRUNE_FILTERS.has(key)) throw new InvalidArgumentError(`invalid filter '${key}'`);
    }
    let all = options.all === true;
    for (const value of filters.all ?? []) {
      if (['true', '1'].includes(value)) all = true;
      else if (!['false', '0'].includes(value))
        throw new InvalidArgumentError(`invalid filter 'all=${value}'`);
    }
    const counts = this.store.usageCounts();
    const removed: string[] = [];
    let reclaimed = 0;
    for (const volume of this.store.list()) {
      if (counts.has(volume.name)) continue;
      if (!all && !(ANONYMOUS_LABEL in volume.labels)) continue;
      if ((filters.label ?? []).some((spec) => !labelMatches(volume.labels, spec))) continue;
      if ((filters['label!'] ?? []).some((spec) => labelMatches(volume.labels, spec))) continue;
      if (this.store.users(volume.name).length > 0) continue; // started using it meanwhile
      const size = await this.size(volume.name).catch(() => 0);
      await this.#destroy(volume);
      removed.push(volume.name);
      reclaimed += size;
    }
    return { removed, reclaimed };
  }

  /** Bytes of the files in the volume (hardlinks once), not following symlinks. */
  async size(name: string): Promise<number> {
    const seen = new Set<string>();
    let total = 0;
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir)) {
        const path = join(dir, entry);
        const stats = lstatSync(path);
        if (stats.isDirectory()) walk(path);
        else if (stats.isFile()) {
          const key = `${stats.dev}:${stats.ino}`;
          if (stats.nlink > 1 && seen.has(key)) continue;
          seen.add(key);
          total += stats.size;
        }
      }
    };
    const data = this.dataPath(name);
    if (existsSync(data)) walk(data);
    return total;
  }

  async #destroy(volume: VolumeRecord): Promise<void> {
    const data = this.dataPath(volume.name);
    await unmountLocalVolume(data);
    if (await isMountPoint(data)) {
      throw new ConflictError(`remove ${volume.name}: ${data} is still mounted`);
    }
    await rm(join(volumesDir(this.root), volume.name), { recursive: true, force: true });
    this.store.delete(volume.name);
    this.#event('destroy', volume.name);
  }

  /** Docker's volume event: the actor is the volume's name, `driver` is always there. */
  #event(action: string, name: string, attributes: Record<string, string> = {}): void {
    new EventLog(this.store.db).tryAdd({
      type: 'volume',
      action,
      actorId: name,
      attributes: { driver: LOCAL_DRIVER, ...attributes },
    });
  }

  // ---- container mounts ----

  /**
   * The mount points of a container being created (see the module comment); makes the volumes
   * it names that do not exist yet, and its anonymous ones.
   */
  resolveMounts(fields: MountFields): StoredMountPoint[] {
    const points = new Map<string, StoredMountPoint>();
    const tmpfs = fields.hostConfig.Tmpfs ?? {};
    const tmpfsTargets = new Set(Object.keys(tmpfs).map(cleanTarget));
    const duplicate = (target: string) => new InvalidArgumentError(`Duplicate mount point: ${target}`);
    const explicit = new Set<string>();
    const made: string[] = [];
    try {
      // 1. --volumes-from
      for (const from of fields.hostConfig.VolumesFrom ?? []) {
        const { container, mode } = parseVolumesFrom(from);
        const source = new ContainerRecords(this.store.db).find(container);
        const readonly = mode.split(',').includes('ro');
        for (const point of mountPointsOf(source.definition)) {
          if (point.FromTmpfsFlag || point.Type === 'tmpfs') continue;
          const copy: StoredMountPoint = { ...point, RW: point.RW && !readonly, CopyData: false };
          delete copy.Anonymous;
          points.set(point.Destination, copy);
        }
      }
      // 2. -v (Binds)
      for (const raw of fields.hostConfig.Binds ?? []) {
        const { spec, mode } = parseBind(raw);
        if (spec.Source === undefined)
          throw new InvalidArgumentError(`invalid volume specification: '${raw}'`);
        const target = cleanTarget(spec.Target);
        if (explicit.has(target) || tmpfsTargets.has(target)) throw duplicate(target);
        explicit.add(target);
        points.set(
          target,
          this.#pointOf(spec, target, mode, made, { fromBind: true, driver: fields.hostConfig.VolumeDriver }),
        );
      }
      // 3. --mount (Mounts)
      for (const spec of fields.hostConfig.Mounts ?? []) {
        validateMountSpec(spec, { bindSourceMustExist: true, exists: (path) => existsSync(path) });
        const target = cleanTarget(spec.Target);
        if (explicit.has(target) || tmpfsTargets.has(target)) throw duplicate(target);
        explicit.add(target);
        points.set(target, this.#pointOf(spec, target, '', made, { fromBind: false }));
      }
      // 4. --tmpfs
      for (const [path, text] of Object.entries(tmpfs)) {
        const target = cleanTarget(path);
        if (!path.startsWith('/'))
          throw new InvalidArgumentError(`invalid mount path: '${path}' mount path must be absolute`);
        const options = parseTmpfsOptions(text);
        points.set(target, {
          Type: 'tmpfs',
          Source: '',
          Destination: target,
          Mode: '',
          RW: !options.options.includes('ro'),
          Propagation: '',
          ...(options.size !== undefined ? { TmpfsSize: options.size } : {}),
          ...(options.mode !== undefined ? { TmpfsMode: options.mode } : {}),
          TmpfsOptions: options.options,
          FromTmpfsFlag: true,
        });
      }
      // 5. the image's VOLUMEs (and `-v /path`) where nothing is mounted
      for (const path of Object.keys(fields.config.Volumes ?? {})) {
        const target = cleanTarget(path);
        if (!path.startsWith('/'))
          throw new InvalidArgumentError(`invalid mount path: '${path}' mount path must be absolute`);
        if (points.has(target)) continue;
        const volume = this.create({ anonymous: true });
        made.push(volume.name);
        points.set(target, {
          Type: 'volume',
          Name: volume.name,
          Source: this.dataPath(volume.name),
          Destination: target,
          Driver: LOCAL_DRIVER,
          Mode: '',
          RW: true,
          Propagation: '',
          CopyData: true,
          Anonymous: true,
        });
      }
    } catch (error) {
      // Nothing references the anonymous volumes made so far: take them back.
      for (const name of made) {
        const volume = this.store.get(name);
        if (volume?.anonymous) void this.#destroy(volume).catch(() => {});
      }
      throw error;
    }
    return [...points.values()].sort((a, b) => depth(a.Destination) - depth(b.Destination));
  }

  #pointOf(
    spec: MountSpec,
    target: string,
    mode: string,
    made: string[],
    how: { fromBind: boolean; driver?: string | undefined },
  ): StoredMountPoint {
    const rw = spec.ReadOnly !== true;
    switch (spec.Type) {
      case 'bind':
        return {
          Type: 'bind',
          Source: cleanTarget(spec.Source!),
          Destination: target,
          Mode: mode,
          RW: rw,
          Propagation: spec.BindOptions?.Propagation ?? 'rprivate',
          ...(spec.BindOptions?.NonRecursive ? { NonRecursive: true } : {}),
          ...(how.fromBind ? {} : { CopyData: false }),
        };
      case 'volume': {
        const driver = spec.VolumeOptions?.DriverConfig?.Name || how.driver || LOCAL_DRIVER;
        const anonymous = !spec.Source;
        const volume = this.create({
          ...(spec.Source ? { name: spec.Source } : {}),
          driver,
          ...(spec.VolumeOptions?.Labels ? { labels: spec.VolumeOptions.Labels } : {}),
          ...(spec.VolumeOptions?.DriverConfig?.Options
            ? { options: spec.VolumeOptions.DriverConfig.Options }
            : {}),
          anonymous,
        });
        if (anonymous) made.push(volume.name);
        return {
          Type: 'volume',
          Name: volume.name,
          Source: this.dataPath(volume.name),
          Destination: target,
          Driver: volume.driver,
          // Docker records `z` for local volumes given without a mode.
          Mode: mode === '' ? 'z' : mode,
          RW: rw,
          Propagation: '',
          CopyData: spec.VolumeOptions?.NoCopy !== true,
          ...(anonymous ? { Anonymous: true } : {}),
        };
      }
      case 'tmpfs':
        return {
          Type: 'tmpfs',
          Source: '',
          Destination: target,
          Mode: '',
          RW: rw,
          Propagation: '',
          ...(spec.TmpfsOptions?.SizeBytes ? { TmpfsSize: spec.TmpfsOptions.SizeBytes } : {}),
          ...(spec.TmpfsOptions?.Mode !== undefined ? { TmpfsMode: spec.TmpfsOptions.Mode } : {}),
          TmpfsOptions: [],
        };
    }
  }

  /**
   * Makes a container's mounts ready to start (see the module comment) and returns the OCI
   * mounts, parents before children. `rootfs` is the container's mounted root (the image's
   * content for seeding volumes).
   */
  async prepareMounts(
    points: readonly StoredMountPoint[],
    rootfs: string,
    containerId?: string,
  ): Promise<MountRequest[]> {
    const requests: MountRequest[] = [];
    for (const point of points) {
      switch (point.Type) {
        case 'bind': {
          if (!existsSync(point.Source)) {
            if (point.CopyData === false) {
              throw new InvalidArgumentError(
                `invalid mount config for type "bind": bind source path does not exist: ${point.Source}`,
              );
            }
            // `-v /host:/path` makes a missing host directory, as Docker does.
            await mkdir(point.Source, { recursive: true, mode: 0o755 });
          }
          requests.push({
            type: 'bind',
            source: point.Source,
            destination: point.Destination,
            readonly: !point.RW,
            propagation: (point.Propagation || 'rprivate') as Propagation,
            recursive: point.NonRecursive !== true,
          });
          break;
        }
        case 'volume': {
          const volume = this.store.get(point.Name ?? '');
          if (!volume) throw new NotFoundError(`Cannot mount volume ${point.Name}: no such volume`);
          const data = this.dataPath(volume.name);
          await mkdir(data, { recursive: true, mode: 0o755 });
          await mountLocalVolume(data, volume.options);
          if (point.CopyData !== false) await seedVolume(rootfs, point.Destination, data);
          // Docker's `mount` event, at each start of a container using the volume
          if (containerId !== undefined) {
            this.#event('mount', volume.name, {
              container: containerId,
              destination: point.Destination,
              propagation: point.Propagation,
              'read/write': String(point.RW),
            });
          }
          requests.push({
            type: 'bind',
            source: data,
            destination: point.Destination,
            readonly: !point.RW,
            propagation: 'rprivate',
          });
          break;
        }
        case 'tmpfs': {
          const options = ['nosuid', 'nodev', 'noexec', ...(point.TmpfsOptions ?? [])];
          if (!point.RW && !options.includes('ro')) options.push('ro');
          requests.push({
            type: 'tmpfs',
            destination: point.Destination,
            ...(point.TmpfsSize !== undefined ? { size: point.TmpfsSize } : {}),
            ...(point.TmpfsMode !== undefined ? { mode: point.TmpfsMode } : {}),
            options,
          });
          break;
        }
      }
    }
    return sortMounts(requests);
  }

  /** After a container's run: unmounts the devices of its volumes that no other running container uses. */
  async releaseMounts(containerId: string, points: readonly StoredMountPoint[]): Promise<void> {
    for (const point of points) {
      if (point.Type !== 'volume' || !point.Name) continue;
      const volume = this.store.get(point.Name);
      if (!volume) continue;
      // Docker's `unmount` event, at each end of a run, whether or not a device comes off
      this.#event('unmount', volume.name, { container: containerId });
      if (!hasDevice(volume.options)) continue;
      if (this.store.users(volume.name, { except: containerId, activeOnly: true }).length > 0) continue;
      await unmountLocalVolume(this.dataPath(volume.name));
    }
  }

  /**
   * `rm -v` and `--rm`: removes the container's anonymous volumes that no other container uses.
   * Returns their names. Named volumes stay, as in Docker.
   */
  async removeAnonymousVolumes(containerId: string, points: readonly StoredMountPoint[]): Promise<string[]> {
    const removed: string[] = [];
    for (const point of points) {
      if (point.Type !== 'volume' || !point.Name) continue;
      const volume = this.store.get(point.Name);
      if (!volume?.anonymous) continue;
      if (this.store.users(volume.name, { except: containerId }).length > 0) continue;
      await this.#destroy(volume);
      removed.push(volume.name);
    }
    return removed;
  }

  /** `inspect`'s `Mounts` for stored points (re-exported for the container service). */
  static view(points: readonly StoredMountPoint[]): MountPointView[] {
    return mountPointsView(points);
  }
}

/** Docker's sortMounts: fewer path components first, so a parent is mounted before what goes in it. */
export function sortMounts(mounts: MountRequest[]): MountRequest[] {
  return mounts
    .map((mount, index) => ({ mount, index }))
    .sort((a, b) => depth(a.mount.destination) - depth(b.mount.destination) || a.index - b.index)
    .map(({ mount }) => mount);
}

/** Docker's regexp match of the `name` filter (a plain substring when the pattern is not a regexp). */
function nameMatches(name: string, pattern: string): boolean {
  try {
    return new RegExp(pattern).test(name);
  } catch {
    return name.includes(pattern);
  }
}

/**
 * Copies what the image has at `destination` (inside `rootfs`) into the empty volume directory
 * `data`, keeping owners, modes and extended attributes, and gives the volume's root the owner
 * and mode of the image's directory (Docker's copyExistingContents). Nothing happens when the
 * volume has files or the image has nothing there (nor any of its parents); an image file
 * there is an error.
 */
export async function seedVolume(rootfs: string, destination: string, data: string): Promise<boolean> {
  if (readdirSync(data).length > 0) return false;
  const image = RootedFs.open(rootfs);
  try {
    // Lenient: a destination under directories the image lacks (`-v /var/lib/data` on busybox)
    // has nothing to copy; the runtime makes the mount point, as Docker does.
    const found = image.lookup(destination, { follow: true, lenient: true });
    try {
      if (!found.exists) return false;
      if (!found.stats!.isDirectory()) {
        throw new InvalidArgumentError(`cannot mount volume over existing file, file exists ${destination}`);
      }
      const target = RootedFs.open(data);
      try {
        await extractArchive(target, '/', archiveEntry(image, found, { name: '.' }), { rootMetadata: true });
      } finally {
        target.close();
      }
      return true;
    } finally {
      found.close();
    }
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    throw error;
  } finally {
    image.close();
  }
}
