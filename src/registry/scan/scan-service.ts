/**
 * Vulnerability scanning in the registry (docs/registry-scan.md), Harbor's role: scans on demand
 * and on push, reports kept in the metadata SQLite keyed by manifest digest and database identity,
 * and the "prevent vulnerable images from running" pull policy.
 *
 * - A scan job first takes the identity of the OSV directory (src/scan/osv-database-identity.ts):
 *   when the digest already has a report for it, there is nothing to do (content never changes
 *   under a digest); otherwise the manifest is scanned (manifest-scanner.ts) and its reports (an
 *   index's and its platforms') are stored in one transaction. A changed database makes the next
 *   scan a real one.
 * - Jobs run one at a time in the background (scan-queue.ts). A push only queues one, after its
 *   manifest is committed, and never waits for it.
 * - The policy reads the severity counts of the digest's newest report on every GET of a manifest
 *   (HEAD is answered, as Harbor answers it): findings at or above the configured severity answer
 *   412 DENIED. A manifest without a
 *   report is served (as Harbor serves unscanned images unless told otherwise).
 *
 * @example
 * const scans = new ScanService({ settings: { db: '/var/lib/wharf/vulndb', onPush: true }, metadata, manifests, blobs });
 * scans.request('team/app', digest);
 * await scans.view(digest); // { status: 'running' } ... { status: 'complete', report, ... }
 */
import type { Logger } from 'pino';
import { NotFoundError } from '../../errors/index.ts';
import type { Digest } from '../../oci/digest.ts';
import { isConfigMediaType, isIndexMediaType, isManifestMediaType } from '../../oci/media-types.ts';
import { osvDatabaseIdentity } from '../../scan/osv-database-identity.ts';
import type { ScanReport } from '../../scan/scan-report.ts';
import { type Severity, severitiesAtOrAbove } from '../../scan/severity.ts';
import type { BlobService } from '../blob-service.ts';
import { RegistryError } from '../errcode.ts';
import type { ManifestService } from '../manifest-service.ts';
import type { ManifestRecord, MetadataStore } from '../metadata/metadata-store.ts';
import type { StoredScanReport } from './index-report.ts';
import { ManifestScanner } from './manifest-scanner.ts';
import { ScanQueue, type ScanState } from './scan-queue.ts';

export interface ScanSettings {
  /** The OSV database directory. */
  db: string;
  /** Scan every manifest pushed (images and indexes; other artifacts are left alone). */
  onPush?: boolean;
  /** Refuse pulls of manifests whose report has findings at or above this severity. */
  preventVulnerable?: { severity: Severity };
}

export interface ScanServiceOptions {
  settings: ScanSettings;
  metadata: MetadataStore;
  manifests: ManifestService;
  blobs: BlobService;
  logger?: Logger;
}

/** What the API and the UI show of one manifest. */
export type ScanView =
  | { status: 'not scanned' | 'queued' | 'running' }
  | { status: 'failed'; error: string }
  | {
      status: 'complete';
      report: StoredScanReport;
      database: string;
      scannedAt: Date;
      /** A newer scan waits, runs, or failed (the report shown is the previous one). */
      rescan?: ScanState;
    };

export class ScanService {
  readonly settings: ScanSettings;
  readonly #metadata: MetadataStore;
  readonly #manifests: ManifestService;
  readonly #scanner: ManifestScanner;
  readonly #queue: ScanQueue;
  readonly #logger: Logger | undefined;

