/**
 * Blob upload sessions (`POST /v2/<name>/blobs/uploads/`, `PATCH`, `PUT ?digest=`, `GET`,
 * `DELETE`). A session is a row in the metadata (id, repository, requested algorithm) plus the
 * bytes received so far at `/uploads/<id>/data`; the file's size is the session's offset, so a
 * session survives a restart: after a kill -9 the next request finds the row and the file and
 * carries on from the bytes that reached the file.
 *
 * Bytes are hashed as they stream in (with the algorithm the client asked for, else sha256) and
 * the running hash lives in memory; node:crypto cannot serialize a hash state, so after a restart,
 * or when the final digest names another algorithm (sha512 without `?digest-algorithm=`), the
 * file is re-hashed once. Nothing becomes a blob before the digest over the fsynced bytes matches
 * the one the client named (`complete`); a mismatch ends the session and leaves nothing behind.
 *
 * Requests on one session are serialized; a chunk that does not start at the current offset is
 * refused with 416 (BLOB_UPLOAD_INVALID) and the session stays usable.
 *
 * @example
 * const session = await uploads.create('library/alpine');
 * await uploads.append('library/alpine', session.id, request.raw, { start: 0, end: 1023 });
 * const blob = await uploads.complete('library/alpine', session.id, digest, emptyBody);
 */
import { type Hash, randomUUID } from 'node:crypto';
import { NotFoundError } from '../errors/index.ts';
import { algorithmOf, createDigester, type Digest, type DigestAlgorithm } from '../oci/digest.ts';
import type { BlobService } from './blob-service.ts';
import { crashPoint } from './crash-points.ts';
import { RegistryError } from './errcode.ts';
import { KeyedMutex } from './keyed-mutex.ts';
import type { BlobRecord, MetadataStore, UploadRecord } from './metadata/metadata-store.ts';
import { isUploadId, pathFor } from './storage/layout.ts';
import type { StorageDriver } from './storage/storage-driver.ts';

/** An inclusive byte range a chunk claims (`Content-Range: <start>-<end>`). */
export interface ChunkRange {
  start: number;
  end: number;
}

interface LiveSession {
  record: UploadRecord;
  /** Bytes in the data file after the last finished request. */
  size: number;
  /** Running hash of the first `hashedBytes` bytes; dropped whenever it may be out of step. */
  hasher: Hash | undefined;
  hashAlgorithm: DigestAlgorithm;
  hashedBytes: number;
}

export interface RecoveryReport {
  /** Sessions kept, to be resumed by their clients. */
  resumable: number;
  /** Sessions (rows or data directories) removed: expired, bytes lost, or never registered. */
  removed: number;
}

export class UploadManager {
  readonly #driver: StorageDriver;
  readonly #metadata: MetadataStore;
  readonly #blobs: BlobService;
  readonly #sessions = new Map<string, LiveSession>();
  readonly #locks = new KeyedMutex();

  constructor(driver: StorageDriver, metadata: MetadataStore, blobs: BlobService) {
    this.#driver = driver;
    this.#metadata = metadata;
    this.#blobs = blobs;
  }

