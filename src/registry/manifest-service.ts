/**
 * Manifests of repositories: validation of pushed manifests (through `parseManifest` of the OCI
 * model), their references, subjects and tags, and the payload bytes. A manifest's exact bytes are
 * stored as a blob (`putContent`, atomic and durable, under a pin: `blob-pins.ts`) before the
 * metadata transaction that checks its references and inserts it with its tags; a crash between
 * the two leaves unreferenced bytes (and a pin the next start turns into a GC candidate), never a
 * visible manifest whose payload is missing. The reference check runs in the same transaction as
 * the collector's deletions are decided in, so a manifest naming a blob that a GC has just taken is
 * refused with MANIFEST_BLOB_UNKNOWN, never accepted over missing bytes.
 *
 * Hot manifests are served from a small in-memory cache keyed by digest: content-addressed bytes
 * never change, so the cache never needs invalidating, only bounding.
 *
 * @example
 * const { digest } = await manifests.put('library/alpine', { tag: '3.20' }, bytes, contentType, []);
 * const { record, bytes } = await manifests.get('library/alpine', { tag: '3.20' });
 */
import { NotFoundError } from '../errors/index.ts';
import type { Descriptor } from '../oci/descriptor.ts';
import { embeddedData } from '../oci/descriptor.ts';
import { algorithmOf, type Digest, digestBytes } from '../oci/digest.ts';
import { ManifestError, type ParsedManifest, parseManifest } from '../oci/manifest.ts';
import { baseMediaType, MediaType } from '../oci/media-types.ts';
import { pinWhenFree, removeTombstoned } from './blob-pins.ts';
import { crashPoint } from './crash-points.ts';
import { RegistryError, RegistryErrors } from './errcode.ts';
import type { KeyedMutex } from './keyed-mutex.ts';
import type { ManifestRecord, MetadataStore } from './metadata/metadata-store.ts';
import { pathFor } from './storage/layout.ts';
import type { StorageDriver } from './storage/storage-driver.ts';

/** The largest manifest accepted (the spec asks registries to take at least 4 MB). */
export const MANIFEST_SIZE_LIMIT = 4 * 1024 * 1024;
const CACHE_BYTES = 64 * 1024 * 1024;

export type ManifestReference = { tag: string } | { digest: Digest };

/** Media types whose layers clients fetch from elsewhere: referenced, never pushed. */
const NON_DISTRIBUTABLE = new Set<string>([
  MediaType.OciLayerNondistributable,
  MediaType.OciLayerNondistributableGzip,
  MediaType.OciLayerNondistributableZstd,
  MediaType.DockerForeignLayerGzip,
  'application/vnd.docker.image.rootfs.foreign.diff.tar',
]);

/** What the registry needs to know of a pushed manifest. */
export interface ManifestDescription {
  record: ManifestRecord;
  /** Blobs the repository must already link. */
  blobs: Digest[];
  /** Manifests the repository must already hold. */
  manifests: Digest[];
}

/**
 * The one place a pushed manifest is parsed: validates `bytes` as the media type the client sent
 * and extracts what the metadata records. Throws RegistryError MANIFEST_INVALID.
 */
export function describeManifest(
  bytes: Buffer,
  contentType: string | undefined,
  digest: Digest,
): ManifestDescription {
  let parsed: ParsedManifest;
  try {
    parsed = parseManifest(bytes, contentType);
  } catch (error) {
    if (error instanceof ManifestError) {
      throw new RegistryError('MANIFEST_INVALID', { message: error.message, cause: error });
    }
    throw error;
  }
  const record: ManifestRecord = { digest, mediaType: parsed.mediaType, size: bytes.byteLength };
  if (parsed.subject) record.subject = parsed.subject.digest;
  if (parsed.annotations) record.annotations = parsed.annotations;
  if (parsed.artifactType) record.artifactType = parsed.artifactType;
  else if (parsed.kind === 'manifest') record.artifactType = parsed.config.mediaType;

  const descriptors: Descriptor[] =
    parsed.kind === 'manifest' ? [parsed.config, ...parsed.layers] : parsed.manifests;
  for (const descriptor of [...descriptors, ...(parsed.subject ? [parsed.subject] : [])]) {
    if (descriptor.data !== undefined && embeddedData(descriptor) === undefined) {
      throw new RegistryError('MANIFEST_INVALID', {
        message: `descriptor ${descriptor.digest} has embedded data that does not match its digest and size`,
        detail: { digest: descriptor.digest },
      });
    }
  }
  const blobs: Digest[] = [];
  const manifests: Digest[] = [];
  if (parsed.kind === 'manifest') {
    for (const descriptor of descriptors) {
      if (!NON_DISTRIBUTABLE.has(baseMediaType(descriptor.mediaType))) blobs.push(descriptor.digest);
    }
  } else {
    for (const descriptor of parsed.manifests) manifests.push(descriptor.digest);
  }
  return { record, blobs: unique(blobs), manifests: unique(manifests) };
}

export class ManifestService {
  readonly #driver: StorageDriver;
  readonly #metadata: MetadataStore;
  readonly #locks: KeyedMutex;
  readonly #cache = new Map<string, Buffer>();
  #cachedBytes = 0;

  constructor(driver: StorageDriver, metadata: MetadataStore, locks: KeyedMutex) {
    this.#driver = driver;
    this.#metadata = metadata;
    this.#locks = locks;
  }

  /** The manifest's record, or undefined. */
  stat(repository: string, reference: ManifestReference): Promise<ManifestRecord | undefined> {
    return this.#metadata.getManifest(repository, reference);
  }

