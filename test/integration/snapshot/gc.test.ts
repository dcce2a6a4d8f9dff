// Garbage collection of unreferenced snapshots, and the sweep at open of what killed processes left
// (half-made and half-removed directories, directories no row names, dangling short links).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { collectSnapshots, GC_ROOT_LABEL } from '../../../src/snapshot/gc.ts';
import { NativeSnapshotter } from '../../../src/snapshot/native/native-snapshotter.ts';
import { OverlaySnapshotter } from '../../../src/snapshot/overlay/overlay-snapshotter.ts';
import type { Snapshotter } from '../../../src/snapshot/snapshotter.ts';

async function names(sn: Snapshotter): Promise<string[]> {
  const out: string[] = [];
  await sn.walk((i) => {
    out.push(i.name);
  });
  return out.sort();
}

/** a <- b <- c (container "ctr" on c), a <- d (view "v" on d), lone "e" with a root label. */
async function buildForest(sn: Snapshotter): Promise<void> {
  await sn.prepare('a-k');
  await sn.commit('a', 'a-k');
  await sn.prepare('b-k', 'a');
  await sn.commit('b', 'b-k');
  await sn.prepare('c-k', 'b');
  await sn.commit('c', 'c-k');
  await sn.prepare('ctr', 'c');
  await sn.prepare('d-k', 'a');
  await sn.commit('d', 'd-k');
  await sn.view('v', 'd');
  await sn.prepare('e-k');
  await sn.commit('e', 'e-k', { labels: { [GC_ROOT_LABEL]: 'pinned' } });
  await sn.prepare('stray');
}

describe('snapshot garbage collection', () => {
  let w: string;
  before(() => {
    w = mkdtempSync(join(tmpdir(), 'wharf-gc-'));
  });
  after(() => rmSync(w, { recursive: true, force: true }));

  for (const [name, open] of [
    ['overlay', OverlaySnapshotter.open],
    ['native', NativeSnapshotter.open],
  ] as const) {
    it(`${name}: removes what no root reaches, children first`, async () => {
      const sn = await open(join(w, `gc-${name}`));
      try {
        await buildForest(sn);
        const dry = await collectSnapshots(sn, ['ctr'], { dryRun: true });
        assert.deepEqual(dry.removed.sort(), ['d', 'stray', 'v']);
        assert.equal((await names(sn)).length, 8, 'a dry run removes nothing');
        const { removed } = await collectSnapshots(sn, ['ctr']);
        assert.ok(removed.indexOf('v') < removed.indexOf('d'), 'children go before their parents');
        assert.deepEqual(await names(sn), ['a', 'b', 'c', 'ctr', 'e']);
        const kept = await collectSnapshots(sn, [], { keep: (info) => info.name === 'b' });
        assert.deepEqual(kept.removed.sort(), ['c', 'ctr']);
        assert.deepEqual(await names(sn), ['a', 'b', 'e']);
      } finally {
        sn.close();
      }
    });
  }

  it('open sweeps what a killed process left, and nothing else', async () => {
    const root = join(w, 'sweep');
    const sn = await OverlaySnapshotter.open(root);
    await sn.prepare('kept-k');
    await sn.commit('kept', 'kept-k');
    sn.close();
    const dead = spawnSync('/bin/true').pid!;
    const snapshots = join(root, 'snapshots');
    for (const orphan of [`new-${dead}-half`, `rm-${dead}-7-gone`, '9999']) {
      mkdirSync(join(snapshots, orphan, 'fs'), { recursive: true });
      writeFileSync(join(snapshots, orphan, 'fs', 'junk'), 'junk');
    }
    mkdirSync(join(snapshots, `new-${process.pid}-in-progress`));
    symlinkSync('../snapshots/9999/fs', join(root, 'l', (9999).toString(36)));
    const again = await OverlaySnapshotter.open(root);
    try {
      assert.deepEqual(await names(again), ['kept']);
      const left = readdirSync(snapshots).sort();
      assert.deepEqual(left, ['1', `new-${process.pid}-in-progress`], 'a live process keeps its temporaries');
      assert.deepEqual(readdirSync(join(root, 'l')), ['1']);
      assert.ok(existsSync(join(root, 'l', '1', '.')), 'the live short link still resolves');
    } finally {
      again.close();
    }
  });
});
