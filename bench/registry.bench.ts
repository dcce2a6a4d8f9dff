// The registry against Debian's docker-registry (distribution 2.8), side by side in one run, both
// on loopback with filesystem storage in temp dirs and logs at info: skopeo push and pull of a
// 210 MB, 5-layer image (an OCI layout generated here, gzip-framed so skopeo copies it as is);
// manifest GET with wrk and blob HEAD with `ab -i` (wrk cannot send HEAD), 50 connections for 10 s
// each. Prints throughputs, req/s, p99 latencies and the ratios against the goals (push and pull
// >= 1.0x, req/s >= 2x with p99 no worse).
// Run: node --import tsx bench/registry.bench.ts   (needs skopeo, docker-registry, wrk, apache2-utils)
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { stopByPid } from './helpers/process.ts';

const LAYERS = 5;
const IMAGE_BYTES = 210 * 1000 * 1000;
const CONNECTIONS = 50;
const SECONDS = 10;
const projectRoot = fileURLToPath(new URL('../', import.meta.url));

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** An OCI layout with one image of LAYERS incompressible, gzip-framed layers. */
function generateLayout(dir: string): { configDigest: string; bytes: number } {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (bytes: Buffer) => {
    const digest = sha256(bytes);
    writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), bytes);
    return { digest, size: bytes.byteLength };
  };
  const layers = [];
  let total = 0;
  for (let i = 0; i < LAYERS; i++) {
    // level 0: stored deflate blocks, a real gzip stream of random bytes, made in milliseconds
    const layer = gzipSync(randomBytes(IMAGE_BYTES / LAYERS), { level: 0 });
    total += layer.byteLength;
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...put(layer) });
  }
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
  );
  const configDescriptor = { mediaType: 'application/vnd.oci.image.config.v1+json', ...put(config) };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: configDescriptor,
      layers,
    }),
  );
  const top = put(manifest);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...top,
          annotations: { 'org.opencontainers.image.ref.name': 'v1' },
        },
      ],
    }),
  );
  return { configDigest: configDescriptor.digest, bytes: total };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function waitForPing(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${url}/v2/`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Cannot reach ${url}`);
}

/** Bundles the CLI privately (as scripts/build.mjs does) so a concurrent rebuild of dist/ cannot interfere. */
async function bundleCli(): Promise<string> {
  const { build } = await import('esbuild');
  const outdir = join(projectRoot, 'node_modules', '.cache', `wharf-registry-bench-${process.pid}`);
  await build({
    entryPoints: { wharf: join(projectRoot, 'src', 'cli', 'main.ts') },
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  });
  return outdir;
}

interface Subject {
  name: string;
  url: string;
  host: string;
  process: ChildProcess;
}

async function startWharf(cli: string, storage: string): Promise<Subject> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [join(cli, 'wharf.mjs'), 'registry', 'serve', '--addr', `127.0.0.1:${port}`, '--storage', storage],
    {
      stdio: ['ignore', 'ignore', 'ignore'],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForPing(url);
  return { name: 'wharf', url, host: `127.0.0.1:${port}`, process: child };
}

async function startDistribution(storage: string, work: string): Promise<Subject> {
  const port = await freePort();
  const config = join(work, 'distribution.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: info',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${storage}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'ignore'] });
  const url = `http://127.0.0.1:${port}`;
  await waitForPing(url);
  return { name: 'distribution', url, host: `127.0.0.1:${port}`, process: child };
}

