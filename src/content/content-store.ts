/**
 * The content store: immutable blobs addressed by digest, split by role as containerd does.
 *
 * Lifecycle of a blob: an *ingester* streams bytes in under a lease; they are hashed while
 * written to a temp file, checked against the expected digest and size, and only then linked
 * into place: the blob is visible whole or not at all. A *provider* reads it (whole, or a byte
 * range). A *manager* lists blobs, labels them and deletes them; `garbageCollect` deletes every
 * blob no image and no live lease references. Blobs never change once written.
 *
 * @example
 * const { digest } = await store.ingest(createReadStream('layer.tar'), { lease: lease.id });
 * const config = JSON.parse((await store.readAll(configDigest)).toString());
 */
import type { Readable } from 'node:stream';
import type { Digest, DigestAlgorithm } from '../oci/digest.ts';

export interface ContentInfo {
  digest: Digest;
  size: number;
  /** When the blob was committed to this store. */
  createdAt: Date;
  labels: Record<string, string>;
}

export interface ReadOptions {
  /** First byte to read (default 0). */
  offset?: number;
  /** Bytes to read from `offset` (default: to the end). */
  length?: number;
}

/** Reads blobs. Every method throws NotFoundError for an unknown digest. */
export interface ContentProvider {
  info(digest: Digest): Promise<ContentInfo>;
  exists(digest: Digest): Promise<boolean>;
  /** A stream of the blob, or of a byte range of it. */
  read(digest: Digest, options?: ReadOptions): Promise<Readable>;
  readAll(digest: Digest): Promise<Buffer>;
  /**
   * The blob's file, for consumers that hand it to a tool (`tar -xf`). Read-only: never write,
   * rename or delete it.
   */
  blobPath(digest: Digest): string;
}

export interface IngestOptions {
  /** The digest the content must have; it also picks the hash algorithm. */
  expected?: Digest;
  /** The exact size the content must have. */
  size?: number;
  algorithm?: DigestAlgorithm;
  /** The lease that holds the blob once written; without one, GC may take it at once. */
  lease?: string;
  labels?: Record<string, string>;
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
}

export interface IngestResult {
  digest: Digest;
  size: number;
  /** False when the blob was already present (the bytes were verified and dropped). */
  created: boolean;
}

/** Writes blobs. */
export interface ContentIngester {
  /** Streams `source` in, verified. Throws InvalidArgumentError on a digest or size mismatch. */
  ingest(source: AsyncIterable<Uint8Array> | Readable, options?: IngestOptions): Promise<IngestResult>;
  /** Writes an in-memory blob (a config, a manifest). */
  writeBlob(data: Uint8Array | string, options?: IngestOptions): Promise<IngestResult>;
}

export interface GarbageCollectOptions {
  /** Only consider these blobs (e.g. those of an image just removed); default: all. */
  candidates?: Iterable<Digest>;
  /** Report what would be removed without removing it. */
  dryRun?: boolean;
}

export interface GarbageCollectResult {
  removed: Digest[];
  bytes: number;
}

/** Lists, labels and deletes blobs. */
export interface ContentManager {
  list(): Promise<ContentInfo[]>;
  /** Sets (string) or removes (null) labels; returns the labels after the update. */
  updateLabels(digest: Digest, labels: Record<string, string | null>): Promise<Record<string, string>>;
  /** Deletes a blob whatever references it (GC is the safe way); NotFoundError when absent. */
  delete(digest: Digest): Promise<void>;
  garbageCollect(options?: GarbageCollectOptions): Promise<GarbageCollectResult>;
}

export interface ContentStore extends ContentProvider, ContentIngester, ContentManager {}

/**
 * What the content store needs from the metadata database, without importing it (storage
 * layers sit side by side): labels, lease holds and the referenced set for GC. Implemented by
 * `src/metadata/content-references.ts`.
 */
export interface ContentReferences {
  labels(digest: Digest): Record<string, string>;
  updateLabels(digest: Digest, labels: Record<string, string | null>): Record<string, string>;
  /** Drops the labels of a deleted blob. */
  forget(digests: readonly Digest[]): void;
  /**
   * Records that `lease` holds `digest`. Called after verification and before the blob is linked
   * into place, so a concurrent GC either sees the hold or ran before the blob existed.
   */
  hold(lease: string, digest: Digest): void;
  /**
   * Runs `sweep` under the database's write lock with the set of digests that images and live
   * leases reference: nothing can take a new reference while it runs, so deleting inside is safe.
   */
  withReferencedSet<T>(sweep: (referenced: ReadonlySet<string>) => T): T;
}
