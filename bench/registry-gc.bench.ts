// Online GC at scale: a registry holding 100,000 blobs of which 1% are garbage, collected while the
// registry serves pulls and pushes. The storage is seeded directly (metadata rows in one
// transaction, small files whose names are their sha256), as pushes would have left it: 9,890
// tagged images in 100 repositories, each a manifest, a config and 9 layers of which one is shared
// by its repository (99,000 live blobs); the garbage (1,000 blobs) is made through the metadata
// store's own operations, so the review queue holds what the server's transactions would have
// queued: 50 older images untagged (manifest, config, 8 own layers each: 500 blobs; collected with
// --delete-untagged) and 500 blobs uploaded that no manifest ever named. Then
// `POST /api/v1/gc {grace: 1s, deleteUntagged}` while 8 clients pull manifests and blobs and push
// new images (a grace of 1 s keeps their blobs between upload and manifest); a second run shows the
// work follows the garbage, not the registry. Goals: the collection takes under 2 s and frees
// exactly the garbage (files, count and bytes), every live blob stays, no request fails.
// Run: node --import tsx bench/registry-gc.bench.ts [blobs]   (default 100000)
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { Digest } from '../src/oci/digest.ts';
import { SqliteMetadataStore } from '../src/registry/metadata/sqlite-metadata-store.ts';
import { stopByPid } from './helpers/process.ts';
import { percentile } from './helpers/stats.ts';

const TOTAL = Number(process.argv[2] ?? 100_000);
const BLOBS_PER_IMAGE = 11;
const GARBAGE = TOTAL / 100;
const UNTAGGED_IMAGES = GARBAGE / 2 / 10; // 10 garbage blobs each: manifest, config, 8 own layers
const STRAY_BLOBS = GARBAGE / 2;
const REPOSITORIES = 100;
const CLIENTS = Number(process.env.WHARF_BENCH_CLIENTS ?? 8);
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const projectRoot = fileURLToPath(new URL('../', import.meta.url));

interface Blob {
  digest: Digest;
  bytes: Buffer;
}

function blob(seed: string): Blob {
  const bytes = Buffer.from(`${seed} ${randomBytes(8).toString('hex')}\n`);
  return { digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, bytes };
}

function writeBlob(storage: string, { digest, bytes }: Blob): void {
  const hex = digest.slice(7);
  writeFileSync(join(storage, 'content', 'blobs', 'sha256', hex.slice(0, 2), hex), bytes);
}

interface Image {
  repository: string;
  tag: string;
  manifest: Blob;
  blobs: Blob[];
}

/** An image whose manifest names a config and `layers` layers (one of them shared by its repository). */
function image(repository: string, tag: string, shared: Blob, layers: number): Image {
  const config = blob(`config ${repository} ${tag}`);
  const own = Array.from({ length: layers - 1 }, (_, i) => blob(`layer ${repository} ${tag} ${i}`));
  const all = [shared, ...own];
  const document = {
    schemaVersion: 2,
    mediaType: MANIFEST,
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: config.digest,
      size: config.bytes.byteLength,
    },
    layers: all.map((layer) => ({
      mediaType: 'application/vnd.oci.image.layer.v1.tar',
      digest: layer.digest,
      size: layer.bytes.byteLength,
    })),
  };
  const bytes = Buffer.from(JSON.stringify(document));
  const manifest = { digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest, bytes };
  return { repository, tag, manifest, blobs: [config, ...all] };
}

function countFiles(storage: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const root = join(storage, 'content', 'blobs', 'sha256');
  for (const prefix of readdirSync(root)) {
    for (const name of readdirSync(join(root, prefix))) {
      files++;
      bytes += statSync(join(root, prefix, name)).size;
    }
  }
  return { files, bytes };
}

