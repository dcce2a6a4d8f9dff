// Round trips: a tree diffed into a layer and applied again comes back exactly (types, modes,
// owners, xattrs including a binary security.capability, hardlink identity, devices, long and
// non-ASCII names), through every compression, through GNU tar in both directions, and through a
// real overlay snapshot whose changes include deletions and `rm -rf d && mkdir d`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { applyLayer } from '../../../src/image/layer/apply.ts';
import { diffDirectories } from '../../../src/image/layer/diff.ts';
import { diffSnapshot } from '../../../src/image/layer/diff-snapshot.ts';
import { unpackLayers } from '../../../src/image/layer/unpack.ts';
import type { Digest } from '../../../src/oci/digest.ts';
import { withTempMount } from '../../../src/snapshot/mount.ts';
import { NativeSnapshotter } from '../../../src/snapshot/native/native-snapshotter.ts';
import { OverlaySnapshotter } from '../../../src/snapshot/overlay/overlay-snapshotter.ts';
import { collect, describeTree, sh, tarOf } from './helpers.ts';

// security.capability v2: cap_setuid (bit 7, the byte 0x80) and cap_net_bind_service, effective.
const CAPABILITY = '0x0100000280040000000000000000000000000000';
const LONG_DIR = 'd'.repeat(90);
const LONG_NAME = 'f'.repeat(200);

/** Builds the fixture tree: every kind of entry a layer has to carry. */
function buildFixture(t: string): void {
  sh(`set -e
    mkdir -p ${t}/dir/sub ${t}/empty ${t}/sticky "${t}/sp ace" "${t}/ünï/ç" ${t}/dirtomove ${t}/${LONG_DIR}/${LONG_DIR}
    echo a > ${t}/dir/a
    head -c 5000 /dev/zero | tr '\\0' x > ${t}/dir/sub/big
    head -c 3000000 /dev/urandom > ${t}/dir/random
    echo moved > ${t}/dirtomove/f
    echo in-space > "${t}/sp ace/old"
    echo u > "${t}/ünï/ç/ü"
    echo long > ${t}/${LONG_DIR}/${LONG_DIR}/${LONG_NAME}
    touch "${t}/new
line"
    ln ${t}/dir/a ${t}/hard1 && ln ${t}/dir/a ${t}/dir/sub/hard2
    ln -s dir/a ${t}/rel-link && ln -s /etc/hostname ${t}/abs-link && ln -s nowhere ${t}/dangling
    mkfifo ${t}/fifo && mknod ${t}/null c 1 3 && mknod ${t}/loopdev b 7 200
    chmod 1777 ${t}/sticky && chmod 2711 ${t}/dir/sub && chmod 4755 ${t}/dir/a && chmod 0 ${t}/empty
    echo bin > ${t}/dir/capbin && setfattr -n security.capability -v ${CAPABILITY} ${t}/dir/capbin
    chown 1000:1000 ${t}/dir/sub/big && chown -h 33:34 ${t}/rel-link
    echo big-ids > ${t}/biguid && chown 3000000:3000001 ${t}/biguid
    setfattr -n user.comment -v hello ${t}/dir && setfattr -n trusted.custom -v 0x00ff80 ${t}/dir/a
    touch -d @1500000000 ${t}/dir/sub/big && touch -h -d @123456789 ${t}/abs-link && touch -d @1700000000 ${t}/dir
  `);
}

