// Unpacking layers into snapshots named by chain ID: a 200-layer image mounts and runs `ls`,
// images share the layers they have in common, concurrent unpacks (in one process and in two) are
// safe, and failed or abandoned unpacks leave nothing behind.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { applyLayer } from '../../../src/image/layer/apply.ts';
import { UNPACK_OWNER_LABEL, unpackLayers } from '../../../src/image/layer/unpack.ts';
import { chainIds } from '../../../src/oci/chain-id.ts';
import type { Digest } from '../../../src/oci/digest.ts';
import { mountAt, unmount, withTempMount } from '../../../src/snapshot/mount.ts';
import { OverlaySnapshotter } from '../../../src/snapshot/overlay/overlay-snapshotter.ts';
import type { Snapshotter } from '../../../src/snapshot/snapshotter.ts';
import { projectRoot } from '../../helpers/wharf.ts';
import { tarOf } from './helpers.ts';

interface Layer {
  bytes: Buffer;
  diffID: Digest;
}

async function layerOf(entries: Parameters<typeof tarOf>[0]): Promise<Layer> {
  const bytes = tarOf(entries);
  const scratch = mkdtempSync(join(tmpdir(), 'wharf-difid-'));
  try {
    return { bytes, diffID: (await applyLayer([bytes], scratch)).diffID };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const sources = (layers: Layer[]) => layers.map((l) => ({ diffID: l.diffID, open: () => [l.bytes] }));

async function activeKeys(sn: Snapshotter): Promise<string[]> {
  const keys: string[] = [];
  await sn.walk(
    (i) => {
      keys.push(i.name);
    },
    { kind: 'active' },
  );
  return keys;
}

function deadPid(): number {
  const child = spawnSync('/bin/true');
  return child.pid!;
}

describe('unpacking layers into snapshots', () => {
  let w: string;
  before(() => {
    w = mkdtempSync(join(tmpdir(), 'wharf-unpack-'));
  });
  after(() => rmSync(w, { recursive: true, force: true }));

  it('a 200-layer image mounts and busybox ls runs in it', async () => {
    const sn = await OverlaySnapshotter.open(join(w, 'chain200'));
    const merged = join(w, 'merged200');
    mkdirSync(merged);
    try {
      const layers: Layer[] = [
        await layerOf([
          { name: 'bin/', type: 'dir' },
          { name: 'bin/busybox', mode: 0o755, body: readFileSync('/bin/busybox') },
          { name: 'layers/', type: 'dir' },
        ]),
      ];
      for (let i = 1; i < 200; i++) {
        const entries: Parameters<typeof tarOf>[0] = [{ name: `layers/l${i}`, body: `${i}\n` }];
        if (i % 10 === 0) entries.push({ name: `layers/.wh.l${i - 1}` }); // every tenth layer deletes one
        layers.push(await layerOf(entries));
      }
      const result = await unpackLayers(sn, sources(layers));
      assert.equal(result.applied, 200);
      assert.equal(result.chainID, chainIds(layers.map((l) => l.diffID)).at(-1));
      const mounts = await sn.view('rootfs', result.chainID);
      assert.ok(
        mounts[0]!.options.join(',').length > 4096,
        'the absolute lowerdir list would not fit in a page',
      );
      await mountAt(mounts, merged);
      try {
        const listing = execFileSync('chroot', [merged, '/bin/busybox', 'ls', '/layers'], {
          encoding: 'utf8',
        })
          .split(/\s+/)
          .filter(Boolean)
          .sort();
        const expected = Array.from({ length: 199 }, (_, i) => `l${i + 1}`)
          .filter((name) => !(Number(name.slice(1)) % 10 === 9 && Number(name.slice(1)) < 199))
          .sort();
        assert.deepEqual(listing, expected);
        assert.equal(readFileSync(join(merged, 'layers/l199'), 'utf8'), '199\n');
      } finally {
        await unmount(merged);
      }
    } finally {
      sn.close();
    }
  });

  it('images share the snapshots of their common layers', async () => {
    const sn = await OverlaySnapshotter.open(join(w, 'shared'));
    try {
      const base = await layerOf([{ name: 'base', body: 'base' }]);
      const mid = await layerOf([{ name: 'mid', body: 'mid' }]);
      const a = await layerOf([{ name: 'a', body: 'a' }]);
      const b = await layerOf([{ name: 'b', body: 'b' }]);
      const first = await unpackLayers(sn, sources([base, mid, a]));
      const second = await unpackLayers(sn, sources([base, mid, b]));
      assert.equal(first.applied, 3);
      assert.equal(second.applied, 1, 'only the layer the first image lacks is applied');
      assert.deepEqual(first.chainIDs.slice(0, 2), second.chainIDs.slice(0, 2));
      const again = await unpackLayers(sn, sources([base, mid, a]));
      assert.equal(again.applied, 0);
      assert.equal((await sn.stat(second.chainID!)).parent, first.chainIDs[1]);
    } finally {
      sn.close();
    }
  });

  it('concurrent unpacks of one chain in one process share the work', async () => {
    const sn = await OverlaySnapshotter.open(join(w, 'same-process'));
    try {
      const layers = await Promise.all([1, 2, 3, 4].map((i) => layerOf([{ name: `f${i}`, body: `${i}` }])));
      const results = await Promise.all([
        unpackLayers(sn, sources(layers)),
        unpackLayers(sn, sources(layers)),
      ]);
      assert.equal(results[0].chainID, results[1].chainID);
      assert.deepEqual(await activeKeys(sn), []);
      const view = await sn.view('v', results[0].chainID);
      assert.deepEqual(
        await withTempMount(view, async (dir) => execFileSync('ls', [dir], { encoding: 'utf8' })),
        'f1\nf2\nf3\nf4\n',
      );
    } finally {
      sn.close();
    }
  });

  it('concurrent unpacks of one chain in two processes both succeed, one copy is kept', async () => {
    const root = join(w, 'two-processes');
    const layers = await Promise.all(
      [1, 2, 3, 4, 5, 6].map((i) => layerOf([{ name: `f${i}`, body: Buffer.alloc(200_000, i) }])),
    );
    const list = layers.map((l, i) => {
      const path = join(w, `two-${i}.tar`);
      writeFileSync(path, l.bytes);
      return { path, diffID: l.diffID };
    });
    const listFile = join(w, 'two.json');
    writeFileSync(listFile, JSON.stringify(list));
    const worker = join(projectRoot, 'test/integration/layer/fixtures/unpack-worker.ts');
    const run = () =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', worker, root, listFile], {
        cwd: projectRoot,
      });
    const outputs = await Promise.all([run(), run()]);
    const results = outputs.map((o) => JSON.parse(o.stdout) as { chainID: string; applied: number });
    assert.equal(results[0]!.chainID, results[1]!.chainID);
    const sn = await OverlaySnapshotter.open(root);
    try {
      assert.deepEqual(await activeKeys(sn), [], 'the loser removed its copy');
      let committed = 0;
      await sn.walk(() => {
        committed++;
      });
      assert.equal(committed, 6);
    } finally {
      sn.close();
    }
  });

  it('a layer that does not match its diffID, or that is refused, leaves nothing behind', async () => {
    const sn = await OverlaySnapshotter.open(join(w, 'failures'));
    try {
      const good = await layerOf([{ name: 'good', body: 'good' }]);
      const other = await layerOf([{ name: 'other', body: 'other' }]);
      await assert.rejects(
        unpackLayers(
          sn,
          [good, { ...other, diffID: good.diffID.replace(/.$/, '0') as Digest }].map((l) => ({
            diffID: l.diffID,
            open: () => [l.bytes],
          })),
        ),
        /not the expected diffID/,
      );
      // Refused before its end, so the diffID is never compared.
      const hostile = {
        bytes: tarOf([{ name: 'hl', type: 'link', linkname: '../../etc/shadow' }]),
        diffID: other.diffID,
      };
      await assert.rejects(unpackLayers(sn, sources([good, hostile])), /Cannot apply layer entry "hl"/);
      assert.deepEqual(await activeKeys(sn), []);
      const names: string[] = [];
      await sn.walk((i) => {
        names.push(i.name);
      });
      assert.deepEqual(names, [good.diffID]);
    } finally {
      sn.close();
    }
  });

  it('unpacks a killed process left behind are swept', async () => {
    const root = join(w, 'stale');
    const first = await OverlaySnapshotter.open(root);
    const layer = await layerOf([{ name: 'x', body: 'x' }]);
    try {
      await first.prepare(`extract-${deadPid()}-abc ${layer.diffID}`, undefined, {
        labels: { [UNPACK_OWNER_LABEL]: `${deadPid()}:12345` },
      });
      await first.prepare('a-container', undefined, { labels: { role: 'kept' } });
    } finally {
      first.close();
    }
    const sn = await OverlaySnapshotter.open(root);
    try {
      await unpackLayers(sn, sources([layer]));
      assert.deepEqual(await activeKeys(sn), ['a-container']);
    } finally {
      sn.close();
    }
  });
});
