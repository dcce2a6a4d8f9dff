import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cvss3BaseScore } from '../../../src/scan/cvss3.ts';
import { compareDpkgVersions } from '../../../src/scan/dpkg-version.ts';
import { loadOsvDatabase, OsvDatabase } from '../../../src/scan/osv-database.ts';
import { matchAffected } from '../../../src/scan/osv-match.ts';
import { parseOsvRecord } from '../../../src/scan/osv-record.ts';
import { severityOf } from '../../../src/scan/severity.ts';
import { findVulnerabilities } from '../../../src/scan/vulnerability-scan.ts';

const debian = (name: string, extra: object) => ({ package: { ecosystem: 'Debian:12', name }, ...extra });

describe('matchAffected', () => {
  it('introduced/fixed: affected inside, not at or after the fix, not before introduced', () => {
    const affected = debian('openssl', {
      ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '3.0.0-1' }, { fixed: '3.0.13-1~deb12u1' }] }],
    });
    assert.deepEqual(matchAffected(affected, '3.0.11-1~deb12u1', compareDpkgVersions), {
      fixedVersion: '3.0.13-1~deb12u1',
    });
    assert.equal(matchAffected(affected, '3.0.13-1~deb12u1', compareDpkgVersions), undefined);
    assert.equal(matchAffected(affected, '3.0.15-1~deb12u1', compareDpkgVersions), undefined);
    assert.equal(matchAffected(affected, '1.1.1n-0+deb11u5', compareDpkgVersions), undefined);
  });
  it('introduced 0 covers everything before the fix, with ~ ordering', () => {
    const affected = debian('glibc', {
      ranges: [{ type: 'ECOSYSTEM', events: [{ fixed: '2.36-9+deb12u4' }, { introduced: '0' }] }],
    });
    assert.ok(matchAffected(affected, '2.36-9+deb12u3', compareDpkgVersions));
    assert.ok(matchAffected(affected, '2.36-9+deb12u4~pre1', compareDpkgVersions));
    assert.equal(matchAffected(affected, '2.36-9+deb12u10', compareDpkgVersions), undefined);
  });
  it('last_affected includes its version and nothing after; no fix is reported', () => {
    const affected = debian('zlib', {
      ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { last_affected: '1:1.2.13.dfsg-1' }] }],
    });
    assert.deepEqual(matchAffected(affected, '1:1.2.13.dfsg-1', compareDpkgVersions), {
      fixedVersion: undefined,
    });
    assert.equal(matchAffected(affected, '1:1.2.13.dfsg-2', compareDpkgVersions), undefined);
  });
  it('versions[] matches exactly, even without a comparator', () => {
    const affected = debian('curl', { versions: ['7.88.1-10', '7.88.1-10+deb12u1'] });
    assert.ok(matchAffected(affected, '7.88.1-10+deb12u1', undefined));
    assert.equal(matchAffected(affected, '7.88.1-10+deb12u5', undefined), undefined);
  });
  it('several introduced/fixed pairs in one range', () => {
    const affected = debian('x', {
      ranges: [
        {
          type: 'ECOSYSTEM',
          events: [{ introduced: '1.0' }, { fixed: '1.2' }, { introduced: '2.0' }, { fixed: '2.3' }],
        },
      ],
    });
    assert.ok(matchAffected(affected, '1.1', compareDpkgVersions));
    assert.equal(matchAffected(affected, '1.5', compareDpkgVersions), undefined);
    assert.deepEqual(matchAffected(affected, '2.1', compareDpkgVersions), { fixedVersion: '2.3' });
  });
});

describe('severity', () => {
  it('scores CVSS v3 vectors', () => {
    assert.equal(cvss3BaseScore('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'), 9.8);
    assert.equal(cvss3BaseScore('CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N'), 6.1);
    assert.equal(cvss3BaseScore('CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H'), 7.8);
    assert.equal(cvss3BaseScore('CVSS:3.1/AV:N'), undefined);
  });
  it('takes database_specific first, then severity[], else UNKNOWN', () => {
    const base = { id: 'X-1' };
    assert.equal(
      severityOf(parseOsvRecord({ ...base, database_specific: { severity: 'MODERATE' } })),
      'MEDIUM',
    );
    assert.equal(
      severityOf(
        parseOsvRecord({
          ...base,
          severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
        }),
      ),
      'CRITICAL',
    );
    assert.equal(
      severityOf(parseOsvRecord({ ...base, severity: [{ type: 'Ubuntu', score: 'medium' }] })),
      'MEDIUM',
    );
    assert.equal(severityOf(parseOsvRecord(base)), 'UNKNOWN');
  });
});

