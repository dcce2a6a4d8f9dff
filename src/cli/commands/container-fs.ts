/**
 * The container filesystem verbs, with Docker's flags and output: `cp`, `diff`, `commit`,
 * `export` (and, through `registerContainerFsSubcommands`, `container cp|diff|commit|export`).
 *
 * `cp` is docker/cli's client half over the engine's daemon half: the engine stats, archives and
 * extracts inside the container (src/container/fs, safe against symlinks and running
 * containers); here the local side is resolved, the archive's top entry renamed as Docker's path
 * rules say (`SRC/.`, trailing `/`, existing or new destination), and `-` streams a tar on
 * stdin or stdout.
 */
import type { Command } from 'commander';
import type { ContainerFiles } from '../../container/fs/container-files.ts';
import { InvalidArgumentError, NotFoundError } from '../../errors/index.ts';
import { CliExit } from '../cli-error.ts';
import type { CliContext } from '../context.ts';
import { humanSize } from '../format/units.ts';
import { collect, withContainers } from './container-common.ts';

async function withFiles<T>(context: CliContext, fn: (files: ContainerFiles) => Promise<T>): Promise<T> {
  const { ContainerFiles } = await import('../../container/fs/container-files.ts');
  return withContainers(context, (service, engine) => fn(new ContainerFiles(service, engine.images.store)));
}

/** Counts the bytes that pass (Docker's "Successfully copied 2.05kB"). */
async function* counted(
  source: AsyncIterable<Uint8Array>,
  counter: { bytes: number },
): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    counter.bytes += chunk.length;
    yield chunk;
  }
}

/**
 * Writes `source` to `target` with back-pressure. A reader that goes away (`| head`) ends the
 * copy quietly, as a broken pipe ends Docker's; the source is then abandoned (and released).
 */
async function writeAll(target: NodeJS.WritableStream, source: AsyncIterable<Uint8Array>): Promise<void> {
  let failed: Error | undefined;
  const onError = (error: Error) => {
    failed = error;
  };
  target.on('error', onError);
  try {
    for await (const chunk of source) {
      if (failed) break;
      if (!target.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            target.off('drain', done);
            target.off('error', done);
            resolve();
          };
          target.once('drain', done);
          target.once('error', done);
        });
      }
      if (failed) break;
    }
  } finally {
    // After a failure the stream may report it again: keep listening, or it would be fatal.
    if (!failed) target.off('error', onError);
  }
  if (failed && (failed as NodeJS.ErrnoException).code !== 'EPIPE') throw failed;
}

interface CpFlags {
  archive?: boolean;
  followLink?: boolean;
  quiet?: boolean;
}

async function copyFromContainer(
  context: CliContext,
  files: ContainerFiles,
  container: string,
  source: string,
  destination: string,
  flags: CpFlags,
): Promise<{ bytes: number; shown: string }> {
  const paths = await import('../../container/fs/copy-paths.ts');
  const host = await import('../../container/fs/host-copy.ts');
  const { rebaseArchiveEntries } = await import('../../container/fs/tar-rebase.ts');
  let srcPath = source;
  let rebaseName: string | undefined;
  if (flags.followLink) {
    const stat = await files.statPath(container, srcPath).catch(() => undefined);
    if (stat && paths.goModeIsSymlink(stat.mode)) {
      let target = stat.linkTarget;
      if (!target.startsWith('/')) target = paths.goClean(`${paths.splitPathDirEntry(srcPath)[0]}/${target}`);
      ({ resolved: srcPath, rebaseName } = paths.getRebaseName(srcPath, target));
    }
  }
  const dstPath = destination === '-' ? '-' : host.resolveLocalPath(destination);
  // The destination is checked before anything is read from the container.
  const dstInfo = dstPath === '-' ? undefined : host.copyInfoDestinationPath(dstPath);
  const { stat, stream } = await files.getArchive(container, srcPath);
  const counter = { bytes: 0 };
  try {
    if (!dstInfo) {
      await writeAll(context.stdout, counted(stream, counter));
      return { bytes: counter.bytes, shown: 'STDOUT' };
    }
    let archive: AsyncIterable<Uint8Array> = counted(stream, counter);
    if (rebaseName) archive = rebaseArchiveEntries(archive, paths.splitPathDirEntry(srcPath)[1], rebaseName);
    const plan = paths.prepareArchiveCopy(
      { path: srcPath, isDir: paths.goModeIsDir(stat.mode), rebaseName },
      dstInfo,
    );
    if (plan.rebase) archive = rebaseArchiveEntries(archive, plan.rebase.from, plan.rebase.to);
    await host.extractToHost(plan.dstDir, archive);
    return { bytes: counter.bytes, shown: destination };
  } finally {
    stream.destroy();
  }
}

