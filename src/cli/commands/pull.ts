/**
 * `wharf pull [--platform P] [-a] [-q] NAME[:TAG|@DIGEST]`, with Docker's output: per-layer
 * progress (bars on a terminal, a line per event otherwise), `Digest:`, `Status:` and the full
 * reference last; `-q` prints only that last line. `registerImagePull` adds it under `image`.
 */
import type { Command } from 'commander';
import type { ImageTransferService } from '../../engine/image-transfer-service.ts';
import type { CliContext } from '../context.ts';
import { withEngine } from '../engine-session.ts';
import { ProgressRenderer } from '../progress/progress-renderer.ts';

/** Runs `fn` with the engine's transfer service, closing both after. */
export async function withTransfer<T>(
  context: CliContext,
  fn: (transfer: ImageTransferService) => Promise<T>,
  options: { unpack?: boolean } = {},
): Promise<T> {
  return withEngine(context, async (engine) => {
    const { openImageTransferService } = await import('../../engine/image-transfer-service.ts');
    const transfer = await openImageTransferService(engine, options);
    try {
      return await fn(transfer);
    } finally {
      await transfer.close();
    }
  });
}

interface PullFlags {
  allTags?: boolean;
  platform?: string;
  quiet?: boolean;
}

function addPull(parent: Command, context: CliContext): void {
  parent
    .command('pull')
    .description('Download an image from a registry')
    .argument('<name>', 'NAME[:TAG|@DIGEST]')
    .option('-a, --all-tags', 'Download all tagged images in the repository')
    .option('--platform <platform>', 'Set platform if server is multi-platform capable')
    .option('-q, --quiet', 'Suppress verbose output')
    .option('--disable-content-trust', 'Skip image verification (always: Wharf has no content trust)')
    .action(async (name: string, flags: PullFlags) => {
      const { parsePlatform } = await import('../../oci/platform.ts');
      const platform = flags.platform ? parsePlatform(flags.platform) : undefined;
      const renderer = new ProgressRenderer(context.stdout as NodeJS.WriteStream);
      await withTransfer(context, async (transfer) => {
        const result = await transfer.pull(name, {
          ...(platform ? { platform } : {}),
          ...(flags.allTags ? { allTags: true } : {}),
          ...(flags.quiet ? {} : { progress: (event) => renderer.write(event) }),
        });
        if (flags.allTags && !flags.quiet) {
          const { parseNormalizedReference, referenceName } = await import('../../oci/reference.ts');
          context.stdout.write(`${referenceName(parseNormalizedReference(name))}\n`);
        } else {
          for (const reference of result.references) context.stdout.write(`${reference}\n`);
        }
      });
    });
}

/** Adds `pull` under an `image` management command. */
export function registerImagePull(image: Command, context: CliContext): void {
  addPull(image, context);
}

export function register(program: Command, context: CliContext): void {
  addPull(program, context);
}
