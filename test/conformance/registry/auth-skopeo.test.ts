// skopeo (containers/image: Docker's token flow, unchanged) against the registry with access
// control on: `skopeo login` checks credentials, a robot account pushes through tokens, a guest's
// push is denied, anonymous pulls work from a public project and are refused from a private one,
// and the pulled bytes are the pushed ones.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { AccountService } from '../../../src/registry/auth/account-service.ts';
import { SqliteAccessStore } from '../../../src/registry/auth/sqlite-access-store.ts';
import { startTestRegistry, type TestRegistry } from '../../integration/registry/helpers.ts';

const run = promisify(execFile);

async function skopeoAvailable(): Promise<boolean> {
  try {
    await run('skopeo', ['--version']);
    return true;
  } catch {
    return false;
  }
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A one-image OCI layout (a gzipped layer of random bytes is enough for a registry). */
async function writeLayout(dir: string, tag: string): Promise<Map<string, Buffer>> {
  const blobs = new Map<string, Buffer>();
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = async (bytes: Buffer) => {
    const digest = sha256(bytes);
    blobs.set(digest, bytes);
    await writeFile(join(dir, 'blobs', 'sha256', digest.slice(7)), bytes);
    return { digest, size: bytes.byteLength };
  };
  const raw = randomBytes(40_000);
  const layer = gzipSync(raw); // compressed, so that skopeo pushes it as it is
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [sha256(raw)] },
      config: {},
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...(await put(config)) },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...(await put(layer)) }],
    }),
  );
  const top = await put(manifest);
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...top,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  return blobs;
}

describe('skopeo with access control', { timeout: 120_000 }, async () => {
  const available = await skopeoAvailable();
  let registry: TestRegistry;
  let store: SqliteAccessStore;
  let work: string;
  let host: string;
  let robot = { name: '', secret: '' };

  before(async () => {
    if (!available) return;
    registry = await startTestRegistry();
    host = new URL(registry.url).host;
    work = await mkdtemp(join(tmpdir(), 'wharf-skopeo-auth-'));
    store = SqliteAccessStore.open(join(registry.storage, 'access.db'));
    const accounts = new AccountService(store);
    await accounts.addUser('alice', 'alice-pw');
    await accounts.addUser('gus', 'gus-pw');
    await accounts.createProject('team');
    await accounts.createProject('pub', { public: true });
    await accounts.setMember('team', 'alice', 'developer');
    await accounts.setMember('team', 'gus', 'guest');
    await accounts.setMember('pub', 'alice', 'developer');
    robot = await accounts.createRobot('ci', [{ project: 'team', actions: ['pull', 'push'] }]);
  });
  after(async () => {
    await store?.close();
    await registry?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const skopeo = (...args: string[]) =>
    run('skopeo', ['--insecure-policy', ...args], { maxBuffer: 16 << 20 });

  it('logs in with good credentials and refuses bad ones', {
    skip: !available && 'skopeo is not installed',
  }, async () => {
    const authfile = join(work, 'auth.json');
    const { stdout } = await skopeo(
      'login',
      '--tls-verify=false',
      '--authfile',
      authfile,
      '-u',
      'alice',
      '-p',
      'alice-pw',
      host,
    );
    assert.match(stdout, /Login Succeeded/);
    const saved = JSON.parse(await readFile(authfile, 'utf8')) as { auths: Record<string, unknown> };
    assert.ok(saved.auths[host]);
    await assert.rejects(
      skopeo(
        'login',
        '--tls-verify=false',
        '--authfile',
        join(work, 'bad.json'),
        '-u',
        'alice',
        '-p',
        'wrong',
        host,
      ),
      /401|unauthorized|invalid username/i,
    );
  });

  it('pushes with a robot account and pulls back the same bytes', {
    skip: !available && 'skopeo is not installed',
  }, async () => {
    const layout = join(work, 'layout');
    const blobs = await writeLayout(layout, 'v1');
    await skopeo(
      'copy',
      '--dest-tls-verify=false',
      '--dest-creds',
      `${robot.name}:${robot.secret}`,
      `oci:${layout}:v1`,
      `docker://${host}/team/app:v1`,
    );
    const pulled = join(work, 'pulled');
    await skopeo(
      'copy',
      '--src-tls-verify=false',
      '--src-creds',
      'alice:alice-pw',
      `docker://${host}/team/app:v1`,
      `oci:${pulled}:v1`,
    );
    const names = await readdir(join(pulled, 'blobs', 'sha256'));
    for (const [digest, bytes] of blobs) {
      assert.ok(
        names.includes(digest.slice(7)),
        `${digest} (${bytes.byteLength} bytes) in ${names.join(' ')}`,
      );
      assert.deepEqual(await readFile(join(pulled, 'blobs', 'sha256', digest.slice(7))), bytes);
    }
    const { stdout } = await skopeo(
      'list-tags',
      '--tls-verify=false',
      '--creds',
      'gus:gus-pw',
      `docker://${host}/team/app`,
    );
    assert.deepEqual((JSON.parse(stdout) as { Tags: string[] }).Tags, ['v1']);
  });

  it('refuses anonymous pulls from a private project and serves them from a public one', {
    skip: !available && 'skopeo is not installed',
  }, async () => {
    await assert.rejects(
      skopeo('inspect', '--tls-verify=false', '--no-creds', `docker://${host}/team/app:v1`),
      /unauthorized|authentication required|401/i,
    );
    const layout = join(work, 'public');
    await writeLayout(layout, 'v1');
    await skopeo(
      'copy',
      '--dest-tls-verify=false',
      '--dest-creds',
      'alice:alice-pw',
      `oci:${layout}:v1`,
      `docker://${host}/pub/tool:v1`,
    );
    const { stdout } = await skopeo(
      'inspect',
      '--tls-verify=false',
      '--no-creds',
      `docker://${host}/pub/tool:v1`,
    );
    assert.equal((JSON.parse(stdout) as { Name: string }).Name, `${host}/pub/tool`);
  });

  it("denies a guest's push", { skip: !available && 'skopeo is not installed' }, async () => {
    const layout = join(work, 'guest');
    await writeLayout(layout, 'v1');
    await assert.rejects(
      skopeo(
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        'gus:gus-pw',
        `oci:${layout}:v1`,
        `docker://${host}/team/app:gus`,
      ),
      /denied|unauthorized/i,
    );
    const tags = await skopeo(
      'list-tags',
      '--tls-verify=false',
      '--creds',
      'alice:alice-pw',
      `docker://${host}/team/app`,
    );
    assert.deepEqual((JSON.parse(tags.stdout) as { Tags: string[] }).Tags, ['v1']);
  });
});