async function copyToContainer(
  files: ContainerFiles,
  source: string,
  container: string,
  destination: string,
  flags: CpFlags,
): Promise<{ bytes: number; shown: string }> {
  const paths = await import('../../container/fs/copy-paths.ts');
  const host = await import('../../container/fs/host-copy.ts');
  const { rebaseArchiveEntries } = await import('../../container/fs/tar-rebase.ts');
  const shown = `${container}:${destination}`;
  let dstInfo: { path: string; exists: boolean; isDir?: boolean } = { path: destination, exists: false };
  try {
    let stat = await files.statPath(container, destination);
    if (paths.goModeIsSymlink(stat.mode)) {
      let target = stat.linkTarget;
      if (!target.startsWith('/'))
        target = paths.goClean(`${paths.splitPathDirEntry(destination)[0]}/${target}`);
      dstInfo.path = target;
      stat = await files.statPath(container, target);
    }
    // docker/cli's ValidateOutputPathFileMode: not a device.
    if (Math.floor(stat.mode / 2 ** 26) % 2 === 1) {
      throw new InvalidArgumentError(`destination "${shown}" must be a directory or a regular file`);
    }
    dstInfo = { path: dstInfo.path, exists: true, isDir: paths.goModeIsDir(stat.mode) };
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }
  const counter = { bytes: 0 };
  let content: AsyncIterable<Uint8Array>;
  let resolvedDst: string;
  if (source === '-') {
    if (!dstInfo.isDir) throw new InvalidArgumentError(`destination "${shown}" must be a directory`);
    content = process.stdin;
    resolvedDst = dstInfo.path;
  } else {
    const srcInfo = host.copyInfoSourcePath(host.resolveLocalPath(source), flags.followLink === true);
    const plan = paths.prepareArchiveCopy(srcInfo, dstInfo);
    content = host.archiveHostPath(srcInfo);
    if (plan.rebase) content = rebaseArchiveEntries(content, plan.rebase.from, plan.rebase.to);
    resolvedDst = plan.dstDir;
  }
  await files.putArchive(container, resolvedDst, counted(content, counter), {
    noOverwriteDirNonDir: true,
    copyUIDGID: flags.archive === true,
  });
  return { bytes: counter.bytes, shown };
}

