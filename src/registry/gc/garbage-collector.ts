/**
 * Online garbage collection: mark and sweep from the metadata while the registry keeps serving,
 * in the server's process (scheduled, or `POST /api/v1/gc`) or in another one (`wharf registry gc`
 * on the same storage). The design is GitLab's online GC: the transactions that can make garbage
 * (a tag moves, a manifest is deleted, an upload ends in a link no manifest uses yet) queue
 * candidates, and a run reviews only the queue, so its work grows with the garbage, not with the
 * registry. See docs/registry-gc.md for the whole story.
 *
 * One run:
 * 1. takes the lease (one collector at a time; a dead one's lease is taken over);
 * 2. resumes what a killed run or server left: pins of dead processes become candidates,
 *    tombstones of dead processes have their bytes removed;
 * 3. reviews the queue in batches, each one write transaction that decides and deletes rows and
 *    leaves tombstones (untagged manifests first with `deleteUntagged`, then links, then blobs);
 *    after each batch removes the tombstoned bytes, measuring each file it removes;
 * 4. sweeps upload sessions idle for longer than the grace (and at least UPLOAD_IDLE_FLOOR_MS);
 * 5. records the report.
 *
 * A run killed anywhere resumes at the next: decided deletions are tombstones, undecided
 * candidates are still queued.
 *
 * @example
 * const gc = new GarbageCollector(driver, metadata);
 * const report = await gc.run({ graceMs: 3_600_000, deleteUntagged: true });
 * console.log(report.bytesFreed);
 */
import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError } from '../../errors/index.ts';
import type { Digest, DigestAlgorithm } from '../../oci/digest.ts';
import { removeBlobBytes, removeTombstoned } from '../blob-pins.ts';
import { crashPoint } from '../crash-points.ts';
import type { MetadataStore, ReviewBatch, ReviewState } from '../metadata/metadata-store.ts';
import { isProcessIdentityAlive } from '../process-identity.ts';
import { isUploadId, pathFor } from '../storage/layout.ts';
import type { StorageDriver } from '../storage/storage-driver.ts';

/** Default grace: unreferenced things younger than this are kept (a push may be about to use them). */
export const DEFAULT_GC_GRACE_MS = 60 * 60 * 1000;
/**
 * Upload sessions are swept only after this much idleness, whatever the grace: with `--grace 0s`
 * a session between two PATCHes of a live client must not be taken.
 */
export const UPLOAD_IDLE_FLOOR_MS = 15 * 60 * 1000;
/** Candidates per review transaction: short enough not to hold the write lock noticeably. */
const BATCH_SIZE = 128;
/** Blob files removed concurrently. */
const REMOVALS_IN_FLIGHT = 32;

export interface GcOptions {
  /** Unreferenced links, blobs and untagged manifests younger than this are kept. */
  graceMs: number;
  /** Decide and report, delete nothing. */
  dryRun?: boolean;
  /** Also collect untagged manifests that no index lists and whose subject is gone. */
  deleteUntagged?: boolean;
  /** Queue every candidate first (walks all blob files): for storage older than the queue. */
  full?: boolean;
  /** Stops between batches; what is left stays queued. */
  signal?: AbortSignal;
}

export interface GcReport {
  dryRun: boolean;
  deleteUntagged: boolean;
  graceMs: number;
  startedAt: string;
  durationMs: number;
  /** Stopped by its signal before the end. */
  aborted: boolean;
  /** Candidates looked at. */
  reviewed: number;
  manifestsDeleted: number;
  linksRemoved: number;
  blobsDeleted: number;
  /** Bytes of blob files removed (each file measured as it was removed). */
  blobBytesFreed: number;
  uploadsRemoved: number;
  uploadBytesFreed: number;
  /** blobBytesFreed + uploadBytesFreed. */
  bytesFreed: number;
  /** Left by a killed run or server: bytes of tombstones removed, pins turned into candidates. */
  resumed: { tombstones: number; bytes: number; pins: number };
  /** Candidates still queued (young ones, or all of them after an abort). */
  queued: { manifest: number; link: number; blob: number };
}

export interface GarbageCollectorOptions {
  /** Upload sessions this process is serving a request on (the server's UploadManager). */
  isUploadBusy?: (id: string) => boolean;
}

export class GarbageCollector {
  readonly #driver: StorageDriver;
  readonly #metadata: MetadataStore;
  readonly #isUploadBusy: (id: string) => boolean;
  #running: Promise<GcReport> | undefined;
  #stopping = false;

