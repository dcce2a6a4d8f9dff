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
import type { SeverityCounts } from '../../scan/scan-report.ts';

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
  /** The pin taken before the payload was stored; released in the same transaction on success. */
  pin?: number;
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

export interface LinkOptions {
  /** The pin taken before the bytes were placed (`pinBlob`); released in the same transaction. */
  pin?: number;
  /** The upload session that produced the blob; it ends in the same transaction. */
  upload?: string;
}

export interface MountOptions {
  /**
   * Only mount when some repository of these projects links the blob (a mount without `from`
   * under access control: the caller may only link what it could read). Absent: any stored blob.
   */
  visibleProjects?: readonly string[];
}

export interface BlobIndex {
  /** The blob if `repository` links it. */
  getBlob(repository: string, digest: Digest): Promise<BlobRecord | undefined>;
  /** The blob if its bytes are stored and some repository or manifest uses them (anonymous mounts). */
  findBlob(digest: Digest): Promise<BlobRecord | undefined>;
  /** Records stored bytes and links them into `repository` (creating the repository). */
  linkBlob(repository: string, blob: BlobRecord, options?: LinkOptions): Promise<void>;
  /**
   * Links a blob whose bytes a row already records, in one transaction that checks the row (and
   * the upload session, ending it): no pin needed, since a recorded, now linked blob cannot be
   * collected. `unrecorded` when the row is gone (the caller then pins and places the bytes).
   */
  linkRecorded(
    repository: string,
    digest: Digest,
    options?: { upload?: string },
  ): Promise<'linked' | 'unrecorded' | 'upload-unknown'>;
  /** Links a blob that is already stored (a mount); undefined when the bytes are not known. */
  mountBlob(repository: string, digest: Digest, options?: MountOptions): Promise<BlobRecord | undefined>;
  /**
   * Removes the repository's link; `orphaned` when nothing references the bytes any more, in
   * which case the blob's row is gone and a tombstone owned by this process stands for its bytes:
   * remove them, then `clearTombstone`.
   */
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
  /**
   * How many tags `repository` has, counting at most `cap` (the web UI shows `cap+`, so a page
   * of repositories costs the same however many tags each holds); 0 for an unknown repository.
   */
  countTags(repository: string, cap: number): Promise<number>;
  /**
   * Repositories holding at least one manifest or blob, in byte order; with `projects`, only
   * those whose project (first path component) is listed (`_catalog` under access control).
   */
  listRepositories(page?: Page & { projects?: readonly string[] }): Promise<string[]>;
  /** Manifests in `repository` whose subject is `subject`, optionally of one artifactType. */
  listReferrers(repository: string, subject: Digest, artifactType?: string): Promise<ManifestRecord[]>;
}

export interface UploadIndex {
  createUpload(upload: UploadRecord): Promise<void>;
  getUpload(id: string): Promise<UploadRecord | undefined>;
  deleteUpload(id: string): Promise<void>;
  listUploads(): Promise<UploadRecord[]>;
}

/** A pin: the bytes of `digest` are being placed and must not be collected meanwhile. */
export type PinResult =
  | { status: 'pinned'; id: number /** a row already records the bytes (they are on disk) */; known: boolean }
  /** A delete of the same bytes is under way (a tombstone held by process `owner`): wait. */
  | { status: 'busy'; owner: string }
  /** The upload session named was ended meanwhile (cancelled, expired or collected). */
  | { status: 'upload-unknown' };

export interface Tombstone {
  digest: Digest;
  /** The process that removes the bytes (`process-identity.ts`). */
  owner: string;
}

/** Where a garbage review stands between two batches (opaque to callers). */
export interface ReviewState {
  phase: 'manifest' | 'link' | 'blob' | 'done';
  cursor?: { repositoryId: number; digest: string };
  /** Whether the current pass deleted anything (manifest passes repeat until none does). */
  progress: boolean;
}

export interface ReviewOptions {
  /** Candidates younger than this (by their row's time) are kept for a later run. */
  graceMs: number;
  /** Review untagged manifests too (else only blob links and blobs). */
  deleteUntagged: boolean;
  /** The time the grace counts back from; default: read inside the transaction (tests pin it). */
  now?: number;
}

export interface ReviewCounts {
  reviewed: number;
  manifestsDeleted: number;
  linksRemoved: number;
  blobsDeleted: number;
}

export interface ReviewBatch extends ReviewCounts {
  state: ReviewState;
  /** Blobs whose rows were deleted: their bytes are now to be removed, then `clearTombstone`. */
  tombstoned: Digest[];
}

export interface GcRunRecord {
  id: number;
  startedAt: Date;
  finishedAt: Date;
  dryRun: boolean;
  report: Record<string, unknown>;
}