  /** The manifest's exact bytes. */
  async payload(record: ManifestRecord): Promise<Buffer> {
    const cached = this.#cache.get(record.digest);
    if (cached) {
      // refresh its place in the LRU order
      this.#cache.delete(record.digest);
      this.#cache.set(record.digest, cached);
      return cached;
    }
    let bytes: Buffer;
    try {
      bytes = await this.#driver.getContent(pathFor({ kind: 'blob', digest: record.digest }));
    } catch (error) {
      if (error instanceof NotFoundError) {
        throw new RegistryError('MANIFEST_UNKNOWN', {
          message: 'manifest is recorded but its content is missing from the storage',
          detail: { digest: record.digest },
          cause: error,
        });
      }
      throw error;
    }
    this.#remember(record.digest, bytes);
    return bytes;
  }

  /**
   * Stores a manifest pushed to `reference` plus `extraTags` (`?tag=`). The digest is computed
   * with the algorithm of a digest reference (sha256 for tags) and must match it.
   */
  async put(
    repository: string,
    reference: ManifestReference,
    bytes: Buffer,
    contentType: string | undefined,
    extraTags: string[],
  ): Promise<{ record: ManifestRecord; tags: string[] }> {
    const algorithm = 'digest' in reference ? algorithmOf(reference.digest) : 'sha256';
    const digest = digestBytes(bytes, algorithm);
    if ('digest' in reference && reference.digest !== digest) {
      throw new RegistryError('DIGEST_INVALID', {
        message: `manifest content has digest ${digest}, not ${reference.digest}`,
        detail: { digest: reference.digest },
      });
    }
    const description = describeManifest(bytes, contentType, digest);
    const tags = unique(['tag' in reference ? [reference.tag] : [], extraTags].flat());
    await this.#locks.run(digest, async () => {
      const pin = await pinWhenFree(this.#metadata, this.#driver, digest);
      let recorded = false;
      try {
        if (!pin.known) {
          crashPoint('manifest.before-payload');
          await this.#driver.putContent(pathFor({ kind: 'blob', digest }), bytes);
          crashPoint('manifest.after-payload');
        }
        const result = await this.#metadata.putManifest({
          repository,
          manifest: description.record,
          blobs: description.blobs,
          manifests: description.manifests,
          tags,
          pin: pin.id,
        });
        if (!result.ok) {
          throw new RegistryErrors(
            result.missing.map(
              (missing) =>
                new RegistryError('MANIFEST_BLOB_UNKNOWN', {
                  message: `manifest references ${missing.kind === 'blob' ? 'a blob' : 'a manifest'} unknown to the repository`,
                  detail: { digest: missing.digest },
                }),
            ),
          );
        }
        recorded = true;
        crashPoint('manifest.after-row');
      } finally {
        // Refused (or failed): the payload placed for it goes unless something else records it.
        if (!recorded && (await this.#metadata.releasePin(pin.id, { discard: !pin.known }))) {
          await removeTombstoned(this.#metadata, this.#driver, digest);
        }
      }
    });
    this.#remember(digest, bytes);
    return { record: description.record, tags };
  }

  /**
   * For a client that cannot read indexes (an old Docker client asking only for schema 2
   * manifests), distribution answers with the index's linux/amd64 manifest: so does this, when that
   * entry is in the repository and of a type `accepts` admits.
   */
  async defaultPlatformManifest(
    repository: string,
    index: ManifestRecord,
    accepts: (mediaType: string) => boolean,
  ): Promise<ManifestRecord | undefined> {
    const document = JSON.parse((await this.payload(index)).toString('utf8')) as {
      manifests?: Array<{ digest?: unknown; platform?: { os?: unknown; architecture?: unknown } }>;
    };
    const entry = document.manifests?.find(
      (candidate) => candidate.platform?.os === 'linux' && candidate.platform?.architecture === 'amd64',
    );
    if (!entry || typeof entry.digest !== 'string') return undefined;
    const record = await this.#metadata.getManifest(repository, { digest: entry.digest as Digest });
    return record && accepts(record.mediaType) ? record : undefined;
  }

  /** Deletes a manifest by digest (its tags go with it) and its bytes when nothing else uses them. */
  async delete(repository: string, digest: Digest): Promise<boolean> {
    return this.#locks.run(digest, async () => {
      const result = await this.#metadata.deleteManifest(repository, digest);
      crashPoint('manifest-delete.after-row');
      if (result.orphaned) {
        this.#forget(digest);
        await removeTombstoned(this.#metadata, this.#driver, digest);
      }
      return result.deleted;
    });
  }

  /** Deletes a tag, leaving its manifest. */
  async deleteTag(repository: string, tag: string): Promise<boolean> {
    const deleted = await this.#metadata.deleteTag(repository, tag);
    crashPoint('tag-delete.after-row');
    return deleted;
  }

  #remember(digest: string, bytes: Buffer): void {
    if (bytes.byteLength > CACHE_BYTES / 8 || this.#cache.has(digest)) return;
    this.#cache.set(digest, bytes);
    this.#cachedBytes += bytes.byteLength;
    for (const [key, value] of this.#cache) {
      if (this.#cachedBytes <= CACHE_BYTES) break;
      this.#cache.delete(key);
      this.#cachedBytes -= value.byteLength;
    }
  }

  #forget(digest: string): void {
    const bytes = this.#cache.get(digest);
    if (!bytes) return;
    this.#cache.delete(digest);
    this.#cachedBytes -= bytes.byteLength;
  }
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
