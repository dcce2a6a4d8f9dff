/**
 * `wharf search [--limit N] [--no-trunc] [--format F] [REGISTRY/]TERM`: the repositories of a
 * registry's catalog (`/v2/_catalog`) whose names contain TERM, in Docker's table (NAME,
 * DESCRIPTION, STARS, OFFICIAL; a catalog has no descriptions or stars).
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from '../../errors/index.ts';
import type { CliContext } from '../context.ts';
import { alignColumns } from '../format/tab-writer.ts';
import { withTransfer } from './pull.ts';

interface SearchFlags {
  limit?: string;
  format?: string;
}

export function register(program: Command, context: CliContext): void {
  program
    .command('search')
    .description("Search a registry's catalog for images")
    .argument('<term>', '[REGISTRY/]TERM, e.g. localhost:5000/app')
    .option('--limit <n>', 'Max number of search results', '25')
    .option('--no-trunc', "Don't truncate output")
    .option('--format <format>', 'Pretty-print search using a Go template')
    .action(async (term: string, flags: SearchFlags) => {
      const limit = Number(flags.limit ?? '25');
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
        throw new InvalidArgumentError(
          `Cannot search: limit ${flags.limit} is outside the range of [1, 100]`,
        );
      }
      const results = await withTransfer(context, (transfer) => transfer.search(term, { limit }), {
        unpack: false,
      });
      if (flags.format) {
        const { parseFormat } = await import('../format/formatter.ts');
        const template = parseFormat(flags.format);
        for (const result of results) {
          const row = {
            Name: result.name,
            Description: result.description,
            StarCount: result.starCount,
            IsOfficial: result.isOfficial,
          };
          context.stdout.write(`${template.execute(row)}\n`);
        }
        return;
      }
      const lines = ['NAME\tDESCRIPTION\tSTARS\tOFFICIAL'];
      for (const result of results) {
        lines.push(
          `${result.name}\t${result.description}\t${result.starCount}\t${result.isOfficial ? '[OK]' : ''}`,
        );
      }
      context.stdout.write(alignColumns(`${lines.join('\n')}\n`));
    });
}
