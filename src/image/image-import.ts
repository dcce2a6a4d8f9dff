/**
 * `docker import`: one filesystem tarball (plain, gzip, zstd, xz or bzip2) becomes a one-layer
 * image. The layer is stored uncompressed (its blob digest is its diffID); the config gets the
 * host platform, `-c` changes and a history entry whose comment is `-m` or "Imported from SRC".
 *
 * @example
 * const { image } = await importImage(store, { source: createReadStream('rootfs.tar'), reference: 'busybox' });
 */
import type { Readable } from 'node:stream';
import { InvalidArgumentError } from '../errors/index.ts';
import type { ImageConfig } from '../oci/image-config.ts';
import { hostPlatform, type Platform } from '../oci/platform.ts';
import { parseNormalizedReference } from '../oci/reference.ts';
import { decompress, looksLikeTar, peekBytes, sniffCompression } from './compression.ts';
import { applyConfigChanges } from './config-changes.ts';
import type { CreateImageResult, ImageStore } from './image-store.ts';

export interface ImportImageOptions {
  source: AsyncIterable<Uint8Array> | Readable;
  /** Where the tarball came from, for the history comment: `-` (stdin, a file) or a URL. */
  sourceName?: string;
  /** `NAME[:TAG]` to tag the image with. */
  reference?: string;
  /** Dockerfile instructions (`-c`). */
  changes?: readonly string[];
  /** The commit message (`-m`). */
  message?: string;
  /** Default: the host's. */
  platform?: Platform;
  signal?: AbortSignal;
}

export async function importImage(
  store: ImageStore,
  options: ImportImageOptions,
): Promise<CreateImageResult> {
  // validate everything cheap before reading a byte
  if (options.reference !== undefined) {
    const ref = parseNormalizedReference(options.reference);
    if (ref.digest !== undefined) {
      throw new InvalidArgumentError(
        `Cannot import as ${options.reference}: refusing to create a tag with a digest reference`,
      );
    }
  }
  const containerConfig = applyConfigChanges({}, options.changes ?? []);
  const platform = options.platform ?? hostPlatform();

  return store.leases.withLease(async (lease) => {
    const { compression, stream } = await sniffCompression(options.source);
    const tar = decompress(stream, compression);
    const { head, stream: checked } = await peekBytes(tar, 512);
    if (!looksLikeTar(head)) {
      checked.destroy();
      throw new InvalidArgumentError(
        'Cannot import: the input is not a tar archive (plain, gzip, zstd, xz or bzip2)',
      );
    }
    const ingestOptions: Parameters<ImageStore['content']['ingest']>[1] = { lease: lease.id };
    if (options.signal) ingestOptions.signal = options.signal;
    const layer = await store.content.ingest(checked, ingestOptions);
    const created = new Date().toISOString();
    const comment = options.message || `Imported from ${options.sourceName ?? '-'}`;
    const config: ImageConfig = {
      architecture: platform.architecture,
      ...(platform.variant ? { variant: platform.variant } : {}),
      os: platform.os,
      created,
      comment,
      config: containerConfig,
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
      history: [{ created, comment }],
    };
    return store.createImage({
      config: Buffer.from(JSON.stringify(config)),
      layers: [{ digest: layer.digest, size: layer.size }],
      lease: lease.id,
      ...(options.reference !== undefined ? { tags: [options.reference] } : {}),
    });
  });
}
