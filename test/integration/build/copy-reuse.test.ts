// Copy reuse (src/build/fs/copy-reuse.ts): a context COPY whose files changed makes its layer by
// hard-linking the unchanged files of the last layer of the same shape. What it must keep: the
// layer is the one a full copy makes (compared with a --no-cache build of the same context), and
// anything it cannot vouch for is copied as usual.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  CannotReuseError,
  type CopyManifest,
  cloneCopyLayer,
  decodeManifest,
  encodeManifest,
  type ReuseSource,
} from '../../../src/build/fs/copy-reuse.ts';
import { type BuildFixture, buildFixture, buildTestsMissing } from './helpers.ts';

const run = promisify(execFile);
const skip = buildTestsMissing();

/** `nlink path` lines a RUN step wrote, as a map. */
function links(text: string): Map<string, number> {
  return new Map(
    text
      .trim()
      .split('\n')
      .map((line) => {
        const [count, path] = line.split(' ');
        return [path!, Number(count)] as [string, number];
      }),
  );
}

const FILES = ['/app/keep.txt', '/app/edit.txt', '/app/sub/deep.txt', '/app/run.sh'];
const DOCKERFILE = `FROM busybox\nWORKDIR /app\nCOPY . .\nRUN stat -c '%h %n' ${FILES.join(' ')} > /links\n`;