describe('OSV database and findings', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('loads a tree of records, skips and counts bad files, and finds by source package', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-osv-'));
    dirs.push(dir);
    await mkdir(join(dir, 'Debian'), { recursive: true });
    const write = (name: string, value: unknown) =>
      writeFile(join(dir, name), typeof value === 'string' ? value : JSON.stringify(value));
    await write('Debian/DSA-1.json', {
      id: 'DSA-1',
      aliases: ['CVE-2023-0001'],
      summary: 'openssl bug',
      database_specific: { severity: 'HIGH' },
      affected: [
        debian('openssl', {
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '3.0.13-1~deb12u1' }] }],
        }),
      ],
    });
    await write('Debian/DSA-2.json', {
      id: 'DSA-2',
      affected: [
        debian('openssl', {
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '3.0.9-1' }] }],
        }),
      ],
    });
    await write('npm.json', { id: 'GHSA-1', affected: [{ package: { ecosystem: 'npm', name: 'openssl' } }] });
    await write('broken.json', '{not json');
    await write('not-osv.json', { affected: 'nope' });
    await write('notes.txt', 'ignored');

    const db = await loadOsvDatabase(dir, { ecosystems: ['Debian:12'] });
    assert.equal(db.recordCount, 3);
    assert.equal(db.skippedCount, 2);
    assert.equal(db.recordsFor('Debian:12', 'openssl').length, 2);
    assert.equal(db.recordsFor('npm', 'openssl').length, 0);

    const findings = findVulnerabilities(
      {
        os: { id: 'debian', versionId: '12', prettyName: 'Debian 12', idLike: [] },
        ecosystem: 'Debian:12',
        packageDb: 'dpkg',
        packages: [
          {
            name: 'libssl3',
            version: '3.0.11-1~deb12u1',
            sourceName: 'openssl',
            sourceVersion: '3.0.11-1~deb12u1',
          },
          { name: 'bash', version: '5.2.15-2+b2', sourceName: 'bash', sourceVersion: '5.2.15-2+b2' },
        ],
      },
      db,
    );
    assert.deepEqual(findings, [
      {
        id: 'DSA-1',
        aliases: ['CVE-2023-0001'],
        package: 'libssl3',
        sourcePackage: 'openssl',
        installedVersion: '3.0.11-1~deb12u1',
        fixedVersion: '3.0.13-1~deb12u1',
        severity: 'HIGH',
        summary: 'openssl bug',
      },
    ]);
  });

  it('files Ubuntu LTS records under the os-release ecosystem and leaves withdrawn ones out', () => {
    const db = new OsvDatabase();
    db.add(
      parseOsvRecord({ id: 'U-1', affected: [{ package: { ecosystem: 'Ubuntu:22.04:LTS', name: 'zlib' } }] }),
    );
    db.add(
      parseOsvRecord({
        id: 'U-2',
        withdrawn: '2024-01-01T00:00:00Z',
        affected: [{ package: { ecosystem: 'Ubuntu:22.04:LTS', name: 'zlib' } }],
      }),
    );
    assert.deepEqual(
      db.recordsFor('Ubuntu:22.04', 'zlib').map((e) => e.record.id),
      ['U-1'],
    );
  });

  it('says where to put the database when the directory is missing or empty', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-osv-'));
    dirs.push(dir);
    await assert.rejects(
      loadOsvDatabase(join(dir, 'missing')),
      /Cannot scan: no vulnerability database at .*missing: put OSV JSON files there/,
    );
    await assert.rejects(loadOsvDatabase(dir), /no vulnerability database/);
  });
});
