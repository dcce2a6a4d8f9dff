/**
 * The conformance suite every Snapshotter passes (containerd's `snapshots/testsuite` in spirit):
 * the lifecycle, the parent chains, what views and removals may and may not do, the errors, labels,
 * usage, persistence, a long chain and a race. Each test gets a fresh root and cleans every mount
 * and directory it made, even when it fails. Needs root (it mounts).
 *
 * @example
 * // test/integration/snapshot/overlay.test.ts
 * snapshotterConformance('overlay', (root) => OverlaySnapshotter.open(root));
 */
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
} from '../errors/index.ts';
import { withTempMount } from './mount.ts';
import type { Mount, Snapshotter } from './snapshotter.ts';

export type OpenSnapshotter = (root: string) => Promise<Snapshotter>;

export function snapshotterConformance(name: string, open: OpenSnapshotter): void {
  describe(`snapshotter conformance: ${name}`, () => {
    const test = (title: string, body: (sn: Snapshotter, root: string) => Promise<void>): void => {
      it(title, async () => {
        const root = await mkdtemp(join(tmpdir(), `wharf-sn-${name}-`));
        let sn: Snapshotter | undefined;
        try {
          sn = await open(root);
          await body(sn, root);
        } finally {
          sn?.close();
          await rm(root, { recursive: true, force: true });
        }
      });
    };

    test('prepare, write, commit, then view what was written', async (sn) => {
      const mounts = await sn.prepare('a-active');
      await write(mounts, { foo: 'foo\n', 'd/bar': 'bar\n' });
      await sn.commit('a', 'a-active');
      assert.equal((await sn.stat('a')).kind, 'committed');
      await assert.rejects(sn.stat('a-active'), NotFoundError);
      const view = await sn.view('v', 'a');
      assert.deepEqual(await read(view), { 'd/': '', 'd/bar': 'bar\n', foo: 'foo\n' });
      await sn.remove('v');
    });

    test('children see their parents, changes stay in the child', async (sn) => {
      await write(await sn.prepare('a-active'), { foo: 'a\n', keep: 'k\n', 'd/bar': 'bar\n' });
      await sn.commit('a', 'a-active');
      const b = await sn.prepare('b-active', 'a');
      await withTempMount(b, async (dir) => {
        assert.equal(await readFile(join(dir, 'foo'), 'utf8'), 'a\n');
        await writeFile(join(dir, 'foo'), 'b\n');
        await rm(join(dir, 'd/bar'));
        await writeFile(join(dir, 'baz'), 'baz\n');
      });
      await sn.commit('b', 'b-active');
      assert.equal((await sn.stat('b')).parent, 'a');
      assert.deepEqual(await read(await sn.view('vb', 'b')), {
        baz: 'baz\n',
        'd/': '',
        foo: 'b\n',
        keep: 'k\n',
      });
      assert.deepEqual(await read(await sn.view('va', 'a')), {
        'd/': '',
        'd/bar': 'bar\n',
        foo: 'a\n',
        keep: 'k\n',
      });
    });

    test('rm -rf d && mkdir d in a child hides the old contents of d', async (sn) => {
      await write(await sn.prepare('a-active'), { 'd/old': 'old\n', 'd/sub/deep': 'x\n' });
      await sn.commit('a', 'a-active');
      await withTempMount(await sn.prepare('b-active', 'a'), async (dir) => {
        await rm(join(dir, 'd'), { recursive: true });
        await mkdir(join(dir, 'd'));
        await writeFile(join(dir, 'd/new'), 'new\n');
      });
      await sn.commit('b', 'b-active');
      await write(await sn.prepare('c-active', 'b'), { 'd/newer': 'newer\n' });
      await sn.commit('c', 'c-active');
      assert.deepEqual(await read(await sn.view('vc', 'c')), {
        'd/': '',
        'd/new': 'new\n',
        'd/newer': 'newer\n',
      });
    });

    test('views are read-only, and a parent stays as it was', async (sn) => {
      await write(await sn.prepare('a-active'), { foo: 'a\n' });
      await sn.commit('a', 'a-active');
      await withTempMount(await sn.view('v', 'a'), async (dir) => {
        await assert.rejects(writeFile(join(dir, 'foo'), 'changed'), { code: 'EROFS' });
      });
      await write(await sn.prepare('b-active', 'a'), { foo: 'b\n' });
      assert.deepEqual(await read(await sn.view('v2', 'a')), { foo: 'a\n' });
      await assert.rejects(sn.commit('v-committed', 'v'), FailedPreconditionError);
    });

    test('owners and modes survive the chain', async (sn) => {
      await withTempMount(await sn.prepare('a-active'), async (dir) => {
        await mkdir(join(dir, 'private'));
        await chmod(join(dir, 'private'), 0o700);
        await writeFile(join(dir, 'private/secret'), 's');
        await chown(join(dir, 'private/secret'), 1000, 1001);
        await chmod(join(dir, 'private/secret'), 0o4750);
      });
      await sn.commit('a', 'a-active');
      await sn.prepare('b-active', 'a');
      await sn.commit('b', 'b-active');
      await withTempMount(await sn.view('v', 'b'), async (dir) => {
        const d = await stat(join(dir, 'private'));
        const f = await stat(join(dir, 'private/secret'));
        assert.equal(d.mode & 0o7777, 0o700);
        assert.equal(f.mode & 0o7777, 0o4750);
        assert.deepEqual([f.uid, f.gid], [1000, 1001]);
      });
    });

    test('errors name what went wrong', async (sn) => {
      await sn.prepare('a-active');
      await assert.rejects(sn.prepare('a-active'), AlreadyExistsError);
      await assert.rejects(sn.prepare('x', 'no-such-parent'), NotFoundError);
      await assert.rejects(sn.prepare('x', 'a-active'), InvalidArgumentError);
      await assert.rejects(sn.commit('a', 'no-such-key'), NotFoundError);
      await sn.commit('a', 'a-active');
      await sn.prepare('b-active');
      await assert.rejects(sn.commit('a', 'b-active'), AlreadyExistsError);
      await assert.rejects(sn.mounts('a'), FailedPreconditionError);
      await sn.prepare('child', 'a');
      await assert.rejects(sn.remove('a'), FailedPreconditionError);
      await sn.remove('child');
      await sn.remove('a');
      await assert.rejects(sn.remove('a'), NotFoundError);
      await assert.rejects(sn.stat('a'), NotFoundError);
    });

    test('stat, labels, update and walk', async (sn) => {
      await sn.prepare('a-active', undefined, { labels: { role: 'base' } });
      const info = await sn.stat('a-active');
      assert.equal(info.kind, 'active');
      assert.deepEqual(info.labels, { role: 'base' });
      assert.equal(info.parent, undefined);
      await sn.commit('a', 'a-active', { labels: { 'wharf.test/committed': 'yes' } });
      assert.deepEqual((await sn.stat('a')).labels, { role: 'base', 'wharf.test/committed': 'yes' });
      await sn.prepare('b-active', 'a');
      await sn.view('v', 'a', { labels: { role: 'view' } });
      const updated = await sn.update('b-active', { role: 'container' });
      assert.deepEqual(updated.labels, { role: 'container' });
      const names = async (filter?: Parameters<Snapshotter['walk']>[1]): Promise<string[]> => {
        const out: string[] = [];
        await sn.walk((i) => {
          out.push(i.name);
        }, filter);
        return out.sort();
      };
      assert.deepEqual(await names(), ['a', 'b-active', 'v']);
      assert.deepEqual(await names({ kind: 'active' }), ['b-active']);
      assert.deepEqual(await names({ labels: { role: 'view' } }), ['v']);
      assert.equal((await sn.stat('b-active')).parent, 'a');
    });

    test('usage counts what a snapshot holds', async (sn) => {
      await write(await sn.prepare('a-active'), { big: 'x'.repeat(1024 * 1024), small: 's' });
      const active = await sn.usage('a-active');
      assert.ok(active.size >= 1024 * 1024, `size ${active.size}`);
      assert.ok(active.inodes >= 3, `inodes ${active.inodes}`);
      await sn.commit('a', 'a-active');
      assert.deepEqual(await sn.usage('a'), active);
    });

    test('snapshots survive closing and reopening', async (sn, root) => {
      await write(await sn.prepare('a-active'), { foo: 'persisted\n' });
      await sn.commit('a', 'a-active', { labels: { k: 'v' } });
      sn.close();
      const again = await open(root);
      try {
        assert.deepEqual((await again.stat('a')).labels, { k: 'v' });
        assert.deepEqual(await read(await again.view('v', 'a')), { foo: 'persisted\n' });
      } finally {
        again.close();
      }
    });

    test('a 128-layer chain mounts and shows every layer', async (sn) => {
      let parent: string | undefined;
      for (let i = 0; i < 128; i++) {
        const files: Record<string, string> = { [`f${i}`]: `${i}` };
        if (i % 10 === 0) files.latest = `${i}`;
        await write(await sn.prepare(`l${i}-active`, parent), files);
        await sn.commit(`l${i}`, `l${i}-active`);
        parent = `l${i}`;
      }
      const seen = await read(await sn.view('top', parent));
      assert.equal(Object.keys(seen).length, 129);
      assert.equal(seen.f0, '0');
      assert.equal(seen.f127, '127');
      assert.equal(seen.latest, '120');
    });

    test('two prepares of one key race: exactly one wins', async (sn) => {
      const results = await Promise.allSettled([sn.prepare('same'), sn.prepare('same'), sn.prepare('same')]);
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof AlreadyExistsError);
    });

    test('a volatile snapshot works like any active one, survives reopening, and goes', async (sn, root) => {
      await write(await sn.prepare('a-active'), { base: 'b\n' });
      await sn.commit('a', 'a-active');
      const mounts = await sn.prepare('scratch', 'a', { volatile: true, labels: { k: 'v' } });
      await write(mounts, { mine: 'm\n' });
      assert.deepEqual(await read(mounts), { base: 'b\n', mine: 'm\n' });
      sn.close();
      const again = await open(root);
      try {
        assert.deepEqual((await again.stat('scratch')).labels, { k: 'v' });
        await assert.rejects(again.prepare('scratch', 'a', { volatile: true }), AlreadyExistsError);
        await again.remove('scratch', { volatile: true });
        await assert.rejects(again.stat('scratch'), NotFoundError);
        await assert.rejects(again.remove('scratch', { volatile: true }), NotFoundError);
        // what comes after is durable as before
        await again.prepare('kept', 'a');
        assert.equal((await again.stat('kept')).kind, 'active');
      } finally {
        again.close();
      }
    });

    test('removing everything leaves nothing behind', async (sn) => {
      await write(await sn.prepare('a-active'), { foo: 'x' });
      await sn.commit('a', 'a-active');
      await sn.prepare('b', 'a');
      await sn.view('v', 'a');
      for (const key of ['b', 'v', 'a']) await sn.remove(key);
      let count = 0;
      await sn.walk(() => {
        count++;
      });
      assert.equal(count, 0);
    });
  });
}

/** Mounts `mounts` and writes `files` (path -> content; parents made as needed). */
async function write(mounts: Mount[], files: Record<string, string>): Promise<void> {
  await withTempMount(mounts, async (dir) => {
    for (const [path, content] of Object.entries(files)) {
      await mkdir(join(dir, path, '..'), { recursive: true });
      await writeFile(join(dir, path), content);
    }
  });
}

/** Mounts `mounts` and reads the whole tree: path -> content, directories as 'dir/' -> ''. */
async function read(mounts: Mount[]): Promise<Record<string, string>> {
  return withTempMount(mounts, async (dir) => {
    const out: Record<string, string> = {};
    const walk = async (rel: string): Promise<void> => {
      for (const entry of await readdir(join(dir, rel), { withFileTypes: true })) {
        const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
        if (entry.isDirectory()) {
          out[`${path}/`] = '';
          await walk(path);
        } else out[path] = await readFile(join(dir, path), 'utf8');
      }
    };
    await walk('');
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
  });
}
