/**
 * `system df`, as Docker's `formatter/disk_usage.go` renders it: a summary of four rows (`TYPE
 * TOTAL ACTIVE SIZE RECLAIMABLE` for Images, Containers, Local Volumes, Build Cache), or with
 * `-v` one table per kind (`Images space usage:` ...), or a user template over the summary
 * rows (or, with `-v`, over `{Images, Containers, Volumes, BuildCache}`).
 *
 * The caller gathers the four kinds (system.ts for `wharf system df`); `-v` prints each kind's
 * own rows (`ps`'s, `volume ls`'s and `buildCacheRow`).
 */

import { familiarName, parseNormalizedReference } from '../../oci/reference.ts';
import {
  executeFormat,
  isTableFormat,
  JSON_FORMAT,
  ListingFormatter,
  listingRow,
  parseFormat,
  TABLE_FORMAT,
  templateText,
} from './formatter.ts';
import { IMAGE_HEADER, type ImageSummaryLike, imageRow, isDangling } from './image-rows.ts';
import { humanSize, timeAgo, truncateId } from './units.ts';

/** What `system df` reports on; the row lists of `-v` are made by each kind's own formatter. */
export interface DiskUsageData {
  /** Bytes of all image layers, each counted once. */
  layersSize: number;
  /** Images with `SharedSize` and `Containers` filled in. */
  images: readonly ImageSummaryLike[];
  containers: readonly { SizeRw: number; State: string }[];
  volumes: readonly { UsageData: { Size: number; RefCount: number } }[];
  buildCache: readonly { Size: number; InUse: boolean; Shared: boolean }[];
  /** Rows for `-v` of the kinds other than images (each kind's listing rows). */
  verboseRows?: {
    containers?: readonly object[];
    volumes?: readonly object[];
    buildCache?: readonly object[];
  };
}

export interface DiskUsageRow {
  Type: string;
  TotalCount: string;
  Active: string;
  Size: string;
  Reclaimable: string;
}

export const DEFAULT_DISK_USAGE_TABLE =
  'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}';
const IMAGES_TABLE =
  'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}';
const CONTAINERS_TABLE =
  'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}';
const VOLUMES_TABLE = 'table {{.Name}}\t{{.Links}}\t{{.Size}}';
const BUILD_CACHE_TABLE =
  'table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}';

export const DISK_USAGE_HEADER = {
  Type: 'TYPE',
  TotalCount: 'TOTAL',
  Active: 'ACTIVE',
  Size: 'SIZE',
  Reclaimable: 'RECLAIMABLE',
};
const CONTAINER_HEADER = {
  ID: 'CONTAINER ID',
  Names: 'NAMES',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  LocalVolumes: 'LOCAL VOLUMES',
  Networks: 'NETWORKS',
  Platform: 'PLATFORM',
};
const VOLUME_HEADER = {
  ID: 'ID',
  Name: 'VOLUME NAME',
  Group: 'GROUP',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  Availability: 'AVAILABILITY',
  Mountpoint: 'MOUNTPOINT',
  Labels: 'LABELS',
  Links: 'LINKS',
  Size: 'SIZE',
  Status: 'STATUS',
};
const BUILD_CACHE_HEADER = {
  ID: 'CACHE ID',
  Parent: 'PARENT',
  CacheType: 'CACHE TYPE',
  Size: 'SIZE',
  CreatedSince: 'CREATED',
  LastUsedSince: 'LAST USED',
  UsageCount: 'USAGE',
  InUse: 'IN USE',
  Shared: 'SHARED',
  Description: 'DESCRIPTION',
};

const RAW_SUMMARY =
  'type: {{.Type}}\ntotal: {{.TotalCount}}\nactive: {{.Active}}\nsize: {{.Size}}\nreclaimable: {{.Reclaimable}}\n';

/** Docker's `NewDiskUsageFormat` (the verbose raw format is not supported). */
export function diskUsageFormat(source: string, verbose: boolean): string {
  if (!verbose && source === TABLE_FORMAT) return DEFAULT_DISK_USAGE_TABLE;
  if (!verbose && source === 'raw') return RAW_SUMMARY;
  return source;
}

/** "11.63MB (70%)", or just the size when the total is zero. */
function reclaimable(bytes: number, total: number): string {
  return total > 0 ? `${humanSize(bytes)} (${Math.trunc((bytes * 100) / total)}%)` : humanSize(bytes);
}

function summaryRow(fields: DiskUsageRow): DiskUsageRow {
  return listingRow('*formatter.diskUsageContext', fields);
}

