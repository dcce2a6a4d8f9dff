/**
 * The report of an image index: the reports of its platform manifests folded into one, so a
 * multi-platform tag has one answer (the API, the UI, the pull policy). Findings of every platform
 * are listed once per (vulnerability, package, installed version) and sorted as a scan sorts them
 * (CRITICAL first, then package, then id); OS, ecosystem and package facts are the first
 * platform's (linux/amd64 when the index has it: the scanner puts it first); `Platforms` keeps
 * each platform's own summary.
 *
 * @example
 * const report = mergePlatformReports('team/app@sha256:…', [{ platform: 'linux/amd64', digest, report }]);
 * report.Platforms; // [{ Platform: 'linux/amd64', Digest: 'sha256:…', Summary: {...} }]
 */
import {
  type ReportedVulnerability,
  type ScanReport,
  type ScanSummary,
  severityCounts,
} from '../../scan/scan-report.ts';
import { SEVERITIES } from '../../scan/severity.ts';

export interface PlatformSummary {
  Platform: string;
  Digest: string;
  Summary: ScanSummary;
}

/** What the registry stores per manifest: an image's report, or an index's with its platforms. */
export type StoredScanReport = ScanReport & { Platforms?: PlatformSummary[] };

export interface PlatformReport {
  platform: string;
  digest: string;
  report: ScanReport;
}

function compare(a: ReportedVulnerability, b: ReportedVulnerability): number {
  const bySeverity = SEVERITIES.indexOf(a.Severity) - SEVERITIES.indexOf(b.Severity);
  if (bySeverity !== 0) return bySeverity;
  if (a.PkgName !== b.PkgName) return a.PkgName < b.PkgName ? -1 : 1;
  if (a.VulnerabilityID !== b.VulnerabilityID) return a.VulnerabilityID < b.VulnerabilityID ? -1 : 1;
  return a.InstalledVersion < b.InstalledVersion ? -1 : a.InstalledVersion > b.InstalledVersion ? 1 : 0;
}

export function mergePlatformReports(image: string, platforms: readonly PlatformReport[]): StoredScanReport {
  const seen = new Map<string, ReportedVulnerability>();
  for (const { report } of platforms) {
    for (const vulnerability of report.Vulnerabilities) {
      const key = `${vulnerability.VulnerabilityID}\0${vulnerability.PkgName}\0${vulnerability.InstalledVersion}`;
      if (!seen.has(key)) seen.set(key, vulnerability);
    }
  }
  const vulnerabilities = [...seen.values()].sort(compare);
  const first = platforms[0]?.report;
  return {
    Image: image,
    OS: first?.OS ?? null,
    Ecosystem: first?.Ecosystem ?? null,
    PackageDatabase: first?.PackageDatabase ?? null,
    PackageCount: first?.PackageCount ?? 0,
    Summary: { Total: vulnerabilities.length, ...severityCounts(vulnerabilities) },
    Vulnerabilities: vulnerabilities,
    Platforms: platforms.map(({ platform, digest, report }) => ({
      Platform: platform,
      Digest: digest,
      Summary: report.Summary,
    })),
  };
}
