// Pull and push of a 210 MB, 5-layer image against Debian's docker-registry (distribution 2.8) on
// loopback, side by side in one run with `skopeo copy`, both tools writing to the same kind of
// destination:
//   pull: `wharf pull` (download, verify, decompress into the content store, unpack into overlay
//         snapshots) against `skopeo copy docker:// containers-storage:` (c/storage's overlay
//         driver: download, verify, unpack into layers); `skopeo copy docker:// oci:` (no unpack)
//         is shown for reference.
//   push: from each tool's local store (uncompressed layers, so both gzip while pushing) to a
//         fresh registry each run: `wharf push` against `skopeo copy containers-storage: docker://`.
// Medians of N runs (default 3), then the ratios Wharf/skopeo (below 1: Wharf is faster).
// Run: node --import tsx bench/distribution.bench.ts [runs]
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import type { Digest } from '../src/oci/digest.ts';
import { wharfBin } from '../test/helpers/wharf.ts';
import {
  type DistributionRegistry,
  distributionUnavailable,
  sha256,
  skopeoUnavailable,
  startDistribution,
  type TestImage,
  tarOf,
  writeOciLayout,
} from '../test/integration/distribution/helpers.ts';
import { median } from './helpers/stats.ts';

const run = promisify(execFile);
const RUNS = Number(process.argv[2] ?? 3);
const LAYERS = 5;
const LAYER_BYTES = 42 * 1000 * 1000; // 5 x 42 MB = 210 MB uncompressed
const TEXT_SHARE = 0.2; // a fifth of each layer compresses well, the rest is random

const missing = distributionUnavailable() ?? skopeoUnavailable();
if (missing) {
  console.log(`distribution bench skipped: ${missing}`);
  process.exit(0);
}

/** A 5-layer OCI image: each layer a tar of random bytes and repetitive text, gzip level 1. */
async function makeImage(): Promise<TestImage> {
  const layers: TestImage['layers'] = [];
  for (let i = 0; i < LAYERS; i++) {
    const textBytes = Math.floor(LAYER_BYTES * TEXT_SHARE);
    const line = `layer ${i}: the quick brown fox jumps over the lazy dog 0123456789\n`;
    const text = Buffer.from(line.repeat(Math.ceil(textBytes / line.length)).slice(0, textBytes));
    const tar = await tarOf({
      [`usr/lib/l${i}/data.bin`]: randomBytes(LAYER_BYTES - textBytes - 3072),
      [`usr/share/l${i}/notes.txt`]: text,
    });
    const bytes = gzipSync(tar, { level: 1 });
    layers.push({
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      digest: sha256(bytes) as Digest,
      size: bytes.byteLength,
      bytes,
      diffId: sha256(tar) as Digest,
      tar,
    });
  }
  const configBytes = Buffer.from(
    JSON.stringify({
      architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
      os: 'linux',
      config: { Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    }),
  );
  const config = {
    mediaType: 'application/vnd.oci.image.config.v1+json',
    digest: sha256(configBytes) as Digest,
    size: configBytes.byteLength,
    bytes: configBytes,
  };
  const manifestBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    }),
  );
  return {
    manifest: {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: sha256(manifestBytes) as Digest,
      size: manifestBytes.byteLength,
      bytes: manifestBytes,
    },
    config,
    layers,
  };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** Unmounts what c/storage left mounted under `dir` (its overlay driver bind-mounts its home). */
async function unmountUnder(dir: string): Promise<void> {
  const mounts = (await readFile('/proc/self/mounts', 'utf8'))
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((target) => target.startsWith(dir))
    .sort((a, b) => b.length - a.length);
  for (const target of mounts) spawnSync('umount', ['-l', target]);
}

// other work on the machine skews both sides: print the load with the figures
const startLoad = loadavg()
  .map((l) => l.toFixed(2))
  .join(', ');