  /** Opens a session: an empty data file first, then the row (a crash between leaves a directory the sweep removes). */
  async create(repository: string, algorithm?: DigestAlgorithm): Promise<UploadRecord> {
    const record: UploadRecord = { id: randomUUID(), repository, startedAt: new Date() };
    if (algorithm) record.algorithm = algorithm;
    const writer = await this.#driver.writer(pathFor({ kind: 'upload-data', id: record.id }));
    await writer.close();
    crashPoint('upload.before-row');
    await this.#metadata.createUpload(record);
    crashPoint('upload.after-row');
    const hashAlgorithm = algorithm ?? 'sha256';
    this.#sessions.set(record.id, {
      record,
      size: 0,
      hasher: createDigester(hashAlgorithm),
      hashAlgorithm,
      hashedBytes: 0,
    });
    return record;
  }

  /** The session's offset (bytes received), for `GET` on an upload. */
  async status(repository: string, id: string): Promise<number> {
    const session = await this.#session(repository, id);
    return session.size;
  }

  /** Appends a chunk (`PATCH`); returns the new offset. */
  async append(
    repository: string,
    id: string,
    body: AsyncIterable<Uint8Array>,
    range?: ChunkRange,
  ): Promise<number> {
    return this.#locks.run(id, async () => {
      const session = await this.#session(repository, id);
      this.#checkRange(session, range);
      await this.#write(session, body, false);
      crashPoint('chunk.after-write');
      return session.size;
    });
  }

  /**
   * Closes the session (`PUT ?digest=`): appends the optional last chunk, makes the bytes durable,
   * verifies the digest and commits the blob. On a digest mismatch the session is cancelled.
   */
  async complete(
    repository: string,
    id: string,
    digest: Digest,
    body: AsyncIterable<Uint8Array> | undefined,
    range?: ChunkRange,
  ): Promise<BlobRecord> {
    return this.#locks.run(id, async () => {
      const session = await this.#session(repository, id);
      this.#checkRange(session, range);
      await this.#write(session, body, true);
      const actual = await this.#finalDigest(session, algorithmOf(digest));
      if (actual !== digest) {
        await this.#remove(session.record);
        throw new RegistryError('DIGEST_INVALID', {
          message: `upload content has digest ${actual}, not ${digest}`,
          detail: { digest },
        });
      }
      const blob: BlobRecord = { digest, size: session.size };
      try {
        await this.#blobs.commit(repository, blob, pathFor({ kind: 'upload-data', id }), id);
      } catch (error) {
        // The session was collected or cancelled under us: forget it and what we wrote since.
        if (error instanceof RegistryError && error.code === 'BLOB_UPLOAD_UNKNOWN') {
          this.#sessions.delete(id);
          await this.#driver.delete(pathFor({ kind: 'upload', id }));
        }
        throw error;
      }
      await this.#remove(session.record);
      crashPoint('commit.after-cleanup');
      return blob;
    });
  }

  /**
   * A whole blob in one request (`POST ?digest=` with a body): streamed to a data directory that
   * never gets a row (a crash leaves only a directory the sweep removes), verified, committed.
   */
  async uploadMonolithic(
    repository: string,
    digest: Digest,
    body: AsyncIterable<Uint8Array>,
  ): Promise<BlobRecord> {
    const id = randomUUID();
    const algorithm = algorithmOf(digest);
    const session: LiveSession = {
      record: { id, repository, startedAt: new Date(), algorithm },
      size: 0,
      hasher: createDigester(algorithm),
      hashAlgorithm: algorithm,
      hashedBytes: 0,
    };
    try {
      await this.#write(session, body, true);
      const actual = `${algorithm}:${session.hasher!.digest('hex')}`;
      session.hasher = undefined;
      if (actual !== digest) {
        throw new RegistryError('DIGEST_INVALID', {
          message: `upload content has digest ${actual}, not ${digest}`,
          detail: { digest },
        });
      }
      const blob: BlobRecord = { digest, size: session.size };
      await this.#blobs.commit(repository, blob, pathFor({ kind: 'upload-data', id }));
      return blob;
    } finally {
      await this.#driver.delete(pathFor({ kind: 'upload', id }));
    }
  }

  /** Cancels the session (`DELETE`): the row first, then the bytes. */
  async cancel(repository: string, id: string): Promise<void> {
    await this.#locks.run(id, async () => {
      const session = await this.#session(repository, id);
      await this.#remove(session.record, () => crashPoint('upload-cancel.after-row'));
    });
  }

  /**
   * At start-up: keeps sessions whose bytes are there (resumable), drops those whose bytes are
   * gone or that are older than `maxAgeMs`, and removes data directories that never got a row.
   */
  async recover(options: { maxAgeMs: number }): Promise<RecoveryReport> {
    const report: RecoveryReport = { resumable: 0, removed: 0 };
    const now = Date.now();
    const rows = await this.#metadata.listUploads();
    const known = new Set<string>();
    for (const row of rows) {
      let present = true;
      try {
        await this.#driver.stat(pathFor({ kind: 'upload-data', id: row.id }));
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
        present = false;
      }
      if (!present || now - row.startedAt.getTime() > options.maxAgeMs) {
        await this.#remove(row);
        report.removed++;
        crashPoint('recovery.mid-sweep');
        continue;
      }
      known.add(row.id);
      report.resumable++;
    }
    let directories: string[] = [];
    try {
      directories = await this.#driver.list(pathFor({ kind: 'uploads-root' }));
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
    for (const name of directories) {
      if (known.has(name)) continue;
      if (!isUploadId(name)) continue;
      await this.#driver.delete(pathFor({ kind: 'upload', id: name }));
      report.removed++;
      crashPoint('recovery.mid-sweep');
    }
    return report;
  }

  /** Whether this process is serving a request on the session right now (the collector leaves it be). */
  isBusy(id: string): boolean {
    return this.#locks.isHeld(id);
  }

  /** Removes sessions idle since before `maxAgeMs` (periodic clean-up of abandoned uploads). */
  async purgeExpired(maxAgeMs: number): Promise<number> {
    const now = Date.now();
    let removed = 0;
    for (const row of await this.#metadata.listUploads()) {
      if (now - row.startedAt.getTime() <= maxAgeMs || this.#locks.isHeld(row.id)) continue;
      await this.#locks.run(row.id, () => this.#remove(row));
      removed++;
    }
    return removed;
  }

  async #session(repository: string, id: string): Promise<LiveSession> {
    const unknown = () => new RegistryError('BLOB_UPLOAD_UNKNOWN', { detail: { uuid: id } });
    if (!isUploadId(id)) throw unknown();
    const live = this.#sessions.get(id);
    if (live) {
      if (live.record.repository !== repository) throw unknown();
      // A collector (maybe in another process) may have ended an idle session: the row says.
      if (await this.#metadata.getUpload(id)) return live;
      this.#sessions.delete(id);
      throw unknown();
    }
    const record = await this.#metadata.getUpload(id);
    if (!record || record.repository !== repository) throw unknown();
    let size: number;
    try {
      size = (await this.#driver.stat(pathFor({ kind: 'upload-data', id }))).size;
    } catch (error) {
      if (error instanceof NotFoundError) throw unknown();
      throw error;
    }
    const session: LiveSession = {
      record,
      size,
      hasher: undefined, // re-hashed from the file when next needed
      hashAlgorithm: record.algorithm ?? 'sha256',
      hashedBytes: 0,
    };
    this.#sessions.set(id, session);
    return session;
  }

  #checkRange(session: LiveSession, range: ChunkRange | undefined): void {
    if (range === undefined) return;
    if (range.start !== session.size || range.end < range.start) {
      throw new RegistryError('BLOB_UPLOAD_INVALID', {
        status: 416,
        message: `chunk ${range.start}-${range.end} does not continue the upload at offset ${session.size}`,
        detail: { offset: session.size },
        headers: {
          Location: uploadLocation(session.record),
          Range: rangeHeader(session.size),
          'Docker-Upload-UUID': session.record.id,
        },
      });
    }
  }

  /** Streams `body` to the data file, hashing it; `durable` fsyncs at the end. */
  async #write(
    session: LiveSession,
    body: AsyncIterable<Uint8Array> | undefined,
    durable: boolean,
  ): Promise<void> {
    const path = pathFor({ kind: 'upload-data', id: session.record.id });
    if (session.hasher && session.hashedBytes !== session.size) session.hasher = undefined;
    const writer = await this.#driver.writer(path, { append: true });
    let failed = true;
    try {
      if (writer.size !== session.size) {
        // Another process or a crash changed the file: trust the file, re-hash later.
        session.size = writer.size;
        session.hasher = undefined;
      }
      let first = true;
      if (body) {
        for await (const chunk of body) {
          session.hasher?.update(chunk);
          await writer.write(chunk);
          if (first) {
            first = false;
            crashPoint('chunk.mid-body');
          }
        }
      }
      if (durable) {
        crashPoint('commit.before-fsync');
        await writer.commit();
        crashPoint('commit.after-fsync');
      } else {
        await writer.close();
      }
      failed = false;
    } finally {
      if (failed) {
        // The bytes that arrived stay (a client may resume after them); the hash may not match them.
        session.hasher = undefined;
        await writer.close().catch(() => {});
      }
      session.size = writer.size;
      if (session.hasher) session.hashedBytes = session.size;
    }
  }

  /** The digest of the session's bytes with `algorithm`, from the running hash or by re-reading. */
  async #finalDigest(session: LiveSession, algorithm: DigestAlgorithm): Promise<Digest> {
    if (session.hasher && session.hashAlgorithm === algorithm && session.hashedBytes === session.size) {
      const digest: Digest = `${algorithm}:${session.hasher.digest('hex')}`;
      session.hasher = undefined;
      return digest;
    }
    const hasher = createDigester(algorithm);
    const stream = await this.#driver.reader(pathFor({ kind: 'upload-data', id: session.record.id }));
    for await (const chunk of stream) hasher.update(chunk as Buffer);
    session.hasher = undefined;
    return `${algorithm}:${hasher.digest('hex')}`;
  }

  /** Forgets a session: the row first (so it is never resumed on bytes being deleted), then the bytes. */
  async #remove(record: UploadRecord, afterRow?: () => void): Promise<void> {
    this.#sessions.delete(record.id);
    await this.#metadata.deleteUpload(record.id);
    afterRow?.();
    await this.#driver.delete(pathFor({ kind: 'upload', id: record.id }));
  }
}

/** The `Location` of an upload session (relative, as distribution sends it). */
export function uploadLocation(record: { repository: string; id: string }): string {
  return `/v2/${record.repository}/blobs/uploads/${record.id}`;
}

/** The `Range` header of an upload at `size` bytes (`0-<last byte>`; `0-0` when empty, as distribution). */
export function rangeHeader(size: number): string {
  return `0-${size > 0 ? size - 1 : 0}`;
}
