// Real clients against the registry: skopeo pushes and pulls a single-image OCI layout, a
// multi-arch index and a docker archive, inspects, lists tags and deletes; pulled blobs must be
// byte-identical to the pushed ones.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { http, startTestRegistry, type TestRegistry } from '../../integration/registry/helpers.ts';

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

async function tarGz(files: Record<string, Buffer>): Promise<{ compressed: Buffer; diffId: string }> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk: unknown) => {
    chunks.push(chunk as Buffer);
  });
  const done = new Promise<void>((resolve) => {
    pack.on('end', () => resolve());
  });
  for (const [name, content] of Object.entries(files))
    pack.entry({ name, mode: 0o644, mtime: new Date(0) }, content);
  pack.finalize();
  await done;
  const raw = Buffer.concat(chunks);
  return { compressed: gzipSync(raw), diffId: sha256(raw) };
}

/** Writes an OCI image layout; `images` become one manifest each, an index when several. */
async function writeLayout(dir: string, tag: string, architectures: string[]): Promise<Map<string, Buffer>> {
  const blobs = new Map<string, Buffer>();
  const put = async (bytes: Buffer) => {
    const digest = sha256(bytes);
    blobs.set(digest, bytes);
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    await writeFile(join(dir, 'blobs', 'sha256', digest.slice(7)), bytes);
    return { digest, size: bytes.byteLength };
  };
  const manifests = [];
  for (const architecture of architectures) {
    const layers = [];
    const diffIds = [];
    for (let i = 0; i < 2; i++) {
      const { compressed, diffId } = await tarGz({ [`file-${i}`]: randomBytes(50_000 + i) });
      layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...(await put(compressed)) });
      diffIds.push(diffId);
    }
    const config = Buffer.from(
      JSON.stringify({
        architecture,
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: diffIds },
        config: {},
      }),
    );
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...(await put(config)) },
        layers,
      }),
    );
    manifests.push({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      ...(await put(manifest)),
      platform: { architecture, os: 'linux' },
    });
  }
  let top = manifests[0]!;
  if (architectures.length > 1) {
    const index = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }),
    );
    top = { mediaType: 'application/vnd.oci.image.index.v1+json', ...(await put(index)) } as typeof top;
  }
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: top.mediaType,
          digest: top.digest,
          size: top.size,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  return blobs;
}

async function layoutBlobs(dir: string): Promise<Map<string, Buffer>> {
  const blobs = new Map<string, Buffer>();
  for (const name of await readdir(join(dir, 'blobs', 'sha256'))) {
    blobs.set(`sha256:${name}`, await readFile(join(dir, 'blobs', 'sha256', name)));
  }
  return blobs;
}

describe('skopeo against the registry', { timeout: 300_000 }, async () => {
  const available = await skopeoAvailable();
  let registry: TestRegistry;
  let work: string;
  let host: string;

  before(async () => {
    if (!available) return;
    registry = await startTestRegistry();
    host = new URL(registry.url).host;
    work = await mkdtemp(join(tmpdir(), 'wharf-skopeo-'));
  });
  after(async () => {
    await registry?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const skopeo = (...args: string[]) =>
    run('skopeo', ['--insecure-policy', ...args], { maxBuffer: 16 << 20 });

  it('pushes and pulls a single-image OCI layout byte for byte', {
    skip: !available && 'skopeo is not installed',
  }, async () => {
    const source = join(work, 'single');
    const pushed = await writeLayout(source, 'v1', ['amd64']);
    await skopeo('copy', '--dest-tls-verify=false', `oci:${source}:v1`, `docker://${host}/skopeo/single:v1`);
    const pulled = join(work, 'single-pulled');
    await skopeo('copy', '--src-tls-verify=false', `docker://${host}/skopeo/single:v1`, `oci:${pulled}:v1`);
    const got = await layoutBlobs(pulled);
    assert.equal(got.size, pushed.size);
    for (const [digest, bytes] of pushed) assert.deepEqual(got.get(digest), bytes, digest);
  });

  it('pushes and pulls a multi-arch index with --all', {
    skip: !available && 'skopeo is not installed',
  }, async () => {
    const source = join(work, 'multi');
    const pushed = await writeLayout(source, 'multi', ['amd64', 'arm64']);
    await skopeo(
      'copy',
      '--all',
      '--dest-tls-verify=false',
      `oci:${source}:multi`,
      `docker://${host}/skopeo/multi:multi`,
    );
    const pulled = join(work, 'multi-pulled');
    await skopeo(
      'copy',
      '--all',
      '--src-tls-verify=false',
      `docker://${host}/skopeo/multi:multi`,
      `oci:${pulled}:multi`,
    );
    const got = await layoutBlobs(pulled);
    assert.equal(got.size, pushed.size);
    for (const [digest, bytes] of pushed) assert.deepEqual(got.get(digest), bytes, digest);
    const { stdout } = await skopeo(
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${host}/skopeo/multi:multi`,
    );
    assert.equal(JSON.parse(stdout).manifests.length, 2);
  });

  it('pushes a docker archive (Docker schema 2) and pulls it back', {
    skip: !available && 'skopeo is not installed',
  }, async () => {
    const source = join(work, 'for-archive');
    await writeLayout(source, 'v1', ['amd64']);
    const archive = join(work, 'image.tar');
    await skopeo('copy', `oci:${source}:v1`, `docker-archive:${archive}:skopeo/archive:v1`);
    await skopeo(
      'copy',
      '--dest-tls-verify=false',
      `docker-archive:${archive}`,
      `docker://${host}/skopeo/archive:v1`,
    );
    const manifest = await http('GET', registry.url, '/v2/skopeo/archive/manifests/v1', {
      headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
    });
    assert.equal(manifest.status, 200);
    assert.equal(manifest.header('content-type'), 'application/vnd.docker.distribution.manifest.v2+json');
    const back = join(work, 'archive-pulled.tar');
    await skopeo(
      'copy',
      '--src-tls-verify=false',
      `docker://${host}/skopeo/archive:v1`,
      `docker-archive:${back}:x:y`,
    );
    const document = JSON.parse(manifest.body.toString()) as { layers: Array<{ digest: string }> };
    for (const layer of document.layers) {
      const blob = await http('GET', registry.url, `/v2/skopeo/archive/blobs/${layer.digest}`);
      assert.equal(sha256(blob.body), layer.digest);
    }
  });

  it('inspects, lists tags and deletes', { skip: !available && 'skopeo is not installed' }, async () => {
    const { stdout: inspect } = await skopeo(
      'inspect',
      '--tls-verify=false',
      `docker://${host}/skopeo/single:v1`,
    );
    const info = JSON.parse(inspect) as { Architecture: string; Layers: string[]; Digest: string };
    assert.equal(info.Architecture, 'amd64');
    assert.equal(info.Layers.length, 2);
    await skopeo(
      'copy',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${host}/skopeo/single:v1`,
      `docker://${host}/skopeo/single:v2`,
    );
    const { stdout: tags } = await skopeo(
      'list-tags',
      '--tls-verify=false',
      `docker://${host}/skopeo/single`,
    );
    assert.deepEqual(JSON.parse(tags).Tags, ['v1', 'v2']);
    await skopeo('delete', '--tls-verify=false', `docker://${host}/skopeo/single:v2`);
    const gone = await http('GET', registry.url, `/v2/skopeo/single/manifests/${info.Digest}`);
    assert.equal(gone.status, 404, 'skopeo delete removes the manifest (and with it both tags)');
    await assert.rejects(skopeo('inspect', '--tls-verify=false', `docker://${host}/skopeo/single:v1`));
  });
});