const work = await mkdtemp(join(tmpdir(), 'wharf-distribution-bench-'));
const registries: DistributionRegistry[] = [];
try {
  process.stdout.write(`making a ${LAYERS}-layer image of ${(LAYERS * LAYER_BYTES) / 1e6} MB... `);
  const image = await makeImage();
  const compressed = image.layers.reduce((sum, l) => sum + l.size, 0);
  console.log(`${(compressed / 1e6).toFixed(1)} MB compressed`);
  const source = await startDistribution();
  registries.push(source);
  const layout = join(work, 'layout');
  await writeOciLayout(layout, image, 'v1');
  await run('skopeo', [
    'copy',
    '-q',
    '--dest-tls-verify=false',
    `oci:${layout}:v1`,
    `docker://${source.domain}/bench/app:v1`,
  ]);
  await rm(layout, { recursive: true, force: true });
  const ref = `${source.domain}/bench/app:v1`;

  const results: Record<string, number[]> = {
    'wharf pull (content store + overlay snapshots)': [],
    'skopeo copy -> containers-storage (overlay)': [],
    'skopeo copy -> oci: layout (no unpack)': [],
    'wharf push (gzip while pushing)': [],
    'skopeo copy containers-storage -> registry (gzip)': [],
  };
  for (let i = 0; i < RUNS; i++) {
    const root = join(work, `wharf-${i}`);
    const storage = join(work, `cs-${i}`);
    const storageRef = `containers-storage:[overlay@${storage}/root+${storage}/run]bench/app:v1`;
    results['wharf pull (content store + overlay snapshots)']!.push(
      await timed(() => run(wharfBin, ['--root', root, 'pull', '-q', ref])),
    );
    results['skopeo copy -> containers-storage (overlay)']!.push(
      await timed(() =>
        run('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${ref}`, storageRef]),
      ),
    );
    results['skopeo copy -> oci: layout (no unpack)']!.push(
      await timed(() =>
        run('skopeo', [
          'copy',
          '-q',
          '--src-tls-verify=false',
          `docker://${ref}`,
          `oci:${join(work, `oci-${i}`)}:v1`,
        ]),
      ),
    );
    // pushes go to registries that have never seen the layers: both tools compress and upload all
    const wharfTarget = await startDistribution();
    registries.push(wharfTarget);
    await run(wharfBin, ['--root', root, 'tag', ref, `${wharfTarget.domain}/bench/app:v1`]);
    results['wharf push (gzip while pushing)']!.push(
      await timed(() => run(wharfBin, ['--root', root, 'push', '-q', `${wharfTarget.domain}/bench/app:v1`])),
    );
    const skopeoTarget = await startDistribution();
    registries.push(skopeoTarget);
    results['skopeo copy containers-storage -> registry (gzip)']!.push(
      await timed(() =>
        run('skopeo', [
          'copy',
          '-q',
          '--dest-tls-verify=false',
          storageRef,
          `docker://${skopeoTarget.domain}/bench/app:v1`,
        ]),
      ),
    );
    await wharfTarget.stop();
    await skopeoTarget.stop();
    await unmountUnder(storage);
    await rm(root, { recursive: true, force: true });
    await rm(storage, { recursive: true, force: true });
    await rm(join(work, `oci-${i}`), { recursive: true, force: true });
    process.stdout.write(`run ${i + 1}/${RUNS} done\n`);
  }
  console.log(
    `\nload average at the end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')} (${startLoad} at the start)`,
  );
  console.log(
    `medians of ${RUNS} runs, ${LAYERS} layers, ${(LAYERS * LAYER_BYTES) / 1e6} MB (${(compressed / 1e6).toFixed(1)} MB gzip):`,
  );
  const medians: Record<string, number> = {};
  for (const [name, values] of Object.entries(results)) {
    medians[name] = median(values, { even: 'upper' });
    console.log(
      `  ${name.padEnd(52)} ${(medians[name]! / 1000).toFixed(2)} s   (${values.map((v) => (v / 1000).toFixed(2)).join(', ')})`,
    );
  }
  const ratio = (a: string, b: string) => (medians[a]! / medians[b]!).toFixed(2);
  console.log(
    `\npull ratio wharf/skopeo (containers-storage): ${ratio('wharf pull (content store + overlay snapshots)', 'skopeo copy -> containers-storage (overlay)')}`,
  );
  console.log(
    `pull ratio wharf/skopeo (oci: layout):        ${ratio('wharf pull (content store + overlay snapshots)', 'skopeo copy -> oci: layout (no unpack)')}`,
  );
  console.log(
    `push ratio wharf/skopeo:                      ${ratio('wharf push (gzip while pushing)', 'skopeo copy containers-storage -> registry (gzip)')}`,
  );
} finally {
  for (const registry of registries) await registry.stop().catch(() => {});
  await unmountUnder(work);
  await rm(work, { recursive: true, force: true });
}
