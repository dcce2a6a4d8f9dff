// Hard-linked COPY (src/build/fs/context-links.ts): with `linkContext` (the daemon's context
// slots), a context COPY links the context's files into its layer instead of copying them. What it
// must keep: the layer is the one a copy makes (compared with a --no-cache build without links, and
// through the cases where the copier replaces, refuses or merges), anything a link cannot be is
// copied, and a later sync of the context directory (src/daemon/context-sync.ts) never changes a
// built layer.
import assert from 'node:assert/strict';
import { link, lstat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import tar from 'tar-stream';
import { syncContext } from '../../../src/daemon/context-sync.ts';
import { type BuildFixture, type BuiltImage, buildFixture, buildTestsMissing } from './helpers.ts';

const skip = buildTestsMissing();

/** `nlink path` lines a RUN step wrote, as an object. */
function links(text: string): Record<string, number> {
  return Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((line) => {
        const [count, path] = line.split(' ');
        return [path!, Number(count)];
      }),
  );
}

/**
 * A layer as `tar -tv` lists it, directories without their date: a directory the copy creates or
 * writes into without a source entry to date it from is dated when the copy runs.
 */
async function listing(image: BuiltImage, index: number): Promise<string[]> {
  return (await image.layerListing(index)).map((line) =>
    line.startsWith('d') ? line.replace(/\d{4}-\d\d-\d\d \d\d:\d\d/, 'DATE') : line,
  );
}

async function tarOf(files: Array<{ name: string; content: string; mode: number; mtime: number }>) {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
  const done = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const f of files)
    pack.entry({ name: f.name, mode: f.mode, mtime: new Date(f.mtime * 1000) }, f.content);
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function* chunks(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}