  constructor(options: ScanServiceOptions) {
    this.settings = options.settings;
    this.#metadata = options.metadata;
    this.#manifests = options.manifests;
    this.#logger = options.logger;
    this.#scanner = new ManifestScanner({
      manifests: options.manifests,
      blobs: options.blobs,
      db: options.settings.db,
    });
    this.#queue = new ScanQueue({
      onError: (digest, error) => this.#logger?.warn({ digest, err: error }, 'vulnerability scan failed'),
    });
  }

  /** Queues a scan of `repository@digest` (nothing new when one is already queued or running). */
  request(repository: string, digest: Digest): ScanState {
    this.#queue.enqueue(digest, (signal) => this.#run(repository, digest, signal));
    return this.#queue.state(digest) ?? { status: 'queued' };
  }

  /** The manifest hook of a push: queues a scan when `onPush` is set and the manifest is an image or index. */
  afterPut(repository: string, record: ManifestRecord): void {
    if (!this.settings.onPush || !scannable(record)) return;
    this.request(repository, record.digest);
  }

  /** The manifest hook of a pull: throws 412 DENIED when the policy refuses the manifest. */
  async beforeServe(repository: string, record: ManifestRecord): Promise<void> {
    const policy = this.settings.preventVulnerable;
    if (!policy) return;
    const counts = await this.#metadata.getScanCounts(record.digest);
    if (!counts) return;
    const over = severitiesAtOrAbove(policy.severity).filter((severity) => counts[severity] > 0);
    if (over.length === 0) return;
    const found = over.map((severity) => `${counts[severity]} ${severity}`).join(', ');
    throw new RegistryError('DENIED', {
      status: 412,
      message: `${repository}@${record.digest} has vulnerabilities of severity ${policy.severity} or higher (${found}): the registry's policy refuses to serve it`,
      detail: { digest: record.digest, severity: policy.severity, counts },
    });
  }

  /** The stored report of a digest and what its scans are doing. */
  async view(digest: Digest): Promise<ScanView> {
    const stored = await this.#metadata.getScanReport(digest);
    const state = this.#queue.state(digest);
    if (!stored) {
      if (!state) return { status: 'not scanned' };
      return state.status === 'failed' ? { status: 'failed', error: state.error } : { status: state.status };
    }
    const view: ScanView = {
      status: 'complete',
      report: JSON.parse(stored.report) as StoredScanReport,
      database: stored.database,
      scannedAt: stored.scannedAt,
    };
    if (state) view.rescan = state;
    return view;
  }

  /** Resolves when no scan is queued or running (tests). */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  /** Stops: drops queued scans and aborts the running one. */
  close(): Promise<void> {
    return this.#queue.close();
  }

  async #run(repository: string, digest: Digest, signal: AbortSignal): Promise<void> {
    const record = await this.#manifests.stat(repository, { digest });
    if (!record)
      throw new NotFoundError(`Cannot scan ${repository}@${digest}: the repository no longer holds it`);
    const database = await osvDatabaseIdentity(this.settings.db);
    if (await this.#metadata.getScanReport(digest, database)) return;
    const started = Date.now();
    const reuse = async (child: Digest): Promise<ScanReport | undefined> => {
      const stored = await this.#metadata.getScanReport(child, database);
      return stored ? (JSON.parse(stored.report) as ScanReport) : undefined;
    };
    const outcomes = await this.#scanner.scan(repository, record, { reuse, signal });
    signal.throwIfAborted();
    const scannedAt = new Date();
    await this.#metadata.putScanReports(
      outcomes.map(({ digest: scanned, report }) => ({
        digest: scanned,
        database,
        scannedAt,
        counts: {
          CRITICAL: report.Summary.CRITICAL,
          HIGH: report.Summary.HIGH,
          MEDIUM: report.Summary.MEDIUM,
          LOW: report.Summary.LOW,
          UNKNOWN: report.Summary.UNKNOWN,
        },
        report: JSON.stringify(report),
      })),
    );
    this.#logger?.info(
      { repository, digest, database, findings: outcomes.at(-1)?.report.Summary, ms: Date.now() - started },
      'vulnerability scan',
    );
  }
}

/** Images and indexes; artifacts (signatures, SBOMs: a non-image config) are not scanned on push. */
function scannable(record: ManifestRecord): boolean {
  if (isIndexMediaType(record.mediaType)) return record.artifactType === undefined;
  return isManifestMediaType(record.mediaType) && isConfigMediaType(record.artifactType);
}
