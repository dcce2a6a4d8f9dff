/**
 * Verified ingest: stream bytes to a temp file while hashing them, then check digest and size,
 * fsync, and rename into place. Whatever lands at the final path is whole and correct; a failed or
 * interrupted ingest leaves only a temp file (named `.ingest-*`), which `sweepIngestTemps` removes.
 * Shared by the local content store and the registry's storage.
 *
 * @example
 * await ingestVerified(stream, '/store/blobs/sha256/ab…', { expected: 'sha256:ab…', size: 1234 });
 */
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { InvalidArgumentError } from '../errors/index.ts';
import { algorithmOf, createDigester, type Digest, type DigestAlgorithm } from '../oci/digest.ts';
import { fsyncDirectory } from './atomic-write.ts';
import { randomHex } from './random-hex.ts';

export const INGEST_TEMP_PREFIX = '.ingest-';

export interface IngestOptions {
  /** The digest the content must have; the algorithm used for hashing comes from it. */
  expected?: Digest;
  /** Hash algorithm when no digest is expected. */
  algorithm?: DigestAlgorithm;
  /** The exact size the content must have. */
  size?: number;
  /** Directory for the temp file (must be on the target's filesystem); default: the target's. */
  tempDir?: string;
  /** Called with the running byte count, for progress. */
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
}

export interface IngestResult {
  digest: Digest;
  size: number;
}

/**
 * Streams `source` to `target` through a verified temp file. With no `target`
 * (`targetFor` given instead) the final path is computed from the digest once known.
 */
export async function ingestVerified(
  source: AsyncIterable<Uint8Array> | Readable,
  target: string | ((digest: Digest) => string),
  options: IngestOptions = {},
): Promise<IngestResult> {
  const algorithm = options.expected ? algorithmOf(options.expected) : (options.algorithm ?? 'sha256');
  const knownTarget = typeof target === 'string' ? target : undefined;
  const tempDir = options.tempDir ?? (knownTarget ? dirname(knownTarget) : undefined);
  if (!tempDir)
    throw new InvalidArgumentError('Cannot ingest: a tempDir is needed when the target is computed');
  await mkdir(tempDir, { recursive: true });
  const temp = join(tempDir, `${INGEST_TEMP_PREFIX}${process.pid}-${randomHex(8)}`);
  const hasher = createDigester(algorithm);
  const handle = await open(temp, 'wx', 0o644);
  let size = 0;
  let closed = false;
  try {
    for await (const chunk of source as AsyncIterable<Uint8Array>) {
      options.signal?.throwIfAborted();
      hasher.update(chunk);
      let offset = 0;
      while (offset < chunk.byteLength) {
        const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
        offset += bytesWritten;
      }
      size += chunk.byteLength;
      if (options.size !== undefined && size > options.size) {
        throw new InvalidArgumentError(`Cannot ingest content: more than the expected ${options.size} bytes`);
      }
      options.onProgress?.(size);
    }
    const digest: Digest = `${algorithm}:${hasher.digest('hex')}`;
    if (options.size !== undefined && size !== options.size) {
      throw new InvalidArgumentError(
        `Cannot ingest content: size ${size} does not match expected ${options.size}`,
      );
    }
    if (options.expected && digest !== options.expected) {
      throw new InvalidArgumentError(
        `Cannot ingest content: digest ${digest} does not match expected ${options.expected}`,
      );
    }
    await handle.sync();
    await handle.close();
    closed = true;
    const finalPath = typeof target === 'string' ? target : target(digest);
    await mkdir(dirname(finalPath), { recursive: true });
    // rename over an existing blob is harmless: same digest, same bytes (concurrent ingests race safely).
    await rename(temp, finalPath);
    await fsyncDirectory(dirname(finalPath));
    return { digest, size };
  } catch (error) {
    if (!closed) await handle.close().catch(() => {});
    await rm(temp, { force: true });
    throw error;
  }
}

/** Removes ingest temp files in `dir` older than `olderThanMs` (left by killed processes). */
export async function sweepIngestTemps(dir: string, olderThanMs = 60 * 60 * 1000): Promise<number> {
  let removed = 0;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  const now = Date.now();
  for (const name of names) {
    if (!name.startsWith(INGEST_TEMP_PREFIX)) continue;
    const path = join(dir, name);
    try {
      const info = await stat(path);
      if (now - info.mtimeMs >= olderThanMs) {
        await rm(path, { force: true });
        removed++;
      }
    } catch {
      // vanished meanwhile: another sweeper or the ingest itself
    }
  }
  return removed;
}
