/**
 * `wharf build` (and `wharf image build`, `wharf builder build`): Docker's flags, BuildKit's
 * plain progress on stderr, the image id on stdout with `-q`. The build runs in this process
 * (no daemon, no context upload). A failed step prints its output and Dockerfile lines, as the
 * docker CLI does, and the command exits 1.
 *
 * The context is a directory, or `-`: a tar (plain or compressed) is a context, anything else
 * is a Dockerfile with no context.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError, WharfError } from '../../errors/index.ts';
import { CliExit } from '../cli-error.ts';
import type { CliContext } from '../context.ts';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

interface BuildFlags {
  tag: string[];
  file?: string;
  buildArg: string[];
  target?: string;
  cache: boolean;
  pull?: boolean;
  label: string[];
  platform?: string;
  quiet?: boolean;
  iidfile?: string;
  progress: string;
  network?: string;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** True when `data` starts like a tar archive, plain or compressed. */
function looksLikeArchive(data: Buffer): boolean {
  if (data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) return true;
  if (data.subarray(0, 3).toString('latin1') === 'BZh') return true;
  if (data.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return true;
  if (data.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return true;
  if (data.length < 512) return false;
  return data.subarray(257, 262).toString('latin1') === 'ustar';
}

function parseKeyValues(list: readonly string[], what: string, fromEnv: boolean): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq === 0)
      throw new InvalidArgumentError(`Cannot use ${what} ${JSON.stringify(item)}: the name is empty`);
    if (eq < 0) {
      // `--build-arg NAME` takes NAME from the environment, and is skipped when unset.
      const value = fromEnv ? process.env[item] : '';
      if (value !== undefined) out.set(item, value);
      continue;
    }
    out.set(item.slice(0, eq), item.slice(eq + 1));
  }
  return out;
}

export function addBuild(parent: Command, context: CliContext): void {
  parent
    .command('build')
    .description('Build an image from a Dockerfile')
    .argument('<context>', 'context directory, or - to read a tar context or a Dockerfile from stdin')
    .option('-t, --tag <name>', 'name and optionally a tag in the name:tag format', collect, [])
    .option('-f, --file <file>', 'name of the Dockerfile (default: CONTEXT/Dockerfile); - for stdin')
    .option('--build-arg <arg>', 'set build-time variables', collect, [])
    .option('--target <stage>', 'set the target build stage to build')
    .option('--no-cache', 'do not use cache when building the image')
    .option('--pull', 'always attempt to pull base images')
    .option('--label <label>', 'set metadata for an image', collect, [])
    .option('--platform <platform>', 'set target platform for build')
    .option('-q, --quiet', 'suppress the build output and print image ID on success')
    .option('--iidfile <file>', 'write the image ID to the file')
    .option('--progress <type>', 'set type of progress output (auto, plain, tty, quiet)', 'auto')
    .option('--network <mode>', 'set the networking mode for the RUN instructions (none, host)')
    .action(async (contextArg: string, flags: BuildFlags) => {
      if (process.env.WHARF_BUILD_TRACE === '1')
        process.stderr.write(`[trace] build verb at ${(process.uptime() * 1000).toFixed(1)}ms\n`);
      const progressMode = flags.quiet ? 'quiet' : flags.progress;
      if (!['auto', 'plain', 'tty', 'quiet', 'rawjson'].includes(progressMode)) {
        throw new InvalidArgumentError(
          `Cannot use progress ${progressMode}: choose auto, plain, tty or quiet`,
        );
      }
      let network: 'none' | 'host' | undefined;
      if (flags.network !== undefined) {
        if (flags.network === 'host') network = 'host';
        else if (flags.network === 'none' || flags.network === 'default') network = 'none';
        else
          throw new InvalidArgumentError(
            `Cannot use network ${flags.network}: builds take none, default or host`,
          );
      }
      if (contextArg === '-' && flags.file === '-') {
        throw new InvalidArgumentError('Cannot read both the context and the Dockerfile from stdin');
      }
      // oci/platform loads zod: only when asked for
      const platform = flags.platform
        ? (await import('../../oci/platform.ts')).parsePlatform(flags.platform)
        : undefined;
      const labels = Object.fromEntries(parseKeyValues(flags.label, 'label', false));
      const buildArgs = parseKeyValues(flags.buildArg, 'build-arg', true);

      let tmp: string | undefined;
      try {
        let input: { directory: string } | { tarFile: string } | undefined;
        let dockerfile: { path: string } | { text: string } | undefined;
        if (flags.file === '-') dockerfile = { text: (await readStdin()).toString('utf8') };
        else if (flags.file !== undefined) dockerfile = { path: flags.file };
        if (contextArg === '-') {
          const data = await readStdin();
          if (looksLikeArchive(data)) {
            tmp = await mkdtemp(join(tmpdir(), 'wharf-build-stdin-'));
            const file = join(tmp, 'context.tar');
            await writeFile(file, data);
            input = { tarFile: file };
          } else dockerfile = { text: data.toString('utf8') };
        } else input = { directory: contextArg };

        {
          // Not withEngine: the build service opens only the stores a build needs (fast cached rebuilds).
          const {
            openBuildEngine,
            BuildProgress,
            PlainProgressPrinter,
            QuietProgressPrinter,
            BuildStepError,
          } = await import('../../engine/build-service.ts');
          const printer =
            progressMode === 'quiet' ? new QuietProgressPrinter() : new PlainProgressPrinter(context.stderr);
          if (process.env.WHARF_BUILD_TRACE === '1')
            process.stderr.write(
              `[trace] build service loaded at ${(process.uptime() * 1000).toFixed(1)}ms\n`,
            );
          const service = await openBuildEngine(context.root());
          if (process.env.WHARF_BUILD_TRACE === '1')
            process.stderr.write(`[trace] stores open at ${(process.uptime() * 1000).toFixed(1)}ms\n`);
          try {
            const result = await service.buildFrom({
              context: input,
              ...(dockerfile ? { dockerfile } : {}),
              buildArgs,
              ...(flags.target ? { target: flags.target } : {}),
              noCache: !flags.cache,
              pull: flags.pull === true,
              labels,
              ...(platform ? { platform } : {}),
              tags: flags.tag,
              ...(network ? { network } : {}),
              progress: new BuildProgress(printer),
            });
            if (flags.iidfile) await writeFile(flags.iidfile, result.imageId);
            if (progressMode === 'quiet') context.stdout.write(`${result.imageId}\n`);
          } catch (error) {
            if (error instanceof BuildStepError) throw new CliExit(1, error.report().trimEnd());
            if (error instanceof WharfError) throw new CliExit(1, `ERROR: failed to solve: ${error.message}`);
            throw error;
          } finally {
            await service.close();
          }
        }
      } finally {
        if (tmp) await rm(tmp, { recursive: true, force: true });
      }
    });
}

export function register(program: Command, context: CliContext): void {
  addBuild(program, context);
}
