/**
 * The volume verbs with Docker's flags and output: `volume create`, `ls`, `inspect`, `rm`,
 * `prune`.
 */
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import type { VolumeService } from '../../engine/volume-service.ts';
import { InvalidArgumentError, WharfError } from '../../errors/index.ts';
import { CliExit } from '../cli-error.ts';
import type { CliContext } from '../context.ts';
import { withEngine } from '../engine-session.ts';
import { collectFilter, type Filters } from '../filter-option.ts';
import { ListingFormatter, TABLE_FORMAT } from '../format/formatter.ts';
import { writeInspect } from '../format/inspect-writer.ts';
import { humanSize } from '../format/units.ts';
import { VOLUME_HEADER, volumeRow } from '../format/volume-rows.ts';

const DEFAULT_VOLUME_TABLE = 'table {{.Driver}}\t{{.Name}}';
const QUIET_FORMAT = '{{.Name}}';

async function withVolumes<T>(context: CliContext, fn: (volumes: VolumeService) => Promise<T>): Promise<T> {
  return withEngine(context, async (engine) => {
    const { openVolumeService } = await import('../../engine/volume-service.ts');
    return fn(openVolumeService(engine));
  });
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `KEY=VALUE` list to a map (`--label`, `--opt`). */
function keyValues(entries: readonly string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq === 0) throw new InvalidArgumentError(`invalid argument "${entry}" for "${flag}" flag: empty key`);
    if (eq < 0) out[entry] = '';
    else out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}

async function confirm(context: CliContext, message: string): Promise<boolean> {
  context.stdout.write(`${message} [y/N] `);
  const lines = createInterface({ input: process.stdin, terminal: false });
  try {
    for await (const line of lines) return /^y(es)?$/i.test(line.trim());
    return false;
  } finally {
    lines.close();
  }
}

function addCreate(group: Command, context: CliContext): void {
  group
    .command('create')
    .description('Create a volume')
    .argument('[volume]', 'VOLUME name (default: a random one)')
    .option('-d, --driver <string>', 'Specify volume driver name', 'local')
    .option('--label <list>', 'Set metadata for a volume', collect)
    .option('-o, --opt <map>', 'Set driver specific options', collect)
    .option('--name <string>', 'Specify volume name')
    .action(
      async (
        name: string | undefined,
        flags: { driver: string; label?: string[]; opt?: string[]; name?: string },
      ) => {
        if (name && flags.name && name !== flags.name) {
          throw new CliExit(
            1,
            `conflicting options: either specify --name or provide positional arg, not both`,
          );
        }
        const volume = await withVolumes(context, (volumes) =>
          volumes.create({
            Name: name ?? flags.name ?? '',
            Driver: flags.driver,
            DriverOpts: keyValues(flags.opt ?? [], '--opt'),
            Labels: keyValues(flags.label ?? [], '--label'),
          }),
        );
        context.stdout.write(`${volume.Name}\n`);
      },
    );
}

function addList(group: Command, context: CliContext): void {
  group
    .command('ls')
    .alias('list')
    .description('List volumes')
    .option('-f, --filter <filter>', "Provide filter values (e.g. 'dangling=true')", collectFilter)
    .option(
      '--format <format>',
      'Format output using a custom template: table, table TEMPLATE, json, TEMPLATE',
    )
    .option('-q, --quiet', 'Only display volume names')
    .action(async (flags: { filter?: Filters; format?: string; quiet?: boolean }) => {
      let format = flags.format || TABLE_FORMAT;
      if (flags.quiet && !flags.format) format = QUIET_FORMAT;
      if (format === TABLE_FORMAT) format = DEFAULT_VOLUME_TABLE;
      const formatter = new ListingFormatter(format);
      const { Volumes } = await withVolumes(context, (volumes) => volumes.list(flags.filter ?? {}));
      context.stdout.write(formatter.render(Volumes.map(volumeRow), VOLUME_HEADER));
    });
}

function addInspect(group: Command, context: CliContext): void {
  group
    .command('inspect')
    .description('Display detailed information on one or more volumes')
    .argument('<volume...>', 'VOLUME')
    .option('-f, --format <format>', "Format output using a custom template: 'json' or a Go template")
    .action(async (names: string[], flags: { format?: string }) => {
      await withVolumes(context, (volumes) =>
        writeInspect({
          refs: names,
          format: flags.format,
          stdout: context.stdout,
          lookup: async (name) => ({ raw: await volumes.inspect(name) }),
        }),
      );
    });
}

function addRemove(group: Command, context: CliContext): void {
  group
    .command('rm')
    .alias('remove')
    .description('Remove one or more volumes. You cannot remove a volume that is in use by a container.')
    .argument('<volume...>', 'VOLUME')
    .option('-f, --force', 'Force the removal of one or more volumes')
    .action(async (names: string[], flags: { force?: boolean }) => {
      const errors: string[] = [];
      await withVolumes(context, async (volumes) => {
        for (const name of names) {
          try {
            await volumes.remove(name, { force: flags.force === true });
            context.stdout.write(`${name}\n`);
          } catch (error) {
            if (!(error instanceof WharfError)) throw error;
            errors.push(`Error response from daemon: ${error.message}`);
          }
        }
      });
      if (errors.length > 0) throw new CliExit(1, errors.join('\n'));
    });
}

function addPrune(group: Command, context: CliContext): void {
  group
    .command('prune')
    .description('Remove unused local volumes')
    .option('-a, --all', 'Remove all unused volumes, not just anonymous ones')
    .option('--filter <filter>', "Provide filter values (e.g. 'label=<label>')", collectFilter)
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (flags: { all?: boolean; filter?: Filters; force?: boolean }) => {
      const filters: Filters = { ...(flags.filter ?? {}) };
      if (flags.all) filters.all = ['true'];
      if (!flags.force) {
        const what = flags.all ? 'all local volumes' : 'anonymous local volumes';
        const warning = `WARNING! This will remove ${what} not used by at least one container.\nAre you sure you want to continue?`;
        if (!(await confirm(context, warning))) return;
      }
      const report = await withVolumes(context, (volumes) => volumes.prune(filters));
      if (report.VolumesDeleted && report.VolumesDeleted.length > 0) {
        context.stdout.write(`Deleted Volumes:\n${report.VolumesDeleted.join('\n')}\n\n`);
      }
      context.stdout.write(`Total reclaimed space: ${humanSize(report.SpaceReclaimed)}\n`);
    });
}

export function register(program: Command, context: CliContext): void {
  const group = program.command('volume').description('Manage volumes');
  addCreate(group, context);
  addList(group, context);
  addInspect(group, context);
  addRemove(group, context);
  addPrune(group, context);
}
