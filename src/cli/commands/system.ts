/**
 * `wharf system`: for now `system df` (Docker's disk usage summary and `-v` tables). Containers,
 * volumes and the build cache show as empty until their services exist; their owners fill the
 * corresponding lists of DiskUsageData.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { withEngine } from '../engine-session.ts';
import { diskUsageFormat, renderDiskUsage } from '../format/disk-usage.ts';
import { parseFormat, TABLE_FORMAT, templateText } from '../format/formatter.ts';
import { registerSystemInfo } from './info.ts';
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
      const usage = await withEngine(context, (engine) => engine.images.df());
      context.stdout.write(
        renderDiskUsage(
          { layersSize: usage.LayersSize, images: usage.Images, containers: [], volumes: [], buildCache: [] },
          format,
          verbose,
        ),
      );
    });
  registerSystemInfo(system, context);
  registerSystemService(system, context);
}
