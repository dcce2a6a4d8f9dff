/**
 * The writer's half of the GC protocol (metadata-store.ts, GcIndex): pin a digest before placing
 * its bytes, and the removal of bytes whose row a transaction has just deleted. A pin is refused
 * while a tombstone stands for the digest (its bytes are being removed): the writer waits for the
 * remover, or, when the remover is a process that died, finishes its job and goes on.
 *
 * @example
 * const pin = await pinWhenFree(metadata, driver, digest);
 * if (!pin.known) await driver.move(uploadPath, pathFor({ kind: 'blob', digest }));
 * await metadata.linkBlob(repository, blob, { pin: pin.id });
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { UnavailableError } from '../errors/index.ts';
import type { Digest } from '../oci/digest.ts';
import { RegistryError } from './errcode.ts';
import type { MetadataStore } from './metadata/metadata-store.ts';
import { isProcessIdentityAlive } from './process-identity.ts';
import { pathFor } from './storage/layout.ts';
import type { StorageDriver } from './storage/storage-driver.ts';

/** How long a writer waits for another process to finish removing the same bytes. */
const TOMBSTONE_WAIT_MS = 30_000;

export interface Pin {
  id: number;
  /** A row records the bytes already: they are on disk and stay while pinned. */
  known: boolean;
}

/** Pins `digest`, waiting out a removal under way; BLOB_UPLOAD_UNKNOWN when `upload` ended meanwhile. */
export async function pinWhenFree(
  metadata: MetadataStore,
  driver: StorageDriver,
  digest: Digest,
  options: { upload?: string } = {},
): Promise<Pin> {
  const deadline = Date.now() + TOMBSTONE_WAIT_MS;
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    const result = await metadata.pinBlob(digest, options);
    if (result.status === 'pinned') return { id: result.id, known: result.known };
    if (result.status === 'upload-unknown') {
      throw new RegistryError('BLOB_UPLOAD_UNKNOWN', {
        message: 'the upload session ended before it was committed (cancelled or collected)',
        detail: { uuid: options.upload },
      });
    }
    if (!isProcessIdentityAlive(result.owner)) {
      // The remover died between its transaction and the unlink: do its job.
      if (await metadata.takeOverTombstone(digest, result.owner))
        await removeTombstoned(metadata, driver, digest);
      continue;
    }
    if (Date.now() > deadline) {
      throw new UnavailableError(`Cannot store blob ${digest}: its old copy is still being removed`);
    }
    await sleep(delay);
  }
}

/** Removes the bytes of a digest this process holds the tombstone of, then the tombstone; returns the bytes freed. */
export async function removeTombstoned(
  metadata: MetadataStore,
  driver: StorageDriver,
  digest: Digest,
): Promise<number> {
  const size = await removeBlobBytes(driver, digest);
  await metadata.clearTombstone(digest);
  return size;
}

/**
 * Removes a blob's bytes (the caller holds its tombstone and clears it afterwards); returns the
 * size of the file removed, 0 when it was already gone (a previous attempt removed it, then died).
 */
export async function removeBlobBytes(driver: StorageDriver, digest: Digest): Promise<number> {
  const path = pathFor({ kind: 'blob', digest });
  let size = 0;
  try {
    size = (await driver.stat(path)).size;
  } catch {
    size = 0;
  }
  await driver.delete(path);
  return size;
}
