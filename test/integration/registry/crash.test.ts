// Crash safety: `wharf registry serve` runs as a child process and is killed with SIGKILL at
// every named crash point of the write paths (mid-chunk, before and after the rename of a blob,
// mid-manifest, around each metadata commit and delete, during start-up recovery), several at
// their 2nd and 3rd occurrence, plus at random moments. After each kill the server restarts on the
// same storage and the test checks: every blob file re-hashes to its name; every push, tag and
// delete that was acknowledged before the kill is still in effect; any blob that is visible is
// whole; open upload sessions either resume to a correct blob or are gone.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CRASH_POINTS } from '../../../src/registry/crash-points.ts';
import { projectRoot } from '../../helpers/wharf.ts';
import { descriptor, digestOf, http, OCI_MANIFEST, type Response } from './helpers.ts';

interface Server {
  child: ChildProcess;
  url: string | undefined;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * The CLI bundled for this test alone (as scripts/build.mjs does it), so that another rebuild of
 * dist/ in the same checkout cannot pull the binary away mid-test. It lives under node_modules/
 * so that its external packages resolve.
 */
let cliEntry = '';
async function bundleCli(): Promise<string> {
  const { build } = await import('esbuild');
  const outdir = join(projectRoot, 'node_modules', '.cache', `wharf-crash-test-${process.pid}`);
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

/** Starts the server; `url` is undefined when it died before listening (a crash during recovery). */
async function startServer(storage: string, config: string, crashAt?: string): Promise<Server> {
  const env = { ...process.env };
  delete env.WHARF_REGISTRY_CRASH_AT;
  if (crashAt) env.WHARF_REGISTRY_CRASH_AT = crashAt;
  const child = spawn(
    process.execPath,
    [cliEntry, 'registry', 'serve', '--addr', '127.0.0.1:0', '--storage', storage, '--config', config],
    {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let stderr = '';
  const url = await new Promise<string | undefined>((resolve) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match) resolve(match[1]);
    });
    void exited.then(() => resolve(undefined));
  });
  if (url === undefined) {
    const { signal } = await exited;
    assert.equal(signal, 'SIGKILL', `the server exited before listening without being killed:\n${stderr}`);
  }
  return { child, url, exited };
}

async function stopServer(server: Server): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGTERM');
  const { code, signal } = await server.exited;
  assert.ok(code === 0 || signal === 'SIGKILL', `server stopped with ${code ?? signal}`);
}

function isDead(server: Server): boolean {
  return server.child.exitCode !== null || server.child.signalCode !== null;
}

/** What must hold after every restart: the latest acknowledged state of each key. */
type Expectation =
  | { kind: 'blob'; repo: string; digest: string; bytes: Buffer }
  | { kind: 'manifest'; repo: string; reference: string; bytes: Buffer }
  | { kind: 'absent-blob'; repo: string; digest: string }
  | { kind: 'absent-manifest'; repo: string; reference: string };

class Ledger {
  readonly expectations = new Map<string, Expectation>();
  /** Every blob a workload tried to create, for the "visible means whole" check. */
  readonly attempted = new Map<string, { repo: string; bytes: Buffer }>();
  /** The blob every workload mounts from crash/shared. */
  shared: { digest: string; bytes: Buffer } | undefined;
  /** Upload sessions that may be resumable: location, bytes of the whole blob, digest. */
  openUploads: Array<{ location: string; bytes: Buffer; digest: string; repo: string }> = [];

  expect(expectation: Expectation): void {
    const key =
      'digest' in expectation
        ? `blob ${expectation.repo} ${expectation.digest}`
        : `manifest ${expectation.repo} ${expectation.reference}`;
    this.expectations.set(key, expectation);
  }

  forget(kind: 'blob' | 'manifest', repo: string, reference: string): void {
    this.expectations.delete(`${kind} ${repo} ${reference}`);
  }
}