  constructor(driver: StorageDriver, metadata: MetadataStore, options: GarbageCollectorOptions = {}) {
    this.#driver = driver;
    this.#metadata = metadata;
    this.#isUploadBusy = options.isUploadBusy ?? (() => false);
  }

  /** Whether a run started by this collector is under way. */
  get running(): boolean {
    return this.#running !== undefined;
  }

  /** Stops a run under way between two batches (what is left stays queued) and refuses new ones. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#running?.catch(() => {});
  }

  /** One collection; ConflictError when another collector (any process) is running. */
  async run(options: GcOptions): Promise<GcReport> {
    if (this.#running) throw new ConflictError('Cannot collect garbage: a collection is already running');
    if (this.#stopping) throw new ConflictError('Cannot collect garbage: the registry is shutting down');
    const running = this.#run(options);
    this.#running = running;
    try {
      return await running;
    } finally {
      this.#running = undefined;
    }
  }

  async #run(options: GcOptions): Promise<GcReport> {
    const token = randomUUID();
    if (!(await this.#metadata.acquireGcLease(token, isProcessIdentityAlive))) {
      throw new ConflictError('Cannot collect garbage: another collection is running on this storage');
    }
    const started = new Date();
    const report: GcReport = {
      dryRun: options.dryRun ?? false,
      deleteUntagged: options.deleteUntagged ?? false,
      graceMs: options.graceMs,
      startedAt: started.toISOString(),
      durationMs: 0,
      aborted: false,
      reviewed: 0,
      manifestsDeleted: 0,
      linksRemoved: 0,
      blobsDeleted: 0,
      blobBytesFreed: 0,
      uploadsRemoved: 0,
      uploadBytesFreed: 0,
      bytesFreed: 0,
      resumed: { tombstones: 0, bytes: 0, pins: 0 },
      queued: { manifest: 0, link: 0, blob: 0 },
    };
    try {
      if (!report.dryRun) await this.#resume(report);
      if (options.full) await this.#metadata.enqueueEverything(await this.#blobFiles());
      if (report.dryRun) await this.#preview(options, report);
      else await this.#review(options, report);
      if (!report.aborted) await this.#sweepUploads(options, report);
      report.bytesFreed = report.blobBytesFreed + report.uploadBytesFreed;
      report.queued = await this.#metadata.queueSize();
      report.durationMs = Date.now() - started.getTime();
      // Runs that found nothing are not worth a history line (a scheduled loop makes many).
      const eventful =
        report.dryRun ||
        report.manifestsDeleted + report.linksRemoved + report.blobsDeleted + report.uploadsRemoved > 0 ||
        report.resumed.tombstones + report.resumed.pins > 0;
      if (eventful)
        await this.#metadata.recordGcRun({
          startedAt: started,
          finishedAt: new Date(),
          dryRun: report.dryRun,
          report: { ...report },
        });
      return report;
    } finally {
      await this.#metadata.releaseGcLease(token);
    }
  }

