/**
 * `wharf system prune [-a] [--volumes] [--filter K=V] [-f]`: Docker's one-stop clean-up, the
 * prunes of each kind in Docker's order: stopped containers, unused networks, (with `--volumes`)
 * unused anonymous volumes, dangling images (all unused ones with `-a`), and the build cache
 * (dangling, or all with `-a`). Each kind's deletions are listed as its own `prune` lists them,
 * then one `Total reclaimed space` for them all. `--filter` (until=, label=) goes to containers,
 * networks, images and the build cache; volumes are pruned without it, as Docker does.
 *
 * Each kind is one of the services its own verb uses (the container service, the network and
 * volume services, the image store, the build engine); nothing is removed here that `container
 * prune`, `network prune`, `volume prune`, `image prune` and `builder prune` would not remove.
 *
 * @example
 * wharf system prune -af --volumes
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from '../../errors/index.ts';
import { confirmPrompt } from '../confirm-prompt.ts';
import type { CliContext } from '../context.ts';
import { collectFilter, type Filters } from '../filter-option.ts';
import { humanSize } from '../format/units.ts';
import { withContainers } from './container-common.ts';

interface PruneFlags {
  all?: boolean;
  volumes?: boolean;
  force?: boolean;
  filter?: Filters;
}

/** The filters `system prune` accepts (Docker's: `until` and `label`, `label!`). */
const PRUNE_FILTERS = new Set(['until', 'label', 'label!']);

/** Docker's warning, item by item, for what the flags prune. */
function warning(flags: PruneFlags): string {
  const items = [
    'all stopped containers',
    'all networks not used by at least one container',
    ...(flags.volumes ? ['all anonymous volumes not used by at least one container'] : []),
    flags.all ? 'all images without at least one container associated to them' : 'all dangling images',
    flags.all ? 'all build cache' : 'unused build cache',
  ];
  return `WARNING! This will remove:\n${items.map((item) => `  - ${item}\n`).join('')}\nAre you sure you want to continue?`;
}

export function registerSystemPrune(system: Command, context: CliContext): void {
  system
    .command('prune')
    .description('Remove unused data')
    .option('-a, --all', 'Remove all unused images not just dangling ones')
    .option('--filter <filter>', 'Provide filter values (e.g. "label=<key>=<value>")', collectFilter)
    .option('-f, --force', 'Do not prompt for confirmation')
    .option('--volumes', 'Prune anonymous volumes')
    .action(async (flags: PruneFlags) => {
      const filters = flags.filter ?? {};
      for (const key of Object.keys(filters)) {
        if (!PRUNE_FILTERS.has(key)) throw new InvalidArgumentError(`invalid filter '${key}'`);
      }
      // Declining is not an error: Docker exits 0 without a word.
      if (!flags.force && !(await confirmPrompt(context, warning(flags)))) return;
      const out = context.stdout;
      let reclaimed = 0;
      const section = (title: string, lines: readonly string[]) => {
        if (lines.length > 0) out.write(`${title}:\n${lines.join('\n')}\n\n`);
      };
      await withContainers(context, async (containers, engine) => {
        const removed = await containers.prune({ filters });
        section('Deleted Containers', removed.ContainersDeleted);
        reclaimed += removed.SpaceReclaimed;

        const { openNetworkService } = await import('../../engine/network-service.ts');
        const networks = await (await openNetworkService(engine)).prune(filters);
        section('Deleted Networks', networks.NetworksDeleted);

        if (flags.volumes) {
          const { openVolumeService } = await import('../../engine/volume-service.ts');
          const volumes = await openVolumeService(engine).prune({});
          section('Deleted Volumes', volumes.VolumesDeleted ?? []);
          reclaimed += volumes.SpaceReclaimed;
        }

        const all = flags.all === true;
        const images = await engine.images.prune({ all, filters: { ...filters, dangling: [String(!all)] } });
        const deleted = images.ImagesDeleted ?? [];
        section(
          'Deleted Images',
          deleted.map((item) =>
            'Deleted' in item ? `deleted: ${item.Deleted}` : `untagged: ${item.Untagged}`,
          ),
        );
        if (deleted.length > 0) reclaimed += images.SpaceReclaimed;
      });

      const { openBuildEngine } = await import('../../engine/build-service.ts');
      const builds = await openBuildEngine(context.root());
      try {
        const cache = await builds.prune({ all: flags.all === true });
        section(
          'Deleted build cache objects',
          cache.removed.map((key) => key.slice('sha256:'.length, 'sha256:'.length + 25)),
        );
        reclaimed += cache.reclaimed;
      } finally {
        await builds.close();
      }
      out.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
    });
}
