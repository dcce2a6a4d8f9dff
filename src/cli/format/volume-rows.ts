/**
 * Docker's volume listing row (`*formatter.volumeContext`): `volume ls` and the volumes of
 * `system df -v` print the same fields.
 *
 * @example
 * new ListingFormatter('table {{.Name}}\t{{.Links}}').render(volumes.map(volumeRow), VOLUME_HEADER);
 */
import type { VolumeView } from '../../container/volume/volume-manager.ts';
import { listingRow } from './formatter.ts';
import { labelsColumn } from './labels-column.ts';
import { humanSize } from './units.ts';

export const VOLUME_HEADER = {
  Name: 'VOLUME NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  Mountpoint: 'MOUNTPOINT',
  Labels: 'LABELS',
  Links: 'LINKS',
  Size: 'SIZE',
  Group: 'GROUP',
  Availability: 'AVAILABILITY',
  Status: 'STATUS',
};

/** One volume's row; `Links` and `Size` are `N/A` without usage data (as `volume ls` has none). */
export function volumeRow(volume: VolumeView) {
  const labels = volume.Labels ?? {};
  return listingRow('*formatter.volumeContext', {
    Name: volume.Name,
    Driver: volume.Driver,
    Scope: volume.Scope,
    Mountpoint: volume.Mountpoint,
    Labels: labelsColumn(labels),
    Links: volume.UsageData ? String(volume.UsageData.RefCount) : 'N/A',
    Size: volume.UsageData ? humanSize(volume.UsageData.Size) : 'N/A',
    // Docker prints N/A for these cluster-volume fields when the volume is not a cluster volume
    Group: 'N/A',
    Availability: 'N/A',
    Status: 'N/A',
    Label: (name: string) => labels[name] ?? '',
  });
}
