/**
 * The registry's metadata: which repositories exist, which blobs each links, its manifests,
 * tags, the references from manifests to blobs and child manifests, and open upload sessions.
 * The bytes themselves are in the StorageDriver; a blob or manifest is visible in a repository
 * only once a row here says so, which is what makes pushes atomic.
 *
 * The interface is split by role (blobs, manifests, discovery, uploads) and every method is one
 * atomic operation (its own transaction), asynchronous so that PostgreSQL can serve it as well as
 * SQLite. Checks that must not race with deletes (a manifest's references, a blob's last link)
 * happen inside the same transaction as the write they guard.
 *
 * @example
 * const result = await store.putManifest({ repository: 'library/alpine', manifest, blobs, manifests: [], tags: ['3.20'] });
 * if (!result.ok) throw manifestBlobUnknown(result.missing);
 */
import type { Digest, DigestAlgorithm } from '../../oci/digest.ts';

export interface BlobRecord {
  digest: Digest;
  size: number;
}

export interface ManifestRecord {
  digest: Digest;
  mediaType: string;
  size: number;
  /** The referrers API's artifactType: the manifest's own, else (image manifests) the config's media type. */
  artifactType?: string;
  /** Digest of the `subject` descriptor, if any. */
  subject?: Digest;
  annotations?: Record<string, string>;
}

export interface PutManifestInput {
  repository: string;
  manifest: ManifestRecord;
  /** Blobs (config, layers) the repository must link for the manifest to be accepted. */
  blobs: Digest[];
  /** Manifests (an index's entries) the repository must hold. */
  manifests: Digest[];
  /** Tags to point at the manifest (created or moved). */
  tags: string[];
}

export interface MissingReference {
  digest: Digest;
  kind: 'blob' | 'manifest';
}

export type PutManifestResult = { ok: true } | { ok: false; missing: MissingReference[] };

/** What a delete left behind: `orphaned` means no repository needs the bytes any more. */
export interface DeleteResult {
  deleted: boolean;
  orphaned: boolean;
}

export interface Page {
  /** At most this many entries (undefined: all). */
  limit?: number;
  /** Entries strictly after this one, in byte order. */
  after?: string;
}

export interface UploadRecord {
  id: string;
  repository: string;
  /** The algorithm the client asked for (`?digest-algorithm=`); undefined: decided at PUT. */
  algorithm?: DigestAlgorithm;
  startedAt: Date;
}

export interface BlobIndex {
  /** The blob if `repository` links it. */
  getBlob(repository: string, digest: Digest): Promise<BlobRecord | undefined>;
  /** The blob if its bytes are stored and some repository or manifest uses them (anonymous mounts). */
  findBlob(digest: Digest): Promise<BlobRecord | undefined>;
  /** Records stored bytes and links them into `repository` (creating the repository). */
  linkBlob(repository: string, blob: BlobRecord): Promise<void>;
  /** Links a blob that is already stored (a mount); false when the bytes are not known. */
  mountBlob(repository: string, digest: Digest): Promise<BlobRecord | undefined>;
  /** Removes the repository's link; `orphaned` when nothing references the bytes any more. */
  unlinkBlob(repository: string, digest: Digest): Promise<DeleteResult>;
}

export interface ManifestIndex {
  getManifest(
    repository: string,
    reference: { tag: string } | { digest: Digest },
  ): Promise<ManifestRecord | undefined>;
  /** Checks references and inserts manifest, references and tags in one transaction. */
  putManifest(input: PutManifestInput): Promise<PutManifestResult>;
  /** Deletes the manifest, the tags pointing at it and its references. */
  deleteManifest(repository: string, digest: Digest): Promise<DeleteResult>;
  deleteTag(repository: string, tag: string): Promise<boolean>;
}

export interface DiscoveryIndex {
  /** Tags in byte order, or undefined when the repository does not exist. */
  listTags(repository: string, page?: Page): Promise<string[] | undefined>;
  /** Repositories holding at least one manifest or blob, in byte order. */
  listRepositories(page?: Page): Promise<string[]>;
  /** Manifests in `repository` whose subject is `subject`, optionally of one artifactType. */
  listReferrers(repository: string, subject: Digest, artifactType?: string): Promise<ManifestRecord[]>;
}

export interface UploadIndex {
  createUpload(upload: UploadRecord): Promise<void>;
  getUpload(id: string): Promise<UploadRecord | undefined>;
  deleteUpload(id: string): Promise<void>;
  listUploads(): Promise<UploadRecord[]>;
}

export interface MetadataStore extends BlobIndex, ManifestIndex, DiscoveryIndex, UploadIndex {
  /** Whether any repository links, or any manifest is or references, `digest` (GC and sweeps). */
  isReferenced(digest: Digest): Promise<boolean>;
  close(): Promise<void>;
}