/** Runs the steps of one push workload; stops at the first failed request (the server died). */
class Workload {
  constructor(
    readonly url: string,
    readonly ledger: Ledger,
    readonly round: number,
  ) {}

  async run(): Promise<void> {
    const repo = `crash/r${this.round}`;
    const layerA = randomBytes(300_000);
    const layerC = this.ledger.shared!;
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        round: this.round,
        n: randomBytes(4).toString('hex'),
      }),
    );
    // 1. chunked upload of layer A in two chunks, closed by PUT
    const digestA = digestOf(layerA);
    this.ledger.attempted.set(`${repo} ${digestA}`, { repo, bytes: layerA });
    const post = await this.request('POST', `/v2/${repo}/blobs/uploads/`);
    const location = post.header('location')!;
    this.ledger.openUploads.push({ location, bytes: layerA, digest: digestA, repo });
    const half = layerA.byteLength / 2;
    const patch = await this.request(
      'PATCH',
      location,
      { 'content-range': `0-${half - 1}` },
      layerA.subarray(0, half),
    );
    const second = await this.request(
      'PATCH',
      patch.header('location')!,
      { 'content-range': `${half}-${layerA.byteLength - 1}` },
      layerA.subarray(half),
    );
    const put = await this.request('PUT', withDigest(second.header('location')!, digestA, this.url));
    assert.equal(put.status, 201);
    this.ledger.openUploads = this.ledger.openUploads.filter((upload) => upload.location !== location);
    this.ledger.expect({ kind: 'blob', repo, digest: digestA, bytes: layerA });
    // 2. single POST of the config
    const digestB = digestOf(config);
    this.ledger.attempted.set(`${repo} ${digestB}`, { repo, bytes: config });
    const single = await this.request('POST', `/v2/${repo}/blobs/uploads/?digest=${digestB}`, {}, config);
    assert.equal(single.status, 201);
    this.ledger.expect({ kind: 'blob', repo, digest: digestB, bytes: config });
    // 3. mount the shared layer C
    const mount = await this.request(
      'POST',
      `/v2/${repo}/blobs/uploads/?mount=${layerC.digest}&from=crash/shared`,
    );
    assert.equal(mount.status, 201);
    this.ledger.expect({ kind: 'blob', repo, digest: layerC.digest, bytes: layerC.bytes });
    // 4. the manifest, by tag
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: descriptor('application/vnd.oci.image.config.v1+json', config),
        layers: [
          descriptor('application/vnd.oci.image.layer.v1.tar', layerA),
          descriptor('application/vnd.oci.image.layer.v1.tar', layerC.bytes),
        ],
      }),
    );
    await this.putManifest(repo, `t${this.round}`, manifest);
    // 5. a second manifest, tagged, then the tag deleted
    const other = Buffer.from(
      JSON.stringify({ ...JSON.parse(manifest.toString()), annotations: { other: 'yes' } }),
    );
    await this.putManifest(repo, 'old', other);
    this.ledger.forget('manifest', repo, 'old');
    const untag = await this.request('DELETE', `/v2/${repo}/manifests/old`);
    assert.equal(untag.status, 202);
    this.ledger.expect({ kind: 'absent-manifest', repo, reference: 'old' });
    // 6. a third manifest by digest, then deleted
    const third = Buffer.from(
      JSON.stringify({ ...JSON.parse(manifest.toString()), annotations: { third: 'yes' } }),
    );
    await this.putManifest(repo, digestOf(third), third);
    this.ledger.forget('manifest', repo, digestOf(third));
    const deleted = await this.request('DELETE', `/v2/${repo}/manifests/${digestOf(third)}`);
    assert.equal(deleted.status, 202);
    this.ledger.expect({ kind: 'absent-manifest', repo, reference: digestOf(third) });
    // 7. a blob pushed (streamed PATCH) then deleted
    const blobD = randomBytes(100_000);
    const digestD = digestOf(blobD);
    this.ledger.attempted.set(`${repo} ${digestD}`, { repo, bytes: blobD });
    const postD = await this.request('POST', `/v2/${repo}/blobs/uploads/`);
    const patchD = await this.request('PATCH', postD.header('location')!, {}, blobD);
    const putD = await this.request('PUT', withDigest(patchD.header('location')!, digestD, this.url));
    assert.equal(putD.status, 201);
    this.ledger.expect({ kind: 'blob', repo, digest: digestD, bytes: blobD });
    this.ledger.forget('blob', repo, digestD);
    const deleteD = await this.request('DELETE', `/v2/${repo}/blobs/${digestD}`);
    assert.equal(deleteD.status, 202);
    this.ledger.expect({ kind: 'absent-blob', repo, digest: digestD });
    // 8. an upload cancelled
    const postE = await this.request('POST', `/v2/${repo}/blobs/uploads/`);
    await this.request('PATCH', postE.header('location')!, {}, randomBytes(1000));
    const cancel = await this.request('DELETE', postE.header('location')!);
    assert.equal(cancel.status, 204);
    // 9. an upload left open, to be resumed after the next restart
    const blobF = randomBytes(200_000);
    const digestF = digestOf(blobF);
    this.ledger.attempted.set(`${repo} ${digestF}`, { repo, bytes: blobF });
    const postF = await this.request('POST', `/v2/${repo}/blobs/uploads/`);
    this.ledger.openUploads.push({
      location: postF.header('location')!,
      bytes: blobF,
      digest: digestF,
      repo,
    });
    await this.request(
      'PATCH',
      postF.header('location')!,
      { 'content-range': '0-99999' },
      blobF.subarray(0, 100_000),
    );
  }

  async putManifest(repo: string, reference: string, bytes: Buffer): Promise<void> {
    const response = await this.request(
      'PUT',
      `/v2/${repo}/manifests/${reference}`,
      { 'content-type': OCI_MANIFEST },
      bytes,
    );
    assert.equal(response.status, 201, response.body.toString());
    this.ledger.expect({ kind: 'manifest', repo, reference, bytes });
    this.ledger.expect({ kind: 'manifest', repo, reference: digestOf(bytes), bytes });
  }

  /** A request; a connection failure means the server died (the caller checks it was killed). */
  async request(
    method: string,
    target: string,
    headers: Record<string, string> = {},
    body?: Buffer,
  ): Promise<Response> {
    const options: { headers: Record<string, string>; body?: Buffer } = { headers };
    if (body) options.body = body;
    const response = await http(method, this.url, target, options);
    if (response.status >= 500) throw new Error(`${method} ${target}: ${response.status} ${response.body}`);
    return response;
  }
}

