// The build cache: persistent, content-addressed, honest. Each test names the item of
// shared/docs/dockerfile-behaviours.md (or the rule of issue 11) it proves.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { chainIds } from '../../../src/oci/chain-id.ts';
import type { Digest } from '../../../src/oci/digest.ts';
import { OverlaySnapshotter } from '../../../src/snapshot/overlay/overlay-snapshotter.ts';
import { wharfBin } from '../../helpers/wharf.ts';
import { type BuildFixture, buildFixture, buildTestsMissing } from './helpers.ts';

const run = promisify(execFile);
const skip = buildTestsMissing();

/** The steps of a build's progress and whether each was CACHED. */
function steps(output: string): Array<[string, boolean]> {
  const out: Array<[string, boolean]> = [];
  const names = new Map<string, string>();
  for (const line of output.split('\n')) {
    const header = /^#(\d+) (\[(?:[\w-]+ )?\s*\d+\/\d+\] .*)$/.exec(line);
    if (header) names.set(header[1]!, header[2]!);
    const end = /^#(\d+) (CACHED|DONE)/.exec(line);
    if (end && names.has(end[1]!)) out.push([names.get(end[1]!)!, end[2] === 'CACHED']);
  }
  return out;
}

const DOCKERFILE = 'FROM busybox\nWORKDIR /app\nCOPY . .\nRUN ls /app > /listing\nENV A=b\n';

