/**
 * The volumes part of the engine: Docker's volume resources (`volume create`, `ls`, `inspect`,
 * `rm`, `prune`) over the volume manager of the engine's root (src/container/volume). Shapes are
 * the Engine API's (`Volume`, `VolumeListResponse`, `VolumesPruneReport`), so the CLI and the
 * `/volumes` routes only serialize them; the service fits the Engine API's VolumeBackend.
 *
 * @example
 * const volumes = openVolumeService(engine);
 * const { Volumes } = await volumes.list({ dangling: ['true'] });
 */
import type { VolumeView } from '../container/volume/volume-manager.ts';
import { VolumeManager } from '../container/volume/volume-manager.ts';
import { InvalidArgumentError } from '../errors/index.ts';
import type { LocalEngine } from './local-engine.ts';

export type VolumeFilters = Record<string, string[]>;

function stringMap(value: unknown, field: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError(`Cannot create volume: ${field} must be an object of strings`);
  }
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string')
      throw new InvalidArgumentError(`Cannot create volume: ${field}.${key} must be a string`);
    out[key] = item;
  }
  return out;
}

export class VolumeService {
  readonly manager: VolumeManager;

  constructor(manager: VolumeManager) {
    this.manager = manager;
  }

  /** `GET /volumes`: Docker's filters dangling, driver, label, name. */
  async list(filters: VolumeFilters = {}): Promise<{ Volumes: VolumeView[]; Warnings: string[] | null }> {
    return { Volumes: this.manager.list(filters).map((volume) => this.manager.view(volume)), Warnings: null };
  }

  /** `POST /volumes/create` with Docker's body (`Name`, `Driver`, `DriverOpts`, `Labels`). */
  async create(body: Record<string, unknown> = {}): Promise<VolumeView> {
    const name = body.Name ?? '';
    const driver = body.Driver ?? '';
    if (typeof name !== 'string')
      throw new InvalidArgumentError('Cannot create volume: Name must be a string');
    if (typeof driver !== 'string')
      throw new InvalidArgumentError('Cannot create volume: Driver must be a string');
    const volume = this.manager.create({
      ...(name ? { name } : {}),
      ...(driver ? { driver } : {}),
      options: stringMap(body.DriverOpts, 'DriverOpts'),
      labels: stringMap(body.Labels, 'Labels'),
    });
    return this.manager.view(volume);
  }

  /** `GET /volumes/NAME`. */
  async inspect(name: string): Promise<VolumeView> {
    return this.manager.view(this.manager.get(name));
  }

  /** `DELETE /volumes/NAME[?force=1]`. */
  async remove(name: string, options: { force?: boolean } = {}): Promise<void> {
    await this.manager.remove(name, options);
  }

  /** `POST /volumes/prune`: anonymous unused volumes; every unused one with `all=true`. */
  async prune(
    filters: VolumeFilters = {},
  ): Promise<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }> {
    const { removed, reclaimed } = await this.manager.prune({ filters });
    return { VolumesDeleted: removed.length > 0 ? removed : null, SpaceReclaimed: reclaimed };
  }
}

export function openVolumeService(engine: LocalEngine): VolumeService {
  return new VolumeService(new VolumeManager(engine.db, engine.root));
}
