/**
 * The local content store: blobs as plain files named by digest under the store root. All
 * knowledge of the on-disk layout is in `LocalContentStore.#paths`:
 *
 *   $root/content/
 *   ├── blobs/
 *   │   ├── sha256/
 *   │   │   └── <hex>                     a whole, verified blob; never modified
 *   │   └── sha512/
 *   │       └── <hex>
 *   └── ingest/
 *       ├── .ingest-<pid>-<rand>          being written and hashed (util/verified-ingest)
 *       └── .ingest-staged-<pid>-<rand>   verified, waiting for its lease hold before the link
 *
 * A blob appears in `blobs/` only after its lease hold is recorded, and GC deletes only under the
 * database's write lock, so GC never removes a blob an ingest in progress is about to use.
 * Concurrent ingests of one digest each verify their own temp file; the last rename wins with
 * identical bytes. Temp files whose process is gone are swept when the store opens.
 *
 * @example
 * const store = await LocalContentStore.open(root, references);
 * const { digest } = await store.writeBlob(configBytes, { lease: lease.id });
 */
import { createReadStream, mkdirSync, readdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { InvalidArgumentError, isErrno, NotFoundError } from '../errors/index.ts';
import {
  algorithmOf,
  createDigester,
  type Digest,
  type DigestAlgorithm,
  encodedOf,
  parseDigest,
} from '../oci/digest.ts';
import { fsyncDirectory } from '../util/atomic-write.ts';
import { isProcessAlive } from '../util/process-alive.ts';
import { randomHex } from '../util/random-hex.ts';
import { INGEST_TEMP_PREFIX, ingestVerified } from '../util/verified-ingest.ts';
import type {
  ContentInfo,
  ContentReferences,
  ContentStore,
  GarbageCollectOptions,
  GarbageCollectResult,
  IngestOptions,
  IngestResult,
  ReadOptions,
} from './content-store.ts';

const ALGORITHMS: readonly DigestAlgorithm[] = ['sha256', 'sha512'];
const STAGED_PREFIX = `${INGEST_TEMP_PREFIX}staged-`;
/** A temp file older than this is swept even if its pid looks alive (pids get reused). */
const TEMP_MAX_AGE_MS = 24 * 60 * 60 * 1000;

export class LocalContentStore implements ContentStore {
  readonly #root: string;
  readonly #references: ContentReferences;

  private constructor(root: string, references: ContentReferences) {
    this.#root = root;
    this.#references = references;
  }

  /** Opens (creating) the store under `$root/content` and sweeps temp files left by dead processes. */
  static async open(root: string, references: ContentReferences): Promise<LocalContentStore> {
    const store = new LocalContentStore(join(root, 'content'), references);
    // Synchronously, as sweepTemps: directories that exist after the first open and an ingest
    // directory that is usually empty, microseconds each, on the way of every command that opens
    // the engine (`run` among them), where each thread-pool round trip costs 0.1-0.5 ms.
    mkdirSync(store.#paths.ingest, { recursive: true });
    for (const algorithm of ALGORITHMS) mkdirSync(store.#paths.blobDir(algorithm), { recursive: true });
    await store.sweepTemps();
    return store;
  }

  get #paths() {
    const root = this.#root;
    return {
      ingest: join(root, 'ingest'),
      blobDir: (algorithm: DigestAlgorithm) => join(root, 'blobs', algorithm),
      blob: (digest: Digest) => join(root, 'blobs', algorithmOf(digest), encodedOf(digest)),
      staged: () => join(root, 'ingest', `${STAGED_PREFIX}${process.pid}-${randomHex(8)}`),
    };
  }

  blobPath(digest: Digest): string {
    parseDigest(digest);
    return this.#paths.blob(digest);
  }

  async info(digest: Digest): Promise<ContentInfo> {
    const info = await this.#stat(digest);
    return {
      digest,
      size: info.size,
      createdAt: info.mtime,
      labels: this.#references.labels(digest),
    };
  }

  async exists(digest: Digest): Promise<boolean> {
    try {
      await stat(this.blobPath(digest));
      return true;
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return false;
      throw error;
    }
  }

  async read(digest: Digest, options: ReadOptions = {}): Promise<Readable> {
    const { size } = await this.#stat(digest);
    const offset = options.offset ?? 0;
    if (!Number.isInteger(offset) || offset < 0 || offset > size) {
      throw new InvalidArgumentError(`Cannot read ${digest}: offset ${offset} is outside its ${size} bytes`);
    }
    const available = size - offset;
    const length = options.length === undefined ? available : Math.min(options.length, available);
    if (!Number.isInteger(length) || length < 0) {
      throw new InvalidArgumentError(`Cannot read ${digest}: invalid length ${options.length}`);
    }
    if (length === 0) return Readable.from([]);
    return createReadStream(this.#paths.blob(digest), { start: offset, end: offset + length - 1 });
  }

  async readAll(digest: Digest): Promise<Buffer> {
    try {
      return await readFile(this.blobPath(digest));
    } catch (error) {
      if (isErrno(error, 'ENOENT'))
        throw new NotFoundError(`Cannot read ${digest}: no such blob`, { cause: error });
      throw error;
    }
  }

  async ingest(
    source: AsyncIterable<Uint8Array> | Readable,
    options: IngestOptions = {},
  ): Promise<IngestResult> {
    if (options.expected) {
      parseDigest(options.expected);
      // Hold first: then an existing blob cannot be collected between the check and our use.
      if (options.lease) this.#references.hold(options.lease, options.expected);
      if (await this.exists(options.expected)) {
        const { digest, size } = await verifyStream(source, options);
        if (options.labels) this.#references.updateLabels(digest, options.labels);
        return { digest, size, created: false };
      }
    }
    const staged = this.#paths.staged();
    const ingestOptions: Parameters<typeof ingestVerified>[2] = { tempDir: this.#paths.ingest };
    if (options.expected) ingestOptions.expected = options.expected;
    if (options.algorithm) ingestOptions.algorithm = options.algorithm;
    if (options.size !== undefined) ingestOptions.size = options.size;
    if (options.onProgress) ingestOptions.onProgress = options.onProgress;
    if (options.signal) ingestOptions.signal = options.signal;
    const { digest, size } = await ingestVerified(source, staged, ingestOptions);
    try {
      if (options.lease && !options.expected) this.#references.hold(options.lease, digest);
      const target = this.#paths.blob(digest);
      const existed = await this.exists(digest);
      // rename over an existing blob is harmless: same digest, same bytes
      await rename(staged, target);
      await fsyncDirectory(this.#paths.blobDir(algorithmOf(digest)));
      if (options.labels) this.#references.updateLabels(digest, options.labels);
      return { digest, size, created: !existed };
    } catch (error) {
      await rm(staged, { force: true });
      throw error;
    }
  }

  async writeBlob(data: Uint8Array | string, options: IngestOptions = {}): Promise<IngestResult> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    return this.ingest(Readable.from([bytes]), options);
  }

  async list(): Promise<ContentInfo[]> {
    const out: ContentInfo[] = [];
    for (const algorithm of ALGORITHMS) {
      const dir = this.#paths.blobDir(algorithm);
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (error) {
        if (isErrno(error, 'ENOENT')) continue;
        throw error;
      }
      for (const name of names.sort()) {
        const digest = `${algorithm}:${name}` as Digest;
        try {
          const info = await stat(join(dir, name));
          out.push({
            digest,
            size: info.size,
            createdAt: info.mtime,
            labels: this.#references.labels(digest),
          });
        } catch (error) {
          if (!isErrno(error, 'ENOENT')) throw error; // deleted meanwhile
        }
      }
    }
    return out;
  }

  async updateLabels(digest: Digest, labels: Record<string, string | null>): Promise<Record<string, string>> {
    await this.#stat(digest);
    return this.#references.updateLabels(digest, labels);
  }

  async delete(digest: Digest): Promise<void> {
    try {
      await rm(this.blobPath(digest));
    } catch (error) {
      if (isErrno(error, 'ENOENT'))
        throw new NotFoundError(`Cannot delete ${digest}: no such blob`, { cause: error });
      throw error;
    }
    this.#references.forget([digest]);
  }

  async garbageCollect(options: GarbageCollectOptions = {}): Promise<GarbageCollectResult> {
    // Listing happens outside the lock: a blob linked after it is not a candidate this round.
    const candidates = options.candidates
      ? [...new Set(options.candidates)]
      : (await this.list()).map((info) => info.digest);
    const removed: Digest[] = [];
    let bytes = 0;
    this.#references.withReferencedSet((referenced) => {
      for (const digest of candidates) {
        if (referenced.has(digest)) continue;
        const path = this.#paths.blob(digest);
        try {
          const { size } = statSync(path);
          // synchronous on purpose: we are inside the write transaction that keeps holds out
          if (!options.dryRun) unlinkSync(path);
          removed.push(digest);
          bytes += size;
        } catch (error) {
          if (!isErrno(error, 'ENOENT')) throw error;
        }
      }
    });
    if (!options.dryRun && removed.length > 0) this.#references.forget(removed);
    return { removed, bytes };
  }

  /**
   * Removes temp files of ingests whose process is gone (or that are older than a day).
   * Returns how many were removed. Runs at open; safe beside live ingests of other processes.
   */
  async sweepTemps(): Promise<number> {
    let names: string[];
    try {
      names = readdirSync(this.#paths.ingest);
    } catch {
      return 0;
    }
    let removed = 0;
    const now = Date.now();
    for (const name of names) {
      if (!name.startsWith(INGEST_TEMP_PREFIX)) continue;
      const rest = name.startsWith(STAGED_PREFIX)
        ? name.slice(STAGED_PREFIX.length)
        : name.slice(INGEST_TEMP_PREFIX.length);
      const pid = Number.parseInt(rest, 10);
      const path = join(this.#paths.ingest, name);
      try {
        const info = statSync(path);
        const dead = !Number.isInteger(pid) || (pid !== process.pid && !isProcessAlive(pid));
        if (dead || now - info.mtimeMs > TEMP_MAX_AGE_MS) {
          rmSync(path, { force: true });
          removed++;
        }
      } catch {
        // vanished meanwhile
      }
    }
    return removed;
  }

  async #stat(digest: Digest) {
    try {
      return await stat(this.blobPath(digest));
    } catch (error) {
      if (isErrno(error, 'ENOENT'))
        throw new NotFoundError(`Cannot find content ${digest}: no such blob`, { cause: error });
      throw error;
    }
  }
}

/** Hashes and counts a stream without storing it: for content already present. */
async function verifyStream(
  source: AsyncIterable<Uint8Array> | Readable,
  options: IngestOptions,
): Promise<{ digest: Digest; size: number }> {
  const algorithm = options.expected ? algorithmOf(options.expected) : (options.algorithm ?? 'sha256');
  const hasher = createDigester(algorithm);
  let size = 0;
  for await (const chunk of source as AsyncIterable<Uint8Array>) {
    options.signal?.throwIfAborted();
    hasher.update(chunk);
    size += chunk.byteLength;
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
  return { digest, size };
}