const storage = mkdtempSync(join(tmpdir(), 'wharf-gc-bench-'));
try {
  // --- seed ------------------------------------------------------------------------------------
  const seedStart = Date.now();
  for (let i = 0; i < 256; i++) {
    mkdirSync(join(storage, 'content', 'blobs', 'sha256', i.toString(16).padStart(2, '0')), {
      recursive: true,
    });
  }
  await SqliteMetadataStore.open(join(storage, 'metadata.db')).close(); // creates the schema
  const sharedByRepository = Array.from({ length: REPOSITORIES }, (_, r) => blob(`shared ${r}`));
  const liveImages = (TOTAL - GARBAGE - REPOSITORIES) / (BLOBS_PER_IMAGE - 1);
  const images: Image[] = [];
  // live images: manifest + config + 9 layers, one layer shared per repository (counted once)
  for (let i = 0; i < Math.floor(liveImages); i++) {
    const r = i % REPOSITORIES;
    images.push(image(`bench/r${r}`, `v${i}`, sharedByRepository[r]!, 9));
  }
  // the images that will be untagged: manifest + config + 8 own layers (+ the shared one, which stays)
  const doomed: Image[] = [];
  for (let i = 0; i < UNTAGGED_IMAGES; i++) {
    const r = i % REPOSITORIES;
    doomed.push(image(`bench/r${r}`, `old${i}`, sharedByRepository[r]!, 9));
  }
  const strays = Array.from({ length: STRAY_BLOBS }, (_, i) => blob(`stray ${i}`));
  const db = new Database(join(storage, 'metadata.db'));
  db.pragma('journal_mode = WAL');
  const now = Date.now() - 2 * 3600 * 1000; // pushed two hours ago
  let fileCount = 0;
  db.transaction(() => {
    const repo = db.prepare('INSERT OR IGNORE INTO repositories (name, created_at) VALUES (?, ?)');
    const id = db.prepare('SELECT id FROM repositories WHERE name = ?');
    const blobRow = db.prepare('INSERT OR IGNORE INTO blobs (digest, size, created_at) VALUES (?, ?, ?)');
    const link = db.prepare(
      'INSERT OR IGNORE INTO repository_blobs (repository_id, digest, created_at) VALUES (?, ?, ?)',
    );
    const manifest = db.prepare(
      'INSERT INTO manifests (repository_id, digest, media_type, size, artifact_type, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    const reference = db.prepare(
      "INSERT OR IGNORE INTO manifest_references (repository_id, manifest_digest, child_digest, kind) VALUES (?, ?, ?, 'blob')",
    );
    const tag = db.prepare('INSERT INTO tags (repository_id, name, digest, updated_at) VALUES (?, ?, ?, ?)');
    for (const entry of [...images, ...doomed]) {
      repo.run(entry.repository, now);
      const repositoryId = (id.get(entry.repository) as { id: number }).id;
      blobRow.run(entry.manifest.digest, entry.manifest.bytes.byteLength, now);
      manifest.run(
        repositoryId,
        entry.manifest.digest,
        MANIFEST,
        entry.manifest.bytes.byteLength,
        'application/vnd.oci.image.config.v1+json',
        now,
      );
      for (const child of entry.blobs) {
        blobRow.run(child.digest, child.bytes.byteLength, now);
        link.run(repositoryId, child.digest, now);
        reference.run(repositoryId, entry.manifest.digest, child.digest);
      }
      tag.run(repositoryId, entry.tag, entry.manifest.digest, now);
    }
  }).immediate();
  db.close();
  const written = new Set<string>();
  for (const entry of [...images, ...doomed]) {
    for (const item of [entry.manifest, ...entry.blobs]) {
      if (written.has(item.digest)) continue;
      written.add(item.digest);
      writeBlob(storage, item);
      fileCount++;
    }
  }
  for (const stray of strays) {
    writeBlob(storage, stray);
    fileCount++;
  }
  // the garbage, made by the store's own operations (so the queue is what the server would queue)
  const store = SqliteMetadataStore.open(join(storage, 'metadata.db'));
  for (const stray of strays)
    await store.linkBlob('bench/strays', { digest: stray.digest, size: stray.bytes.byteLength });
  for (const entry of doomed) await store.deleteTag(entry.repository, entry.tag);
  const queued = await store.queueSize();
  await store.close();
  const shared = new Set<string>(sharedByRepository.map((b) => b.digest));
  const garbage = new Map<string, number>();
  for (const item of [...strays, ...doomed.flatMap((entry) => [entry.manifest, ...entry.blobs])]) {
    if (!shared.has(item.digest)) garbage.set(item.digest, item.bytes.byteLength);
  }
  const garbageDigests = new Set(garbage.keys());
  const garbageBytes = [...garbage.values()].reduce((sum, size) => sum + size, 0);
  await new Promise((resolve) => setTimeout(resolve, 1100)); // the strays are older than the grace
  const before = countFiles(storage);
  console.log(
    `seeded ${fileCount} blobs (${before.files} files, ${garbageDigests.size} garbage: ${doomed.length} untagged images, ${strays.length} stray uploads) in ${((Date.now() - seedStart) / 1000).toFixed(1)} s; queue: ${JSON.stringify(queued)}`,
  );

  // --- serve, load, collect ----------------------------------------------------------------------
  // The server in its own process, as deployed (`wharf registry serve`); the load comes from here.
  const config = join(storage, 'bench-config.json');
  writeFileSync(config, JSON.stringify({ log: { level: 'warn' } }));
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(projectRoot, 'src/cli/main.ts'),
      'registry',
      'serve',
      '--addr',
      '127.0.0.1:0',
      '--storage',
      storage,
      '--config',
      config,
    ],
    { cwd: projectRoot, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`the registry exited with ${code}: ${stderr}`)));
  });
  const server = { url };
  let serving = true;
  const latencies: number[] = [];
  let failures = 0;
  let pushes = 0;
  const client = async (n: number) => {
    for (let i = n; serving; i += CLIENTS) {
      const entry = images[(i * 7919) % images.length]!;
      const started = performance.now();
      const target =
        i % 3 === 0
          ? `/v2/${entry.repository}/manifests/${entry.tag}`
          : `/v2/${entry.repository}/blobs/${entry.blobs[i % entry.blobs.length]!.digest}`;
      const response = await fetch(`${server.url}${target}`, {
        method: i % 3 === 2 ? 'HEAD' : 'GET',
        headers: { accept: MANIFEST },
      });
      await response.arrayBuffer();
      latencies.push(performance.now() - started);
      if (response.status !== 200) failures++;
      if (i % 50 === 0) {
        // a push: one new blob and a manifest naming it and a live layer
        const fresh = blob(`fresh ${n} ${i}`);
        const put = await fetch(`${server.url}/v2/bench/pushed/blobs/uploads/?digest=${fresh.digest}`, {
          method: 'POST',
          body: fresh.bytes,
        });
        const config = {
          mediaType: 'application/vnd.oci.image.config.v1+json',
          digest: fresh.digest,
          size: fresh.bytes.byteLength,
        };
        const manifest = await fetch(`${server.url}/v2/bench/pushed/manifests/p${n}-${i}`, {
          method: 'PUT',
          headers: { 'content-type': MANIFEST },
          body: JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config, layers: [] }),
        });
        if (put.status !== 201 || manifest.status !== 201) failures++;
        else pushes++;
      }
    }
  };
  const load = Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n)));
  await new Promise((resolve) => setTimeout(resolve, 500)); // the load is running
  const served = latencies.length;
  const baseline = [...latencies];
  const gcStarted = performance.now();
  const response = await fetch(`${server.url}/api/v1/gc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grace: '1s', deleteUntagged: true }),
  });
  const gcMs = performance.now() - gcStarted;
  const report = (await response.json()) as Record<string, number>;
  const duringGc = latencies.slice(served);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const second = (await (
    await fetch(`${server.url}/api/v1/gc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grace: '1s', deleteUntagged: true }),
    })
  ).json()) as Record<string, number>;
  serving = false;
  await load;
  await stopByPid(child);

  // --- check -------------------------------------------------------------------------------------
  const afterwards = countFiles(storage);
  const root = join(storage, 'content', 'blobs', 'sha256');
  let garbageLeft = 0;
  for (const digest of garbageDigests) {
    const hex = digest.slice(7);
    try {
      statSync(join(root, hex.slice(0, 2), hex));
      garbageLeft++;
    } catch {
      // gone, as it should be
    }
  }
  const liveExpected = before.files - garbageDigests.size + pushes * 2;
  console.log(
    `GC while serving: ${gcMs.toFixed(0)} ms (goal < 2000 ms); reviewed ${report.reviewed}, deleted ${report.manifestsDeleted} manifests, ${report.linksRemoved} links, ${report.blobsDeleted} blobs, freed ${report.blobBytesFreed} bytes`,
  );
  console.log(
    `  garbage: ${garbageDigests.size} blobs, ${garbageBytes} bytes; left on disk: ${garbageLeft}; files ${before.files} -> ${afterwards.files} (expected ${liveExpected} with ${pushes} pushes of 2 blobs during the run)`,
  );
  console.log(
    `  requests during GC: ${duringGc.length}, p50 ${percentile(duringGc, 50).toFixed(1)} ms, p99 ${percentile(duringGc, 99).toFixed(1)} ms ` +
      `(before it: p50 ${percentile(baseline, 50).toFixed(1)} ms, p99 ${percentile(baseline, 99).toFixed(1)} ms); all run: ${latencies.length} requests, ${failures} failures`,
  );
  console.log(
    `  second run: ${second.durationMs} ms, reviewed ${second.reviewed}, deleted ${second.blobsDeleted} (work follows the garbage)`,
  );
  const ok =
    gcMs < 2000 &&
    report.blobsDeleted === garbageDigests.size &&
    report.blobBytesFreed === garbageBytes &&
    garbageLeft === 0 &&
    afterwards.files === liveExpected &&
    failures === 0;
  console.log(ok ? 'PASS' : 'FAIL');
  process.exitCode = ok ? 0 : 1;
} finally {
  rmSync(storage, { recursive: true, force: true });
}
