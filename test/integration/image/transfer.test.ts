/**
 * The image transfer verbs through the real binary: import, save, load and tag, across roots,
 * formats and tools (skopeo reads what `save` writes; `load` reads what skopeo writes), and
 * several `wharf` processes sharing one root.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { openLocalEngine } from '../../../src/engine/local-engine.ts';
import { baseImagesMissing, ensureBaseImages } from '../../helpers/base-images.ts';
import { wharfBin } from '../../helpers/wharf.ts';

const run = promisify(execFile);
const skip = baseImagesMissing();

async function wharf(
  root: string,
  args: string[],
  input?: Buffer,
): Promise<{ stdout: string; stderr: string }> {
  if (input === undefined) return run(wharfBin, ['--root', root, ...args], { maxBuffer: 256 * 1024 * 1024 });
  return new Promise((resolve, reject) => {
    const child = spawn(wharfBin, ['--root', root, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve({ stdout, stderr })
        : reject(new Error(`wharf ${args.join(' ')} exited ${code}: ${stderr}`)),
    );
    child.stdin.end(input);
  });
}

/** Id, diffIDs and tags of an image, read in-process. */
async function describeImage(root: string, name: string) {
  const engine = await openLocalEngine({ root });
  try {
    const inspect = await engine.images.inspect(name);
    return { id: inspect.Id, diffIds: inspect.RootFS.Layers, tags: inspect.RepoTags };
  } finally {
    engine.close();
  }
}

/** Removes an image from a separate node process (the engine API, in-process there). */
async function removeInAnotherProcess(root: string, name: string): Promise<void> {
  const engineModule = new URL('../../../src/engine/local-engine.ts', import.meta.url).href;
  const script = `const { openLocalEngine } = await import(${JSON.stringify(engineModule)});
    const engine = await openLocalEngine({ root: ${JSON.stringify(root)} });
    try { await engine.images.remove(${JSON.stringify(name)}); } finally { engine.close(); }`;
  await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
}

