// Online garbage collection over real HTTP: distribution's race (GC between blob upload and
// manifest PUT) replayed in order and concurrently, the grace, --delete-untagged keeping index
// children and live referrers, tag moves, abandoned uploads, freed bytes against the disk, dry
// runs, crash leftovers, and `wharf registry gc` in another process while the server runs.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Digest } from '../../../src/oci/digest.ts';
import { SqliteMetadataStore } from '../../../src/registry/metadata/sqlite-metadata-store.ts';
import { projectRoot } from '../../helpers/wharf.ts';
import {
  digestOf,
  errorCodes,
  type GeneratedImage,
  generateImage,
  generateIndex,
  http,
  OCI_MANIFEST,
  pushBlob,
  pushImage,
  pushManifest,
  randomBlob,
  startTestRegistry,
  type TestRegistry,
} from './helpers.ts';

const run = promisify(execFile);
const HOUR = 3_600_000;

/** `wharf registry gc` in its own process (through tsx, so no build is needed). */
async function cliGc(storage: string, args: string[] = []): Promise<{ stdout: string; stderr: string }> {
  return run(
    process.execPath,
    [
      '--import',
      'tsx',
      join(projectRoot, 'src/cli/main.ts'),
      'registry',
      'gc',
      '--storage',
      storage,
      ...args,
    ],
    {
      cwd: projectRoot,
    },
  );
}

/** Total bytes and count of the blob files on disk. */
async function blobFiles(storage: string): Promise<{ bytes: number; count: number; names: Set<string> }> {
  let bytes = 0;
  const names = new Set<string>();
  const root = join(storage, 'content', 'blobs');
  if (!existsSync(root)) return { bytes, count: 0, names };
  for (const algorithm of await readdir(root)) {
    for (const prefix of await readdir(join(root, algorithm))) {
      for (const name of await readdir(join(root, algorithm, prefix))) {
        bytes += (await stat(join(root, algorithm, prefix, name))).size;
        names.add(`${algorithm}:${name}`);
      }
    }
  }
  return { bytes, count: names.size, names };
}

/** Pulls an image by reference and checks every byte against what was pushed. */
async function assertPullsIntact(
  base: string,
  repo: string,
  reference: string,
  image: GeneratedImage,
): Promise<void> {
  const manifest = await http('GET', base, `/v2/${repo}/manifests/${reference}`, {
    headers: { accept: image.mediaType },
  });
  assert.equal(manifest.status, 200, `${repo}:${reference} manifest: ${manifest.status}`);
  assert.deepEqual(manifest.body, image.manifest);
  for (const blob of image.blobs) {
    const response = await http('GET', base, `/v2/${repo}/blobs/${digestOf(blob)}`);
    assert.equal(response.status, 200, `${repo}:${reference} blob ${digestOf(blob)}: ${response.status}`);
    assert.deepEqual(response.body, blob);
  }
}