function addCp(parent: Command, context: CliContext): void {
  parent
    .command('cp')
    .description(
      'Copy files/folders between a container and the local filesystem\n\n' +
        "Use '-' as the source to read a tar archive from stdin and extract it to a directory destination in a container.\n" +
        "Use '-' as the destination to stream a tar archive of a container source to stdout.",
    )
    .usage(
      '[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n       wharf cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH',
    )
    .argument('<source>', 'CONTAINER:SRC_PATH, SRC_PATH or -')
    .argument('<destination>', 'DEST_PATH, CONTAINER:DEST_PATH or -')
    .option('-a, --archive', 'Archive mode (copy all uid/gid information)')
    .option('-L, --follow-link', 'Always follow symbol link in SRC_PATH')
    .option(
      '-q, --quiet',
      'Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached',
    )
    .action(async (source: string, destination: string, flags: CpFlags) => {
      const { splitCpArg } = await import('../../container/fs/copy-paths.ts');
      const from = splitCpArg(source);
      const to = splitCpArg(destination);
      if (from.container !== undefined && to.container !== undefined) {
        throw new CliExit(1, 'copying between containers is not supported');
      }
      if (from.container === undefined && to.container === undefined) {
        throw new CliExit(1, 'must specify at least one container source');
      }
      if (from.container === '' || to.container === '') throw new CliExit(1, 'must specify a container name');
      const result = await withFiles(context, (files) =>
        from.container !== undefined
          ? copyFromContainer(context, files, from.container, from.path, to.path, flags)
          : copyToContainer(files, from.path, to.container!, to.path, flags),
      );
      const stderr = context.stderr as NodeJS.WriteStream;
      if (!flags.quiet && stderr.isTTY && destination !== '-') {
        stderr.write(`Successfully copied ${humanSize(result.bytes)} to ${result.shown}\n`);
      }
    });
}

function addDiff(parent: Command, context: CliContext): void {
  parent
    .command('diff')
    .description("Inspect changes to files or directories on a container's filesystem")
    .argument('<container>', 'CONTAINER')
    .action(async (container: string) => {
      const changes = await withFiles(context, (files) => files.changes(container));
      if (changes.length > 0)
        context.stdout.write(`${changes.map((c) => `${c.kind} ${c.path}`).join('\n')}\n`);
    });
}

function addCommit(parent: Command, context: CliContext): void {
  parent
    .command('commit')
    .description("Create a new image from a container's changes")
    .argument('<container>', 'CONTAINER')
    .argument('[reference]', 'REPOSITORY[:TAG]')
    .option('-a, --author <string>', 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    .option('-c, --change <list>', 'Apply Dockerfile instruction to the created image', collect, [])
    .option('-m, --message <string>', 'Commit message')
    .option('-p, --pause <bool>', 'Pause container during commit', 'true')
    .action(
      async (
        container: string,
        reference: string | undefined,
        flags: { author?: string; change: string[]; message?: string; pause: string },
      ) => {
        if (!['true', 'false', '1', '0'].includes(flags.pause)) {
          throw new InvalidArgumentError(
            `invalid argument "${flags.pause}" for "-p, --pause" flag: invalid syntax`,
          );
        }
        const { id } = await withFiles(context, (files) =>
          files.commit(container, {
            ...(reference ? { reference } : {}),
            ...(flags.author ? { author: flags.author } : {}),
            ...(flags.message ? { comment: flags.message } : {}),
            changes: flags.change,
            pause: flags.pause === 'true' || flags.pause === '1',
          }),
        );
        context.stdout.write(`${id}\n`);
      },
    );
}

function addExport(parent: Command, context: CliContext): void {
  parent
    .command('export')
    .description("Export a container's filesystem as a tar archive")
    .argument('<container>', 'CONTAINER')
    .option('-o, --output <string>', 'Write to a file, instead of STDOUT')
    .action(async (container: string, flags: { output?: string }) => {
      const stdout = context.stdout as NodeJS.WriteStream;
      if (!flags.output && stdout.isTTY) {
        throw new CliExit(1, 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
      }
      await withFiles(context, async (files) => {
        const stream = await files.export(container);
        try {
          if (flags.output) {
            const { createWriteStream } = await import('node:fs');
            const { pipeline } = await import('node:stream/promises');
            await pipeline(stream, createWriteStream(flags.output));
          } else await writeAll(context.stdout, stream);
        } finally {
          stream.destroy();
        }
      });
    });
}

/** `container cp|diff|commit|export`: the `container` group (container.ts) must call this. */
export function registerContainerFsSubcommands(group: Command, context: CliContext): void {
  addCp(group, context);
  addDiff(group, context);
  addCommit(group, context);
  addExport(group, context);
}

export function register(program: Command, context: CliContext): void {
  registerContainerFsSubcommands(program, context);
}