describe('build: cache', { skip }, () => {
  let fx: BuildFixture;
  before(async () => {
    fx = await buildFixture();
  });
  after(() => fx?.cleanup());

  it('a rebuild is fully cached and gives the same image id and byte-identical layers', async () => {
    const ctx = await fx.context({ Dockerfile: DOCKERFILE, 'a.txt': 'a', 'b/c.txt': 'c' });
    const first = await fx.buildIn(ctx);
    assert.ok(steps(first.output).every(([, cached]) => !cached));
    const second = await fx.buildIn(ctx);
    assert.deepEqual(
      steps(second.output)
        .filter(([name]) => !name.includes('FROM'))
        .map(([, cached]) => cached),
      [true, true, true],
    );
    assert.equal(second.imageId, first.imageId);
    assert.deepEqual(second.config.rootfs.diff_ids, first.config.rootfs.diff_ids);
    assert.equal(second.executed, 0);
  });

  it('changing one file reruns only the steps from the COPY that copied it on', async () => {
    const ctx = await fx.context({
      Dockerfile: `${DOCKERFILE}COPY a.txt /again/\n`,
      'a.txt': 'a',
      'b/c.txt': 'c',
    });
    await fx.buildIn(ctx);
    await writeFile(join(ctx, 'b/c.txt'), 'changed');
    const image = await fx.buildIn(ctx);
    assert.deepEqual(
      steps(image.output).map(([name, cached]) => [name.replace(/^\[\s*/, '['), cached]),
      [
        ['[1/5] FROM docker.io/library/busybox:latest', false],
        ['[2/5] WORKDIR /app', true],
        ['[3/5] COPY . .', false],
        ['[4/5] RUN ls /app > /listing', false],
        ['[5/5] COPY a.txt /again/', false],
      ],
    );
    assert.equal(await image.read('/app/b/c.txt'), 'changed');
  });

  it('mtime-only changes keep the cache; a content change with size and mtime restored is still seen', async () => {
    const ctx = await fx.context({ Dockerfile: 'FROM busybox\nCOPY f /f\n', f: 'aaaa' });
    await fx.buildIn(ctx);
    await utimes(join(ctx, 'f'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    const touched = await fx.buildIn(ctx);
    assert.match(touched.output, /COPY f \/f\n#\d+ CACHED/);
    // same size, mtime put back: only ctime (and the content) tell
    const before = await stat(join(ctx, 'f'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await writeFile(join(ctx, 'f'), 'bbbb');
    await utimes(join(ctx, 'f'), before.atime, before.mtime);
    const changed = await fx.buildIn(ctx);
    assert.doesNotMatch(changed.output, /COPY f \/f\n#\d+ CACHED/);
    assert.equal(await changed.read('/f'), 'bbbb');
  });

  it('a mode change invalidates COPY; a change in an ignored file does not', async () => {
    const ctx = await fx.context({
      Dockerfile: 'FROM busybox\nCOPY . /c/\n',
      '.dockerignore': 'ignored\n',
      f: 'x',
      ignored: '1',
    });
    await fx.buildIn(ctx);
    await writeFile(join(ctx, 'ignored'), '2');
    assert.match((await fx.buildIn(ctx)).output, /COPY \. \/c\/\n#\d+ CACHED/);
    await chmod(join(ctx, 'f'), 0o700);
    const image = await fx.buildIn(ctx);
    assert.doesNotMatch(image.output, /COPY \. \/c\/\n#\d+ CACHED/);
    assert.equal((await image.stat('/c/f')).mode & 0o777, 0o700);
  });

  it('114, 115: a wildcard COPY stays cached when a non-matching file is added; renaming a match invalidates it', async () => {
    const ctx = await fx.context({
      Dockerfile: 'FROM busybox\nCOPY file* /files/\nRUN ls /files/file1\n',
      file1: '1',
    });
    await fx.buildIn(ctx);
    await writeFile(join(ctx, 'other'), 'o');
    assert.match((await fx.buildIn(ctx)).output, /COPY file\* \/files\/\n#\d+ CACHED/);
    await writeFile(join(ctx, 'file2'), '2');
    assert.doesNotMatch((await fx.buildIn(ctx)).output, /COPY file\* \/files\/\n#\d+ CACHED/);
    await rm(join(ctx, 'file2'));
    await rename(join(ctx, 'file1'), join(ctx, 'file3'));
    await assert.rejects(fx.buildIn(ctx), /did not complete successfully/);
  });

  it('every layer a build makes is a snapshot named by its chain ID: containers of the image unpack nothing', async () => {
    const image = await fx.build('FROM busybox\nWORKDIR /w\nCOPY a /w/\nRUN echo r > /r\n', { a: 'A' });
    const snapshotter = await OverlaySnapshotter.open(join(fx.root, 'snapshots', 'overlay'));
    try {
      const ids = chainIds(image.config.rootfs.diff_ids as Digest[]);
      for (const id of ids) assert.equal((await snapshotter.stat(id)).kind, 'committed', id);
    } finally {
      snapshotter.close();
    }
  });

  it('117: --no-cache runs every step again', async () => {
    const ctx = await fx.context({ Dockerfile: 'FROM busybox\nRUN date > /d\n' });
    await fx.buildIn(ctx);
    const image = await fx.buildIn(ctx, { noCache: true });
    assert.ok(steps(image.output).every(([, cached]) => !cached));
  });

  it('a cache record whose layer blob is gone is a miss, never a broken image', async () => {
    const ctx = await fx.context({ Dockerfile: 'FROM busybox\nRUN echo gone > /g\n' });
    const first = await fx.buildIn(ctx);
    await run(wharfBin, ['--root', fx.root, 'rmi', first.imageId]);
    const digest = first.config.rootfs.diff_ids.at(-1)!;
    await rm(join(fx.root, 'content', 'blobs', 'sha256', digest.slice(7)), { force: true });
    const again = await fx.buildIn(ctx);
    assert.doesNotMatch(again.output, /CACHED/);
    assert.equal(await again.read('/g'), 'gone\n');
  });

  it('system df entries count each cached blob once; prune without -a keeps layers images use', async () => {
    const ctx = await fx.context({ Dockerfile: 'FROM busybox\nRUN echo df > /df\n' });
    const image = await fx.buildIn(ctx, { tags: ['df-test:1'] });
    const layer = image.config.rootfs.diff_ids.at(-1)!;
    const usage = fx.service().diskUsage();
    const mine = usage.filter((u) => u.Description.includes('echo df'));
    assert.equal(mine.length, 1);
    assert.equal(mine[0]!.Shared, true);
    assert.ok(mine[0]!.Size > 0);
    await fx.service().prune();
    assert.match((await fx.buildIn(ctx)).output, /RUN echo df > \/df\n#\d+ CACHED/);
    await run(wharfBin, ['--root', fx.root, 'rmi', 'df-test:1']);
    const pruned = await fx.service().prune();
    assert.ok(pruned.removed.length >= 1);
    assert.ok(
      !fx
        .service()
        .diskUsage()
        .some((u) => u.Description.includes('echo df')),
    );
    assert.ok(layer.startsWith('sha256:'));
  });

  it('the cache persists across processes; builder prune empties it; prune -a frees the blobs', async () => {
    const ctx = await fx.context({ Dockerfile: 'FROM busybox\nRUN echo persisted > /p\n' });
    const env = { ...process.env };
    const first = await run(wharfBin, ['--root', fx.root, 'build', '--progress', 'plain', ctx], { env });
    assert.match(first.stderr, /RUN echo persisted > \/p\n#\d+ DONE/);
    const second = await run(wharfBin, ['--root', fx.root, 'build', '--progress', 'plain', ctx], { env });
    assert.match(second.stderr, /RUN echo persisted > \/p\n#\d+ CACHED/);
    const pruned = await run(wharfBin, ['--root', fx.root, 'builder', 'prune', '-a', '-f']);
    assert.match(pruned.stdout, /Deleted build cache objects:\n[0-9a-f]{25}\n/);
    assert.match(pruned.stdout, /Total reclaimed space: /);
    const third = await run(wharfBin, ['--root', fx.root, 'build', '--progress', 'plain', ctx], { env });
    assert.doesNotMatch(third.stderr, /CACHED/);
  });
});
