/**
 * `wharf builder`: `build` (same as `wharf build`), `prune [-a] [-f]` and `du`, with the docker
 * CLI's output: prune lists the cache records it removed and the space reclaimed.
 */
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { humanSize } from '../format/units.ts';
import { addBuild } from './build.ts';

async function confirm(context: CliContext, question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: context.stdout });
  try {
    const answer = await rl.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export function register(program: Command, context: CliContext): void {
  const builder = program.command('builder').description('Manage builds');
  addBuild(builder, context);
  builder
    .command('prune')
    .description('Remove build cache')
    .option('-a, --all', 'remove all unused build cache, not just dangling ones')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(async (options: { all?: boolean; force?: boolean }) => {
      if (!options.force) {
        const what = options.all ? 'all build cache' : 'all dangling build cache';
        const ok = await confirm(
          context,
          `WARNING! This will remove ${what}.\nAre you sure you want to continue? [y/N] `,
        );
        if (!ok) return;
      }
      {
        const { openBuildEngine } = await import('../../engine/build-service.ts');
        const service = await openBuildEngine(context.root());
        try {
          const result = await service.prune({ all: options.all === true });
          if (result.removed.length > 0) {
            context.stdout.write('Deleted build cache objects:\n');
            for (const key of result.removed)
              context.stdout.write(`${key.slice('sha256:'.length, 'sha256:'.length + 25)}\n`);
            context.stdout.write('\n');
          }
          context.stdout.write(`Total reclaimed space: ${humanSize(result.reclaimed)}\n`);
        } finally {
          await service.close();
        }
      }
    });
  builder
    .command('du')
    .description('Show build cache disk usage')
    .action(async () => {
      const { openBuildEngine } = await import('../../engine/build-service.ts');
      const service = await openBuildEngine(context.root());
      try {
        const rows = service.diskUsage();
        context.stdout.write(
          `${'ID'.padEnd(28)}${'RECLAIMABLE'.padEnd(14)}${'SIZE'.padEnd(12)}LAST ACCESSED\n`,
        );
        let total = 0;
        for (const row of rows) {
          total += row.Size;
          context.stdout.write(
            `${row.ID.padEnd(28)}${String(!row.InUse).padEnd(14)}${humanSize(row.Size).padEnd(12)}${row.LastUsedAt}\n`,
          );
        }
        context.stdout.write(`Total:\t${humanSize(total)}\n`);
      } finally {
        await service.close();
      }
    });
}
