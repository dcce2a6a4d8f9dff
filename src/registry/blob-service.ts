/**
 * Blobs of repositories: the content-addressed bytes in the StorageDriver joined with the
 * metadata's links. A blob becomes visible in a repository in exactly one way: its verified
 * bytes are at their final path first, then the metadata links them (`commit`); it disappears the
 * other way round (`delete`: the row first, then, if nothing else uses them, the bytes). Across
 * processes (a `wharf registry gc` next to the server) the metadata keeps them apart: a commit
 * pins the digest before it places bytes and a delete leaves a tombstone until the bytes are gone
 * (`blob-pins.ts`); within the server the digest's lock also orders them.
 *
 * @example
 * const blob = await blobs.stat('library/alpine', digest);
 * const { stream } = await blobs.open('library/alpine', digest, { offset: 0, length: blob.size });
 */
import type { Readable } from 'node:stream';
import { NotFoundError } from '../errors/index.ts';
import type { Digest } from '../oci/digest.ts';
import { pinWhenFree, removeTombstoned } from './blob-pins.ts';
import { crashPoint } from './crash-points.ts';
import { RegistryError } from './errcode.ts';
import type { KeyedMutex } from './keyed-mutex.ts';
import type { BlobRecord, MetadataStore } from './metadata/metadata-store.ts';
import { pathFor } from './storage/layout.ts';
import type { StorageDriver } from './storage/storage-driver.ts';

export class BlobService {
  readonly #driver: StorageDriver;
  readonly #metadata: MetadataStore;
  readonly #locks: KeyedMutex;

  constructor(driver: StorageDriver, metadata: MetadataStore, locks: KeyedMutex) {
    this.#driver = driver;
    this.#metadata = metadata;
    this.#locks = locks;
  }

  /** The blob if the repository links it. */
  stat(repository: string, digest: Digest): Promise<BlobRecord | undefined> {
    return this.#metadata.getBlob(repository, digest);
  }

  /** Streams `length` bytes from `offset` of a blob the caller has `stat`ed. */
  async open(blob: BlobRecord, range: { offset: number; length: number }): Promise<Readable> {
    try {
      return await this.#driver.reader(pathFor({ kind: 'blob', digest: blob.digest }), range);
    } catch (error) {
      if (error instanceof NotFoundError) {
        // The metadata links bytes the storage lacks: damage from outside; say so, do not 500.
        throw new RegistryError('BLOB_UNKNOWN', {
          message: 'blob is linked but its content is missing from the storage',
          detail: { digest: blob.digest },
          cause: error,
        });
      }
      throw error;
    }
  }

  /**
   * Makes the verified, durable bytes at `sourcePath` the blob `digest` of `repository`. When the
   * registry already stores those bytes the source is simply dropped. With `upload`, the session
   * ends in the same transaction that links the blob (and must still exist).
   */
  async commit(repository: string, blob: BlobRecord, sourcePath: string, upload?: string): Promise<void> {
    await this.#locks.run(blob.digest, async () => {
      // Bytes already stored (a layer another repository has): one transaction links them.
      if (await this.#metadata.findBlob(blob.digest)) {
        const linked = await this.#metadata.linkRecorded(repository, blob.digest, upload ? { upload } : {});
        if (linked === 'upload-unknown') throw uploadEnded(upload);
        if (linked === 'linked') {
          crashPoint('commit.after-row');
          await this.#driver.delete(sourcePath);
          return;
        }
      }
      const pin = await pinWhenFree(this.#metadata, this.#driver, blob.digest, upload ? { upload } : {});
      let linked = false;
      try {
        if (!pin.known) {
          crashPoint('commit.before-move');
          await this.#driver.move(sourcePath, pathFor({ kind: 'blob', digest: blob.digest }));
          crashPoint('commit.after-move');
        }
        const options = upload ? { pin: pin.id, upload } : { pin: pin.id };
        await this.#metadata.linkBlob(repository, blob, options);
        linked = true;
        crashPoint('commit.after-row');
      } finally {
        if (!linked && (await this.#metadata.releasePin(pin.id, { discard: !pin.known }))) {
          await removeTombstoned(this.#metadata, this.#driver, blob.digest);
        }
      }
      if (pin.known) await this.#driver.delete(sourcePath);
    });
  }

  /**
   * Cross-repository mount: links a blob `from` holds (or, without `from`, any stored blob, or
   * under access control one that a repository of `visibleProjects` links) into `repository`.
   * Undefined when it cannot (the caller then opens an upload session).
   */
  async mount(
    repository: string,
    digest: Digest,
    from: string | undefined,
    visibleProjects?: readonly string[],
  ): Promise<BlobRecord | undefined> {
    if (from !== undefined && !(await this.#metadata.getBlob(from, digest))) return undefined;
    const mounted = await this.#metadata.mountBlob(
      repository,
      digest,
      from === undefined && visibleProjects !== undefined ? { visibleProjects } : {},
    );
    if (mounted) crashPoint('mount.after-row');
    return mounted;
  }

  /** Unlinks the blob from the repository; removes its bytes when nothing else uses them. */
  async delete(repository: string, digest: Digest): Promise<boolean> {
    return this.#locks.run(digest, async () => {
      const result = await this.#metadata.unlinkBlob(repository, digest);
      crashPoint('blob-delete.after-row');
      if (result.orphaned) {
        await removeTombstoned(this.#metadata, this.#driver, digest);
        crashPoint('blob-delete.after-remove');
      }
      return result.deleted;
    });
  }
}

function uploadEnded(upload: string | undefined): RegistryError {
  return new RegistryError('BLOB_UPLOAD_UNKNOWN', {
    message: 'the upload session ended before it was committed (cancelled or collected)',
    detail: { uuid: upload },
  });
}
