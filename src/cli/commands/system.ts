/**
 * `wharf system`: `df` (Docker's disk usage summary of images, containers, local volumes and the
 * build cache, or with `-v` one table per kind), `info`, `prune` (system-prune.ts) and `service`.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { containerRow } from '../format/container-rows.ts';
import { buildCacheRow, diskUsageFormat, renderDiskUsage } from '../format/disk-usage.ts';
import { parseFormat, TABLE_FORMAT, templateText } from '../format/formatter.ts';
import { volumeRow } from '../format/volume-rows.ts';
import { withContainers } from './container-common.ts';
import { registerSystemInfo } from './info.ts';
import { registerSystemPrune } from './system-prune.ts';
import { registerSystemService } from './system-service.ts';

export function register(program: Command, context: CliContext): void {
  const system = program.command('system').description('Manage Wharf');
  system
    .command('df')
    .description('Show Wharf disk usage')
    .option(
      '--format <format>',
      'Format output using a custom template: table, table TEMPLATE, json, TEMPLATE',
    )
    .option('-v, --verbose', 'Show detailed information on space usage')
    .action(async (options: { format?: string; verbose?: boolean }) => {
      const verbose = options.verbose === true;
      const format = diskUsageFormat(options.format || TABLE_FORMAT, verbose);
      // A bad template fails before the (slow) walk over every image.
      if (format !== TABLE_FORMAT) parseFormat(templateText(format));
      const now = new Date();
      const data = await withContainers(context, async (containers, engine) => {
        const { openVolumeService } = await import('../../engine/volume-service.ts');
        const { volumeDiskUsage } = await import('../../engine/volume-disk-usage.ts');
        const { buildCacheDiskUsage } = await import('../../engine/build-service.ts');
        const usage = await engine.images.df();
        const listed = await containers.list({ all: true, size: true });
        const volumes = await volumeDiskUsage(openVolumeService(engine));
        const buildCache = buildCacheDiskUsage(engine);
        return {
          layersSize: usage.LayersSize,
          images: usage.Images,
          containers: listed.map((c) => ({ State: c.State, SizeRw: c.SizeRw ?? 0 })),
          volumes: volumes.map((v) => ({ UsageData: v.UsageData ?? { Size: -1, RefCount: 0 } })),
          buildCache,
          verboseRows: {
            // as docker's: the writable layer alone, no "(virtual ...)"
            containers: listed.map((c) => containerRow({ ...c, SizeRootFs: 0 }, { trunc: true, now })),
            volumes: volumes.map(volumeRow),
            buildCache: buildCache.map((c) => buildCacheRow(c, { trunc: true, now })),
          },
        };
      });
      context.stdout.write(renderDiskUsage(data, format, verbose, now));
    });
  registerSystemInfo(system, context);
  registerSystemPrune(system, context);
  registerSystemService(system, context);
}
