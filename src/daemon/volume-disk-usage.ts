/**
 * The volumes of `/system/df` (`docker system df`): every volume in Docker's `Volume` shape with
 * `UsageData` (how many containers mount it, the bytes of its files). Sizes are walked, so this
 * costs a walk of every volume, as dockerd's does.
 *
 * @example
 * const volumes = await volumeDiskUsage(openVolumeService(engine));
 * volumes[0].UsageData; // { RefCount: 1, Size: 4096 }
 */
import type { VolumeService } from '../engine/volume-service.ts';
import type { JsonObject } from '../engine-api/routes/json-types.ts';

export async function volumeDiskUsage(volumes: VolumeService): Promise<JsonObject[]> {
  const manager = volumes.manager;
  const counts = manager.store.usageCounts();
  const out: JsonObject[] = [];
  for (const volume of manager.list()) {
    const size = await manager.size(volume.name).catch(() => -1);
    out.push(manager.view(volume, { refCount: counts.get(volume.name) ?? 0, size }));
  }
  return out;
}