describe('build: COPY hard-linked from a context slot', { skip }, () => {
  let fx: BuildFixture;
  before(async () => {
    fx = await buildFixture();
  });
  after(() => fx?.cleanup());

  it('links the context files into the layer, which is byte for byte the one a copy makes', async () => {
    const ctx = await fx.context({
      Dockerfile:
        "FROM busybox\nWORKDIR /app\nCOPY . .\nRUN stat -c '%h %n' /app/a.txt /app/sub/b.txt /app/run.sh > /links\n",
      'a.txt': 'a',
      'sub/b.txt': 'b',
      'run.sh': { content: '#!/bin/sh\necho hi\n', mode: 0o755 },
      'to-a': { symlink: 'a.txt' },
    });
    // dated in the past: a directory the links moved and did not date back would show
    for (const path of ['a.txt', 'sub/b.txt', 'run.sh', 'sub', '.']) await utimes(join(ctx, path), 1e9, 1e9);
    const linked = await fx.buildIn(ctx, { linkContext: true });
    // in the layer's snapshot, each file is the context's inode (context + layer)
    assert.deepEqual(links(await linked.read('/links')), {
      '/app/a.txt': 2,
      '/app/sub/b.txt': 2,
      '/app/run.sh': 2,
    });
    assert.equal((await lstat(join(ctx, 'a.txt'))).nlink, 2);
    assert.equal(await linked.read('/app/sub/b.txt'), 'b');
    assert.equal((await linked.stat('/app/run.sh')).mode & 0o7777, 0o755);
    assert.equal(await linked.readlink('/app/to-a'), 'a.txt');

    const copied = await fx.buildIn(ctx, { noCache: true });
    assert.deepEqual(links(await copied.read('/links')), {
      '/app/a.txt': 1,
      '/app/sub/b.txt': 1,
      '/app/run.sh': 1,
    });
    assert.equal(
      linked.config.rootfs.diff_ids[2],
      copied.config.rootfs.diff_ids[2],
      'the linked COPY layer is byte-identical to a copied one',
    );

    // the context files have another name now (the layer's), yet no other in the context: copy
    // reuse still takes them, linking the unchanged ones from the last layer (the copied one;
    // a link of the context's file would have 3 names) and copying the changed one
    await writeFile(join(ctx, 'a.txt'), 'a, changed');
    const reused = await fx.buildIn(ctx, { linkContext: true });
    assert.deepEqual(links(await reused.read('/links')), {
      '/app/a.txt': 1,
      '/app/sub/b.txt': 2,
      '/app/run.sh': 2,
    });
    assert.equal(await reused.read('/app/a.txt'), 'a, changed');
  });

  it('makes what a copy makes where the copier replaces, merges, refuses or copies twice', async () => {
    const files = {
      'one/x.txt': 'from one',
      'one/same.txt': 'one',
      'two/x.txt': 'from two',
      'clash/x.txt/inner': 'a directory where one/ has a file',
      'etc-file': 'replaces a file of the image',
      'bin-file': 'into a directory only the image has',
      'sub/deep.txt': 'copied twice by one COPY',
      'hard-a': 'one inode, two names',
      'own.txt': 'in a layer of its own',
    };
    const dockerfile = [
      'FROM busybox',
      'RUN mkdir -p /etc && echo old > /etc/thing && mkdir -p /opt/keep',
      // a planned file replaced by a later source's file
      'COPY one/ two/ /merged/',
      // a lower file replaced (a whiteout in the upper directory until the link takes its place)
      'COPY etc-file /etc/thing',
      // into a directory that only a lower layer has: copied up before the link is made
      'COPY bin-file /opt/keep/',
      // a layer of its own, made on an empty snapshot
      'COPY --link own.txt /on-its-own/',
      // one source under two targets: linked once, copied once (not a hard link in the layer)
      'COPY . sub /twice/',
    ].join('\n');
    const ctx = await fx.context({ Dockerfile: `${dockerfile}\n`, ...files });
    await link(join(ctx, 'hard-a'), join(ctx, 'hard-b'));
    const linked = await fx.buildIn(ctx, { linkContext: true });
    const copied = await fx.buildIn(ctx, { noCache: true });
    for (let index = 2; index <= 6; index++) {
      assert.deepEqual(await listing(linked, index), await listing(copied, index), `layer ${index}`);
    }
    assert.equal(await linked.read('/merged/x.txt'), 'from two');
    assert.equal(await linked.read('/etc/thing'), 'replaces a file of the image');
    assert.equal(await linked.read('/opt/keep/bin-file'), 'into a directory only the image has');
    assert.equal(await linked.read('/twice/deep.txt'), 'copied twice by one COPY');
    assert.equal(await linked.read('/on-its-own/own.txt'), 'in a layer of its own');
    const twice = await linked.layerListing(6);
    assert.ok(!twice.some((line) => line.startsWith('h') && line.includes('deep.txt')), twice.join('\n'));
    assert.ok(
      twice.some((line) => line.startsWith('h') && /twice\/hard-b link to twice\/hard-a/.test(line)),
      'a hard link inside the context stays one',
    );

    // a directory where a planned file is: refused as a copy refuses it
    const clash = await fx.context({ Dockerfile: 'FROM busybox\nCOPY one/ clash/ /dst/\n', ...files });
    const refused = await fx.buildIn(clash, { linkContext: true }).catch((error: Error) => error);
    const copyRefused = await fx.buildIn(clash, { noCache: true }).catch((error: Error) => error);
    assert.ok(refused instanceof Error && copyRefused instanceof Error);
    assert.match(refused.message, /cannot copy to non-directory/);
    assert.match(copyRefused.message, /cannot copy to non-directory/);
  });

  it('links a file into one layer only: a second COPY of it, in this build or a later one, copies', async () => {
    const ctx = await fx.context({
      Dockerfile:
        "FROM busybox\nCOPY a.txt /one/\nCOPY a.txt /two/\nRUN stat -c '%h %i %n' /one/a.txt /two/a.txt > /links\n",
      'Dockerfile.next':
        "FROM linked:twice\nCOPY a.txt /three/\nRUN stat -c '%h %i %n' /one/a.txt /three/a.txt > /links\n",
      'a.txt': 'a',
    });
    const image = await fx.buildIn(ctx, { linkContext: true, tags: ['linked:twice'] });
    const [one, two] = (await image.read('/links'))
      .trim()
      .split('\n')
      .map((line) => line.split(' '));
    assert.equal(one?.[0], '2', 'the first COPY links');
    assert.equal(two?.[0], '1', 'the second copies');
    assert.notEqual(one?.[1], two?.[1], 'two paths, two inodes');
    const next = await fx.buildIn(ctx, {
      linkContext: true,
      dockerfile: { path: join(ctx, 'Dockerfile.next') },
    });
    const [first, three] = (await next.read('/links'))
      .trim()
      .split('\n')
      .map((line) => line.split(' '));
    assert.equal(three?.[0], '1', 'the file is in a layer already: copied');
    assert.notEqual(first?.[1], three?.[1]);
  });

  it('copies what a link cannot be: --chown, --chmod', async () => {
    const ctx = await fx.context({
      Dockerfile: [
        'FROM busybox',
        'COPY --chown=7:8 a.txt /owned/',
        'COPY --chmod=600 a.txt /moded/',
        "RUN stat -c '%h %u:%g %a %n' /owned/a.txt /moded/a.txt > /links",
        '',
      ].join('\n'),
      'a.txt': 'a',
    });
    const image = await fx.buildIn(ctx, { linkContext: true });
    assert.deepEqual((await image.read('/links')).trim().split('\n'), [
      '1 7:8 644 /owned/a.txt',
      '1 0:0 600 /moded/a.txt',
    ]);
    assert.equal((await lstat(join(ctx, 'a.txt'))).nlink, 1);
  });

  it('a later sync of the context directory never changes a built layer', async () => {
    const T0 = 1_700_000_000;
    const first = [
      { name: 'Dockerfile', content: 'FROM busybox\nCOPY . /app/\n', mode: 0o644, mtime: T0 },
      { name: 'meta.txt', content: 'same bytes', mode: 0o644, mtime: T0 },
      { name: 'bytes.txt', content: 'old bytes', mode: 0o644, mtime: T0 },
    ];
    const dir = join(fx.root, 'slot');
    const signal = new AbortController().signal;
    const synced = await syncContext(chunks(await tarOf(first)), dir, { signal });
    const built = await fx.buildIn(dir, {
      linkContext: true,
      ...(synced.entries ? { contextStats: synced.entries } : {}),
      ...(synced.digests ? { contextDigests: synced.digests } : {}),
      tags: ['linked:first'],
    });
    assert.equal((await lstat(join(dir, 'meta.txt'))).nlink, 2);

    // same bytes with another mode and mtime, and other bytes of the same size
    const second = [
      first[0]!,
      { name: 'meta.txt', content: 'same bytes', mode: 0o600, mtime: T0 + 100 },
      { name: 'bytes.txt', content: 'new bytes', mode: 0o644, mtime: T0 },
    ];
    const again = await syncContext(chunks(await tarOf(second)), dir, { signal });
    assert.equal(again.kept, 1, 'only the Dockerfile is kept');
    assert.equal((await lstat(join(dir, 'meta.txt'))).mode & 0o7777, 0o600);

    // the first image's snapshot (what containers run on) is as it was built
    const check = await fx.build(
      "FROM linked:first\nRUN stat -c '%a %Y %n' /app/meta.txt > /out && cat /app/bytes.txt >> /out\n",
    );
    assert.equal(await check.read('/out'), `644 ${T0} /app/meta.txt\nold bytes`);
    assert.equal(await built.read('/app/bytes.txt'), 'old bytes');
  });
});