function timeSeconds(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function skopeo(...args: string[]): void {
  execFileSync('skopeo', ['--insecure-policy', ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** wrk's Requests/sec and 99% latency (ms). */
function wrk(url: string, accept: string): { rps: number; p99: number } {
  const out = execFileSync(
    'wrk',
    ['-t2', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--latency', '-H', `Accept: ${accept}`, url],
    {
      encoding: 'utf8',
    },
  );
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const unit = { us: 0.001, ms: 1, s: 1000 }[(p99?.[2] ?? 'ms') as 'us' | 'ms' | 's'];
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (non2xx) throw new Error(`wrk saw ${non2xx[1]} error responses from ${url}`);
  return { rps, p99: Number(p99?.[1]) * unit };
}

/** ab's Requests per second and 99% latency (ms) for HEAD requests. */
function abHead(url: string): { rps: number; p99: number } {
  const out = execFileSync(
    'ab',
    ['-i', '-q', '-c', String(CONNECTIONS), '-t', String(SECONDS), '-n', '10000000', url],
    {
      encoding: 'utf8',
      maxBuffer: 16 << 20,
    },
  );
  const failed = Number(/Failed requests:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const non2xx = /Non-2xx responses:\s+(\d+)/.exec(out);
  if (failed > 0 || non2xx) throw new Error(`ab saw failures against ${url}:\n${out}`);
  return {
    rps: Number(/Requests per second:\s+([\d.]+)/.exec(out)?.[1]),
    p99: Number(/^\s+99%\s+(\d+)/m.exec(out)?.[1]),
  };
}

interface Result {
  push: number;
  pull: number;
  manifest: { rps: number; p99: number };
  head: { rps: number; p99: number };
}

function measure(
  subject: Subject,
  layout: string,
  work: string,
  bytes: number,
  configDigest: string,
): Result {
  const ref = `docker://${subject.host}/bench/image:v1`;
  const pushSeconds = timeSeconds(() => skopeo('copy', '--dest-tls-verify=false', `oci:${layout}:v1`, ref));
  const pulled = join(work, `pulled-${subject.name}`);
  const pullSeconds = timeSeconds(() => skopeo('copy', '--src-tls-verify=false', ref, `oci:${pulled}:v1`));
  rmSync(pulled, { recursive: true, force: true });
  const manifest = wrk(
    `${subject.url}/v2/bench/image/manifests/v1`,
    'application/vnd.oci.image.manifest.v1+json',
  );
  const head = abHead(`${subject.url}/v2/bench/image/blobs/${configDigest}`);
  return { push: bytes / 1e6 / pushSeconds, pull: bytes / 1e6 / pullSeconds, manifest, head };
}

async function main(): Promise<void> {
  for (const tool of ['skopeo', 'docker-registry', 'wrk', 'ab']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      throw new Error(
        `Cannot run the registry benchmark: ${tool} is not installed (apt-get install skopeo docker-registry wrk apache2-utils)`,
      );
    }
  }
  const work = mkdtempSync(join(tmpdir(), 'wharf-registry-bench-'));
  const subjects: Subject[] = [];
  let cli = '';
  try {
    const layout = join(work, 'layout');
    const { configDigest, bytes } = generateLayout(layout);
    console.log(
      `image: ${LAYERS} layers, ${(bytes / 1e6).toFixed(0)} MB; ${CONNECTIONS} connections, ${SECONDS} s per load test`,
    );
    cli = await bundleCli();
    const distribution = await startDistribution(join(work, 'distribution-storage'), work);
    subjects.push(distribution);
    const wharf = await startWharf(cli, join(work, 'wharf-storage'));
    subjects.push(wharf);
    const results: Record<string, Result> = {};
    for (const subject of [distribution, wharf]) {
      results[subject.name] = measure(subject, layout, work, bytes, configDigest);
      const r = results[subject.name]!;
      console.log(
        `${subject.name.padEnd(12)} push ${r.push.toFixed(0)} MB/s, pull ${r.pull.toFixed(0)} MB/s, ` +
          `manifest GET ${r.manifest.rps.toFixed(0)} req/s (p99 ${r.manifest.p99.toFixed(1)} ms), ` +
          `blob HEAD ${r.head.rps.toFixed(0)} req/s (p99 ${r.head.p99.toFixed(1)} ms)`,
      );
    }
    const ours = results.wharf!;
    const theirs = results.distribution!;
    const line = (label: string, ratio: number, goal: number, extra = '') =>
      console.log(
        `${label.padEnd(28)} ${ratio.toFixed(2)}x (goal >= ${goal}x) ${ratio >= goal ? 'ok' : 'MISSED'}${extra}`,
      );
    console.log('\nwharf / distribution:');
    line('push throughput', ours.push / theirs.push, 1.0);
    line('pull throughput', ours.pull / theirs.pull, 1.0);
    const p99 = (a: number, b: number) =>
      `; p99 ${a.toFixed(1)} vs ${b.toFixed(1)} ms ${a <= b ? 'ok' : 'WORSE'}`;
    line(
      'manifest GET req/s',
      ours.manifest.rps / theirs.manifest.rps,
      2.0,
      p99(ours.manifest.p99, theirs.manifest.p99),
    );
    line('blob HEAD req/s', ours.head.rps / theirs.head.rps, 2.0, p99(ours.head.p99, theirs.head.p99));
  } finally {
    for (const subject of subjects) await stopByPid(subject.process);
    if (cli) rmSync(cli, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
