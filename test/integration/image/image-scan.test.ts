/**
 * `wharf image scan` through the real binary: images loaded from a Docker archive built here (a
 * Debian 12 os-release, whose /etc/os-release is a symlink as in Debian, and a dpkg status file),
 * scanned against a synthetic OSV directory; later layers that delete (whiteout) or replace the
 * status file change what is found.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  debianRange,
  dpkgStatus,
  dpkgStatusChanges,
  type LayerEntry,
  layerTar,
  OPENSSL_ADVISORY,
  OPENSSL_FINDING,
  writeOsvRecord,
} from '../../helpers/scan-fixtures.ts';
import { wharfBin } from '../../helpers/wharf.ts';

const run = promisify(execFile);

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** A Docker archive (`docker save` layout) with one image per entry of `images`. */
async function dockerArchive(images: Record<string, Buffer[]>): Promise<Buffer> {
  const files: LayerEntry[] = [];
  const manifest: unknown[] = [];
  const written = new Set<string>();
  for (const [tag, layers] of Object.entries(images)) {
    const diffIds = layers.map(sha256);
    layers.forEach((layer, i) => {
      const name = `${diffIds[i]!.slice(7)}.tar`;
      if (!written.has(name)) files.push({ name, data: layer });
      written.add(name);
    });
    const config = JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: layers.map(() => ({ created_by: 'test' })),
    });
    const configName = `${sha256(Buffer.from(config)).slice(7)}.json`;
    files.push({ name: configName, data: config });
    manifest.push({ Config: configName, RepoTags: [tag], Layers: diffIds.map((d) => `${d.slice(7)}.tar`) });
  }
  files.push({ name: 'manifest.json', data: JSON.stringify(manifest) });
  return layerTar(files);
}

describe('wharf image scan', () => {
  let work: string;
  let root: string;
  let db: string;
  const scan = (args: string[]) => run(wharfBin, ['--root', root, 'image', 'scan', ...args]);

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'wharf-scan-'));
    root = join(work, 'root');
    db = join(work, 'vulndb');
    await mkdir(join(db, 'debian'), { recursive: true });
    const base = await layerTar([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
      { name: 'usr/', type: 'directory' },
      { name: 'usr/lib/', type: 'directory' },
      {
        name: 'usr/lib/os-release',
        data: 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
      },
      { name: 'var/', type: 'directory' },
      { name: 'var/lib/', type: 'directory' },
      { name: 'var/lib/dpkg/', type: 'directory' },
      { name: 'var/lib/dpkg/status', data: dpkgStatus('3.0.11-1~deb12u1') },
    ]);
    const { deleteStatus, opaque, upgrade } = await dpkgStatusChanges();
    const archive = join(work, 'images.tar');
    await writeFile(
      archive,
      await dockerArchive({
        'scan-base:1': [base],
        'scan-deleted:1': [base, deleteStatus],
        'scan-upgraded:1': [base, upgrade],
        'scan-opaque:1': [base, opaque],
      }),
    );
    await run(wharfBin, ['--root', root, 'load', '-i', archive]);

    await writeOsvRecord(db, 'DSA-5585-1', OPENSSL_ADVISORY);
    await writeOsvRecord(db, 'DSA-5417-1', {
      summary: 'an older openssl fix',
      affected: debianRange('openssl', '3.0.9-1'),
    });
    await writeOsvRecord(db, 'DEBIAN-CVE-2022-3715', {
      affected: debianRange('bash', '5.1-2+deb11u1', 'Debian:11'),
    });
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('lists the affected packages with the fixed version, and a total', async () => {
    const { stdout } = await scan(['scan-base:1', '--db', db]);
    const lines = stdout.split('\n');
    assert.match(lines[0]!, /^scan-base:1 \(Debian GNU\/Linux 12 \(bookworm\), 3 packages\)$/);
    assert.equal(lines[1], 'Total: 2 (CRITICAL: 0, HIGH: 2, MEDIUM: 0, LOW: 0, UNKNOWN: 0)');
    const table = lines.slice(3).filter((line) => line !== '');
    assert.match(table[0]!, /^PACKAGE\s+INSTALLED\s+FIXED\s+VULNERABILITY\s+SEVERITY$/);
    assert.deepEqual(
      table.slice(1).map((line) => line.split(/\s+/)),
      [
        ['libssl3', '3.0.11-1~deb12u1', '3.0.13-1~deb12u1', 'DSA-5585-1', 'HIGH'],
        ['openssl', '3.0.11-1~deb12u1', '3.0.13-1~deb12u1', 'DSA-5585-1', 'HIGH'],
      ],
    );
  });

  it('writes JSON, filters by severity and exits with --exit-code when anything is found', async () => {
    const report = JSON.parse((await scan(['scan-base:1', '--db', db, '--format', 'json'])).stdout);
    assert.equal(report.Ecosystem, 'Debian:12');
    assert.equal(report.PackageCount, 3);
    assert.equal(report.Summary.Total, 2);
    assert.deepEqual(report.Vulnerabilities[1], OPENSSL_FINDING);
    const low = await scan(['scan-base:1', '--db', db, '--severity', 'LOW,CRITICAL', '--exit-code', '3']);
    assert.match(low.stdout, /^Total: 0 /m);
    await assert.rejects(
      scan(['scan-base:1', '--db', db, '--exit-code', '3']),
      (error: { code?: number }) => {
        assert.equal(error.code, 3);
        return true;
      },
    );
  });

  it('follows later layers: a whiteout or an opaque directory removes the packages, an upgrade fixes them', async () => {
    const deleted = await scan(['scan-deleted:1', '--db', db, '--exit-code', '3']);
    assert.match(deleted.stdout, /\(Debian GNU\/Linux 12 \(bookworm\), 0 packages\)/);
    assert.match(deleted.stdout, /^Total: 0 /m);
    const opaque = JSON.parse((await scan(['scan-opaque:1', '--db', db, '--format', 'json'])).stdout);
    assert.equal(opaque.PackageCount, 0);
    assert.equal(opaque.Ecosystem, 'Debian:12');
    const upgraded = JSON.parse((await scan(['scan-upgraded:1', '--db', db, '--format', 'json'])).stdout);
    assert.equal(upgraded.PackageCount, 3);
    assert.deepEqual(upgraded.Vulnerabilities, []);
  });

  it('says where the database should be when there is none', async () => {
    await assert.rejects(scan(['scan-base:1']), (error: { code?: number; stderr?: string }) => {
      assert.equal(error.code, 1);
      assert.match(
        error.stderr ?? '',
        new RegExp(
          `Cannot scan: no vulnerability database at ${join(root, 'vulndb')}: put OSV JSON files there`,
        ),
      );
      return true;
    });
  });
});