  /** Finishes what dead processes left: their pins become candidates, their tombstones are carried out. */
  async #resume(report: GcReport): Promise<void> {
    report.resumed.pins = await this.#metadata.recoverPins(isProcessIdentityAlive);
    for (const tombstone of await this.#metadata.listTombstones()) {
      // A live owner (this process included: a DELETE in flight) is removing those bytes itself.
      if (isProcessIdentityAlive(tombstone.owner)) continue;
      if (!(await this.#metadata.takeOverTombstone(tombstone.digest, tombstone.owner))) continue;
      report.resumed.bytes += await removeTombstoned(this.#metadata, this.#driver, tombstone.digest);
      report.resumed.tombstones++;
    }
    report.blobBytesFreed += report.resumed.bytes;
  }

  async #review(options: GcOptions, report: GcReport): Promise<void> {
    const deleteUntagged = options.deleteUntagged ?? false;
    let state: ReviewState = { phase: deleteUntagged ? 'manifest' : 'link', progress: false };
    while (state.phase !== 'done') {
      if (options.signal?.aborted || this.#stopping) {
        report.aborted = true;
        return;
      }
      const batch = await this.#metadata.reviewGarbage(state, {
        graceMs: options.graceMs,
        deleteUntagged,
        limit: BATCH_SIZE,
      });
      crashPoint('gc.after-review');
      addCounts(report, batch);
      // Many removals at once: under load every await waits a turn of a busy event loop.
      await inParallel(batch.tombstoned, REMOVALS_IN_FLIGHT, async (digest) => {
        const size = await removeBlobBytes(this.#driver, digest);
        report.blobBytesFreed += size;
        crashPoint('gc.after-unlink');
      });
      await this.#metadata.clearTombstones(batch.tombstoned);
      state = batch.state;
      // Between batches the server's requests get the event loop (and the write lock).
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async #preview(options: GcOptions, report: GcReport): Promise<void> {
    const batch = await this.#metadata.previewGarbage({
      graceMs: options.graceMs,
      deleteUntagged: options.deleteUntagged ?? false,
    });
    addCounts(report, batch);
    for (const digest of batch.tombstoned)
      report.blobBytesFreed += await this.#sizeOf(pathFor({ kind: 'blob', digest }));
    for (const tombstone of await this.#metadata.listTombstones()) {
      report.blobBytesFreed += await this.#sizeOf(pathFor({ kind: 'blob', digest: tombstone.digest }));
    }
  }

  /** Removes upload sessions (and directories no session owns) idle for longer than the grace. */
  async #sweepUploads(options: GcOptions, report: GcReport): Promise<void> {
    const idleAfter = Math.max(options.graceMs, UPLOAD_IDLE_FLOOR_MS);
    const now = Date.now();
    const rows = await this.#metadata.listUploads();
    const known = new Set(rows.map((row) => row.id));
    for (const row of rows) {
      const data = await this.#statOrUndefined(pathFor({ kind: 'upload-data', id: row.id }));
      const lastActivity = data?.modTime.getTime() ?? row.startedAt.getTime();
      if (now - lastActivity <= idleAfter || this.#isUploadBusy(row.id)) continue;
      if (!report.dryRun) {
        if (!(await this.#metadata.removeUploadIfIdle(row.id))) continue;
        crashPoint('gc.mid-uploads');
        await this.#driver.delete(pathFor({ kind: 'upload', id: row.id }));
      }
      report.uploadsRemoved++;
      report.uploadBytesFreed += data?.size ?? 0;
    }
    let names: string[] = [];
    try {
      names = await this.#driver.list(pathFor({ kind: 'uploads-root' }));
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
    for (const name of names) {
      if (!isUploadId(name) || known.has(name)) continue;
      const directory = await this.#statOrUndefined(pathFor({ kind: 'upload', id: name }));
      const data = await this.#statOrUndefined(pathFor({ kind: 'upload-data', id: name }));
      const lastActivity = Math.max(directory?.modTime.getTime() ?? 0, data?.modTime.getTime() ?? 0);
      if (now - lastActivity <= idleAfter || this.#isUploadBusy(name)) continue;
      // A session created since the listing has a row now: leave it.
      if (await this.#metadata.getUpload(name)) continue;
      if (!report.dryRun) await this.#driver.delete(pathFor({ kind: 'upload', id: name }));
      report.uploadsRemoved++;
      report.uploadBytesFreed += data?.size ?? 0;
    }
  }

  /** Digests of every blob file on disk (the full sweep only). */
  async #blobFiles(): Promise<Digest[]> {
    const digests: Digest[] = [];
    for (const algorithm of ['sha256', 'sha512'] as DigestAlgorithm[]) {
      let prefixes: string[];
      try {
        prefixes = await this.#driver.list(pathFor({ kind: 'blob-algorithm', algorithm }));
      } catch (error) {
        if (error instanceof NotFoundError) continue;
        throw error;
      }
      for (const prefix of prefixes) {
        const names = await this.#driver.list(`${pathFor({ kind: 'blob-algorithm', algorithm })}/${prefix}`);
        for (const name of names) {
          if (/^[a-f0-9]+$/.test(name) && name.startsWith(prefix))
            digests.push(`${algorithm}:${name}` as Digest);
        }
      }
    }
    return digests;
  }

  async #statOrUndefined(path: string): Promise<{ size: number; modTime: Date } | undefined> {
    try {
      return await this.#driver.stat(path);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  async #sizeOf(path: string): Promise<number> {
    return (await this.#statOrUndefined(path))?.size ?? 0;
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight. */
async function inParallel<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function addCounts(report: GcReport, batch: ReviewBatch): void {
  report.reviewed += batch.reviewed;
  report.manifestsDeleted += batch.manifestsDeleted;
  report.linksRemoved += batch.linksRemoved;
  report.blobsDeleted += batch.blobsDeleted;
}
