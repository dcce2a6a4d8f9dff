/**
 * `wharf inspect [--type TYPE] NAME|ID...`: low-level information on any object, as Docker's
 * `docker inspect`. Each name is tried against the kinds of object in {@link INSPECT_TARGETS}
 * order (Docker's: containers before images); `--type` keeps one kind. A kind is one entry in
 * that list, so containers, volumes and networks join by adding theirs.
 */
import type { Command } from 'commander';
import type { LocalEngine } from '../../engine/local-engine.ts';
import { NotFoundError } from '../../errors/index.ts';
import { CliExit } from '../cli-error.ts';
import type { CliContext } from '../context.ts';
import { withEngine } from '../engine-session.ts';
import { type InspectResult, writeInspect } from '../format/inspect-writer.ts';
import { inspectContainer } from './container-common.ts';
import { inspectImage } from './images.ts';

/** One kind of object `inspect` can find. */
export interface InspectTarget {
  /** The `--type` value: container, image, network, volume... */
  type: string;
  /** Whether `--size` means something for this kind (containers only, in Docker). */
  sizeSupported?: boolean;
  /** Finds the object; throws NotFoundError when there is none of this kind. */
  find(engine: LocalEngine, ref: string, options: { size: boolean }): Promise<InspectResult>;
}

async function inspectVolume(engine: LocalEngine, ref: string): Promise<InspectResult> {
  const { openVolumeService } = await import('../../engine/volume-service.ts');
  return { raw: await openVolumeService(engine).inspect(ref) };
}

async function inspectNetwork(engine: LocalEngine, ref: string): Promise<InspectResult> {
  const { openNetworkService } = await import('../../engine/network-service.ts');
  return { raw: await (await openNetworkService(engine)).inspect(ref) };
}

/** The kinds `inspect` looks through, in docker/cli's order. */
export const INSPECT_TARGETS: InspectTarget[] = [
  { type: 'container', sizeSupported: true, find: inspectContainer },
  { type: 'image', find: inspectImage },
  { type: 'volume', find: inspectVolume },
  { type: 'network', find: inspectNetwork },
];

/** Docker's list of types, for its error message. */
const ALL_TYPES = [
  'config',
  'container',
  'image',
  'network',
  'node',
  'plugin',
  'secret',
  'service',
  'task',
  'volume',
];

async function findAny(
  engine: LocalEngine,
  ref: string,
  options: { type: string | undefined; size: boolean; stderr: NodeJS.WritableStream },
): Promise<InspectResult> {
  const { type } = options;
  for (const target of INSPECT_TARGETS) {
    if (type !== undefined && target.type !== type) continue;
    try {
      const found = await target.find(engine, ref, { size: options.size });
      if (options.size && !target.sizeSupported)
        options.stderr.write(`WARNING: --size ignored for ${target.type}\n`);
      return found;
    } catch (error) {
      // Without --type, a miss of one kind moves on to the next.
      if (type === undefined && error instanceof NotFoundError) continue;
      throw error;
    }
  }
  throw new NotFoundError(`No such object: ${ref}`);
}

export function register(program: Command, context: CliContext): void {
  program
    .command('inspect')
    .description('Return low-level information on Wharf objects')
    .argument('<name...>', 'names or ids of objects')
    .option('-f, --format <format>', "Format output using a custom template: 'json' or a Go template")
    .option('-s, --size', 'Display total file sizes if the type is container')
    .option('--type <type>', 'Only inspect objects of the given type')
    .action(async (refs: string[], options: { format?: string; size?: boolean; type?: string }) => {
      const type = options.type;
      if (type !== undefined && !ALL_TYPES.includes(type)) {
        const list = ALL_TYPES.join('", "');
        throw new CliExit(
          1,
          type === ''
            ? `type is empty: must be one of "${list}"`
            : `unknown type: "${type}": must be one of "${list}"`,
        );
      }
      await withEngine(context, (engine) =>
        writeInspect({
          refs,
          format: options.format,
          lookup: (ref) =>
            findAny(engine, ref, { type, size: options.size === true, stderr: context.stderr }),
          stdout: context.stdout,
        }),
      );
    });
}
