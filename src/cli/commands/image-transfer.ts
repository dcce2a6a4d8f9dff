/**
 * `wharf import`, `wharf save`, `wharf load` and `wharf tag`, with Docker's flags and output.
 * `registerImageSubcommands` adds the same verbs under an `image` management command (the
 * module owning `image` calls it), so `wharf image save` works too.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { InvalidArgumentError, isErrno, NotFoundError, UnavailableError } from '../../errors/index.ts';
import type { CliContext } from '../context.ts';
import { withEngine } from '../engine-session.ts';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function openFile(path: string): Promise<Readable> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw new InvalidArgumentError(`Cannot read ${path}: is a directory`);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) throw new NotFoundError(`Cannot open ${path}: no such file or directory`);
    throw error;
  }
  return createReadStream(path);
}

async function openImportSource(source: string): Promise<{ stream: Readable; name: string }> {
  if (source === '-') return { stream: process.stdin, name: '-' };
  if (/^https?:\/\//i.test(source)) {
    const response = await fetch(source).catch((error: unknown) => {
      // undici says only "fetch failed"; the reason (refused, unknown host...) is its cause
      const cause = (error as { cause?: unknown }).cause;
      const reason = cause instanceof Error ? cause.message : (error as Error).message;
      throw new UnavailableError(`Cannot import from ${source}: ${reason}`, { cause: error });
    });
    if (!response.ok || !response.body) {
      throw new InvalidArgumentError(
        `Cannot import from ${source}: HTTP ${response.status} ${response.statusText}`,
      );
    }
    return {
      stream: Readable.fromWeb(response.body as import('node:stream/web').ReadableStream),
      name: source,
    };
  }
  // Docker's CLI streams a file through stdin, so the daemon names it "-"
  return { stream: await openFile(source), name: '-' };
}

/**
 * The checks of the docker CLI's atomic writer before `save -o PATH` asks for anything: the
 * directory must exist, and PATH must not be one. Throws InvalidArgumentError with Docker's reason.
 */
async function checkOutputPath(path: string): Promise<void> {
  const dir = dirname(path);
  if (dir !== '.' && dir !== '..') {
    const info = await stat(dir).catch((error: unknown) => {
      if (isErrno(error, 'ENOENT'))
        throw new InvalidArgumentError(
          `Cannot save: invalid output path: stat ${dir}: no such file or directory`,
        );
      throw error;
    });
    if (!info.isDirectory())
      throw new InvalidArgumentError(`Cannot save: invalid output path: stat ${dir}: not a directory`);
  }
  if ((await stat(path).catch(() => undefined))?.isDirectory())
    throw new InvalidArgumentError('Cannot save: cannot write to a directory');
}

/**
 * Writes `stream` to `path`. A regular file (or a new one) is written through a temp file renamed
 * into place, so no half-written archive is left, with mode 0600 as Docker's atomic writer makes
 * it (an image may hold secrets); anything else (`/dev/null`, a FIFO) directly.
 */