/**
 * The online garbage collector's part of the metadata, and the protocol that makes it safe to run
 * while pushes go on, in any process (see docs/registry-gc.md):
 * - a **review queue** of candidates (a manifest whose tag moved or that was pushed untagged, a
 *   blob link, a blob), filled by the same transactions that make them candidates;
 * - **pins**: a writer pins a digest (in a transaction that also checks no delete is under way)
 *   before placing its bytes, and the transaction that records the row releases the pin; the
 *   collector never deletes a pinned digest;
 * - **tombstones**: the transaction that decides bytes are unreferenced deletes their row and
 *   leaves a tombstone; the bytes are removed after it, then the tombstone. A writer finding a
 *   tombstone waits (or finishes the job of a dead owner), so bytes are never removed under a
 *   row that was recorded after the decision;
 * - a **lease**, so one collector runs at a time, and a history of runs.
 */
export interface GcIndex {
  pinBlob(digest: Digest, options?: { upload?: string }): Promise<PinResult>;
  /**
   * Releases a pin that did not end in a row. With `discard`, when nothing else records, pins or
   * deletes the digest, leaves a tombstone and returns true: the caller removes the bytes it placed.
   */
  releasePin(id: number, options: { discard: boolean }): Promise<boolean>;
  /** Pins of processes that are gone (`isAlive` false: crash leftovers) become blob candidates; returns how many. */
  recoverPins(isAlive: (owner: string) => boolean): Promise<number>;
  listTombstones(): Promise<Tombstone[]>;
  /** Makes this process the owner of a tombstone whose owner `from` is gone; false if it changed hands. */
  takeOverTombstone(digest: Digest, from: string): Promise<boolean>;
  /** Ends a tombstone this process owns, once the bytes are removed. */
  clearTombstone(digest: Digest): Promise<void>;
  /** Ends several at once (one transaction: the collector clears a whole batch). */
  clearTombstones(digests: readonly Digest[]): Promise<void>;
  /** One transaction's worth (at most `limit` candidates) of the review; `state` from the last batch. */
  reviewGarbage(state: ReviewState, options: ReviewOptions & { limit: number }): Promise<ReviewBatch>;
  /** The whole review in one transaction that is rolled back: what a run would delete. */
  previewGarbage(options: ReviewOptions): Promise<ReviewBatch>;
  /**
   * Queues every candidate the metadata can name (unreferenced links, untagged manifests,
   * unreferenced blob rows) and those of `files` (digests of blob files found on disk) that no row
   * records: the full sweep, for storage written before the queue existed or damaged from outside.
   */
  enqueueEverything(files: readonly Digest[]): Promise<number>;
  /** Ends an upload session if nothing is committing it (no pin names it); true when removed. */
  removeUploadIfIdle(id: string): Promise<boolean>;
  /** Candidates waiting, by kind. */
  queueSize(): Promise<Record<'manifest' | 'link' | 'blob', number>>;
  /** Takes the collector's lease; false when a live collector holds it. */
  acquireGcLease(token: string, isAlive: (owner: string) => boolean): Promise<boolean>;
  releaseGcLease(token: string): Promise<void>;
  recordGcRun(run: Omit<GcRunRecord, 'id'>): Promise<void>;
  listGcRuns(limit: number): Promise<GcRunRecord[]>;
}

/** A vulnerability report of a manifest (docs/registry-scan.md). */
export interface ScanReportRecord {
  digest: Digest;
  /** The identity of the vulnerability database it was computed against (`osvDatabaseIdentity`). */
  database: string;
  scannedAt: Date;
  /** Findings by severity: what the pull policy checks, without reading the report. */
  counts: SeverityCounts;
  /** The report's JSON, opaque to the store. */
  report: string;
}

/**
 * Vulnerability reports, keyed by manifest digest and database identity. Content never changes
 * under a digest, so a report is shared by every repository holding the manifest; storing one
 * replaces the digest's reports of other databases (only the newest is kept).
 */
export interface ScanReportIndex {
  /** Stores reports (an index's and its platforms') in one transaction. */
  putScanReports(reports: readonly ScanReportRecord[]): Promise<void>;
  /** The digest's report; with `database`, only one computed against that database. */
  getScanReport(digest: Digest, database?: string): Promise<ScanReportRecord | undefined>;
  /** The severity counts of the digest's report (read on every pull under a policy: no JSON). */
  getScanCounts(digest: Digest): Promise<SeverityCounts | undefined>;
  /** Deletes the reports of digests no repository holds any more; returns how many. */
  pruneScanReports(): Promise<number>;
}

export interface MetadataStore
  extends BlobIndex,
    ManifestIndex,
    DiscoveryIndex,
    UploadIndex,
    GcIndex,
    ScanReportIndex {
  /** Whether any repository links, or any manifest is or references, `digest` (GC and sweeps). */
  isReferenced(digest: Digest): Promise<boolean>;
  close(): Promise<void>;
}