describe('registry garbage collection', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startTestRegistry();
  });
  after(async () => {
    await registry?.close();
  });

  it('replays the race: blobs uploaded, GC with grace 0, then the manifest: MANIFEST_BLOB_UNKNOWN', async () => {
    const image = generateImage({ layers: 2, layerSize: 4096 });
    for (const blob of image.blobs) await pushBlob(registry.url, 'race/app', blob);
    const report = await registry.server.gc.run({ graceMs: 0 });
    assert.equal(report.linksRemoved, 3);
    assert.equal(report.blobsDeleted, 3);
    const put = await pushManifest(registry.url, 'race/app', 'v1', image.manifest, image.mediaType);
    assert.equal(put.status, 400);
    assert.deepEqual(errorCodes(put), [
      'MANIFEST_BLOB_UNKNOWN',
      'MANIFEST_BLOB_UNKNOWN',
      'MANIFEST_BLOB_UNKNOWN',
    ]);
    for (const blob of image.blobs) {
      assert.equal((await http('HEAD', registry.url, `/v2/race/app/blobs/${digestOf(blob)}`)).status, 404);
    }
    // the client starts over: this time the push completes and pulls intact, even after another GC
    const again = await pushImage(registry.url, 'race/app', image, 'v1');
    assert.equal(again.status, 201);
    await registry.server.gc.run({ graceMs: 0, deleteUntagged: true });
    await assertPullsIntact(registry.url, 'race/app', 'v1', image);
  });

  it('replays the race concurrently: every 201 pulls intact, every refusal is MANIFEST_BLOB_UNKNOWN', async () => {
    const shared = randomBlob(8192);
    let accepted = 0;
    let refused = 0;
    const kept: Array<{ tag: string; image: GeneratedImage }> = [];
    for (let round = 0; round < 40; round++) {
      const image = generateImage({ layers: 1, layerSize: 2048 });
      const layers = [shared, ...image.layers];
      const withShared = generateImage({ configBytes: image.config, layers: 0 });
      const document = JSON.parse(withShared.manifest.toString()) as { layers: unknown[] };
      document.layers = layers.map((layer) => ({
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: digestOf(layer),
        size: layer.byteLength,
      }));
      const manifest = Buffer.from(JSON.stringify(document));
      const full: GeneratedImage = {
        ...image,
        manifest,
        digest: digestOf(manifest),
        layers,
        blobs: [image.config, ...layers],
      };
      for (const blob of full.blobs) await pushBlob(registry.url, 'race/concurrent', blob);
      const tag = `r${round}`;
      const [put] = await Promise.all([
        // a small delay on half the rounds, so GC and PUT interleave both ways
        new Promise<Awaited<ReturnType<typeof pushManifest>>>((resolve) =>
          setTimeout(
            () => resolve(pushManifest(registry.url, 'race/concurrent', tag, manifest, OCI_MANIFEST)),
            round % 2,
          ),
        ),
        registry.server.gc.run({ graceMs: 0 }),
      ]);
      if (put.status === 201) {
        accepted++;
        kept.push({ tag, image: full });
        await assertPullsIntact(registry.url, 'race/concurrent', tag, full);
      } else {
        refused++;
        assert.equal(put.status, 400);
        assert.ok(errorCodes(put).every((code) => code === 'MANIFEST_BLOB_UNKNOWN'));
      }
    }
    assert.equal(accepted + refused, 40);
    await registry.server.gc.run({ graceMs: 0, deleteUntagged: true });
    for (const { tag, image } of kept) await assertPullsIntact(registry.url, 'race/concurrent', tag, image);
  });

  it('honours the grace: young unreferenced blobs stay, old ones go', async () => {
    const blob = randomBlob(3000);
    const digest = await pushBlob(registry.url, 'grace/app', blob);
    const kept = await registry.server.gc.run({ graceMs: HOUR });
    assert.equal((await http('HEAD', registry.url, `/v2/grace/app/blobs/${digest}`)).status, 200);
    assert.ok(kept.queued.link >= 1, 'still queued for a later run');
    await new Promise((resolve) => setTimeout(resolve, 20));
    const later = await registry.server.gc.run({ graceMs: 1 });
    assert.ok(later.linksRemoved >= 1);
    assert.equal((await http('HEAD', registry.url, `/v2/grace/app/blobs/${digest}`)).status, 404);
  });

  it('--delete-untagged keeps index children and live referrers, and collects the rest', async () => {
    const repo = 'untagged/app';
    const amd = generateImage({ platform: { os: 'linux', architecture: 'amd64' } });
    const arm = generateImage({ platform: { os: 'linux', architecture: 'arm64' } });
    for (const child of [amd, arm]) assert.equal((await pushImage(registry.url, repo, child)).status, 201);
    const index = generateIndex([
      { manifest: amd.manifest, mediaType: amd.mediaType, platform: { os: 'linux', architecture: 'amd64' } },
      { manifest: arm.manifest, mediaType: arm.mediaType, platform: { os: 'linux', architecture: 'arm64' } },
    ]);
    assert.equal(
      (await pushManifest(registry.url, repo, 'multi', index.manifest, index.mediaType)).status,
      201,
    );
    const lonely = generateImage();
    assert.equal((await pushImage(registry.url, repo, lonely)).status, 201); // by digest, untagged
    const signature = generateImage({
      artifactType: 'application/vnd.example.signature',
      subject: { mediaType: index.mediaType, digest: index.digest, size: index.manifest.byteLength },
    });
    assert.equal((await pushImage(registry.url, repo, signature)).status, 201);

    const report = await registry.server.gc.run({ graceMs: 0, deleteUntagged: true });
    assert.ok(report.manifestsDeleted >= 1);
    assert.equal((await http('HEAD', registry.url, `/v2/${repo}/manifests/${lonely.digest}`)).status, 404);
    for (const blob of lonely.layers)
      assert.equal((await http('HEAD', registry.url, `/v2/${repo}/blobs/${digestOf(blob)}`)).status, 404);
    await assertPullsIntact(registry.url, repo, amd.digest, amd);
    await assertPullsIntact(registry.url, repo, arm.digest, arm);
    assert.equal((await http('HEAD', registry.url, `/v2/${repo}/manifests/multi`)).status, 200);
    assert.equal((await http('HEAD', registry.url, `/v2/${repo}/manifests/${signature.digest}`)).status, 200);

    // untag the index: the index, its children, their blobs and the referrer all go
    assert.equal((await http('DELETE', registry.url, `/v2/${repo}/manifests/multi`)).status, 202);
    const cascade = await registry.server.gc.run({ graceMs: 0, deleteUntagged: true });
    assert.equal(cascade.manifestsDeleted, 4);
    for (const gone of [index.digest, amd.digest, arm.digest, signature.digest]) {
      assert.equal((await http('HEAD', registry.url, `/v2/${repo}/manifests/${gone}`)).status, 404);
    }
    for (const blob of [...amd.blobs, ...arm.blobs]) {
      assert.equal((await http('HEAD', registry.url, `/v2/${repo}/blobs/${digestOf(blob)}`)).status, 404);
    }
    // without --delete-untagged, untagged manifests stay
    const kept = generateImage();
    await pushImage(registry.url, repo, kept);
    await registry.server.gc.run({ graceMs: 0 });
    await assertPullsIntact(registry.url, repo, kept.digest, kept);
  });

  it('collects what a moved tag left, keeps shared layers, and frees exactly the bytes it reports', async () => {
    const repo = 'moves/app';
    const base = randomBlob(20_000);
    const make = () => {
      const image = generateImage({ layers: 1, layerSize: 10_000 });
      const layers = [base, ...image.layers];
      const document = JSON.parse(image.manifest.toString()) as { layers: unknown[] };
      document.layers = layers.map((layer) => ({
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: digestOf(layer),
        size: layer.byteLength,
      }));
      const manifest = Buffer.from(JSON.stringify(document));
      return { ...image, manifest, digest: digestOf(manifest), layers, blobs: [image.config, ...layers] };
    };
    const v1 = make();
    const v2 = make();
    assert.equal((await pushImage(registry.url, repo, v1, 'latest')).status, 201);
    await registry.server.gc.run({ graceMs: 0, deleteUntagged: true }); // earlier tests' leftovers
    assert.equal((await pushImage(registry.url, repo, v2, 'latest')).status, 201);
    const before = await blobFiles(registry.storage);
    const dry = await registry.server.gc.run({ graceMs: 0, deleteUntagged: true, dryRun: true });
    assert.deepEqual(await blobFiles(registry.storage), before, 'a dry run deletes nothing');
    const report = await registry.server.gc.run({ graceMs: 0, deleteUntagged: true });
    const afterwards = await blobFiles(registry.storage);
    assert.equal(report.manifestsDeleted, 1);
    assert.equal(report.blobsDeleted, 3, 'v1: manifest, config, its own layer');
    const expected = v1.manifest.byteLength + v1.config.byteLength + v1.layers[1]!.byteLength;
    assert.equal(report.blobBytesFreed, expected);
    assert.equal(report.blobBytesFreed, before.bytes - afterwards.bytes, 'the report matches the disk');
    assert.equal(report.blobsDeleted, before.count - afterwards.count);
    assert.equal(dry.blobBytesFreed, report.blobBytesFreed, 'the dry run predicted it');
    assert.equal(dry.blobsDeleted, report.blobsDeleted);
    await assertPullsIntact(registry.url, repo, 'latest', v2);
    assert.equal((await http('HEAD', registry.url, `/v2/${repo}/manifests/${v1.digest}`)).status, 404);
    assert.equal((await http('HEAD', registry.url, `/v2/${repo}/blobs/${digestOf(base)}`)).status, 200);
  });

  it('sweeps abandoned uploads after the grace, never live ones', async () => {
    const post = await http('POST', registry.url, '/v2/uploads/app/blobs/uploads/');
    const location = post.header('location')!;
    await http('PATCH', registry.url, location, { body: randomBlob(5000) });
    const live = await http('POST', registry.url, '/v2/uploads/app/blobs/uploads/');
    const id = location.split('/').pop()!;
    const data = join(registry.storage, 'content', 'uploads', id, 'data');
    const old = new Date(Date.now() - 2 * HOUR);
    await utimes(data, old, old);
    const report = await registry.server.gc.run({ graceMs: HOUR });
    assert.equal(report.uploadsRemoved, 1);
    assert.equal(report.uploadBytesFreed, 5000);
    assert.equal((await http('GET', registry.url, location)).status, 404);
    assert.equal((await http('GET', registry.url, live.header('location')!)).status, 204);
  });

  it('sweeps crash leftovers: bytes no row records (full sweep) and pins of dead processes', async () => {
    const orphan = randomBlob(1234);
    const digest = digestOf(orphan);
    const hex = digest.slice(7);
    const directory = join(registry.storage, 'content', 'blobs', 'sha256', hex.slice(0, 2));
    await mkdir(directory, { recursive: true });
    await writeFile(join(directory, hex), orphan);
    const plain = await registry.server.gc.run({ graceMs: 0 });
    assert.equal(plain.blobsDeleted, 0, 'a queue-driven run does not walk the disk');
    const full = await registry.server.gc.run({ graceMs: 0, full: true });
    assert.equal(full.blobsDeleted, 1);
    assert.ok(!existsSync(join(directory, hex)));

    // a pin left by a process that died between placing bytes and recording them
    const leftover = randomBlob(999);
    const leftoverDigest = digestOf(leftover) as Digest;
    const dead = SqliteMetadataStore.open(join(registry.storage, 'metadata.db'), { owner: '2147483646:1' });
    try {
      const pin = await dead.pinBlob(leftoverDigest);
      assert.equal(pin.status, 'pinned');
    } finally {
      await dead.close();
    }
    const path = join(
      registry.storage,
      'content',
      'blobs',
      'sha256',
      leftoverDigest.slice(7, 9),
      leftoverDigest.slice(7),
    );
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, leftover);
    const resumed = await registry.server.gc.run({ graceMs: 0 });
    assert.equal(resumed.resumed.pins, 1);
    assert.equal(resumed.blobsDeleted, 1);
    assert.ok(!existsSync(path));
  });

  it('runs as `wharf registry gc` in another process while the server serves', async () => {
    const image = generateImage({ layers: 1, layerSize: 4000 });
    assert.equal((await pushImage(registry.url, 'cli/app', image, 'v1')).status, 201);
    const stray = await pushBlob(registry.url, 'cli/app', randomBlob(7000));
    const dry = await cliGc(registry.storage, ['--grace', '0s', '--dry-run', '--format', 'json']);
    const preview = JSON.parse(dry.stdout) as {
      dryRun: boolean;
      blobsDeleted: number;
      blobBytesFreed: number;
    };
    assert.equal(preview.dryRun, true);
    assert.equal(preview.blobsDeleted, 1);
    assert.equal(preview.blobBytesFreed, 7000);
    assert.equal((await http('HEAD', registry.url, `/v2/cli/app/blobs/${stray}`)).status, 200);
    const { stdout } = await cliGc(registry.storage, ['--grace', '0s']);
    assert.match(stdout, /blobs deleted: +1 \(7.00 kB\)/);
    assert.match(stdout, /freed: +7.00 kB \(7000 bytes\)/);
    assert.equal((await http('HEAD', registry.url, `/v2/cli/app/blobs/${stray}`)).status, 404);
    await assertPullsIntact(registry.url, 'cli/app', 'v1', image);
    // one collector at a time, whatever the process
    const holder = SqliteMetadataStore.open(join(registry.storage, 'metadata.db'));
    try {
      assert.ok(await holder.acquireGcLease('test-holder', () => true));
      await assert.rejects(cliGc(registry.storage, ['--grace', '0s']), /another collection is running/);
      await holder.releaseGcLease('test-holder');
    } finally {
      await holder.close();
    }
  });
});