async function writeOutput(stream: Readable, path: string): Promise<void> {
  const existing = await stat(path).catch(() => undefined);
  if (existing && !existing.isFile()) {
    await pipeline(stream, createWriteStream(path));
    return;
  }
  const temp = join(dirname(path), `.${basename(path)}.wharf-${process.pid}.tmp`);
  try {
    await pipeline(stream, createWriteStream(temp, { mode: 0o600 }));
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

function addImport(parent: Command, context: CliContext): void {
  parent
    .command('import')
    .description('Import the contents from a tarball to create a filesystem image')
    .argument('<file|URL|->', 'tarball (plain, gzip, zstd, xz, bzip2), URL, or - for stdin')
    .argument('[repository]', 'REPOSITORY[:TAG] to tag the image with')
    .option('-c, --change <instruction>', 'apply a Dockerfile instruction to the created image', collect, [])
    .option('-m, --message <message>', 'set commit message for imported image')
    .option('--platform <platform>', 'set platform if server is multi-platform capable')
    .action(
      async (
        source: string,
        repository: string | undefined,
        options: { change: string[]; message?: string; platform?: string },
      ) => {
        await withEngine(context, async (engine) => {
          const { parsePlatform } = await import('../../oci/platform.ts');
          const input = await openImportSource(source);
          const image = await engine.images.import({
            source: input.stream,
            sourceName: input.name,
            changes: options.change,
            ...(repository !== undefined ? { reference: repository } : {}),
            ...(options.message !== undefined ? { message: options.message } : {}),
            ...(options.platform ? { platform: parsePlatform(options.platform) } : {}),
          });
          context.stdout.write(`${image.id}\n`);
        });
      },
    );
}

function addSave(parent: Command, context: CliContext): void {
  parent
    .command('save')
    .description('Save one or more images to a tar archive (streamed to STDOUT by default)')
    .argument('<image...>', 'images to save')
    .option(
      '-o, --output <file>',
      'write to a file (with --format oci, a path ending in / or a directory gets a layout directory)',
    )
    .option('--format <format>', 'archive format: docker (docker load) or oci (OCI image layout)', 'docker')
    .action(async (names: string[], options: { output?: string; format: string }) => {
      if (options.format !== 'docker' && options.format !== 'oci') {
        throw new InvalidArgumentError(`Cannot save: unknown format "${options.format}" (docker or oci)`);
      }
      const format = options.format;
      const output = options.output;
      if (!output && (context.stdout as NodeJS.WriteStream).isTTY) {
        throw new InvalidArgumentError(
          'Cannot save: cowardly refusing to save to a terminal. Use the -o flag or redirect',
        );
      }
      await withEngine(context, async (engine) => {
        if (output && format === 'oci') {
          const isDir =
            output.endsWith('/') || (await stat(output).catch(() => undefined))?.isDirectory() === true;
          if (isDir) {
            await engine.images.saveToDirectory(names, output, { format });
            return;
          }
        }
        if (output) await checkOutputPath(output);
        const stream = await engine.images.save(names, { format });
        if (output) await writeOutput(stream, output);
        else await pipeline(stream, context.stdout, { end: false });
      });
    });
}

function addLoad(parent: Command, context: CliContext): void {
  parent
    .command('load')
    .description('Load images from a tar archive or STDIN (Docker archive or OCI layout)')
    .option(
      '-i, --input <file>',
      'read from a tar archive file (or an OCI layout directory), instead of STDIN',
    )
    .option('-q, --quiet', 'suppress the load output')
    .option('--platform <platform>', 'load the image of this platform from a multi-platform archive')
    .action(async (options: { input?: string; quiet?: boolean; platform?: string }) => {
      let source: Readable | { directory: string };
      if (options.input) {
        const info = await stat(options.input).catch((error: unknown) => {
          if (isErrno(error, 'ENOENT'))
            throw new NotFoundError(`Cannot open ${options.input}: no such file or directory`);
          throw error;
        });
        source = info.isDirectory() ? { directory: options.input } : createReadStream(options.input);
      } else {
        if (process.stdin.isTTY)
          throw new InvalidArgumentError('Cannot load: requested load from stdin, but stdin is empty');
        source = process.stdin;
      }
      await withEngine(context, async (engine) => {
        const { parsePlatform } = await import('../../oci/platform.ts');
        const result = await engine.images.load(
          source,
          options.platform ? { platform: parsePlatform(options.platform) } : {},
        );
        // Docker prints these even with -q (which only hides progress bars)
        for (const line of result.messages) context.stdout.write(`${line}\n`);
      });
    });
}

function addTag(parent: Command, context: CliContext): void {
  parent
    .command('tag')
    .description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
    .argument('<source>', 'SOURCE_IMAGE[:TAG]')
    .argument('<target>', 'TARGET_IMAGE[:TAG]')
    .action(async (source: string, target: string) => {
      await withEngine(context, async (engine) => {
        engine.images.tag(source, target);
      });
    });
}

/** Adds `import`, `save`, `load` and `tag` under an existing `image` management command. */
export function registerImageSubcommands(image: Command, context: CliContext): void {
  addImport(image, context);
  addSave(image, context);
  addLoad(image, context);
  addTag(image, context);
}

/** The top-level verbs `import`, `save`, `load`, `tag`. */
export function register(program: Command, context: CliContext): void {
  addImport(program, context);
  addSave(program, context);
  addLoad(program, context);
  addTag(program, context);
}
