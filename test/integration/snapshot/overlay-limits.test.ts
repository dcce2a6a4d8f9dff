// The overlay snapshotter up to the kernel's limit: 500 lower layers mount (their options, absolute,
// would need far more than the one page the kernel reads), and a 501st is refused with a reason.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FailedPreconditionError } from '../../../src/errors/index.ts';
import { mountAt, unmount } from '../../../src/snapshot/mount.ts';
import { OverlaySnapshotter } from '../../../src/snapshot/overlay/overlay-snapshotter.ts';

describe('overlay snapshotter limits', () => {
  let w: string;
  let sn: OverlaySnapshotter;
  before(async () => {
    w = mkdtempSync(join(tmpdir(), 'wharf-overlay-limits-'));
    sn = await OverlaySnapshotter.open(join(w, 'root'));
  });
  after(() => {
    sn.close();
    rmSync(w, { recursive: true, force: true });
  });

  it('mounts a 500-layer chain and refuses a 501st layer below a mount', async () => {
    let parent: string | undefined;
    for (let i = 0; i < 501; i++) {
      const mounts = await sn.prepare(`k${i}`, parent);
      // Write straight into the new layer's directory (an active snapshot's upper or bind source).
      const only = mounts[0]!;
      const dir =
        only.type === 'bind' ? only.source : only.options.find((o) => o.startsWith('upperdir='))!.slice(9);
      writeFileSync(join(dir, `f${i}`), String(i));
      await sn.commit(`layer${i}`, `k${i}`);
      parent = `layer${i}`;
    }
    const merged = join(w, 'merged');
    mkdirSync(merged);
    const mounts = await sn.prepare('top', 'layer499');
    assert.ok(mounts[0]!.options.join(',').length > 4096);
    await mountAt(mounts, merged);
    try {
      const names = readdirSync(merged);
      assert.equal(names.length, 500);
      writeFileSync(join(merged, 'written-on-top'), 'x');
    } finally {
      await unmount(merged);
    }
    await assert.rejects(sn.prepare('too-deep', 'layer500'), FailedPreconditionError);
    await assert.rejects(sn.view('too-deep-view', 'layer500'), /overlayfs stacks at most 500/);
    await assert.rejects(
      sn.stat('too-deep'),
      /Cannot find snapshot/,
      'a refused snapshot is not left behind',
    );
    assert.deepEqual(
      readdirSync(join(w, 'root', 'snapshots')).filter((n) => !/^\d+$/.test(n)),
      [],
      'nor is its directory',
    );
  });
});
