import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mergePlatformReports } from '../../../src/registry/scan/index-report.ts';
import type { ReportedVulnerability, ScanReport } from '../../../src/scan/scan-report.ts';
import type { Severity } from '../../../src/scan/severity.ts';

const vulnerability = (
  id: string,
  pkg: string,
  severity: Severity,
  version = '1',
): ReportedVulnerability => ({
  VulnerabilityID: id,
  Aliases: [],
  PkgName: pkg,
  SrcName: pkg,
  InstalledVersion: version,
  FixedVersion: '2',
  Severity: severity,
  Summary: '',
});

function report(os: string, vulnerabilities: ReportedVulnerability[]): ScanReport {
  return {
    Image: `x-${os}`,
    OS: { ID: os, VersionID: '12', PrettyName: os },
    Ecosystem: 'Debian:12',
    PackageDatabase: 'dpkg',
    PackageCount: vulnerabilities.length,
    Summary: { Total: vulnerabilities.length, CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0 },
    Vulnerabilities: vulnerabilities,
  };
}

describe('index reports', () => {
  it('lists each finding of the platforms once, sorted, with the first platform’s facts and each platform’s summary', () => {
    const amd64 = report('amd64-os', [
      vulnerability('B', 'openssl', 'HIGH'),
      vulnerability('A', 'bash', 'LOW'),
    ]);
    const arm64 = report('arm64-os', [
      vulnerability('B', 'openssl', 'HIGH'),
      vulnerability('B', 'openssl', 'HIGH', '0.9'),
      vulnerability('C', 'zlib', 'CRITICAL'),
    ]);
    const merged = mergePlatformReports('team/app@sha256:i', [
      { platform: 'linux/amd64', digest: 'sha256:a', report: amd64 },
      { platform: 'linux/arm64', digest: 'sha256:b', report: arm64 },
    ]);
    assert.equal(merged.Image, 'team/app@sha256:i');
    assert.equal(merged.OS?.ID, 'amd64-os');
    assert.deepEqual(
      merged.Vulnerabilities.map(
        (v) => `${v.Severity} ${v.PkgName} ${v.VulnerabilityID} ${v.InstalledVersion}`,
      ),
      ['CRITICAL zlib C 1', 'HIGH openssl B 0.9', 'HIGH openssl B 1', 'LOW bash A 1'],
    );
    assert.deepEqual(merged.Summary, { Total: 4, CRITICAL: 1, HIGH: 2, MEDIUM: 0, LOW: 1, UNKNOWN: 0 });
    assert.deepEqual(
      merged.Platforms?.map((p) => [p.Platform, p.Digest]),
      [
        ['linux/amd64', 'sha256:a'],
        ['linux/arm64', 'sha256:b'],
      ],
    );
  });

  it('is empty for an index with no image', () => {
    const merged = mergePlatformReports('r@d', []);
    assert.deepEqual(merged.Vulnerabilities, []);
    assert.equal(merged.OS, null);
    assert.deepEqual(merged.Platforms, []);
  });
});
