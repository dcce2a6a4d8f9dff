/**
 * `wharf image diff IMAGE_A IMAGE_B`: the files that differ between two images, with their sizes
 * (src/image/image-diff.ts), as a table like `docker diff`'s lines, or any listing format.
 * Registered under the `image` group by images.ts (`registerImageDiffSubcommand`).
 */
import type { Command } from 'commander';
import type { ImageFileChange } from '../../image/image-diff.ts';
import type { CliContext } from '../context.ts';
import { withEngine } from '../engine-session.ts';
import { ListingFormatter, listingRow, TABLE_FORMAT } from '../format/formatter.ts';
import { humanSize } from '../format/units.ts';

const DEFAULT_TABLE = 'table {{.Kind}}\t{{.Path}}\t{{.Size}}';
const HEADER = {
  Kind: 'KIND',
  Path: 'PATH',
  Type: 'TYPE',
  Size: 'SIZE',
  OldSize: 'OLD SIZE',
  Bytes: 'BYTES',
  OldBytes: 'OLD BYTES',
};

function sizeText(bytes: number | undefined): string {
  return bytes === undefined ? '-' : humanSize(bytes);
}

function changeRow(change: ImageFileChange) {
  let size: string;
  if (
    change.kind === 'C' &&
    change.oldSize !== undefined &&
    change.size !== undefined &&
    change.oldSize !== change.size
  ) {
    size = `${sizeText(change.oldSize)} -> ${sizeText(change.size)}`;
  } else if (change.kind === 'D') size = sizeText(change.oldSize);
  else size = sizeText(change.size);
  return listingRow('*formatter.imageDiffContext', {
    Kind: change.kind,
    Path: change.path,
    Type: change.type,
    Size: size,
    OldSize: sizeText(change.oldSize),
    Bytes: change.size ?? 0,
    OldBytes: change.oldSize ?? 0,
  });
}

/** `image diff` under the `image` group: images.ts's register calls this. */
export function registerImageDiffSubcommand(imageCmd: Command, context: CliContext): void {
  imageCmd
    .command('diff')
    .description('Show the files that differ between two images (added, changed, deleted), with their sizes')
    .argument('<image-a>', 'IMAGE (the older one)')
    .argument('<image-b>', 'IMAGE (the newer one)')
    .option(
      '--format <format>',
      'Format output using a custom template: table, table TEMPLATE, json, TEMPLATE',
    )
    .action(async (a: string, b: string, flags: { format?: string }) => {
      let format = flags.format || TABLE_FORMAT;
      if (format === TABLE_FORMAT) format = DEFAULT_TABLE;
      const formatter = new ListingFormatter(format);
      const changes = await withEngine(context, async (engine) => {
        const { diffImages } = await import('../../image/image-diff.ts');
        return diffImages(engine.images.store, a, b);
      });
      context.stdout.write(formatter.render(changes.map(changeRow), HEADER));
    });
}
