/**
 * The report of one scan as JSON: what `wharf image scan --format json` prints and what the
 * registry's vulnerability API answers (docs/image-scan.md, docs/registry-scan.md). Field names
 * are Trivy-like (PascalCase), so one parser reads both.
 *
 * @example
 * const report = buildScanReport('debian:12', inventory, findVulnerabilities(inventory, db));
 * report.Summary; // { Total: 2, CRITICAL: 0, HIGH: 2, MEDIUM: 0, LOW: 0, UNKNOWN: 0 }
 */
import type { PackageInventory } from './package-inventory.ts';
import { SEVERITIES, type Severity } from './severity.ts';
import type { Finding } from './vulnerability-scan.ts';

export interface ReportedVulnerability {
  VulnerabilityID: string;
  Aliases: string[];
  PkgName: string;
  SrcName: string;
  InstalledVersion: string;
  /** Empty when no fix is published. */
  FixedVersion: string;
  Severity: Severity;
  Summary: string;
}

export type SeverityCounts = Record<Severity, number>;

export type ScanSummary = { Total: number } & SeverityCounts;

export interface ScanReport {
  /** What was scanned: the image reference as given, or `repository@digest` in the registry. */
  Image: string;
  OS: { ID: string; VersionID: string; PrettyName: string } | null;
  Ecosystem: string | null;
  PackageDatabase: 'dpkg' | 'apk' | null;
  PackageCount: number;
  Summary: ScanSummary;
  Vulnerabilities: ReportedVulnerability[];
}

/** How many findings of each severity (every severity present, zeros included). */
export function severityCounts(
  items: ReadonlyArray<{ severity: Severity } | { Severity: Severity }>,
): SeverityCounts {
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as SeverityCounts;
  for (const item of items) counts['severity' in item ? item.severity : item.Severity]++;
  return counts;
}

/** The report of one image's scan. */
export function buildScanReport(
  image: string,
  inventory: PackageInventory,
  findings: readonly Finding[],
): ScanReport {
  return {
    Image: image,
    OS: inventory.os
      ? { ID: inventory.os.id, VersionID: inventory.os.versionId, PrettyName: inventory.os.prettyName }
      : null,
    Ecosystem: inventory.ecosystem ?? null,
    PackageDatabase: inventory.packageDb ?? null,
    PackageCount: inventory.packages.length,
    Summary: { Total: findings.length, ...severityCounts(findings) },
    Vulnerabilities: findings.map((f) => ({
      VulnerabilityID: f.id,
      Aliases: f.aliases,
      PkgName: f.package,
      SrcName: f.sourcePackage,
      InstalledVersion: f.installedVersion,
      FixedVersion: f.fixedVersion ?? '',
      Severity: f.severity,
      Summary: f.summary,
    })),
  };
}
