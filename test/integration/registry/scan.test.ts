// Vulnerability scanning in the registry over loopback HTTP: images whose layers hold a Debian
// os-release and dpkg status (made here with tar-stream, gzip and plain tar), scanned against a
// synthetic OSV directory on demand and on push; later layers that delete (whiteout, opaque
// directory) or replace the status file change the findings; reports are kept until the database
// changes; the pull policy answers 412 for a vulnerable manifest; access rules hold; the web UI
// shows the findings escaped; an index is scanned platform by platform.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { AccountService } from '../../../src/registry/auth/account-service.ts';
import { SqliteAccessStore } from '../../../src/registry/auth/sqlite-access-store.ts';
import {
  debianRange,
  dirs,
  dpkgStatus,
  dpkgStatusChanges,
  layerTar,
  OPENSSL_ADVISORY,
  OPENSSL_FINDING,
  writeOsvRecord,
} from '../../helpers/scan-fixtures.ts';
import {
  basicAuth,
  descriptor,
  digestOf,
  errorCodes,
  type GeneratedImage,
  generateImage,
  generateIndex,
  http,
  OCI_CONFIG,
  OCI_EMPTY,
  OCI_LAYER,
  OCI_LAYER_GZIP,
  OCI_MANIFEST,
  pushImage,
  pushManifest,
  type Response,
  startTestRegistry,
  type TestRegistry,
} from './helpers.ts';

const ADMIN = basicAuth('admin', 'admin-pw');
const ALICE = basicAuth('alice', 'alice-pw'); // developer of the private project `team`
const GUS = basicAuth('gus', 'gus-pw'); // guest of `team`: pull only
const BOB = basicAuth('bob', 'bob-pw'); // no membership
const HOSTILE = '<img src=x onerror=alert(1)>';

/** An image of tar layers (`gzip` per layer), pushed as OCI. */
function imageOf(
  layers: Array<{ tar: Buffer; gzip: boolean }>,
  platform = { os: 'linux', architecture: 'amd64' },
): GeneratedImage {
  const blobs = layers.map((layer) => (layer.gzip ? gzipSync(layer.tar) : layer.tar));
  const config = Buffer.from(
    JSON.stringify({
      ...platform,
      rootfs: { type: 'layers', diff_ids: layers.map((layer) => digestOf(layer.tar)) },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: descriptor(OCI_CONFIG, config),
      layers: blobs.map((blob, i) => descriptor(layers[i]!.gzip ? OCI_LAYER_GZIP : OCI_LAYER, blob)),
    }),
  );
  return {
    manifest,
    digest: digestOf(manifest),
    mediaType: OCI_MANIFEST,
    config,
    layers: blobs,
    blobs: [config, ...blobs],
  };
}

/** The OSV records of the test database (debian/*.json). */
const scanPath = (repo: string, reference: string) =>
  `/api/v1/repositories/${repo}/manifests/${reference}/scan`;
const reportPath = (repo: string, reference: string) =>
  `/api/v1/repositories/${repo}/manifests/${reference}/vulnerabilities`;

interface Report {
  Image: string;
  Digest: string;
  Database: string;
  ScannedAt: string;
  Status: string;
  OS: { ID: string; VersionID: string } | null;
  Ecosystem: string | null;
  PackageCount: number;
  Summary: Record<string, number>;
  Vulnerabilities: Array<Record<string, unknown>>;
  Platforms?: Array<{ Platform: string; Digest: string; Summary: Record<string, number> }>;
}

