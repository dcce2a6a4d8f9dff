// `wharf build --output` (BuildKit's exporters), `--secret`, `--allow` and `--no-cache-filter`, through the real binary.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ensureBaseImages } from '../../helpers/base-images.ts';
import { wharfBin } from '../../helpers/wharf.ts';
import { buildFixture, buildTestsMissing, writeContext } from './helpers.ts';

const run = promisify(execFile);
const skip = buildTestsMissing();

function wharf(root: string, args: string[]): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(wharfBin, ['--root', root, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() }),
    );
  });
}

/** The entries of a tar file (or of tar bytes given on stdin). */
async function tarList(file: string): Promise<string[]> {
  const { stdout } = await run('tar', ['-tf', file], { maxBuffer: 64 << 20 });
  return stdout.split('\n').filter(Boolean);
}

async function tarRead(file: string, member: string): Promise<string> {
  const { stdout } = await run('tar', ['-xOf', file, member], { maxBuffer: 64 << 20 });
  return stdout;
}

describe('wharf build: --output, --secret, --allow', { skip }, () => {
  let dir: string;
  let root: string;
  let ctx: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-build-output-'));
    root = join(dir, 'root');
    await ensureBaseImages(root);
    ctx = join(dir, 'ctx');
    await writeContext(ctx, {
      Dockerfile:
        'FROM busybox AS build\nRUN mkdir /out && echo made > /out/made\nFROM scratch\nCOPY --from=build /out /\nCOPY a /a\n',
      a: 'A',
    });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('issue 12: type=local and -o DIR write the final filesystem into a directory and store no image', async () => {
    for (const flag of [`type=local,dest=${join(dir, 'local')}`, join(dir, 'short')]) {
      const r = await wharf(root, ['build', '-q', '-t', 'not-stored:1', '-o', flag, ctx]);
      assert.equal(r.code, 0, r.stderr);
      const dest = flag.startsWith('type=') ? join(dir, 'local') : join(dir, 'short');
      assert.equal(await readFile(join(dest, 'made'), 'utf8'), 'made\n');
      assert.equal(await readFile(join(dest, 'a'), 'utf8'), 'A');
    }
    const images = await wharf(root, ['images', '--format', '{{.Repository}}']);
    assert.doesNotMatch(images.stdout.toString(), /not-stored/);
  });

  it('issue 12: type=tar writes one tar of the filesystem; -o - sends it to stdout', async () => {
    const file = join(dir, 'fs.tar');
    const r = await wharf(root, ['build', '-q', '--output', `type=tar,dest=${file}`, ctx]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((await tarList(file)).sort(), ['a', 'made']);
    assert.equal(await tarRead(file, 'made'), 'made\n');
    const piped = await wharf(root, ['build', '-q', '-o', '-', ctx]);
    assert.equal(piped.code, 0, piped.stderr);
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'piped.tar'), piped.stdout);
    assert.deepEqual((await tarList(join(dir, 'piped.tar'))).sort(), ['a', 'made']);
  });

  it('issue 12: type=oci and type=docker write image archives (image-save writers) of the built image', async () => {
    const iid = join(dir, 'iid');
    const oci = join(dir, 'image-oci.tar');
    const r = await wharf(root, [
      'build',
      '-q',
      '--iidfile',
      iid,
      '-t',
      'exported:1',
      '-o',
      `type=oci,dest=${oci}`,
      ctx,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const id = (await readFile(iid, 'utf8')).trim();
    const entries = await tarList(oci);
    assert.ok(entries.includes('oci-layout'), entries.join('\n'));
    assert.ok(!entries.includes('manifest.json'));
    const index = JSON.parse(await tarRead(oci, 'index.json')) as {
      manifests: Array<{ digest: string; annotations?: Record<string, string> }>;
    };
    const manifest = JSON.parse(
      await tarRead(oci, `blobs/sha256/${index.manifests[0]!.digest.slice(7)}`),
    ) as {
      config: { digest: string };
    };
    assert.equal(manifest.config.digest, id);
    assert.equal(
      index.manifests[0]!.annotations?.['io.containerd.image.name'],
      'docker.io/library/exported:1',
    );

    const docker = join(dir, 'image-docker.tar');
    const d = await wharf(root, ['build', '-q', '-t', 'exported:1', '-o', `type=docker,dest=${docker}`, ctx]);
    assert.equal(d.code, 0, d.stderr);
    const manifests = JSON.parse(await tarRead(docker, 'manifest.json')) as Array<{
      Config: string;
      RepoTags: string[];
    }>;
    assert.deepEqual(manifests[0]!.RepoTags, ['exported:1']);
    assert.equal(manifests[0]!.Config, `blobs/sha256/${id.slice(7)}`);
    // and `docker load` (here wharf load) takes it into another store
    const other = join(dir, 'other-root');
    const load = await wharf(other, ['load', '-i', docker]);
    assert.equal(load.code, 0, load.stderr);
    const inspect = await wharf(other, ['image', 'inspect', '--format', '{{.Id}}', 'exported:1']);
    assert.equal(inspect.stdout.toString().trim(), id);
    // no temp file is left beside the archive
    assert.ok((await stat(docker)).size > 0);
  });

  it('issue 12: type=image is the default; an unknown exporter is refused', async () => {
    const r = await wharf(root, ['build', '-q', '-t', 'stored:1', '-o', 'type=image', ctx]);
    assert.equal(r.code, 0, r.stderr);
    const inspect = await wharf(root, ['image', 'inspect', '--format', '{{.Id}}', 'stored:1']);
    assert.equal(inspect.stdout.toString().trim(), r.stdout.toString().trim());
    const bad = await wharf(root, ['build', '-q', '-o', 'type=registry,name=x', ctx]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /Cannot use output type registry/);
  });

  it('45, issue 12: wharf build --secret (a file, a variable): the RUN reads it; no layer, history, cache key or progress line holds it', async () => {
    const value = 'cli-secret-9d2e41c07a';
    const file = join(dir, 'token.txt');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(file, value);
    const sctx = join(dir, 'secret-ctx');
    // the Dockerfile holds the secret's digest, never the secret: each RUN proves it read it
    const { createHash } = await import('node:crypto');
    const digest = createHash('sha256').update(value).digest('hex');
    await writeContext(sctx, {
      Dockerfile: [
        'FROM busybox',
        `RUN --mount=type=secret,id=token [ "$(sha256sum /run/secrets/token | cut -c1-64)" = "${digest}" ] && echo "file: $(cat /run/secrets/token)"`,
        `RUN --mount=type=secret,id=fromenv,env=TOKEN [ "$(printf %s "$TOKEN" | sha256sum | cut -c1-64)" = "${digest}" ] && echo "env: $TOKEN"`,
      ].join('\n'),
    });
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(
        wharfBin,
        [
          '--root',
          root,
          'build',
          '--progress=plain',
          '--secret',
          `id=token,src=${file}`,
          '--secret',
          'id=fromenv,env=CLI_TOKEN',
          '-t',
          'secret-cli:1',
          sctx,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CLI_TOKEN: value } },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /file: \*\*\*\*/);
    assert.match(r.stderr, /env: \*\*\*\*/);
    assert.ok(!r.stderr.includes(value) && !r.stdout.includes(value), 'the secret is in the progress output');
    const history = await wharf(root, [
      'image',
      'history',
      '--no-trunc',
      '--format',
      '{{.CreatedBy}}',
      'secret-cli:1',
    ]);
    assert.equal(history.code, 0, history.stderr);
    assert.ok(!history.stdout.toString().includes(value));
    const { stdout: found } = await run('grep', ['-r', '-l', '-a', '-F', value, root]).catch(
      (error: { code?: number; stdout?: string }) => {
        if (error.code === 1) return { stdout: '' };
        throw error;
      },
    );
    assert.equal(found, '', `files under the root hold the secret: ${found}`);
  });

  it('49: --network host needs --allow network.host', async () => {
    const r = await wharf(root, ['build', '-q', '--network', 'host', ctx]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /entitlement network\.host is not allowed/);
    const ok = await wharf(root, ['build', '-q', '--network', 'host', '--allow', 'network.host', ctx]);
    assert.equal(ok.code, 0, ok.stderr);
  });
});

describe('build: --no-cache-filter', { skip }, () => {
  it('117: --no-cache-filter <stage> reruns that stage only; other stages stay cached', async () => {
    const fx = await buildFixture();
    try {
      const dockerfile = [
        'FROM busybox AS a',
        'RUN echo a > /a',
        'FROM busybox AS b',
        'RUN echo b > /b',
        'FROM busybox',
        'COPY --from=a /a /a',
        'COPY --from=b /b /b',
      ].join('\n');
      await fx.build(dockerfile);
      const filtered = await fx.build(dockerfile, {}, { noCacheFilter: ['B'] });
      assert.match(filtered.output, /\[a 2\/2\] RUN echo a > \/a\n#\d+ CACHED/);
      assert.doesNotMatch(filtered.output, /\[b 2\/2\] RUN echo b > \/b\n#\d+ CACHED/);
      assert.equal(filtered.executed, 1);
    } finally {
      await fx.cleanup();
    }
  });
});
