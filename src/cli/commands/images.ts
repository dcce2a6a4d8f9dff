/**
 * The image verbs with Docker's flags and output: `images` / `image ls`, `image inspect`,
 * `history` / `image history`, `rmi` / `image rm`, `image prune`, and the `image` management
 * command, which also carries `import`, `save`, `load` and `tag` (image-transfer.ts).
 */
import type { Command } from 'commander';
import type { LocalEngine } from '../../engine/local-engine.ts';
import { NotFoundError, WharfError } from '../../errors/index.ts';
import { CliExit } from '../cli-error.ts';
import { confirmPrompt } from '../confirm-prompt.ts';
import type { CliContext } from '../context.ts';
import { withEngine } from '../engine-session.ts';
import { collectFilter, type Filters } from '../filter-option.ts';
import { ListingFormatter, TABLE_FORMAT } from '../format/formatter.ts';
import { HISTORY_HEADER, historyFormat, historyRow } from '../format/history-rows.ts';
import { imageInspectView } from '../format/image-inspect-view.ts';
import { IMAGE_HEADER, imageListFormat, imageRows } from '../format/image-rows.ts';
import { type InspectResult, writeInspect } from '../format/inspect-writer.ts';
import { humanSize } from '../format/units.ts';
import { registerImageDiffSubcommand } from './image-diff.ts';
import { registerImageScanSubcommand } from './image-scan.ts';
import { registerImageSubcommands } from './image-transfer.ts';

/** Subcommands of `image`: a name that matches none of them is probably a mistyped `image` verb. */
const IMAGE_VERBS = [
  'build',
  'history',
  'import',
  'inspect',
  'list',
  'load',
  'ls',
  'prune',
  'pull',
  'push',
  'rm',
  'save',
  'scan',
  'tag',
];

interface ListOptions {
  all?: boolean;
  quiet?: boolean;
  digests?: boolean;
  trunc: boolean;
  format?: string;
  filter?: Filters;
}

function addList(parent: Command, name: string, context: CliContext, aliases: string[] = []): void {
  parent
    .command(name)
    .aliases(aliases)
    .description('List images')
    .argument('[repository]', 'REPOSITORY[:TAG] to list')
    .option('-a, --all', 'Show all images (default hides intermediate images)')
    .option('--digests', 'Show digests')
    .option('-f, --filter <filter>', 'Filter output based on conditions provided', collectFilter)
    .option(
      '--format <format>',
      'Format output using a custom template: table, table TEMPLATE, json, TEMPLATE',
    )
    .option('--no-trunc', "Don't truncate output")
    .option('-q, --quiet', 'Only show image IDs')
    .action(async (repository: string | undefined, options: ListOptions) => {
      const filters: Filters = { ...(options.filter ?? {}) };
      if (repository) filters.reference = [...(filters.reference ?? []), repository];
      const quiet = options.quiet === true;
      const digests = options.digests === true;
      const format = imageListFormat(options.format || TABLE_FORMAT, quiet, digests);
      // Parse the format before touching the store: a bad template fails fast.
      const formatter = new ListingFormatter(format);
      const images = await withEngine(context, (engine) =>
        engine.images.list({ all: options.all === true, filters }),
      );
      const rows = imageRows(images, { trunc: options.trunc, digests, format });
      context.stdout.write(formatter.render(rows, IMAGE_HEADER));
      if (repository && images.length === 0 && name === 'images' && IMAGE_VERBS.includes(repository)) {
        context.stderr.write(
          `\nNo images found matching "${repository}": did you mean "wharf image ${repository}"?\n`,
        );
      }
    });
}

/** Looks up one image for `inspect`: its API JSON and the typed view templates run on first. */
export async function inspectImage(engine: LocalEngine, ref: string): Promise<InspectResult> {
  const raw = await engine.images.inspect(ref);
  return { raw, typed: imageInspectView(raw as unknown as Record<string, unknown>) };
}

function addInspect(parent: Command, context: CliContext): void {
  parent
    .command('inspect')
    .description('Display detailed information on one or more images')
    .argument('<image...>', 'images to inspect')
    .option('-f, --format <format>', "Format output using a custom template: 'json' or a Go template")
    .action(async (refs: string[], options: { format?: string }) => {
      await withEngine(context, (engine) =>
        writeInspect({
          refs,
          format: options.format,
          lookup: (ref) => inspectImage(engine, ref),
          stdout: context.stdout,
        }),
      );
    });
}