/** Polls the report until `done` holds (a scan runs in the background); fails after 20 s. */
async function waitForReport(
  base: string,
  repo: string,
  reference: string,
  headers: Record<string, string> = {},
  done: (report: Report) => boolean = (report) => report.Status === 'complete',
): Promise<Report> {
  const deadline = Date.now() + 20_000;
  let last: Response | undefined;
  while (Date.now() < deadline) {
    last = await http('GET', base, reportPath(repo, reference), { headers });
    if (last.status === 200 && done(last.json() as Report)) return last.json() as Report;
    assert.ok(last.status === 200 || last.status === 404, `${last.status} ${last.body}`);
    const status = last.status === 404 ? (last.json() as { status: string }).status : undefined;
    assert.notEqual(status, 'failed', last.body.toString());
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no report for ${repo}:${reference}: ${last?.status} ${last?.body}`);
}

const brief = (report: Report) =>
  report.Vulnerabilities.map((v) => `${v.PkgName} ${v.VulnerabilityID} ${v.Severity} ${v.FixedVersion}`);

describe('registry vulnerability scanning', () => {
  let work: string;
  let db: string;
  let vulnerable: GeneratedImage;
  let whiteout: GeneratedImage;
  let opaque: GeneratedImage;
  let fixed: GeneratedImage;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'wharf-registry-scan-'));
    db = join(work, 'vulndb');
    await mkdir(join(db, 'debian'), { recursive: true });
    await writeOsvRecord(db, 'DSA-5585-1', OPENSSL_ADVISORY);
    await writeOsvRecord(db, 'DEBIAN-CVE-2099-0001', {
      summary: `bash: ${HOSTILE}`,
      database_specific: { severity: 'LOW' },
      affected: debianRange('bash', '5.2.15-3'),
    });

    const base = await layerTar([
      ...dirs('etc', 'usr', 'usr/lib', 'var', 'var/lib', 'var/lib/dpkg'),
      { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
      {
        name: 'usr/lib/os-release',
        data: 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_ID="12"\nID=debian\n',
      },
      { name: 'var/lib/dpkg/status', data: dpkgStatus('3.0.11-1~deb12u1') },
    ]);
    const motd = await layerTar([...dirs('etc'), { name: 'etc/motd', data: 'hello\n' }]);
    const { deleteStatus, opaque: opaqueDpkg, upgrade } = await dpkgStatusChanges();
    // a gzip base and an uncompressed second layer: both forms are read
    vulnerable = imageOf([
      { tar: base, gzip: true },
      { tar: motd, gzip: false },
    ]);
    whiteout = imageOf([
      { tar: base, gzip: true },
      { tar: deleteStatus, gzip: true },
    ]);
    opaque = imageOf([
      { tar: base, gzip: true },
      { tar: opaqueDpkg, gzip: false },
    ]);
    fixed = imageOf([
      { tar: base, gzip: true },
      { tar: upgrade, gzip: true },
    ]);
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  describe('on demand, under access control', () => {
    let registry: TestRegistry;
    let store: SqliteAccessStore;
    const unscanned = generateImage();

    before(async () => {
      registry = await startTestRegistry({ scan: { db } });
      store = SqliteAccessStore.open(join(registry.storage, 'access.db'));
      const accounts = new AccountService(store);
      await accounts.addUser('admin', 'admin-pw', { admin: true });
      for (const name of ['alice', 'gus', 'bob']) await accounts.addUser(name, `${name}-pw`);
      await accounts.createProject('team');
      await accounts.setMember('team', 'alice', 'developer');
      await accounts.setMember('team', 'gus', 'guest');
      for (const [tag, image] of [
        ['vulnerable', vulnerable],
        ['whiteout', whiteout],
        ['opaque', opaque],
        ['fixed', fixed],
        ['unscanned', unscanned],
      ] as const) {
        const pushed = await pushImage(registry.url, 'team/app', image, tag, ALICE);
        assert.equal(pushed.status, 201, pushed.body.toString());
      }
    });
    after(async () => {
      await store?.close();
      await registry?.close();
    });

    it('answers 404 "not scanned" before a scan, and keeps scans from callers without push and pull', async () => {
      const none = await http('GET', registry.url, reportPath('team/app', 'vulnerable'), { headers: GUS });
      assert.equal(none.status, 404);
      assert.equal((none.json() as { status: string }).status, 'not scanned');
      assert.deepEqual(errorCodes(none), ['NOT_FOUND']);

      const anonymous = await http('POST', registry.url, scanPath('team/app', 'vulnerable'));
      assert.equal(anonymous.status, 401);
      assert.deepEqual(errorCodes(anonymous), ['UNAUTHORIZED']);
      assert.match(
        anonymous.header('www-authenticate')!,
        /^Bearer realm=.*scope="repository:team\/app:pull"/,
      );
      assert.equal((await http('GET', registry.url, reportPath('team/app', 'vulnerable'))).status, 401);
      const stranger = await http('POST', registry.url, scanPath('team/app', 'vulnerable'), { headers: BOB });
      assert.equal(stranger.status, 403);
      assert.deepEqual(errorCodes(stranger), ['DENIED']);
      const guest = await http('POST', registry.url, scanPath('team/app', 'vulnerable'), { headers: GUS });
      assert.equal(guest.status, 403, 'a guest may read reports but not start scans');
      // a stranger learns nothing of what the repository holds: the same answer for a missing tag
      const probe = await http('POST', registry.url, scanPath('team/app', 'nothing'), { headers: BOB });
      assert.equal(probe.status, 403);
      const missing = await http('POST', registry.url, scanPath('team/app', 'nothing'), { headers: ALICE });
      assert.equal(missing.status, 404);
      assert.deepEqual(errorCodes(missing), ['MANIFEST_UNKNOWN']);
      const badName = await http('GET', registry.url, reportPath('Team/App', 'v1'), { headers: ADMIN });
      assert.equal(badName.status, 400);
      assert.deepEqual(errorCodes(badName), ['NAME_INVALID']);
      // still nothing scanned
      const still = await http('GET', registry.url, reportPath('team/app', 'vulnerable'), { headers: ALICE });
      assert.equal((still.json() as { status: string }).status, 'not scanned');
    });

    it('scans on request: the report lists the vulnerable packages with the fixed version', async () => {
      const started = await http('POST', registry.url, scanPath('team/app', 'vulnerable'), {
        headers: ALICE,
      });
      assert.equal(started.status, 202, started.body.toString());
      assert.deepEqual(started.json(), { digest: vulnerable.digest, status: 'queued' });
      const report = await waitForReport(registry.url, 'team/app', 'vulnerable', GUS);
      assert.equal(report.Image, `team/app@${vulnerable.digest}`);
      assert.equal(report.Digest, vulnerable.digest);
      assert.match(report.Database, /^osv1:[0-9a-f]{16}$/);
      assert.equal(report.Ecosystem, 'Debian:12');
      assert.equal(report.PackageCount, 3);
      assert.deepEqual(report.Summary, { Total: 3, CRITICAL: 0, HIGH: 2, MEDIUM: 0, LOW: 1, UNKNOWN: 0 });
      assert.deepEqual(report.Vulnerabilities[1], OPENSSL_FINDING);
      assert.deepEqual(brief(report), [
        'libssl3 DSA-5585-1 HIGH 3.0.13-1~deb12u1',
        'openssl DSA-5585-1 HIGH 3.0.13-1~deb12u1',
        'bash DEBIAN-CVE-2099-0001 LOW 5.2.15-3',
      ]);
      // by digest: the same report
      const byDigest = await http('GET', registry.url, reportPath('team/app', vulnerable.digest), {
        headers: GUS,
      });
      assert.deepEqual((byDigest.json() as Report).Vulnerabilities, report.Vulnerabilities);
    });

    it('follows later layers: a whiteout or opaque directory removes the packages, an upgrade fixes them', async () => {
      for (const tag of ['whiteout', 'opaque', 'fixed']) {
        assert.equal(
          (await http('POST', registry.url, scanPath('team/app', tag), { headers: ADMIN })).status,
          202,
        );
      }
      const deleted = await waitForReport(registry.url, 'team/app', 'whiteout', ALICE);
      assert.equal(deleted.Ecosystem, 'Debian:12', 'os-release is still there');
      assert.equal(deleted.PackageCount, 0);
      assert.deepEqual(deleted.Vulnerabilities, []);
      const hidden = await waitForReport(registry.url, 'team/app', 'opaque', ALICE);
      assert.equal(hidden.PackageCount, 0);
      const upgraded = await waitForReport(registry.url, 'team/app', 'fixed', ALICE);
      assert.equal(upgraded.PackageCount, 3);
      assert.deepEqual(brief(upgraded), ['bash DEBIAN-CVE-2099-0001 LOW 5.2.15-3']);
    });

    it('keeps a report while the database is unchanged, and rescans when it changes', async () => {
      const first = await waitForReport(registry.url, 'team/app', 'vulnerable', ALICE);
      assert.equal(
        (await http('POST', registry.url, scanPath('team/app', 'vulnerable'), { headers: ALICE })).status,
        202,
      );
      await registry.server.scans!.idle();
      const same = await waitForReport(registry.url, 'team/app', 'vulnerable', ALICE);
      assert.equal(same.ScannedAt, first.ScannedAt, 'same digest, same database: nothing to scan again');

      await writeOsvRecord(db, 'DSA-9999-1', {
        summary: 'bash - critical',
        database_specific: { severity: 'CRITICAL' },
        affected: debianRange('bash', '5.2.15-4'),
      });
      assert.equal(
        (await http('POST', registry.url, scanPath('team/app', 'vulnerable'), { headers: ALICE })).status,
        202,
      );
      const rescanned = await waitForReport(
        registry.url,
        'team/app',
        'vulnerable',
        ALICE,
        (report) => report.Status === 'complete' && report.Database !== first.Database,
      );
      assert.equal(rescanned.Summary.CRITICAL, 1);
      assert.equal(rescanned.Summary.Total, 4);
      assert.deepEqual(brief(rescanned)[0], 'bash DSA-9999-1 CRITICAL 5.2.15-4');
      await rm(join(db, 'debian', 'DSA-9999-1.json'));
    });

    it('shows the findings on the manifest page, escaped, or "Not scanned."', async () => {
      const page = await http('GET', registry.url, `/ui/r/team/app/m/${vulnerable.digest}`, {
        headers: ALICE,
      });
      assert.equal(page.status, 200);
      const text = page.body.toString();
      assert.match(text, /<h2>Vulnerabilities<\/h2>/);
      assert.match(text, /<strong>Total: \d+<\/strong>/);
      assert.match(text, /<span class="badge sev-high">HIGH 2<\/span>/);
      assert.ok(text.includes('<code>DSA-5585-1</code><br><span class="muted">CVE-2023-5678</span>'), text);
      assert.ok(text.includes('<code>3.0.13-1~deb12u1</code>'));
      assert.ok(text.includes('bash: &lt;img src=x onerror=alert(1)&gt;'));
      assert.doesNotMatch(text, /<img|<script/i);
      const csp = page.header('content-security-policy')!;
      assert.match(csp, /^default-src 'none'; style-src 'sha256-/);

      const notScanned = await http('GET', registry.url, `/ui/r/team/app/m/${unscanned.digest}`, {
        headers: ALICE,
      });
      assert.match(
        notScanned.body.toString(),
        /<h2>Vulnerabilities<\/h2><p class="muted">Not scanned\.<\/p>/,
      );
      assert.equal((await http('GET', registry.url, `/ui/r/team/app/m/${vulnerable.digest}`)).status, 404);
    });
  });

  describe('the pull policy', () => {
    let registry: TestRegistry;
    before(async () => {
      registry = await startTestRegistry({ scan: { db, preventVulnerable: { severity: 'HIGH' } } });
      for (const [tag, image] of [
        ['vulnerable', vulnerable],
        ['fixed', fixed],
      ] as const) {
        assert.equal((await pushImage(registry.url, 'lib/app', image, tag)).status, 201);
      }
    });
    after(async () => {
      await registry?.close();
    });

    it('serves unscanned images, then refuses a vulnerable manifest with 412 and serves a clean one', async () => {
      const accept = { accept: OCI_MANIFEST };
      assert.equal(
        (await http('GET', registry.url, '/v2/lib/app/manifests/vulnerable', { headers: accept })).status,
        200,
      );
      for (const tag of ['vulnerable', 'fixed']) {
        assert.equal((await http('POST', registry.url, scanPath('lib/app', tag))).status, 202);
        await waitForReport(registry.url, 'lib/app', tag);
      }
      for (const reference of ['vulnerable', vulnerable.digest]) {
        const refused = await http('GET', registry.url, `/v2/lib/app/manifests/${reference}`, {
          headers: accept,
        });
        assert.equal(refused.status, 412, reference);
        assert.deepEqual(errorCodes(refused), ['DENIED']);
        const message = (refused.json() as { errors: Array<{ message: string }> }).errors[0]!.message;
        assert.match(message, /severity HIGH or higher \(2 HIGH\)/);
        const head = await http('HEAD', registry.url, `/v2/lib/app/manifests/${reference}`, {
          headers: accept,
        });
        // as Harbor: HEAD is answered (clients resolve and push with it), the GET is refused
        assert.equal(head.status, 200);
        assert.equal(head.header('docker-content-digest'), vulnerable.digest);
      }
      const clean = await http('GET', registry.url, '/v2/lib/app/manifests/fixed', { headers: accept });
      assert.equal(clean.status, 200, 'only a LOW finding: below the policy');
      assert.equal(clean.header('docker-content-digest'), fixed.digest);
    });
  });

  describe('on push', () => {
    let registry: TestRegistry;
    before(async () => {
      registry = await startTestRegistry({ scan: { db, onPush: true } });
    });
    after(async () => {
      await registry?.close();
    });

    it('scans a pushed image by itself', async () => {
      assert.equal((await pushImage(registry.url, 'lib/app', vulnerable, 'v1')).status, 201);
      const report = await waitForReport(registry.url, 'lib/app', 'v1');
      assert.equal(report.Summary.HIGH, 2);
    });

    it('scans an index platform by platform, linux/amd64 first, and merges their findings', async () => {
      const arm64 = imageOf([{ tar: await layerTar([]), gzip: true }], {
        os: 'linux',
        architecture: 'arm64',
      });
      // the arm64 entry comes first in the index; the report puts amd64 first
      const index = generateIndex([
        {
          manifest: arm64.manifest,
          mediaType: OCI_MANIFEST,
          platform: { os: 'linux', architecture: 'arm64' },
        },
        {
          manifest: fixed.manifest,
          mediaType: OCI_MANIFEST,
          platform: { os: 'linux', architecture: 'amd64' },
        },
      ]);
      assert.equal((await pushImage(registry.url, 'lib/multi', arm64)).status, 201);
      assert.equal((await pushImage(registry.url, 'lib/multi', fixed)).status, 201);
      assert.equal(
        (await pushManifest(registry.url, 'lib/multi', 'latest', index.manifest, index.mediaType)).status,
        201,
      );
      const report = await waitForReport(registry.url, 'lib/multi', 'latest');
      assert.equal(report.Digest, index.digest);
      assert.deepEqual(
        report.Platforms?.map((p) => [p.Platform, p.Digest, p.Summary.Total]),
        [
          ['linux/amd64', fixed.digest, 1],
          ['linux/arm64', arm64.digest, 0],
        ],
      );
      assert.equal(report.Ecosystem, 'Debian:12', "the amd64 image's facts");
      assert.deepEqual(brief(report), ['bash DEBIAN-CVE-2099-0001 LOW 5.2.15-3']);
      const child = await waitForReport(registry.url, 'lib/multi', arm64.digest);
      assert.equal(child.OS, null, 'no os-release in the arm64 image');
    });

    it('leaves artifacts alone', async () => {
      const artifact = generateImage({
        artifactType: 'application/vnd.example.sbom',
        configMediaType: OCI_EMPTY,
      });
      assert.equal((await pushImage(registry.url, 'lib/app', artifact, 'sbom')).status, 201);
      await registry.server.scans!.idle();
      const none = await http('GET', registry.url, reportPath('lib/app', 'sbom'));
      assert.equal(none.status, 404);
      assert.equal((none.json() as { status: string }).status, 'not scanned');
      const refused = await http('POST', registry.url, scanPath('lib/app', 'sbom'));
      assert.equal(refused.status, 202);
      await registry.server.scans!.idle();
      const failed = await http('GET', registry.url, reportPath('lib/app', 'sbom'));
      assert.equal((failed.json() as { status: string }).status, 'failed');
      assert.match(failed.body.toString(), /not a container image/);
    });
  });

  it('answers 501 with what to configure when the registry has no database', async () => {
    const registry = await startTestRegistry();
    try {
      assert.equal((await pushImage(registry.url, 'lib/app', vulnerable, 'v1')).status, 201);
      for (const [method, path] of [
        ['POST', scanPath('lib/app', 'v1')],
        ['GET', reportPath('lib/app', 'v1')],
      ] as const) {
        const response = await http(method, registry.url, path);
        assert.equal(response.status, 501, path);
        assert.deepEqual(errorCodes(response), ['UNSUPPORTED']);
        assert.match(response.body.toString(), /scanning is not configured.*--scan-db DIR/);
      }
      const page = await http('GET', registry.url, `/ui/r/lib/app/m/${vulnerable.digest}`);
      assert.equal(page.status, 200);
      assert.doesNotMatch(page.body.toString(), /Vulnerabilities/);
    } finally {
      await registry.close();
    }
  });
});