function withDigest(location: string, digest: string, base: string): string {
  const url = new URL(location, base);
  url.searchParams.set('digest', digest);
  return url.href;
}

/** Every file under blobs/<algorithm>/<xx>/ must hash to its name. */
async function checkBlobFiles(storage: string): Promise<number> {
  let count = 0;
  const root = join(storage, 'content', 'blobs');
  if (!existsSync(root)) return 0;
  for (const algorithm of await readdir(root)) {
    for (const prefix of await readdir(join(root, algorithm))) {
      for (const name of await readdir(join(root, algorithm, prefix))) {
        const bytes = await readFile(join(root, algorithm, prefix, name));
        const actual = createHash(algorithm).update(bytes).digest('hex');
        assert.equal(actual, name, `blob file ${algorithm}/${prefix}/${name} does not re-hash to its name`);
        assert.equal(name.slice(0, 2), prefix);
        count++;
      }
    }
  }
  return count;
}

async function verify(url: string, storage: string, ledger: Ledger): Promise<void> {
  await checkBlobFiles(storage);
  for (const expectation of ledger.expectations.values()) {
    switch (expectation.kind) {
      case 'blob': {
        const response = await http('GET', url, `/v2/${expectation.repo}/blobs/${expectation.digest}`);
        assert.equal(
          response.status,
          200,
          `acknowledged blob ${expectation.repo} ${expectation.digest} lost`,
        );
        assert.deepEqual(response.body, expectation.bytes);
        break;
      }
      case 'manifest': {
        const response = await http('GET', url, `/v2/${expectation.repo}/manifests/${expectation.reference}`);
        assert.equal(
          response.status,
          200,
          `acknowledged manifest ${expectation.repo}:${expectation.reference} lost`,
        );
        assert.deepEqual(response.body, expectation.bytes);
        break;
      }
      case 'absent-blob': {
        const response = await http('HEAD', url, `/v2/${expectation.repo}/blobs/${expectation.digest}`);
        assert.equal(response.status, 404, `deleted blob ${expectation.digest} came back`);
        break;
      }
      case 'absent-manifest': {
        const response = await http(
          'HEAD',
          url,
          `/v2/${expectation.repo}/manifests/${expectation.reference}`,
        );
        assert.equal(response.status, 404, `deleted ${expectation.repo}:${expectation.reference} came back`);
        break;
      }
    }
  }
  // Whatever is visible is whole: no partial upload ever shows as a blob.
  for (const [key, { repo, bytes }] of ledger.attempted) {
    const digest = key.slice(repo.length + 1);
    const response = await http('GET', url, `/v2/${repo}/blobs/${digest}`);
    if (response.status === 200)
      assert.deepEqual(response.body, bytes, `visible blob ${digest} is not whole`);
    else assert.equal(response.status, 404);
  }
  // Open sessions: resume from the offset the server reports, or they are gone.
  for (const upload of ledger.openUploads) {
    const status = await http('GET', url, upload.location);
    if (status.status === 404) continue;
    assert.equal(status.status, 204);
    const end = Number(/^0-(\d+)$/.exec(status.header('range')!)![1]);
    // "0-0" means no byte or one byte (distribution's form); try both.
    let put: Response | undefined;
    for (const offset of end === 0 ? [0, 1] : [end + 1]) {
      assert.ok(offset <= upload.bytes.byteLength);
      const target = withDigest(upload.location, upload.digest, url);
      put =
        offset === upload.bytes.byteLength
          ? await http('PUT', url, target)
          : await http('PUT', url, target, {
              headers: { 'content-range': `${offset}-${upload.bytes.byteLength - 1}` },
              body: upload.bytes.subarray(offset),
            });
      if (put.status !== 416) break;
    }
    assert.ok(put);
    assert.equal(put.status, 201, `resumed upload ${upload.location}: ${put.body}`);
    const get = await http('GET', url, `/v2/${upload.repo}/blobs/${upload.digest}`);
    assert.deepEqual(get.body, upload.bytes);
    ledger.expect({ kind: 'blob', repo: upload.repo, digest: upload.digest, bytes: upload.bytes });
  }
  ledger.openUploads = [];
  const uploads = await readdir(join(storage, 'content', 'uploads')).catch(() => []);
  assert.ok(uploads.length < 100, 'upload directories do not pile up');
}

