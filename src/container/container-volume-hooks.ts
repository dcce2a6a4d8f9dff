/**
 * Volumes and mounts (src/container/volume) plugged into the container service as a
 * ContainerHooks, at the four points docs/container-filesystems.md lists:
 *
 *   create   definition.MountPoints = volumes.resolveMounts({ config, hostConfig })
 *            (`--volumes-from`, `-v`, `--mount`, `--tmpfs`, the image's VOLUMEs; makes named
 *            and anonymous volumes; the config is the image-merged one)
 *   start    volumes.prepareMounts(points, rootfs) -> the spec's mounts
 *   exit     volumes.releaseMounts(id, points)     (also after a failed start)
 *   rm       volumes.removeAnonymousVolumes(id, points)   with `rm -v`, `--rm`, a failed create
 *
 * A container that mounts nothing (no -v, --mount, --tmpfs, --volumes-from, no image VOLUME)
 * never loads the volume code.
 *
 * @example
 * const service = new ContainerService({ ..., hooks: [new VolumeHooks(db, root)] });
 */
import type { MetadataDatabase } from '../metadata/database.ts';
import type { ContainerHooks, StartContribution } from './container-context.ts';
import type { ContainerDefinition, ContainerRecord } from './container-records.ts';
import { mountPointsOf } from './volume/mount-points.ts';
import type { VolumeManager } from './volume/volume-manager.ts';

function isEmpty(value: object | null | undefined): boolean {
  return !value || Object.keys(value).length === 0;
}

/** Whether a definition asks for any mount (so the resolver has something to do). */
function asksForMounts(definition: ContainerDefinition): boolean {
  const { Config: config, HostConfig: hostConfig } = definition;
  return !(
    isEmpty(config.Volumes) &&
    isEmpty(hostConfig.Binds) &&
    isEmpty(hostConfig.Mounts) &&
    isEmpty(hostConfig.Tmpfs) &&
    isEmpty(hostConfig.VolumesFrom)
  );
}

export class VolumeHooks implements ContainerHooks {
  readonly #db: MetadataDatabase;
  readonly #root: string;
  #volumes: Promise<VolumeManager> | undefined;

  constructor(db: MetadataDatabase, root: string) {
    this.#db = db;
    this.#root = root;
  }

  #open(): Promise<VolumeManager> {
    if (!this.#volumes) {
      const opening = import('./volume/volume-manager.ts').then(
        ({ VolumeManager }) => new VolumeManager(this.#db, this.#root),
      );
      this.#volumes = opening;
      opening.catch(() => {
        if (this.#volumes === opening) this.#volumes = undefined;
      });
    }
    return this.#volumes;
  }

  async create(definition: ContainerDefinition): Promise<void> {
    if (!asksForMounts(definition)) {
      definition.MountPoints = [];
      return;
    }
    const volumes = await this.#open();
    definition.MountPoints = volumes.resolveMounts({
      config: definition.Config,
      hostConfig: definition.HostConfig,
    });
  }

  async start(record: ContainerRecord, rootfs: string): Promise<StartContribution | undefined> {
    const points = mountPointsOf(record.definition);
    if (points.length === 0) return undefined;
    const volumes = await this.#open();
    return { mounts: await volumes.prepareMounts(points, rootfs, record.id) };
  }

  async exit(record: ContainerRecord): Promise<void> {
    const points = mountPointsOf(record.definition);
    if (!points.some((point) => point.Type === 'volume')) return;
    await (await this.#open()).releaseMounts(record.id, points);
  }

  async remove(record: ContainerRecord, options: { volumes: boolean }): Promise<void> {
    const points = mountPointsOf(record.definition);
    if (!options.volumes || !points.some((point) => point.Type === 'volume' && point.Anonymous)) return;
    await (await this.#open()).removeAnonymousVolumes(record.id, points);
  }
}
