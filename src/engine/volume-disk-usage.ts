/**
 * The volumes of `system df` (`wharf system df`, and `/system/df` for `docker system df`): every
 * volume in Docker's `Volume` shape with `UsageData` (how many containers mount it, the bytes of
 * its files). Sizes are walked, so this costs a walk of every volume, as dockerd's does.
 *
 * @example
 * const volumes = await volumeDiskUsage(openVolumeService(engine));
 * volumes[0].UsageData; // { RefCount: 1, Size: 4096 }
 */
import type { VolumeView } from '../container/volume/volume-manager.ts';
import type { VolumeService } from './volume-service.ts';

export async function volumeDiskUsage(volumes: VolumeService): Promise<VolumeView[]> {
  const manager = volumes.manager;
  const counts = manager.store.usageCounts();
  const out: VolumeView[] = [];
  for (const volume of manager.list()) {
    const size = await manager.size(volume.name).catch(() => -1);
    out.push(manager.view(volume, { refCount: counts.get(volume.name) ?? 0, size }));
  }
  return out;
}