// Crash points in an order where each one's leftovers feed the next (an unregistered upload
// directory before the recovery crash), with repeats to hit the 2nd and 3rd occurrences.
const SCHEDULE = [
  'upload.before-row',
  'recovery.mid-sweep',
  'upload.after-row',
  'chunk.mid-body',
  'chunk.mid-body#2',
  'chunk.after-write',
  'chunk.after-write#2',
  'commit.before-fsync',
  'commit.after-fsync',
  'commit.before-move',
  'commit.after-move',
  'commit.after-row',
  'commit.after-cleanup',
  'commit.before-move#2',
  'commit.after-move#2',
  'mount.after-row',
  'manifest.mid-body',
  'manifest.before-payload',
  'manifest.after-payload',
  'manifest.after-row',
  'manifest.after-row#2',
  'tag-delete.after-row',
  'manifest-delete.after-row',
  'chunk.mid-body#3',
  'blob-delete.after-row',
  'blob-delete.after-remove',
  'upload-cancel.after-row',
  'upload.after-row#4',
];

describe('registry crash safety', { timeout: 600_000 }, () => {
  let storage: string;
  let config: string;
  const ledger = new Ledger();
  let bundle = '';

  before(async () => {
    bundle = await bundleCli();
    cliEntry = join(bundle, 'wharf.mjs');
    storage = await mkdtemp(join(tmpdir(), 'wharf-registry-crash-'));
    config = join(storage, '..', `${storage.split('/').pop()}.json`);
    await writeFile(config, JSON.stringify({ log: { level: 'warn' } }));
  });
  after(async () => {
    if (bundle) await rm(bundle, { recursive: true, force: true });
    if (storage) await rm(storage, { recursive: true, force: true });
    if (config) await rm(config, { force: true });
  });

  it('has a schedule covering every crash point', () => {
    const scheduled = new Set(SCHEDULE.map((point) => point.split('#')[0]));
    assert.deepEqual(
      [...CRASH_POINTS].filter((point) => !scheduled.has(point)),
      [],
    );
    assert.ok(SCHEDULE.length >= 20);
  });

  it('seeds a shared blob on a clean server', async () => {
    const server = await startServer(storage, config);
    try {
      const shared = randomBytes(150_000);
      const digest = digestOf(shared);
      const response = await http('POST', server.url!, `/v2/crash/shared/blobs/uploads/?digest=${digest}`, {
        body: shared,
      });
      assert.equal(response.status, 201);
      ledger.shared = { digest, bytes: shared };
      ledger.expect({ kind: 'blob', repo: 'crash/shared', digest, bytes: shared });
    } finally {
      await stopServer(server);
    }
  });

  let round = 0;
  for (const point of SCHEDULE) {
    it(`survives kill -9 at ${point}`, async () => {
      round++;
      if (point.startsWith('recovery.')) {
        // leftovers of killed uploads for the start-up sweep to remove (and be killed in the middle of)
        for (let i = 0; i < 3; i++) {
          const dir = join(storage, 'content', 'uploads', randomUUID());
          await mkdir(dir, { recursive: true });
          await writeFile(join(dir, 'data'), randomBytes(1000));
        }
      }
      const server = await startServer(storage, config, point);
      if (point.startsWith('recovery.')) assert.equal(server.url, undefined, 'killed while recovering');
      if (server.url !== undefined) {
        const workload = new Workload(server.url, ledger, round);
        let failure: unknown;
        try {
          await workload.run();
        } catch (error) {
          failure = error;
        }
        // A connection failure is the kill; anything else while the server lives is a real failure.
        await Promise.race([server.exited, new Promise((resolve) => setTimeout(resolve, 2000))]);
        if (!isDead(server)) {
          await stopServer(server);
          throw failure ?? new Error(`crash point ${point} was never reached`);
        }
        assert.equal((await server.exited).signal, 'SIGKILL');
      }
      const checker = await startServer(storage, config);
      try {
        assert.ok(checker.url, 'the server starts after the kill');
        await verify(checker.url, storage, ledger);
      } finally {
        await stopServer(checker);
      }
    });
  }

  for (let attempt = 0; attempt < 6; attempt++) {
    it(`survives kill -9 at a random moment (#${attempt + 1})`, async () => {
      round++;
      const server = await startServer(storage, config);
      const delay = 5 + Math.floor(Math.random() * 120);
      const timer = setTimeout(() => server.child.kill('SIGKILL'), delay);
      try {
        await new Workload(server.url!, ledger, round).run();
      } catch {
        // killed mid-workload, as intended
      }
      clearTimeout(timer);
      server.child.kill('SIGKILL');
      await server.exited;
      const checker = await startServer(storage, config);
      try {
        await verify(checker.url!, storage, ledger);
      } finally {
        await stopServer(checker);
      }
    });
  }

  it('leaves only whole blobs on disk at the end', async () => {
    assert.ok((await checkBlobFiles(storage)) > 20);
  });
});
