import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildScanReport, severityCounts } from '../../../src/scan/scan-report.ts';
import { severitiesAtOrAbove } from '../../../src/scan/severity.ts';

describe('scan report', () => {
  it('has the JSON shape of image scan, with counts of every severity', () => {
    const report = buildScanReport(
      'team/app@sha256:1',
      {
        os: { id: 'debian', versionId: '12', prettyName: 'Debian 12', idLike: [] },
        ecosystem: 'Debian:12',
        packageDb: 'dpkg',
        packages: [{ name: 'libssl3', version: '1', sourceName: 'openssl', sourceVersion: '1' }],
      },
      [
        {
          id: 'DSA-1',
          aliases: ['CVE-1'],
          package: 'libssl3',
          sourcePackage: 'openssl',
          installedVersion: '1',
          fixedVersion: undefined,
          severity: 'HIGH',
          summary: 's',
        },
      ],
    );
    assert.deepEqual(report, {
      Image: 'team/app@sha256:1',
      OS: { ID: 'debian', VersionID: '12', PrettyName: 'Debian 12' },
      Ecosystem: 'Debian:12',
      PackageDatabase: 'dpkg',
      PackageCount: 1,
      Summary: { Total: 1, CRITICAL: 0, HIGH: 1, MEDIUM: 0, LOW: 0, UNKNOWN: 0 },
      Vulnerabilities: [
        {
          VulnerabilityID: 'DSA-1',
          Aliases: ['CVE-1'],
          PkgName: 'libssl3',
          SrcName: 'openssl',
          InstalledVersion: '1',
          FixedVersion: '',
          Severity: 'HIGH',
          Summary: 's',
        },
      ],
    });
    assert.deepEqual(severityCounts([{ Severity: 'LOW' }, { severity: 'LOW' }]), {
      CRITICAL: 0,
      HIGH: 0,
      MEDIUM: 0,
      LOW: 2,
      UNKNOWN: 0,
    });
  });

  it('orders severities with UNKNOWN below LOW for thresholds', () => {
    assert.deepEqual(severitiesAtOrAbove('CRITICAL'), ['CRITICAL']);
    assert.deepEqual(severitiesAtOrAbove('HIGH'), ['CRITICAL', 'HIGH']);
    assert.deepEqual(severitiesAtOrAbove('UNKNOWN'), ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN']);
  });
});