describe('layer round trips', () => {
  let w: string;
  let tree: string;
  let expected: Awaited<ReturnType<typeof describeTree>>;
  before(async () => {
    w = mkdtempSync(join(tmpdir(), 'wharf-roundtrip-'));
    tree = join(w, 'tree');
    mkdirSync(tree);
    buildFixture(tree);
    expected = await describeTree(tree);
    // The fixture really has what the round trips must carry.
    assert.equal(
      expected['dir/capbin']!.xattrs['security.capability'],
      Buffer.from(CAPABILITY.slice(2), 'hex').toString('base64'),
    );
    assert.equal(expected['dir/sub/hard2']!.hardlinkGroup, 'dir/a');
    assert.equal(expected.biguid!.uid, 3_000_000);
    assert.equal(expected.loopdev!.type, 'block');
    assert.equal(expected['dir/a']!.mode, 0o4755);
  });
  after(() => rmSync(w, { recursive: true, force: true }));

  const fresh = (name: string): string => {
    const dir = join(w, name);
    mkdirSync(dir);
    return dir;
  };

  for (const compression of ['none', 'gzip', 'zstd', 'xz'] as const) {
    it(`diff then apply reproduces the tree (${compression})`, async () => {
      const diff = diffDirectories(undefined, tree, {
        compression: compression === 'gzip' ? 'gzip' : 'none',
      });
      let layer = await collect(diff.stream);
      const made = await diff.result;
      if (compression === 'zstd' || compression === 'xz') {
        layer = execFileSync(compression, ['-c', '-q'], { input: layer, maxBuffer: 1 << 28 });
      }
      const target = fresh(`apply-${compression}`);
      const applied = await applyLayer([layer], target, { expectedDiffID: made.diffID });
      assert.equal(applied.compression, compression);
      assert.equal(applied.diffID, made.diffID);
      assert.equal(applied.size, made.diffSize);
      assert.deepEqual(await describeTree(target), expected);
      // The same layer read from a file (the fast path: synchronous reads, no copies for plain tars).
      const file = join(w, `layer-${compression}`);
      writeFileSync(file, layer);
      const fromFile = fresh(`apply-file-${compression}`);
      assert.equal((await applyLayer(file, fromFile, { expectedDiffID: made.diffID })).diffID, made.diffID);
      assert.deepEqual(await describeTree(fromFile), expected);
    });
  }

  it('is deterministic: same tree, same bytes; a copy of the tree, same diffID', async () => {
    const first = await collect(diffDirectories(undefined, tree, { compression: 'gzip' }).stream);
    const second = await collect(diffDirectories(undefined, tree, { compression: 'gzip' }).stream);
    assert.ok(first.equals(second));
    const copy = join(w, 'copy');
    sh(`cp -a ${tree} ${copy}`);
    const a = diffDirectories(undefined, tree);
    const b = diffDirectories(undefined, copy);
    await Promise.all([collect(a.stream), collect(b.stream)]);
    assert.equal((await a.result).diffID, (await b.result).diffID);
  });

  it('clamps mtimes to SOURCE_DATE_EPOCH', async () => {
    const diff = diffDirectories(undefined, tree, { sourceDateEpoch: 1_600_000_000 });
    const layer = await collect(diff.stream);
    const target = fresh('epoch');
    await applyLayer([layer], target);
    const applied = await describeTree(target);
    assert.equal(applied['dir/sub/big']!.mtime, 1_500_000_000, 'older mtimes stay');
    assert.equal(applied['abs-link']!.mtime, 123456789);
    assert.equal(applied.dir!.mtime, 1_600_000_000, 'newer mtimes are clamped');
    assert.equal(applied['dir/a']!.mtime, 1_600_000_000);
  });

  it('GNU tar extracts our layers, and we apply GNU tar archives', async () => {
    const layer = await collect(diffDirectories(undefined, tree).stream);
    const byGnu = fresh('by-gnu');
    execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '-xpf', '-', '-C', byGnu], {
      input: layer,
    });
    assert.deepEqual(await describeTree(byGnu, { dirTimes: false }), stripDirTimes(expected));
    for (const format of ['pax', 'gnu'] as const) {
      const args = ['--numeric-owner', `--format=${format}`, '-cf', '-', '-C', tree, '.'];
      if (format === 'pax') args.unshift('--xattrs', '--xattrs-include=*');
      const archive = execFileSync('tar', args, { maxBuffer: 1 << 28 });
      const target = fresh(`from-gnu-${format}`);
      await applyLayer([archive], target);
      const want = format === 'pax' ? expected : withoutXattrs(expected);
      assert.deepEqual(await describeTree(target), want);
    }
  });

  it('through an overlay snapshot: deletions, opaque directories, copy-ups and renames', async () => {
    const roots = join(w, 'snapshots');
    const overlay = await OverlaySnapshotter.open(join(roots, 'overlay'));
    const native = await NativeSnapshotter.open(join(roots, 'native'));
    try {
      const base = diffDirectories(undefined, tree);
      const baseLayer = await collect(base.stream);
      const baseDiffID = (await base.result).diffID;
      await unpackLayers(overlay, [{ diffID: baseDiffID, open: () => [baseLayer] }]);
      const mounts = await overlay.prepare('work', baseDiffID);
      await withTempMount(mounts, async (dir) => {
        sh(`set -e; cd ${dir}
          rm dir/a
          rm -rf "sp ace" && mkdir "sp ace" && echo new > "sp ace/new"
          echo changed >> dir/sub/big
          chmod 600 hard1
          ln dir/sub/big newhard
          rm -rf empty "ünï"
          mkdir newdir && setfattr -n user.x -v y newdir
          mv dir/random moved-random
          mv dirtomove dirmoved
          mkfifo newfifo
          rm rel-link && echo now-a-file > rel-link
          rm dir/sub/hard2 && mkdir dir/sub/hard2
          setfattr -n user.added -v 1 dir/capbin`);
      });
      const merged = await withTempMount(mounts, (dir) => describeTree(dir));
      assert.equal(merged['sp ace/old'], undefined);
      assert.ok(merged['dirmoved/f'] && !merged.dirtomove);

      const diff = await diffSnapshot(overlay, 'work');
      const layer = await collect(diff.stream);
      const { diffID } = await diff.result;
      const names = execFileSync('tar', ['-tf', '-'], { input: layer, encoding: 'utf8' }).split('\n');
      assert.ok(names.includes('sp ace/.wh..wh..opq'), 'the recreated directory is opaque');
      assert.ok(names.includes('dir/.wh.a') && names.includes('.wh.empty'), 'deletions are whiteouts');

      const layers = [
        { diffID: baseDiffID, open: () => [baseLayer] },
        { diffID, open: () => [layer] },
      ];
      for (const sn of [native, overlay]) {
        const { chainID } = await unpackLayers(sn, layers);
        const view = await sn.view(`check-${sn.name}`, chainID);
        assert.deepEqual(
          await withTempMount(view, (dir) => describeTree(dir)),
          merged,
          `unpacked with ${sn.name}`,
        );
        await sn.remove(`check-${sn.name}`);
      }

      // The copy snapshotter's two-tree diff gives the same result for the same changes.
      const copyMounts = await native.prepare('copy-work', baseDiffID);
      await withTempMount(copyMounts, (dir) =>
        Promise.resolve(
          sh(`cd ${dir} && rm -rf "sp ace" && mkdir "sp ace" && echo new > "sp ace/new" && rm dir/a`),
        ),
      );
      const nativeDiff = await diffSnapshot(native, 'copy-work');
      const nativeLayer = await collect(nativeDiff.stream);
      const check = fresh('native-diff');
      await applyLayer([baseLayer], check);
      await applyLayer([nativeLayer], check);
      const want = await withTempMount(copyMounts, (dir) => describeTree(dir));
      assert.deepEqual(await describeTree(check), want);
    } finally {
      overlay.close();
      native.close();
    }
  });

  it('overlay apply sees the lower layers: their symlinks, their files for hardlinks, their directories', async () => {
    const roots = join(w, 'merged-lookups');
    const overlay = await OverlaySnapshotter.open(join(roots, 'overlay'));
    try {
      const base = tarOf([
        { name: 'usr/', type: 'dir' },
        { name: 'usr/lib/', type: 'dir', mode: 0o750, uid: 7, gid: 8, mtime: 1234 },
        { name: 'usr/lib/a', body: 'lower a' },
        { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
        { name: 'opaque/', type: 'dir' },
        { name: 'opaque/hidden', body: 'hidden' },
        { name: 'gone/', type: 'dir' },
        { name: 'gone/x', body: 'x' },
      ]);
      const top = tarOf([
        { name: 'lib/x', body: 'via the lower symlink' },
        { name: 'hl', type: 'link', linkname: 'usr/lib/a' },
        { name: 'opaque/.wh..wh..opq' },
        { name: 'opaque/kept', body: 'kept' },
        { name: '.wh.gone' },
        { name: 'gone/', type: 'dir' },
        { name: 'gone/fresh', body: 'fresh' },
      ]);
      const plain = fresh('merged-plain');
      const baseResult = await applyLayer([base], plain);
      const topResult = await applyLayer([top], plain);
      const { chainID } = await unpackLayers(overlay, [
        { diffID: baseResult.diffID, open: () => [base] },
        { diffID: topResult.diffID, open: () => [top] },
      ]);
      const view = await overlay.view('check', chainID as Digest);
      const merged = await withTempMount(view, (dir) => describeTree(dir, { dirTimes: false }));
      assert.deepEqual(merged, await describeTree(plain, { dirTimes: false }));
      assert.equal(merged['usr/lib/x']?.type, 'file');
      assert.equal(merged['usr/lib']?.mode, 0o750, 'the copied-up parent keeps its lower metadata');
      assert.equal(merged['gone/x'], undefined);
      assert.equal(merged['opaque/hidden'], undefined);
      assert.equal(merged.hl?.hardlinkGroup, 'hl');
    } finally {
      overlay.close();
    }
  });
});

function stripDirTimes(tree: Awaited<ReturnType<typeof describeTree>>): typeof tree {
  return Object.fromEntries(
    Object.entries(tree).map(([k, v]) => {
      if (v.type !== 'dir') return [k, v];
      const { mtime: _mtime, ...rest } = v;
      return [k, rest];
    }),
  );
}

function withoutXattrs(tree: Awaited<ReturnType<typeof describeTree>>): typeof tree {
  return Object.fromEntries(Object.entries(tree).map(([k, v]) => [k, { ...v, xattrs: {} }]));
}
