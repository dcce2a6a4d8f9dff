/**
 * Scans a manifest of the registry's storage for known vulnerabilities, as `wharf image scan` does
 * for a local image: the layer blobs are streamed from the storage driver bottom first, only the
 * files src/scan needs are kept (os-release, dpkg's status, apk's installed database: whiteouts
 * and opaque directories honoured by src/scan/final-tree-files.ts), and the inventory is matched
 * against the OSV directory. An index is scanned platform by platform (linux/amd64 first, then the
 * others in index order; attestation entries and nested indexes are skipped) and its report is the
 * platforms' merged (index-report.ts).
 *
 * Nothing is stored here: the caller (scan-service.ts) gets every report made and keeps them in
 * one transaction. A platform whose report the caller already has (`reuse`) is not read again.
 *
 * @example
 * const scanner = new ManifestScanner({ manifests, blobs, db: '/var/lib/wharf/vulndb' });
 * const outcomes = await scanner.scan('team/app', record, {}); // the index's report last
 */
import { InvalidArgumentError, NotFoundError } from '../../errors/index.ts';
import type { Descriptor } from '../../oci/descriptor.ts';
import type { Digest } from '../../oci/digest.ts';
import { type ParsedImageManifest, type ParsedManifest, parseManifest } from '../../oci/manifest.ts';
import { isConfigMediaType, isLayerMediaType, isManifestMediaType } from '../../oci/media-types.ts';
import { formatPlatform } from '../../oci/platform.ts';
import { FinalTreeFiles } from '../../scan/final-tree-files.ts';
import { loadOsvDatabase, type OsvDatabase } from '../../scan/osv-database.ts';
import { INVENTORY_PATHS, inventoryFromFiles } from '../../scan/package-inventory.ts';
import { buildScanReport, type ScanReport } from '../../scan/scan-report.ts';
import { findVulnerabilities } from '../../scan/vulnerability-scan.ts';
import type { BlobService } from '../blob-service.ts';
import type { ManifestService } from '../manifest-service.ts';
import type { ManifestRecord } from '../metadata/metadata-store.ts';
import { mergePlatformReports, type PlatformReport, type StoredScanReport } from './index-report.ts';
import { layerTreeItems } from './layer-tree-items.ts';

export interface ManifestScannerOptions {
  manifests: ManifestService;
  blobs: BlobService;
  /** The OSV database directory. */
  db: string;
}

export interface ScanOptions {
  /** A platform manifest's stored report for the current database, if any (not scanned again). */
  reuse?: (digest: Digest) => Promise<ScanReport | undefined>;
  /** Stops the scan between layers (server shutdown). */
  signal?: AbortSignal;
}

export interface ScanOutcome {
  digest: Digest;
  report: StoredScanReport;
}

/** Layers clients fetch from elsewhere (Windows base layers): never in the registry's storage. */
const FOREIGN_LAYER = /nondistributable|foreign/;

export class ManifestScanner {
  readonly #manifests: ManifestService;
  readonly #blobs: BlobService;
  readonly #db: string;

  constructor(options: ManifestScannerOptions) {
    this.#manifests = options.manifests;
    this.#blobs = options.blobs;
    this.#db = options.db;
  }

  /** The reports of `record` (last) and of each platform manifest scanned for it (first). */
  async scan(repository: string, record: ManifestRecord, options: ScanOptions = {}): Promise<ScanOutcome[]> {
    const databases = new Map<string, Promise<OsvDatabase>>();
    const parsed = await this.#parse(repository, record);
    if (parsed.kind === 'manifest') {
      const report = await this.#scanImage(repository, record.digest, parsed, databases, options.signal);
      return [{ digest: record.digest, report }];
    }
    const outcomes: ScanOutcome[] = [];
    const platforms: PlatformReport[] = [];
    for (const entry of platformEntries(parsed.manifests)) {
      const child = await this.#manifests.stat(repository, { digest: entry.digest });
      if (!child) continue; // an index may only name manifests the repository holds: never here
      const platform = entry.platform ? formatPlatform(entry.platform) : 'unknown';
      let report = await options.reuse?.(entry.digest);
      if (!report) {
        const image = await this.#parse(repository, child);
        if (image.kind !== 'manifest') continue;
        report = await this.#scanImage(repository, child.digest, image, databases, options.signal);
        outcomes.push({ digest: child.digest, report });
      }
      platforms.push({ platform, digest: child.digest, report });
    }
    outcomes.push({
      digest: record.digest,
      report: mergePlatformReports(`${repository}@${record.digest}`, platforms),
    });
    return outcomes;
  }

  async #parse(repository: string, record: ManifestRecord): Promise<ParsedManifest> {
    const parsed = parseManifest(await this.#manifests.payload(record), record.mediaType);
    if (parsed.kind === 'manifest' && !isConfigMediaType(parsed.config.mediaType)) {
      throw new InvalidArgumentError(
        `Cannot scan ${repository}@${record.digest}: not a container image (its config is ${parsed.config.mediaType})`,
      );
    }
    return parsed;
  }

  async #scanImage(
    repository: string,
    digest: Digest,
    manifest: ParsedImageManifest,
    databases: Map<string, Promise<OsvDatabase>>,
    signal: AbortSignal | undefined,
  ): Promise<StoredScanReport> {
    const tree = new FinalTreeFiles(INVENTORY_PATHS);
    for (const layer of manifest.layers) {
      signal?.throwIfAborted();
      await this.#addLayer(repository, digest, layer, tree);
    }
    const inventory = inventoryFromFiles(tree.files());
    const ecosystem = inventory.ecosystem;
    let findings: ReturnType<typeof findVulnerabilities> = [];
    if (ecosystem !== undefined) {
      let db = databases.get(ecosystem);
      if (!db) {
        db = loadOsvDatabase(this.#db, { ecosystems: [ecosystem] });
        databases.set(ecosystem, db);
      }
      findings = findVulnerabilities(inventory, await db);
    }
    return buildScanReport(`${repository}@${digest}`, inventory, findings);
  }

  async #addLayer(
    repository: string,
    digest: Digest,
    layer: Descriptor,
    tree: FinalTreeFiles,
  ): Promise<void> {
    const where = `Cannot scan ${repository}@${digest}: layer ${layer.digest}`;
    if (!isLayerMediaType(layer.mediaType))
      throw new InvalidArgumentError(`${where}: ${layer.mediaType} is not a filesystem layer`);
    const blob = await this.#blobs.stat(repository, layer.digest);
    if (!blob) {
      if (FOREIGN_LAYER.test(layer.mediaType)) return;
      throw new NotFoundError(`${where}: the repository does not hold it`);
    }
    const stream = await this.#blobs.open(blob, { offset: 0, length: blob.size });
    try {
      await tree.addLayer(layerTreeItems(stream));
    } catch (error) {
      throw new InvalidArgumentError(`${where}: ${(error as Error).message}`, { cause: error });
    } finally {
      stream.destroy();
    }
  }
}

/** The image entries of an index worth scanning, linux/amd64 first (a stable sort keeps the rest in order). */
function platformEntries(manifests: readonly Descriptor[]): Descriptor[] {
  const seen = new Set<string>();
  const images = manifests.filter((entry) => {
    if (!isManifestMediaType(entry.mediaType) || entry.platform?.os === 'unknown' || seen.has(entry.digest))
      return false;
    seen.add(entry.digest);
    return true;
  });
  const rank = (entry: Descriptor) =>
    entry.platform?.os === 'linux' && entry.platform.architecture === 'amd64' ? 0 : 1;
  return images.sort((a, b) => rank(a) - rank(b));
}