describe('build: copy reuse', { skip }, () => {
  let fx: BuildFixture;
  before(async () => {
    fx = await buildFixture();
  });
  after(() => fx?.cleanup());

  // each test's context has a file of its own: copies of one shape would share their last layer
  let contexts = 0;
  const context = () =>
    fx.context({
      [`context-${++contexts}`]: '',
      Dockerfile: DOCKERFILE,
      'keep.txt': 'keep',
      'edit.txt': 'before',
      'sub/deep.txt': 'deep',
      'run.sh': { content: '#!/bin/sh\necho hi\n', mode: 0o755 },
      'to-keep': { symlink: 'keep.txt' },
    });

  it('after a content change, unchanged files are links of the last layer and the layer is the one a full copy makes', async () => {
    const ctx = await context();
    const first = await fx.buildIn(ctx);
    assert.deepEqual([...links(await first.read('/links')).values()], [1, 1, 1, 1]);

    await writeFile(join(ctx, 'edit.txt'), 'after, and longer');
    const reused = await fx.buildIn(ctx);
    assert.deepEqual(
      Object.fromEntries(links(await reused.read('/links'))),
      { '/app/keep.txt': 2, '/app/edit.txt': 1, '/app/sub/deep.txt': 2, '/app/run.sh': 2 },
      'the unchanged files are hard links of the last layer, the changed one a copy',
    );
    assert.equal(await reused.read('/app/edit.txt'), 'after, and longer');
    assert.equal(await reused.readlink('/app/to-keep'), 'keep.txt');
    assert.equal((await reused.stat('/app/run.sh')).mode & 0o7777, 0o755);

    const full = await fx.buildIn(ctx, { noCache: true });
    assert.deepEqual(
      [...links(await full.read('/links')).values()],
      [1, 1, 1, 1],
      '--no-cache copies every file',
    );
    assert.equal(
      reused.config.rootfs.diff_ids[2],
      full.config.rootfs.diff_ids[2],
      'the reused COPY layer is byte-identical to a full copy',
    );
  });

  it('a file replaced by rename (new inode, directory mtime moved) is reused the same way', async () => {
    const ctx = await context();
    await fx.buildIn(ctx);
    await writeFile(join(ctx, 'sub/.deep.tmp'), 'deep, saved by an editor');
    await rename(join(ctx, 'sub/.deep.tmp'), join(ctx, 'sub/deep.txt'));
    const reused = await fx.buildIn(ctx);
    assert.equal(links(await reused.read('/links')).get('/app/keep.txt'), 2);
    assert.equal(links(await reused.read('/links')).get('/app/sub/deep.txt'), 1);
    const full = await fx.buildIn(ctx, { noCache: true });
    assert.equal(reused.config.rootfs.diff_ids[2], full.config.rootfs.diff_ids[2]);
  });

  it('a COPY of another shape (a file added, a mode changed) copies every file again', async () => {
    const ctx = await context();
    await fx.buildIn(ctx);
    await writeFile(join(ctx, 'added.txt'), 'new');
    const added = await fx.buildIn(ctx);
    assert.equal(links(await added.read('/links')).get('/app/keep.txt'), 1);
    assert.equal(await added.read('/app/added.txt'), 'new');
    await chmod(join(ctx, 'keep.txt'), 0o600);
    const moded = await fx.buildIn(ctx);
    assert.equal(links(await moded.read('/links')).get('/app/sub/deep.txt'), 1);
    assert.equal((await moded.stat('/app/keep.txt')).mode & 0o7777, 0o600);
  });

  it('--chown, --chmod and a renaming destination are kept by the reused layer', async () => {
    const ctx = await fx.context({
      Dockerfile:
        'FROM busybox\nCOPY --chown=1000:1000 --chmod=0640 a.txt b.txt /home/\nCOPY --chown=7:8 d /tmp/d\nRUN stat -c "%h %n" /home/a.txt /home/b.txt /tmp/d/x > /links\n',
      'a.txt': 'a',
      'b.txt': 'b',
      'd/x': 'x',
      'd/y/z': 'z',
    });
    await fx.buildIn(ctx);
    await writeFile(join(ctx, 'd/y/z'), 'z, changed');
    const second = await fx.buildIn(ctx);
    assert.deepEqual(Object.fromEntries(links(await second.read('/links'))), {
      '/home/a.txt': 1,
      '/home/b.txt': 1,
      '/tmp/d/x': 2,
    });
    // a change before a COPY changes its parent: that COPY cannot be reused, it copies again
    await writeFile(join(ctx, 'b.txt'), 'b, changed');
    const reused = await fx.buildIn(ctx);
    assert.deepEqual(Object.fromEntries(links(await reused.read('/links'))), {
      '/home/a.txt': 2,
      '/home/b.txt': 1,
      '/tmp/d/x': 1,
    });
    const b = await reused.stat('/home/b.txt');
    assert.deepEqual([b.uid, b.gid, b.mode & 0o7777], [1000, 1000, 0o640]);
    const z = await reused.stat('/tmp/d/y/z');
    assert.deepEqual([z.uid, z.gid], [7, 8]);
    assert.equal(await reused.read('/tmp/d/y/z'), 'z, changed');
    // the files of both layers are as a full copy makes them (/home and /tmp themselves are
    // dated when the copy runs)
    const z2 = await second.stat('/tmp/d/y/z');
    assert.deepEqual([z2.uid, z2.gid, await second.read('/tmp/d/y/z')], [7, 8, 'z, changed']);
    const full = await fx.buildIn(ctx, { noCache: true });
    for (const index of [1, 2]) {
      const files = (listing: string[]) => listing.filter((line) => !line.startsWith('d'));
      assert.deepEqual(files(await reused.layerListing(index)), files(await full.layerListing(index)));
    }
  });

  it('after builder prune the last layers are forgotten: the copy is full again', async () => {
    const ctx = await context();
    await fx.buildIn(ctx);
    await fx.service().cache.prune({ all: true });
    await writeFile(join(ctx, 'edit.txt'), 'after prune');
    const image = await fx.buildIn(ctx);
    assert.equal(links(await image.read('/links')).get('/app/keep.txt'), 1);
    assert.equal(await image.read('/app/edit.txt'), 'after prune');
  });
});