/** The four summary rows. */
export function diskUsageRows(data: DiskUsageData): DiskUsageRow[] {
  let usedByContainers = 0;
  for (const image of data.images) {
    if (image.Containers !== 0 && image.Size !== -1 && image.SharedSize !== -1) {
      usedByContainers += image.Size - image.SharedSize;
    }
  }
  const active = (state: string) => state === 'running' || state === 'paused' || state === 'restarting';
  const containersSize = data.containers.reduce((sum, c) => sum + c.SizeRw, 0);
  const containersReclaimable = data.containers.reduce((sum, c) => sum + (active(c.State) ? 0 : c.SizeRw), 0);
  const volumes = data.volumes.filter((v) => v.UsageData.Size !== -1);
  const volumesSize = volumes.reduce((sum, v) => sum + v.UsageData.Size, 0);
  const volumesReclaimable = volumes.reduce(
    (sum, v) => sum + (v.UsageData.RefCount === 0 ? v.UsageData.Size : 0),
    0,
  );
  const builderSize = data.buildCache.reduce((sum, c) => sum + (c.Shared ? 0 : c.Size), 0);
  const builderInUse = data.buildCache.reduce((sum, c) => sum + (c.InUse && !c.Shared ? c.Size : 0), 0);
  return [
    summaryRow({
      Type: 'Images',
      TotalCount: String(data.images.length),
      Active: String(data.images.filter((i) => i.Containers > 0).length),
      Size: humanSize(data.layersSize),
      Reclaimable: reclaimable(data.layersSize - usedByContainers, data.layersSize),
    }),
    summaryRow({
      Type: 'Containers',
      TotalCount: String(data.containers.length),
      Active: String(data.containers.filter((c) => active(c.State)).length),
      Size: humanSize(containersSize),
      Reclaimable: reclaimable(containersReclaimable, containersSize),
    }),
    summaryRow({
      Type: 'Local Volumes',
      TotalCount: String(data.volumes.length),
      Active: String(data.volumes.filter((v) => v.UsageData.RefCount > 0).length),
      Size: humanSize(volumesSize),
      Reclaimable: reclaimable(volumesReclaimable, volumesSize),
    }),
    summaryRow({
      Type: 'Build Cache',
      TotalCount: String(data.buildCache.length),
      Active: String(data.buildCache.filter((c) => c.InUse).length),
      Size: humanSize(builderSize),
      Reclaimable: humanSize(builderSize - builderInUse),
    }),
  ];
}

/** A build cache record as `system df` takes it (Docker's `BuildCache`). */
export interface BuildCacheSummary {
  ID: string;
  Parent?: string;
  Type: string;
  Description: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt?: string;
  UsageCount: number;
}

/** docker/cli's `buildCacheContext`: `-v`'s build cache row (an ID in use is marked `*`). */
export function buildCacheRow(cache: BuildCacheSummary, options: { trunc: boolean; now?: Date }) {
  const id = options.trunc ? truncateId(cache.ID) : cache.ID;
  return listingRow('*formatter.buildCacheContext', {
    ID: cache.InUse ? `${id}*` : id,
    Parent: cache.Parent ?? '',
    CacheType: cache.Type,
    Description: cache.Description,
    Size: humanSize(cache.Size, 3),
    CreatedSince: timeAgo(new Date(cache.CreatedAt), options.now),
    LastUsedSince: cache.LastUsedAt ? timeAgo(new Date(cache.LastUsedAt), options.now) : '',
    UsageCount: String(cache.UsageCount),
    InUse: String(cache.InUse),
    Shared: String(cache.Shared),
  });
}

/** `-v`'s image rows: one per image, named by its first tag. */
function verboseImageRows(data: DiskUsageData, trunc: boolean, now: Date | undefined): object[] {
  return data.images.map((image) => {
    let repository = '<none>';
    let tag = '<none>';
    const first = image.RepoTags?.[0];
    if (first !== undefined && !isDangling(image)) {
      try {
        const ref = parseNormalizedReference(first);
        if (ref.tag !== undefined) {
          repository = familiarName(ref);
          tag = ref.tag;
        }
      } catch {
        // Docker skips names it cannot parse
      }
    }
    return imageRow(image, repository, tag, '', { trunc, ...(now ? { now } : {}) });
  });
}

/**
 * Renders `system df` with the given (already defaulted) format.
 *
 * @example
 * renderDiskUsage(data, diskUsageFormat('table', false), false);
 */
export function renderDiskUsage(data: DiskUsageData, format: string, verbose: boolean, now?: Date): string {
  if (!verbose) return new ListingFormatter(format).render(diskUsageRows(data), DISK_USAGE_HEADER);
  if (format === TABLE_FORMAT) {
    const section = (title: string, table: string, rows: readonly object[], header: object): string =>
      `${title}\n\n${new ListingFormatter(table).render(rows, header)}`;
    const cacheSize = humanSize(data.buildCache.reduce((sum, c) => sum + (c.Shared ? 0 : c.Size), 0));
    return (
      section('Images space usage:', IMAGES_TABLE, verboseImageRows(data, true, now), IMAGE_HEADER) +
      section(
        '\nContainers space usage:',
        CONTAINERS_TABLE,
        data.verboseRows?.containers ?? [],
        CONTAINER_HEADER,
      ) +
      section('\nLocal Volumes space usage:', VOLUMES_TABLE, data.verboseRows?.volumes ?? [], VOLUME_HEADER) +
      section(
        `\nBuild cache usage: ${cacheSize}`,
        BUILD_CACHE_TABLE,
        data.verboseRows?.buildCache ?? [],
        BUILD_CACHE_HEADER,
      )
    );
  }
  // A template over everything; Docker writes its output with no newline of its own.
  const trunc = isTableFormat(format) && format !== JSON_FORMAT;
  const template = parseFormat(templateText(format));
  return executeFormat(template, {
    Images: verboseImageRows(data, trunc, now),
    Containers: data.verboseRows?.containers ?? [],
    Volumes: data.verboseRows?.volumes ?? [],
    BuildCache: data.verboseRows?.buildCache ?? [],
  });
}
