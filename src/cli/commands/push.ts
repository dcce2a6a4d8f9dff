/**
 * `wharf push [-a] [-q] NAME[:TAG]`, with Docker's output: `The push refers to repository [...]`,
 * a line per layer (`Pushed`, `Layer already exists`, `Mounted from ...`) and
 * `TAG: digest: sha256:... size: N`; `-q` prints only the reference pushed.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { ProgressRenderer } from '../progress/progress-renderer.ts';
import { withTransfer } from './pull.ts';

interface PushFlags {
  allTags?: boolean;
  quiet?: boolean;
}

function addPush(parent: Command, context: CliContext): void {
  parent
    .command('push')
    .description('Upload an image to a registry')
    .argument('<name>', 'NAME[:TAG]')
    .option('-a, --all-tags', 'Push all tags of an image to the repository')
    .option('-q, --quiet', 'Suppress verbose output')
    .option('--disable-content-trust', 'Skip image signing (always: Wharf has no content trust)')
    .action(async (name: string, flags: PushFlags) => {
      const renderer = new ProgressRenderer(context.stdout as NodeJS.WriteStream);
      await withTransfer(
        context,
        async (transfer) => {
          const result = await transfer.push(name, {
            ...(flags.allTags ? { allTags: true } : {}),
            ...(flags.quiet ? {} : { progress: (event) => renderer.write(event) }),
          });
          if (flags.quiet) {
            const { formatReference, parseNormalizedReference, withTag } = await import(
              '../../oci/reference.ts'
            );
            const ref = parseNormalizedReference(name);
            for (const pushed of result.pushed)
              context.stdout.write(`${formatReference(withTag(ref, pushed.tag))}\n`);
          }
        },
        { unpack: false },
      );
    });
}

/** Adds `push` under an `image` management command. */
export function registerImagePush(image: Command, context: CliContext): void {
  addPush(image, context);
}

export function register(program: Command, context: CliContext): void {
  addPush(program, context);
}
