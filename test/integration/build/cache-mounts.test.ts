// The cache mount store on a real directory: sharing modes, locks left by dead processes,
// subdirectories that must not lead out through a symlink, and prune.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CacheMounts, cacheSubdir } from '../../../src/build/cache-mounts.ts';

describe('build: cache mount store', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'wharf-cache-mounts-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  const request = (id: string, sharing: 'shared' | 'private' | 'locked') => ({
    id,
    sharing,
    mode: 0o750,
    uid: 0,
    gid: 0,
  });

  it('41, 42: a cache is made once with its mode and seeded from its source; later uses see its contents', async () => {
    const caches = new CacheMounts(root);
    const first = await caches.acquire({
      ...request('seeded', 'shared'),
      seed: async (dir) => writeFile(join(dir, 'seed'), 'from the stage'),
    });
    assert.deepEqual(await readdir(first.dir), ['seed']);
    await writeFile(join(first.dir, 'added'), 'x');
    await first.release();
    const again = await new CacheMounts(root).acquire({
      ...request('seeded', 'shared'),
      seed: async () => assert.fail('a cache is seeded only when made'),
    });
    assert.deepEqual((await readdir(again.dir)).sort(), ['added', 'seed']);
    await again.release();
  });

  it('locked users wait for each other; a private user finds the lock held and gets its own instance', async () => {
    const caches = new CacheMounts(root);
    const held = await caches.acquire(request('busy', 'locked'));
    let second = false;
    const waiting = caches.acquire(request('busy', 'locked')).then((h) => {
      second = true;
      return h;
    });
    const priv = await caches.acquire(request('busy', 'private'));
    assert.notEqual(priv.dir, held.dir);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(second, false);
    await held.release();
    const next = await waiting;
    assert.equal(next.dir, held.dir);
    await next.release();
    await priv.release();
    assert.ok(
      !(await readdir(join(root, 'build', 'cache-mounts', CacheMounts.keyOf('busy')))).some((n) =>
        n.startsWith('private-'),
      ),
    );
  });

  it('a lock left by a dead process is broken; prune removes the caches no one holds', async () => {
    const caches = new CacheMounts(root);
    const base = join(root, 'build', 'cache-mounts', CacheMounts.keyOf('stale'));
    await mkdir(join(base, 'lock'), { recursive: true });
    await writeFile(join(base, 'lock', 'pid'), '999999999');
    const held = await caches.acquire(request('stale', 'locked'));
    const other = await caches.acquire(request('kept', 'locked'));
    await held.release();
    const removed = caches.prune().map((c) => c.id);
    assert.ok(removed.includes('stale'));
    assert.ok(!removed.includes('kept'), 'a held cache is kept');
    await other.release();
  });

  it('48: a cache source= that goes through a symlink (or ..) is refused; a missing one is made', async () => {
    const dir = await mkdtemp(join(root, 'cache-'));
    await symlink('/etc', join(dir, 'sel'));
    assert.throws(() => cacheSubdir(dir, 'sel', 'x'), /resolves through a symlink/);
    assert.throws(() => cacheSubdir(dir, 'sel/sub', 'x'), /resolves through a symlink/);
    assert.throws(() => cacheSubdir(dir, '../up', 'x'), /leads out of the cache/);
    assert.equal(cacheSubdir(dir, 'a/b', 'x'), join(dir, 'a', 'b'));
  });
});