describe('build: copy reuse, the clone', { skip }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-copy-reuse-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** An old upper dir (`old/app/f`, `old/app/l -> f`) with its manifest, and sources. */
  async function fixture(name: string) {
    const base = join(dir, name);
    await mkdir(join(base, 'old/app'), { recursive: true });
    await mkdir(join(base, 'new'));
    await mkdir(join(base, 'src'));
    await writeFile(join(base, 'old/app/f'), 'old');
    await utimes(join(base, 'old/app/f'), 0.001, 0.001);
    await symlink('f', join(base, 'old/app/l'));
    await writeFile(join(base, 'src/f'), 'new bytes');
    const manifest: CopyManifest = new Map([
      ['app', { source: '', mtimeMs: 1, digest: '' }],
      ['app/f', { source: 'f', mtimeMs: 1, digest: 'sha256:old' }],
      ['app/l', { source: 'l', mtimeMs: 1, digest: '' }],
    ]);
    const sources = new Map<string, ReuseSource>([
      ['', { type: 'directory', mtimeMs: 2000, atimeMs: 2000, digest: '', absolute: join(base, 'src') }],
      [
        'f',
        { type: 'file', mtimeMs: 3000, atimeMs: 3000, digest: 'sha256:new', absolute: join(base, 'src/f') },
      ],
      ['l', { type: 'symlink', mtimeMs: 4000, atimeMs: 4000, digest: '', absolute: join(base, 'src/l') }],
    ]);
    return { base, manifest, sources, lookup: (s: string) => sources.get(s) };
  }

  it('copies changed files, relinks unchanged ones, dates entries from their sources', async () => {
    const { base, manifest, lookup, sources } = await fixture('plain');
    sources.set('f', { ...sources.get('f')!, digest: 'sha256:old', mtimeMs: 1 });
    const same = await cloneCopyLayer(join(base, 'old'), join(base, 'new'), manifest, lookup);
    assert.deepEqual([same.linked, same.copied], [1, 0]);
    const { stdout } = await run('stat', ['-c', '%h %Y %N', 'app/f', 'app', 'app/l'], {
      cwd: join(base, 'new'),
    });
    assert.deepEqual(stdout.trim().split('\n'), ["2 0 'app/f'", "2 2 'app'", "1 4 'app/l' -> 'f'"]);

    await rm(join(base, 'new'), { recursive: true });
    await mkdir(join(base, 'new'));
    sources.set('f', { ...sources.get('f')!, digest: 'sha256:new', mtimeMs: 3000 });
    const changed = await cloneCopyLayer(join(base, 'old'), join(base, 'new'), manifest, lookup);
    assert.deepEqual([changed.linked, changed.copied], [0, 1]);
    assert.equal(changed.manifest.get('app/f')?.digest, 'sha256:new');
    const { stdout: after } = await run('stat', ['-c', '%h %Y %s', 'app/f'], { cwd: join(base, 'new') });
    assert.equal(after.trim(), '1 3 9');
    assert.equal(decodeManifest(encodeManifest(changed.manifest)!).get('app/f')?.mtimeMs, 3000);
  });

  it('gives up on what a copy never makes: a whiteout, an extended attribute, a file of no source', async () => {
    const whiteout = await fixture('whiteout');
    await run('mknod', [join(whiteout.base, 'old/app/gone'), 'c', '0', '0']);
    await assert.rejects(
      cloneCopyLayer(
        join(whiteout.base, 'old'),
        join(whiteout.base, 'new'),
        whiteout.manifest,
        whiteout.lookup,
      ),
      CannotReuseError,
    );

    const xattr = await fixture('xattr');
    await run('setfattr', ['-n', 'user.origin', '-v', 'lower', join(xattr.base, 'old/app')]);
    await assert.rejects(
      cloneCopyLayer(join(xattr.base, 'old'), join(xattr.base, 'new'), xattr.manifest, xattr.lookup),
      CannotReuseError,
    );

    const stray = await fixture('stray');
    await writeFile(join(stray.base, 'old/app/stray'), 'no source');
    await assert.rejects(
      cloneCopyLayer(join(stray.base, 'old'), join(stray.base, 'new'), stray.manifest, stray.lookup),
      CannotReuseError,
    );

    const retyped = await fixture('retyped');
    retyped.sources.set('l', { ...retyped.sources.get('l')!, type: 'file' });
    await assert.rejects(
      cloneCopyLayer(join(retyped.base, 'old'), join(retyped.base, 'new'), retyped.manifest, retyped.lookup),
      CannotReuseError,
    );
  });
});