/** Docker's `-H=false`: a boolean flag that also takes `=true`/`=false`. */
function parseHuman(value: string | undefined): boolean {
  // `-H=x` reaches here as "=x": the value Docker quotes is what follows the "="
  const given = (value ?? 'true').replace(/^=/, '');
  const text = given.toLowerCase();
  if (['1', 't', 'true'].includes(text)) return true;
  if (['0', 'f', 'false'].includes(text)) return false;
  throw new CliExit(
    125,
    `invalid argument "${given}" for "-H, --human" flag: strconv.ParseBool: parsing "${given}": invalid syntax`,
  );
}

function addHistory(parent: Command, context: CliContext): void {
  parent
    .command('history')
    .description('Show the history of an image')
    .argument('<image>', 'image')
    .option(
      '--format <format>',
      'Format output using a custom template: table, table TEMPLATE, json, TEMPLATE',
    )
    .option('-H, --human [bool]', 'Print sizes and dates in human readable format', parseHuman, true)
    .option('--no-trunc', "Don't truncate output")
    .option('-q, --quiet', 'Only show image IDs')
    .action(
      async (ref: string, options: { format?: string; human: boolean; trunc: boolean; quiet?: boolean }) => {
        const format = historyFormat(options.format || TABLE_FORMAT, options.quiet === true, options.human);
        const formatter = new ListingFormatter(format);
        const items = await withEngine(context, (engine) => engine.images.history(ref));
        const rows = items.map((item) => historyRow(item, { trunc: options.trunc, human: options.human }));
        context.stdout.write(formatter.render(rows, HISTORY_HEADER));
      },
    );
}

function addRemove(parent: Command, name: string, context: CliContext, aliases: string[]): void {
  parent
    .command(name)
    .aliases(aliases)
    .description('Remove one or more images')
    .argument('<image...>', 'images to remove')
    .option('-f, --force', 'Force removal of the image')
    .option('--no-prune', 'Do not delete untagged parents')
    .action(async (refs: string[], options: { force?: boolean; prune: boolean }) => {
      const force = options.force === true;
      const errors: string[] = [];
      let fatal = false;
      await withEngine(context, async (engine) => {
        for (const ref of refs) {
          try {
            const items = await engine.images.remove(ref, { force, noPrune: !options.prune });
            for (const item of items) {
              context.stdout.write(
                'Deleted' in item ? `Deleted: ${item.Deleted}\n` : `Untagged: ${item.Untagged}\n`,
              );
            }
          } catch (error) {
            if (!(error instanceof WharfError)) throw error;
            if (!(error instanceof NotFoundError)) fatal = true;
            errors.push(`Error: ${error.message}`);
          }
        }
      });
      if (errors.length === 0) return;
      // With -f, images that do not exist are reported but are not a failure (Docker's rule).
      if (!force || fatal) throw new CliExit(1, errors.join('\n'));
      context.stderr.write(`${errors.join('\n')}\n`);
    });
}

function addPrune(parent: Command, context: CliContext): void {
  parent
    .command('prune')
    .description('Remove unused images')
    .option('-a, --all', 'Remove all unused images, not just dangling ones')
    .option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collectFilter)
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (options: { all?: boolean; filter?: Filters; force?: boolean }) => {
      const all = options.all === true;
      if (options.force !== true) {
        const warning = all
          ? 'WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?'
          : 'WARNING! This will remove all dangling images.\nAre you sure you want to continue?';
        // Declining is not an error: Docker exits 0 without a word.
        if (!(await confirmPrompt(context, warning))) return;
      }
      const filters: Filters = { ...(options.filter ?? {}), dangling: [String(!all)] };
      const report = await withEngine(context, (engine) => engine.images.prune({ all, filters }));
      const deleted = report.ImagesDeleted ?? [];
      if (deleted.length > 0) {
        let text = 'Deleted Images:\n';
        for (const item of deleted)
          text += 'Deleted' in item ? `deleted: ${item.Deleted}\n` : `untagged: ${item.Untagged}\n`;
        context.stdout.write(`${text}\n`);
      }
      const reclaimed = deleted.length > 0 ? report.SpaceReclaimed : 0;
      context.stdout.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
    });
}

export function register(program: Command, context: CliContext): void {
  addList(program, 'images', context);
  addHistory(program, context);
  addRemove(program, 'rmi', context, []);

  const image = program.command('image').description('Manage images');
  addList(image, 'ls', context, ['list']);
  addInspect(image, context);
  addHistory(image, context);
  addRemove(image, 'rm', context, ['remove', 'rmi']);
  addPrune(image, context);
  registerImageSubcommands(image, context);
  registerImageDiffSubcommand(image, context);
  registerImageScanSubcommand(image, context);
}
