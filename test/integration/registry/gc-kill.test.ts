// A garbage collection killed with SIGKILL resumes where it stopped: `wharf registry gc` runs in
// its own process beside a serving registry and kills itself at each of its crash points (after a
// review transaction decided deletions, after some files were removed, in the upload sweep).
// The next run (or the server's next start) finishes the deletions already decided, collects the
// rest, and together they free exactly the garbage: every stray blob file gone, every pushed image
// intact, the resumed run's report matching what left the disk.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GC_CRASH_POINTS } from '../../../src/registry/crash-points.ts';
import { SqliteMetadataStore } from '../../../src/registry/metadata/sqlite-metadata-store.ts';
import { projectRoot } from '../../helpers/wharf.ts';
import {
  digestOf,
  type GeneratedImage,
  generateImage,
  http,
  pushBlob,
  pushImage,
  randomBlob,
  startTestRegistry,
  type TestRegistry,
} from './helpers.ts';

interface GcRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
}

function runGc(storage: string, crashAt?: string): Promise<GcRun> {
  const env = { ...process.env };
  delete env.WHARF_REGISTRY_CRASH_AT;
  if (crashAt) env.WHARF_REGISTRY_CRASH_AT = crashAt;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [
        '--import',
        'tsx',
        join(projectRoot, 'src/cli/main.ts'),
        'registry',
        'gc',
        '--storage',
        storage,
        '--grace',
        '0s',
        '--format',
        'json',
      ],
      { cwd: projectRoot, env },
      (error, stdout) => {
        const failure = error as (Error & { code?: number; signal?: NodeJS.Signals }) | null;
        resolve({ code: failure ? (failure.code ?? null) : 0, signal: failure?.signal ?? null, stdout });
      },
    );
  });
}

async function diskBytes(storage: string): Promise<{ bytes: number; files: Set<string> }> {
  let bytes = 0;
  const files = new Set<string>();
  const root = join(storage, 'content', 'blobs');
  if (!existsSync(root)) return { bytes, files };
  for (const algorithm of await readdir(root)) {
    for (const prefix of await readdir(join(root, algorithm))) {
      for (const name of await readdir(join(root, algorithm, prefix))) {
        bytes += (await stat(join(root, algorithm, prefix, name))).size;
        files.add(`${algorithm}:${name}`);
      }
    }
  }
  return { bytes, files };
}

describe('a killed garbage collection resumes', { timeout: 180_000 }, () => {
  let registry: TestRegistry;
  const images: Array<{ tag: string; image: GeneratedImage }> = [];

  before(async () => {
    registry = await startTestRegistry();
    for (let i = 0; i < 3; i++) {
      const image = generateImage({ layers: 2, layerSize: 3000 });
      assert.equal((await pushImage(registry.url, 'kill/app', image, `v${i}`)).status, 201);
      images.push({ tag: `v${i}`, image });
    }
  });
  after(async () => {
    await registry?.close();
  });

  async function makeGarbage(count: number): Promise<{ digests: string[]; bytes: number }> {
    const digests: string[] = [];
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      const blob = randomBlob(1000 + i);
      digests.push(await pushBlob(registry.url, 'kill/app', blob));
      bytes += blob.byteLength;
    }
    return { digests, bytes };
  }

  async function assertImagesIntact(): Promise<void> {
    for (const { tag, image } of images) {
      const manifest = await http('GET', registry.url, `/v2/kill/app/manifests/${tag}`);
      assert.equal(manifest.status, 200);
      assert.deepEqual(manifest.body, image.manifest);
      for (const blob of image.blobs) {
        assert.deepEqual(
          (await http('GET', registry.url, `/v2/kill/app/blobs/${digestOf(blob)}`)).body,
          blob,
        );
      }
    }
  }

  it('has a case for every crash point of the collector', () => {
    assert.deepEqual([...GC_CRASH_POINTS].sort(), ['gc.after-review', 'gc.after-unlink', 'gc.mid-uploads']);
  });

  for (const crashAt of ['gc.after-review', 'gc.after-unlink#40', 'gc.after-unlink#280']) {
    it(`killed at ${crashAt}, the next run finishes the job`, async () => {
      const garbage = await makeGarbage(300); // more than one review batch (256)
      const before = await diskBytes(registry.storage);
      const killed = await runGc(registry.storage, crashAt);
      assert.equal(killed.signal, 'SIGKILL', `the collector was killed (${killed.code}: ${killed.stdout})`);
      const middle = await diskBytes(registry.storage);
      assert.ok(
        middle.bytes < before.bytes || crashAt === 'gc.after-review',
        'some bytes went before the kill',
      );
      const store = SqliteMetadataStore.open(join(registry.storage, 'metadata.db'));
      try {
        assert.ok((await store.listTombstones()).length > 0, 'decided deletions are left as tombstones');
      } finally {
        await store.close();
      }
      await assertImagesIntact();

      const resumed = await runGc(registry.storage);
      assert.equal(resumed.code, 0, resumed.stdout);
      const report = JSON.parse(resumed.stdout) as {
        resumed: { tombstones: number; bytes: number };
        blobBytesFreed: number;
        blobsDeleted: number;
      };
      assert.ok(report.resumed.tombstones > 0, 'the interrupted deletions were carried out');
      const end = await diskBytes(registry.storage);
      assert.equal(report.blobBytesFreed, middle.bytes - end.bytes, 'the resumed report matches the disk');
      assert.equal(before.bytes - end.bytes, garbage.bytes, 'together they freed exactly the garbage');
      for (const digest of garbage.digests) assert.ok(!end.files.has(digest), `${digest} is gone`);
      await assertImagesIntact();
    });
  }

  it('killed in the upload sweep, the next run sweeps the rest', async () => {
    const locations: string[] = [];
    for (let i = 0; i < 3; i++) {
      const post = await http('POST', registry.url, '/v2/kill/app/blobs/uploads/');
      const location = post.header('location')!;
      await http('PATCH', registry.url, location, { body: randomBlob(500) });
      const data = join(registry.storage, 'content', 'uploads', location.split('/').pop()!, 'data');
      const old = new Date(Date.now() - 24 * 3600 * 1000);
      await utimes(data, old, old);
      await utimes(join(data, '..'), old, old); // abandoned a day ago, directory and all
      locations.push(location);
    }
    const killed = await runGc(registry.storage, 'gc.mid-uploads#2');
    assert.equal(killed.signal, 'SIGKILL');
    const resumed = await runGc(registry.storage);
    assert.equal(resumed.code, 0);
    const report = JSON.parse(resumed.stdout) as { uploadsRemoved: number };
    assert.ok(report.uploadsRemoved >= 1);
    for (const location of locations) assert.equal((await http('GET', registry.url, location)).status, 404);
    assert.deepEqual(await readdir(join(registry.storage, 'content', 'uploads')), []);
  });

  it('killed after its review, the server finishes the deletions at its next start', async () => {
    const garbage = await makeGarbage(50);
    const killed = await runGc(registry.storage, 'gc.after-review');
    assert.equal(killed.signal, 'SIGKILL');
    await registry.restart();
    assert.equal(registry.server.recovery.tombstones, 50);
    const end = await diskBytes(registry.storage);
    for (const digest of garbage.digests) assert.ok(!end.files.has(digest));
    await assertImagesIntact();
  });
});
