// `wharf pull`, `push`, `login`, `logout` and `search` through the real binary against real
// registries on loopback: Debian's docker-registry (distribution 2.8), with and without htpasswd
// auth, and Wharf's own registry. skopeo pushes what Wharf pulls and inspects what Wharf pushes;
// a pull killed midway resumes, and the registry's own log shows only the missing bytes were
// served again.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { wharfBin } from '../../helpers/wharf.ts';
import { startTestRegistry, type TestRegistry } from '../registry/helpers.ts';
import {
  type DistributionRegistry,
  distributionUnavailable,
  htpasswdUnavailable,
  makeTestImage,
  skopeoUnavailable,
  startDistribution,
  startStallingProxy,
  type TestImage,
  tarOf,
  writeOciLayout,
} from './helpers.ts';

const run = promisify(execFile);
const unavailable = distributionUnavailable() ?? skopeoUnavailable();

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

let work = '';

function wharf(
  root: string,
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(wharfBin, ['--root', root, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, DOCKER_CONFIG: join(work, 'docker-config'), ...options.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

async function ok(
  root: string,
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  const result = await wharf(root, args, options);
  assert.equal(result.code, 0, `wharf ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

async function skopeoPush(image: TestImage, destination: string, extra: string[] = []): Promise<void> {
  const dir = await mkdtemp(join(work, 'layout-'));
  await writeOciLayout(dir, image, 'v1');
  await run('skopeo', [
    'copy',
    '--dest-tls-verify=false',
    ...extra,
    `oci:${dir}:v1`,
    `docker://${destination}`,
  ]);
  await rm(dir, { recursive: true, force: true });
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'wharf-cli-transfer-'));
});
after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('wharf pull and push against distribution', { skip: unavailable }, () => {
  let registry: DistributionRegistry;
  let root: string;

  before(async () => {
    registry = await startDistribution();
    root = await mkdtemp(join(work, 'root-'));
  });
  after(async () => {
    await registry?.stop();
  });

  it('pulls an image skopeo pushed, with Docker output, then finds it up to date', async () => {
    const image = await makeTestImage([200_000, 100_000]);
    await skopeoPush(image, `${registry.domain}/demo/app:v1`);
    const out = await ok(root, ['pull', `${registry.domain}/demo/app:v1`]);
    const lines = out.trim().split('\n');
    assert.equal(lines[0], 'v1: Pulling from demo/app');
    for (const layer of image.layers) {
      const id = layer.digest.slice(7, 19);
      assert.ok(lines.includes(`${id}: Pulling fs layer`), out);
      assert.ok(lines.includes(`${id}: Download complete`), out);
      assert.ok(lines.includes(`${id}: Pull complete`), out);
    }
    assert.ok(!out.includes('Downloading'), 'no byte counts when stdout is not a terminal');
    assert.ok(lines.includes(`Digest: ${image.manifest.digest}`), out);
    assert.ok(lines.includes(`Status: Downloaded newer image for ${registry.domain}/demo/app:v1`), out);
    assert.equal(lines.at(-1), `${registry.domain}/demo/app:v1`);

    const inspect = JSON.parse(
      await ok(root, ['image', 'inspect', `${registry.domain}/demo/app:v1`]),
    ) as Array<{
      Id: string;
      RepoDigests: string[];
      RootFS: { Layers: string[] };
    }>;
    assert.equal(inspect[0]!.Id, image.config.digest);
    assert.deepEqual(inspect[0]!.RepoDigests, [`${registry.domain}/demo/app@${image.manifest.digest}`]);
    assert.deepEqual(
      inspect[0]!.RootFS.Layers,
      image.layers.map((l) => l.diffId),
    );

    const again = await ok(root, ['pull', `${registry.domain}/demo/app:v1`]);
    for (const layer of image.layers)
      assert.ok(again.includes(`${layer.digest.slice(7, 19)}: Already exists`), again);
    assert.ok(again.includes(`Status: Image is up to date for ${registry.domain}/demo/app:v1`), again);
    assert.equal(
      await ok(root, ['pull', '-q', `${registry.domain}/demo/app:v1`]),
      `${registry.domain}/demo/app:v1\n`,
    );
  });

  it('pushes: mounts known layers from the repository they came from, and skopeo sees the digest Wharf reports', async () => {
    await ok(root, ['tag', `${registry.domain}/demo/app:v1`, `${registry.domain}/copy/app:v2`]);
    const out = await ok(root, ['push', `${registry.domain}/copy/app:v2`]);
    const lines = out.trim().split('\n');
    assert.equal(lines[0], `The push refers to repository [${registry.domain}/copy/app]`);
    assert.equal(lines.filter((l) => l.endsWith(': Mounted from demo/app')).length, 2, out);
    const last = /^v2: digest: (sha256:[0-9a-f]{64}) size: (\d+)$/.exec(lines.at(-1)!);
    assert.ok(last, out);
    const uploads = (await registry.requests()).filter(
      (r) => r.method === 'PATCH' && r.uri.includes('copy/app'),
    );
    assert.equal(uploads.length, 0, 'no layer uploaded');
    const { stdout } = await run('skopeo', [
      'inspect',
      '--tls-verify=false',
      `docker://${registry.domain}/copy/app:v2`,
    ]);
    assert.equal((JSON.parse(stdout) as { Digest: string }).Digest, last[1]);
    const repoDigests = await ok(root, [
      'image',
      'inspect',
      '--format',
      '{{json .RepoDigests}}',
      `${registry.domain}/copy/app:v2`,
    ]);
    assert.ok((JSON.parse(repoDigests) as string[]).includes(`${registry.domain}/copy/app@${last[1]}`));
  });

  it('pushes a local image: gzip layers uploaded, then "Layer already exists"; pulled back byte-identical by skopeo', async () => {
    const layerTar = join(work, 'local-layer.tar');
    await writeFile(
      layerTar,
      await tarOf({
        'etc/hello.txt': 'hello from wharf\n'.repeat(1000),
        'bin/tool': Buffer.alloc(300_000, 7),
      }),
    );
    await ok(root, ['import', layerTar, `${registry.domain}/local/made:1`]);
    const out = await ok(root, ['push', `${registry.domain}/local/made:1`]);
    assert.match(out, /^[0-9a-f]{12}: Pushed$/m);
    const digest = /^1: digest: (sha256:[0-9a-f]{64}) size: \d+$/m.exec(out)?.[1];
    assert.ok(digest, out);
    const again = await ok(root, ['push', `${registry.domain}/local/made:1`]);
    assert.match(again, /^[0-9a-f]{12}: Layer already exists$/m);
    assert.ok(again.includes(`1: digest: ${digest}`), 'the same manifest again');
    // skopeo takes it apart: gzip layer whose uncompressed bytes are the tar imported
    const dir = join(work, 'skopeo-out');
    await run('skopeo', [
      'copy',
      '--src-tls-verify=false',
      `docker://${registry.domain}/local/made:1`,
      `dir:${dir}`,
    ]);
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as {
      layers: Array<{ mediaType: string; digest: string }>;
    };
    assert.equal(manifest.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    const { gunzipSync } = await import('node:zlib');
    const layer = gunzipSync(await readFile(join(dir, manifest.layers[0]!.digest.slice(7))));
    assert.deepEqual(layer, await readFile(layerTar));
  });

  it('resumes a pull killed midway: finished layers are not fetched again, the partial one only from where it stopped', async () => {
    const image = await makeTestImage([150_000, 120_000, 6_000_000]);
    await skopeoPush(image, `${registry.domain}/big/app:v1`);
    const killedRoot = await mkdtemp(join(work, 'killed-'));
    // through a proxy that freezes the download after 3 MB: the small layers finish, the big one hangs
    const proxy = await startStallingProxy(registry.url, 3_000_000);
    try {
      const child = spawn(wharfBin, ['--root', killedRoot, 'pull', `127.0.0.1:${proxy.port}/big/app:v1`], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk) => {
        output += chunk;
      });
      const exited = new Promise((resolve) => child.on('close', resolve));
      await proxy.stalled;
      const deadline = Date.now() + 20_000;
      while ((output.match(/Pull complete/g) ?? []).length < 2 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      // let the last bytes the proxy passed reach the partial file
      await new Promise((resolve) => setTimeout(resolve, 300));
      child.kill('SIGKILL');
      await exited;
      assert.equal((output.match(/Pull complete/g) ?? []).length, 2, output);
    } finally {
      await proxy.close();
    }
    const big = image.layers[2]!;
    const partialDir = join(killedRoot, 'distribution', 'partial');
    const partialSize = (await stat(join(partialDir, big.digest.replace(':', '-')))).size;
    assert.ok(partialSize > 0 && partialSize < big.size, `partial file of ${partialSize} bytes`);

    const before = (await registry.requests()).length;
    const out = await ok(killedRoot, ['pull', `${registry.domain}/big/app:v1`]);
    assert.ok(out.includes(`${image.layers[0]!.digest.slice(7, 19)}: Already exists`), out);
    assert.ok(out.includes(`${image.layers[1]!.digest.slice(7, 19)}: Already exists`), out);
    assert.ok(out.includes(`${big.digest.slice(7, 19)}: Pull complete`), out);
    const second = (await registry.requests())
      .slice(before)
      .filter((r) => r.method === 'GET' && r.uri.includes('/blobs/'));
    assert.ok(
      !second.some((r) => r.uri.includes(image.layers[0]!.digest) || r.uri.includes(image.layers[1]!.digest)),
    );
    const bigGets = second.filter((r) => r.uri.includes(big.digest));
    assert.equal(bigGets.length, 1);
    assert.equal(bigGets[0]!.status, 206, 'a Range request');
    assert.equal(bigGets[0]!.written, big.size - partialSize, 'the registry served only the missing bytes');
    assert.deepEqual(await readdir(partialDir), [], 'the partial file is gone once committed');
    const inspect = JSON.parse(
      await ok(killedRoot, ['image', 'inspect', `${registry.domain}/big/app:v1`]),
    ) as Array<{ Id: string }>;
    assert.equal(inspect[0]!.Id, image.config.digest);
  });

  it('pulls a platform from an index with --platform, and -a pulls every tag', async () => {
    const amd = await makeTestImage([1000], { architecture: 'amd64' });
    const arm = await makeTestImage([1000], { architecture: 'arm64' });
    const dir = await mkdtemp(join(work, 'multi-'));
    await writeOciLayout(dir, amd, 'amd');
    await run('skopeo', [
      'copy',
      '--dest-tls-verify=false',
      `oci:${dir}:amd`,
      `docker://${registry.domain}/multi/app:amd`,
    ]);
    const armDir = await mkdtemp(join(work, 'multi-arm-'));
    await writeOciLayout(armDir, arm, 'arm');
    await run('skopeo', [
      'copy',
      '--dest-tls-verify=false',
      `oci:${armDir}:arm`,
      `docker://${registry.domain}/multi/app:arm`,
    ]);
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: amd.manifest.mediaType,
          digest: amd.manifest.digest,
          size: amd.manifest.size,
          platform: { os: 'linux', architecture: 'amd64' },
        },
        {
          mediaType: arm.manifest.mediaType,
          digest: arm.manifest.digest,
          size: arm.manifest.size,
          platform: { os: 'linux', architecture: 'arm64' },
        },
      ],
    };
    const response = await fetch(`${registry.url}/v2/multi/app/manifests/latest`, {
      method: 'PUT',
      headers: { 'content-type': index.mediaType },
      body: JSON.stringify(index),
    });
    assert.equal(response.status, 201);
    const pullRoot = await mkdtemp(join(work, 'platform-'));
    await ok(pullRoot, ['pull', '--platform', 'linux/arm64', `${registry.domain}/multi/app`]);
    const inspect = JSON.parse(
      await ok(pullRoot, ['image', 'inspect', `${registry.domain}/multi/app`]),
    ) as Array<{ Id: string; Architecture: string }>;
    assert.equal(inspect[0]!.Id, arm.config.digest);
    assert.equal(inspect[0]!.Architecture, 'arm64');
    const missing = await wharf(pullRoot, [
      'pull',
      '--platform',
      'linux/s390x',
      `${registry.domain}/multi/app`,
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no matching manifest for linux\/s390x in the manifest list entries/);

    const all = await ok(pullRoot, ['pull', '-a', `${registry.domain}/multi/app`]);
    assert.equal(all.trim().split('\n').at(-1), `${registry.domain}/multi/app`);
    const tags = await ok(pullRoot, ['images', '--format', '{{.Tag}}', `${registry.domain}/multi/app`]);
    assert.deepEqual(tags.trim().split('\n').sort(), ['amd', 'arm', 'latest']);
  });

  it('pulls zstd, uncompressed and Docker-typed gzip layers alike', async () => {
    const { RegistryClient } = await import('../../../src/distribution/registry-client.ts');
    const { execFileSync } = await import('node:child_process');
    const plain = await makeTestImage([30_000, 20_000], { compress: false, docker: true });
    const zstdTar = await tarOf({ 'zstd/file.txt': 'compressed with zstd\n'.repeat(2000) });
    const zstdBytes = execFileSync('zstd', ['-q', '-c'], { input: zstdTar });
    const { createHash } = await import('node:crypto');
    const digest = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}` as const;
    const config = Buffer.from(
      JSON.stringify({
        architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
        os: 'linux',
        rootfs: {
          type: 'layers',
          diff_ids: [plain.layers[0]!.diffId, digest(zstdTar), plain.layers[1]!.diffId],
        },
      }),
    );
    const layers = [
      { mediaType: plain.layers[0]!.mediaType, digest: plain.layers[0]!.digest, size: plain.layers[0]!.size },
      {
        mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd',
        digest: digest(zstdBytes),
        size: zstdBytes.byteLength,
      },
      { mediaType: plain.layers[1]!.mediaType, digest: plain.layers[1]!.digest, size: plain.layers[1]!.size },
    ];
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: {
          mediaType: 'application/vnd.oci.image.config.v1+json',
          digest: digest(config),
          size: config.byteLength,
        },
        layers,
      }),
    );
    const client = new RegistryClient({ domain: registry.domain });
    try {
      for (const bytes of [plain.layers[0]!.bytes, zstdBytes, plain.layers[1]!.bytes, config])
        await client.pushBlob('mixed/app', bytes);
      await client.putManifest('mixed/app', 'v1', manifest, 'application/vnd.oci.image.manifest.v1+json');
    } finally {
      await client.close();
    }
    const mixedRoot = await mkdtemp(join(work, 'mixed-'));
    await ok(mixedRoot, ['pull', `${registry.domain}/mixed/app:v1`]);
    const inspect = JSON.parse(
      await ok(mixedRoot, ['image', 'inspect', `${registry.domain}/mixed/app:v1`]),
    ) as Array<{
      Id: string;
      RootFS: { Layers: string[] };
    }>;
    assert.equal(inspect[0]!.Id, digest(config));
    assert.deepEqual(inspect[0]!.RootFS.Layers, [
      plain.layers[0]!.diffId,
      digest(zstdTar),
      plain.layers[1]!.diffId,
    ]);
  });

  it('says clearly what went wrong', async () => {
    const missing = await wharf(root, ['pull', `${registry.domain}/no/such:tag`]);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      new RegExp(
        `^Error: Cannot pull ${registry.domain.replace(/\./g, '\\.')}/no/such:tag: .*manifest unknown`,
      ),
    );
    const hub = await wharf(root, ['pull', 'busybox']);
    assert.equal(hub.code, 1);
    assert.match(
      hub.stderr,
      /^Error: Cannot pull docker\.io\/library\/busybox:latest: cannot reach registry-1\.docker\.io/,
    );
    const local = await wharf(root, ['push', `${registry.domain}/not/here:1`]);
    assert.equal(local.code, 1);
    assert.match(local.stderr, /An image does not exist locally with the tag: /);
  });
});

describe('wharf login, logout and auth', { skip: unavailable ?? htpasswdUnavailable() }, () => {
  let registry: DistributionRegistry;
  let root: string;
  const user = { username: 'alice', password: 'correct horse' };

  before(async () => {
    registry = await startDistribution({ user });
    root = await mkdtemp(join(work, 'auth-root-'));
  });
  after(async () => {
    await registry?.stop();
  });

  it('refuses a wrong password and saves nothing', async () => {
    const result = await wharf(root, ['login', '-u', user.username, '--password-stdin', registry.domain], {
      input: 'nope\n',
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /unauthorized/);
    await assert.rejects(readFile(join(work, 'docker-config', 'config.json'), 'utf8'));
  });

  it('logs in (config.json as Docker writes it), pushes and pulls, logs out', async () => {
    const login = await ok(root, ['login', '-u', user.username, '--password-stdin', registry.domain], {
      input: `${user.password}\n`,
    });
    assert.equal(login, 'Login Succeeded\n');
    const configPath = join(work, 'docker-config', 'config.json');
    const config = JSON.parse(await readFile(configPath, 'utf8')) as {
      auths: Record<string, { auth: string }>;
    };
    assert.equal(
      Buffer.from(config.auths[registry.domain]!.auth, 'base64').toString(),
      `${user.username}:${user.password}`,
    );
    assert.equal((await stat(configPath)).mode & 0o777, 0o600);

    const image = await makeTestImage([50_000]);
    await skopeoPush(image, `${registry.domain}/private/app:1`, [
      '--dest-creds',
      `${user.username}:${user.password}`,
    ]);
    await ok(root, ['pull', `${registry.domain}/private/app:1`]);
    await ok(root, ['tag', `${registry.domain}/private/app:1`, `${registry.domain}/private/copy:1`]);
    assert.match(await ok(root, ['push', `${registry.domain}/private/copy:1`]), /Mounted from private\/app/);

    assert.equal(
      await ok(root, ['logout', registry.domain]),
      `Removing login credentials for ${registry.domain}\n`,
    );
    assert.equal(await ok(root, ['logout', registry.domain]), `Not logged in to ${registry.domain}\n`);
    const denied = await wharf(root, ['pull', `${registry.domain}/private/app:1`]);
    assert.equal(denied.code, 1);
    assert.match(
      denied.stderr,
      new RegExp(
        `Cannot pull ${registry.domain.replace(/\./g, '\\.')}/private/app:1: unauthorized: authentication required`,
      ),
    );
  });

  it('keeps credentials in a credential helper when config.json names one', async () => {
    const bin = join(work, 'helper-bin');
    const storeFile = join(work, 'helper-store.json');
    await mkdir(bin, { recursive: true });
    // a real docker-credential-* program: get/store/erase on a JSON file
    const helper = `#!/usr/bin/env node
const fs = require('fs');
const file = ${JSON.stringify(storeFile)};
const read = () => { try { return JSON.parse(fs.readFileSync(file, 'utf8')); } catch { return {}; } };
let input = '';
process.stdin.on('data', (c) => (input += c));
process.stdin.on('end', () => {
  const db = read();
  const action = process.argv[2];
  if (action === 'store') { const c = JSON.parse(input); db[c.ServerURL] = c; fs.writeFileSync(file, JSON.stringify(db)); }
  else if (action === 'get') { const c = db[input.trim()]; if (!c) { process.stdout.write('credentials not found in native keychain\\n'); process.exit(1); } process.stdout.write(JSON.stringify(c)); }
  else if (action === 'erase') { delete db[input.trim()]; fs.writeFileSync(file, JSON.stringify(db)); }
});
`;
    await writeFile(join(bin, 'docker-credential-wharftest'), helper);
    await chmod(join(bin, 'docker-credential-wharftest'), 0o755);
    await mkdir(join(work, 'docker-config'), { recursive: true });
    await writeFile(
      join(work, 'docker-config', 'config.json'),
      JSON.stringify({ credsStore: 'wharftest', proxies: { keep: 'me' } }),
    );
    const env = { PATH: `${bin}:${process.env.PATH}` };
    assert.equal(
      await ok(root, ['login', '-u', user.username, '--password-stdin', registry.domain], {
        input: user.password,
        env,
      }),
      'Login Succeeded\n',
    );
    const stored = JSON.parse(await readFile(storeFile, 'utf8')) as Record<
      string,
      { Username: string; Secret: string }
    >;
    assert.deepEqual(stored[registry.domain], {
      ServerURL: registry.domain,
      Username: user.username,
      Secret: user.password,
    });
    const config = JSON.parse(await readFile(join(work, 'docker-config', 'config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.deepEqual(config.auths, { [registry.domain]: {} }, 'no secret in config.json');
    assert.deepEqual(config.proxies, { keep: 'me' }, 'unknown fields kept');
    await ok(root, ['pull', `${registry.domain}/private/app:1`], { env });
    await ok(root, ['logout', registry.domain], { env });
    assert.deepEqual(JSON.parse(await readFile(storeFile, 'utf8')), {});
  });
});

describe("wharf against Wharf's registry", { skip: skopeoUnavailable() }, () => {
  let registry: TestRegistry;
  let root: string;

  before(async () => {
    registry = await startTestRegistry();
    root = await mkdtemp(join(work, 'wharf-registry-root-'));
  });
  after(async () => {
    await registry?.close();
  });

  it('pushes, pulls back and searches the catalog', async () => {
    const domain = new URL(registry.url).host;
    const image = await makeTestImage([80_000, 40_000]);
    await skopeoPush(image, `${domain}/team/web:1`);
    await ok(root, ['pull', `${domain}/team/web:1`]);
    await ok(root, ['tag', `${domain}/team/web:1`, `${domain}/team/api:2`]);
    const pushed = await ok(root, ['push', `${domain}/team/api:2`]);
    assert.match(pushed, /Mounted from team\/web/);
    const digest = /^2: digest: (sha256:[0-9a-f]{64})/m.exec(pushed)?.[1];
    const { stdout } = await run('skopeo', [
      'inspect',
      '--tls-verify=false',
      `docker://${domain}/team/api:2`,
    ]);
    assert.equal((JSON.parse(stdout) as { Digest: string }).Digest, digest);

    const search = await ok(root, ['search', `${domain}/team`]);
    const lines = search.trim().split('\n');
    assert.match(lines[0]!, /^NAME\s+DESCRIPTION\s+STARS\s+OFFICIAL$/);
    assert.deepEqual(
      lines
        .slice(1)
        .map((l) => l.split(/\s+/)[0])
        .sort(),
      [`${domain}/team/api`, `${domain}/team/web`],
    );
    assert.equal(
      await ok(root, ['search', '--format', '{{.Name}}', `${domain}/api`]),
      `${domain}/team/api\n`,
    );
  });
});