async function skopeoJson(args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run('skopeo', args, { maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout);
}

describe('image transfer through the CLI', { skip }, () => {
  let work: string;
  let source: string;
  let busybox: Awaited<ReturnType<typeof describeImage>>;
  const freshRoot = async (name: string) => mkdtemp(join(work, `${name}-`));

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'wharf-transfer-'));
    source = join(work, 'source');
    await ensureBaseImages(source);
    busybox = await describeImage(source, 'busybox');
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('made busybox:latest from busybox-static, idempotently', async () => {
    assert.deepEqual(busybox.tags, ['busybox:latest']);
    assert.equal(busybox.diffIds.length, 1);
    await ensureBaseImages(source);
    assert.equal((await describeImage(source, 'busybox')).id, busybox.id);
  });

  it('round-trips import -> save (docker) -> load into a fresh root with the same id and diffIDs', async () => {
    const archive = join(work, 'busybox.tar');
    await wharf(source, ['save', '-o', archive, 'busybox']);
    const { stdout: listing } = await run('tar', ['-tf', archive]);
    for (const name of ['manifest.json', 'repositories', 'index.json', 'oci-layout'])
      assert.ok(listing.includes(name), name);
    const target = await freshRoot('load');
    const { stdout } = await wharf(target, ['load', '-i', archive]);
    assert.equal(stdout, 'Loaded image: busybox:latest\n');
    assert.deepEqual(await describeImage(target, 'busybox'), busybox);
    // skopeo reads it as a Docker archive, the format `docker load` takes
    const viaSkopeo = await skopeoJson(['inspect', '--config', `docker-archive:${archive}`]);
    assert.deepEqual((viaSkopeo.rootfs as { diff_ids: string[] }).diff_ids, busybox.diffIds);
    // compressed, on stdin, into another root
    const other = await freshRoot('load-gz');
    const { readFile } = await import('node:fs/promises');
    const gz = gzipSync(await readFile(archive));
    assert.equal((await wharf(other, ['load', '-q'], gz)).stdout, 'Loaded image: busybox:latest\n');
    assert.deepEqual(await describeImage(other, 'busybox'), busybox);
    // loading again is a no-op that reports the same
    assert.equal((await wharf(target, ['load', '-i', archive])).stdout, 'Loaded image: busybox:latest\n');
  });

  it('writes an OCI layout that skopeo inspects, as a directory and as a tar', async () => {
    const dir = join(work, 'layout');
    await wharf(source, ['save', '--format', 'oci', '-o', `${dir}/`, 'busybox:latest']);
    const inspect = await skopeoJson(['inspect', `oci:${dir}`]);
    assert.deepEqual(inspect.Layers, busybox.diffIds); // uncompressed layers: blob digest = diffID
    assert.equal(inspect.Architecture, 'amd64');
    const config = await skopeoJson(['inspect', '--config', `oci:${dir}:latest`]);
    assert.deepEqual((config.rootfs as { diff_ids: string[] }).diff_ids, busybox.diffIds);
    const archive = join(work, 'layout.tar');
    await wharf(source, ['save', '--format', 'oci', '-o', archive, 'busybox']);
    const fromTar = await skopeoJson(['inspect', '--config', `oci-archive:${archive}`]);
    assert.deepEqual((fromTar.rootfs as { diff_ids: string[] }).diff_ids, busybox.diffIds);
    // and loads back (the layout names the image through io.containerd.image.name)
    for (const input of [dir, archive]) {
      const target = await freshRoot('load-oci');
      assert.equal((await wharf(target, ['load', '-i', input])).stdout, 'Loaded image: busybox:latest\n');
      assert.deepEqual(await describeImage(target, 'busybox'), busybox);
    }
  });

  it('loads what skopeo writes: docker-archive, and an OCI layout with gzip layers', async () => {
    const dir = join(work, 'skopeo-src');
    await wharf(source, ['save', '--format', 'oci', '-o', `${dir}/`, 'busybox']);
    const dockerArchive = join(work, 'skopeo-docker.tar');
    await run('skopeo', [
      'copy',
      '-q',
      `oci:${dir}`,
      `docker-archive:${dockerArchive}:example.com/team/box:v1`,
    ]);
    const target = await freshRoot('skopeo');
    assert.equal(
      (await wharf(target, ['load', '-i', dockerArchive])).stdout,
      'Loaded image: example.com/team/box:v1\n',
    );
    const loaded = await describeImage(target, 'example.com/team/box:v1');
    assert.deepEqual(loaded.diffIds, busybox.diffIds);
    assert.equal(loaded.id, busybox.id);

    const gzipped = join(work, 'skopeo-gzip');
    await run('skopeo', [
      'copy',
      '-q',
      '--dest-compress',
      '--dest-compress-format',
      'gzip',
      `oci:${dir}`,
      `oci:${gzipped}:box:gz`,
    ]);
    const index = JSON.parse(
      await (await import('node:fs/promises')).readFile(join(gzipped, 'index.json'), 'utf8'),
    );
    assert.equal(index.manifests[0].annotations['org.opencontainers.image.ref.name'], 'box:gz');
    const again = await freshRoot('skopeo-gz');
    assert.equal((await wharf(again, ['load', '-i', gzipped])).stdout, 'Loaded image: box:gz\n');
    const fromGzip = await describeImage(again, 'box:gz');
    assert.deepEqual(fromGzip.diffIds, busybox.diffIds);
    assert.equal(fromGzip.id, busybox.id);
    // only uncompressed blobs are kept: layer, config, manifest
    assert.equal((await readdir(join(again, 'content/blobs/sha256'))).length, 3);
  });

  it('imports from a file and from stdin with -c and -m, and tags', async () => {
    const root = await freshRoot('import');
    const rootfs = join(work, 'rootfs');
    await run('mkdir', ['-p', join(rootfs, 'etc')]);
    await writeFile(join(rootfs, 'etc', 'hello'), 'hi\n');
    const tarball = join(work, 'rootfs.tar');
    await run('tar', ['-C', rootfs, '-cf', tarball, '.']);
    const { stdout } = await wharf(root, [
      'import',
      '-c',
      'ENV A=1',
      '-c',
      'CMD ["/bin/sh"]',
      '-m',
      'my message',
      tarball,
      'mine:v1',
    ]);
    assert.match(stdout, /^sha256:[a-f0-9]{64}\n$/);
    const engine = await openLocalEngine({ root });
    try {
      const inspect = await engine.images.inspect('mine:v1');
      assert.equal(inspect.Id, stdout.trim());
      assert.deepEqual(inspect.Config.Env, ['A=1']);
      assert.equal(inspect.Comment, 'my message');
    } finally {
      engine.close();
    }
    const { readFile } = await import('node:fs/promises');
    const fromStdin = await wharf(root, ['import', '-', 'stdin:1'], gzipSync(await readFile(tarball)));
    assert.match(fromStdin.stdout, /^sha256:/);
    await wharf(root, ['tag', 'stdin:1', 'localhost:5000/x/y:z']);
    assert.deepEqual((await describeImage(root, 'localhost:5000/x/y:z')).tags, [
      'localhost:5000/x/y:z',
      'stdin:1',
    ]);
    await assert.rejects(wharf(root, ['import', join(work, 'missing.tar')]), /no such file or directory/);
    await assert.rejects(wharf(root, ['tag', 'nothing', 'x']), /No such image: nothing:latest/);
    await assert.rejects(
      wharf(root, ['save', '-o', join(work, 'x.tar'), 'nothing']),
      /No such image: nothing:latest/,
    );
  });

  it('survives several wharf processes tagging, importing and removing at once', async () => {
    const root = await freshRoot('concurrent');
    await ensureBaseImages(root);
    const tarball = join(work, 'tiny.tar');
    await writeFile(join(work, 'tiny'), 'tiny');
    await run('tar', ['-C', work, '-cf', tarball, 'tiny']);
    for (let i = 0; i < 4; i++) await wharf(root, ['tag', 'busybox', `doomed:${i}`]);
    const jobs: Array<Promise<unknown>> = [];
    const errors: string[] = [];
    const go = (args: string[]) =>
      jobs.push(
        wharf(root, args).then(
          ({ stderr }) => stderr && errors.push(stderr),
          (error: Error) => errors.push(error.message),
        ),
      );
    for (let p = 0; p < 3; p++) {
      jobs.push(
        (async () => {
          for (let i = 0; i < 3; i++) {
            await wharf(root, ['tag', 'busybox', `tagger${p}:${i}`]).catch((error: Error) =>
              errors.push(error.message),
            );
          }
        })(),
      );
    }
    for (let i = 0; i < 3; i++) go(['import', '-c', `ENV N=${i}`, tarball, `imported:${i}`]);
    // `rmi` is the CLI engineer's verb: other processes remove through the engine API
    for (let i = 0; i < 4; i++) {
      jobs.push(
        removeInAnotherProcess(root, `doomed:${i}`).catch((error: Error) => errors.push(error.message)),
      );
    }
    await Promise.all(jobs);
    const engine = await openLocalEngine({ root });
    try {
      assert.deepEqual(errors, []);
      const tags = (await engine.images.list()).flatMap((s) => s.RepoTags).sort();
      const expected = [
        'busybox:latest',
        ...[0, 1, 2].map((i) => `imported:${i}`),
        ...[0, 1, 2].flatMap((p) => [0, 1, 2].map((i) => `tagger${p}:${i}`)),
      ].sort();
      assert.deepEqual(tags, expected);
    } finally {
      engine.close();
    }
  });
});
