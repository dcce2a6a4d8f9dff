/**
 * `diff`, `commit`, `export`, `cp` and `image diff` through the real `wharf` binary on real
 * containers (crun/runc, overlay snapshots): exactly the changes a container made, an image
 * whose new container sees them, a tar of the container's files, Docker's copy rules both ways
 * and with `-`, and copies that never leave the container root through symlinks to `/` or
 * `../../..`, running or stopped (a sentinel directory on the host is hashed before and after).
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { wharfBin } from '../../helpers/wharf.ts';
import {
  type ContainerFixture,
  containerTestsSkipReason,
  makeContainerFixture,
} from '../container/helpers.ts';

const skip = await containerTestsSkipReason();

function hashTree(dir: string): string {
  const hash = createHash('sha256');
  const walk = (path: string) => {
    for (const name of readdirSync(path).sort()) {
      const full = join(path, name);
      const stats = lstatSync(full);
      hash.update(`${full} ${stats.mode} ${stats.size}\n`);
      if (stats.isDirectory()) walk(full);
      else if (stats.isFile()) hash.update(readFileSync(full));
    }
  };
  walk(dir);
  return hash.digest('hex');
}

/** Runs `tar ARGS` on `input` bytes; returns stdout. */
function tar(args: string[], input?: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('tar', args, { maxBuffer: 64 * 1024 * 1024 }, (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    );
    child.stdin!.end(input);
  });
}

/** The wharf binary's stdout as bytes (for tar streams). */
function wharfBytes(fx: ContainerFixture, args: string[], input?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      wharfBin,
      fx.argv(args),
      { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) =>
        error ? reject(new Error(`${args.join(' ')}: ${stderr.toString()}`)) : resolve(stdout),
    );
    child.stdin!.end(input);
  });
}

/** `KIND PATH` lines a layer's tar means against its parent's files (what `image diff` must list). */
async function layerChanges(fx: ContainerFixture, parent: string, child: string): Promise<string[]> {
  const blob = async (image: string, index: number) => {
    const layers = JSON.parse(
      await fx.ok(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', image]),
    ) as string[];
    const digest = layers.at(index)!;
    return join(fx.root, 'content', 'blobs', 'sha256', digest.slice('sha256:'.length));
  };
  const listing = async (file: string) =>
    (await tar(['-tvf', file]))
      .split('\n')
      .filter(Boolean)
      .map((line) => ({
        dir: line.startsWith('d'),
        name: line
          .split(/\s+/)
          .slice(5)
          .join(' ')
          .replace(/ -> .*$/, ''),
      }));
  const clean = (name: string) => `/${name.replace(/^\.\//, '').replace(/\/$/, '')}`;
  const parentFiles = new Map<string, boolean>();
  const layers = JSON.parse(
    await fx.ok(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', parent]),
  ) as string[];
  for (let i = 0; i < layers.length; i++) {
    for (const entry of await listing(await blob(parent, i))) parentFiles.set(clean(entry.name), entry.dir);
  }
  const out: string[] = [];
  for (const entry of await listing(await blob(child, -1))) {
    const path = clean(entry.name);
    const base = path.slice(path.lastIndexOf('/') + 1);
    if (base.startsWith('.wh.')) out.push(`D ${path.slice(0, path.lastIndexOf('/') + 1)}${base.slice(4)}`);
    else if (!parentFiles.has(path)) out.push(`A ${path}`);
    else if (!entry.dir) out.push(`C ${path}`);
    // a directory the parent had, carried up to hold a change: not a difference by itself
  }
  return out.sort();
}

function kindsAndPaths(imageDiff: string): string[] {
  return imageDiff
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((line) => line.split(/\s+/).slice(0, 2).join(' '))
    .sort();
}

describe('container filesystem verbs', { skip }, () => {
  let fx: ContainerFixture;
  let work: string;

  before(async () => {
    fx = await makeContainerFixture();
    work = await mkdtemp(join(tmpdir(), 'wharf-cpwork-'));
    await fx.ok([
      'run',
      '--name',
      'changed',
      'busybox',
      'sh',
      '-c',
      'echo new > /added; echo more >> /etc/passwd; rm /etc/group; mkdir /newdir; echo f > /newdir/f',
    ]);
  });

  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
    await fx?.cleanup();
  });

  it('diff lists exactly what the container added, changed and deleted', async () => {
    assert.deepEqual((await fx.ok(['diff', 'changed'])).split('\n'), [
      'A /added',
      'C /etc',
      'D /etc/group',
      'C /etc/passwd',
      'A /newdir',
      'A /newdir/f',
    ]);
    const untouched = await fx.ok(['run', '-d', 'busybox', 'sleep', '30']);
    assert.equal(await fx.ok(['diff', untouched]), '', "the runtime's mount points are no change");
    await fx.ok(['rm', '-f', untouched]);
  });

  it('commit makes an image whose containers see the changes, with its history entry', async () => {
    const id = await fx.ok([
      'commit',
      '-m',
      'my change',
      '-a',
      'Wharf Tester',
      '-c',
      'ENV COMMITTED=yes',
      'changed',
      'committed:1',
    ]);
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    const seen = await fx.ok([
      'run',
      '--rm',
      'committed:1',
      'sh',
      '-c',
      'cat /added /newdir/f; test -e /etc/group || echo no-group; tail -n1 /etc/passwd; echo $COMMITTED',
    ]);
    assert.equal(seen, 'new\nf\nno-group\nmore\nyes');
    const history = await fx.ok([
      'history',
      '--no-trunc',
      '--format',
      '{{.CreatedBy}}|{{.Comment}}',
      'committed:1',
    ]);
    assert.equal(
      history.split('\n')[0],
      'sh -c echo new > /added; echo more >> /etc/passwd; rm /etc/group; mkdir /newdir; echo f > /newdir/f|my change',
    );
    assert.equal(await fx.ok(['image', 'inspect', '-f', '{{.Author}}', 'committed:1']), 'Wharf Tester');
    // The layer holds the container's changes and nothing else (no runtime mount points).
    assert.deepEqual(
      kindsAndPaths(await fx.ok(['image', 'diff', 'busybox', 'committed:1'])),
      await layerChanges(fx, 'busybox', 'committed:1'),
    );
    assert.deepEqual(kindsAndPaths(await fx.ok(['image', 'diff', 'busybox', 'committed:1'])), [
      'A /added',
      'A /newdir',
      'A /newdir/f',
      'C /etc/passwd',
      'D /etc/group',
    ]);
  });

  it('commit pauses a running container and leaves it running', async () => {
    const id = await fx.ok(['run', '-d', 'busybox', 'sh', '-c', 'echo live > /live; sleep 60']);
    for (let i = 0; i < 50 && !(await fx.ok(['diff', id])).includes('/live'); i++)
      await new Promise((r) => setTimeout(r, 100));
    await fx.ok(['commit', id, 'committed:live']);
    assert.equal(await fx.ok(['inspect', '-f', '{{.State.Status}}', id]), 'running');
    assert.equal(await fx.ok(['run', '--rm', 'committed:live', 'cat', '/live']), 'live');
    await fx.ok(['rm', '-f', id]);
  });

  it('image diff of an image and its child built by one RUN lists that layer', async () => {
    const context = join(work, 'build-context');
    mkdirSync(context, { recursive: true });
    writeFileSync(
      join(context, 'Dockerfile'),
      'FROM busybox\nRUN mkdir -p /app/lib && echo hi > /app/lib/x && rm /bin/true && echo y >> /etc/passwd\n',
    );
    await fx.ok(['build', '-q', '-t', 'child:1', context], { timeoutMs: 120_000 });
    const listed = kindsAndPaths(await fx.ok(['image', 'diff', 'busybox', 'child:1']));
    assert.deepEqual(listed, await layerChanges(fx, 'busybox', 'child:1'));
    assert.deepEqual(listed, ['A /app', 'A /app/lib', 'A /app/lib/x', 'C /etc/passwd', 'D /bin/true']);
    const reverse = kindsAndPaths(await fx.ok(['image', 'diff', 'child:1', 'busybox']));
    assert.deepEqual(reverse, ['A /bin/true', 'C /etc/passwd', 'D /app']);
  });

  it('export writes the container filesystem as a tar', async () => {
    const names = new Set((await tar(['-t'], await wharfBytes(fx, ['export', 'changed']))).split('\n'));
    for (const name of ['added', 'newdir/f', 'etc/passwd', 'bin/busybox']) assert.ok(names.has(name), name);
    assert.ok(!names.has('etc/group'));
    const file = join(work, 'export.tar');
    await fx.ok(['export', '-o', file, 'changed']);
    assert.ok((await tar(['-tf', file])).includes('newdir/f'));
  });

  it("cp copies both ways with Docker's path rules", async () => {
    const src = join(work, 'src');
    mkdirSync(join(src, 'dir', 'sub'), { recursive: true });
    writeFileSync(join(src, 'file.txt'), 'hello\n');
    writeFileSync(join(src, 'dir', 'sub', 'inner.txt'), 'inner\n');
    symlinkSync('file.txt', join(src, 'link'));
    await fx.ok(['cp', join(src, 'file.txt'), 'changed:/tmp/']);
    await fx.ok(['cp', join(src, 'dir'), 'changed:/tmp/copied']);
    await fx.ok(['cp', `${join(src, 'dir')}/.`, 'changed:/tmp/']);
    await fx.ok(['cp', '-L', join(src, 'link'), 'changed:/tmp/followed']);
    const listing = (await tar(['-tv'], await wharfBytes(fx, ['cp', 'changed:/tmp', '-']))).split('\n');
    const names = listing.map((line) => line.split(/\s+/).slice(5).join(' '));
    for (const name of ['tmp/file.txt', 'tmp/copied/sub/inner.txt', 'tmp/sub/inner.txt', 'tmp/followed']) {
      assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
    }
    const back = join(work, 'back');
    mkdirSync(back);
    await fx.ok(['cp', 'changed:/tmp/copied', join(back, 'renamed')]);
    assert.equal(readFileSync(join(back, 'renamed', 'sub', 'inner.txt'), 'utf8'), 'inner\n');
    await fx.ok(['cp', 'changed:/tmp/copied/.', back]);
    assert.ok(existsSync(join(back, 'sub', 'inner.txt')));
    await fx.ok(['cp', 'changed:/added', join(back, 'added.txt')]);
    assert.equal(readFileSync(join(back, 'added.txt'), 'utf8'), 'new\n');
    const missing = await fx.wharf(['cp', 'changed:/added', join(back, 'no', 'such', 'dir/')]);
    assert.notEqual(missing.code, 0);
    const notFound = await fx.wharf(['cp', 'changed:/no-such-file', back]);
    assert.match(notFound.stderr, /Could not find the file \/no-such-file in container changed/);
    // A tar on stdin lands in a directory, which must exist (as in Docker).
    const archive = execFileSync('tar', ['-c', '-C', src, 'dir'], { maxBuffer: 16 * 1024 * 1024 });
    await assert.rejects(
      wharfBytes(fx, ['cp', '-', 'changed:/tmp/from-stdin'], archive),
      /must be a directory/,
    );
    await fx.ok(['cp', join(src, 'dir', 'sub'), 'changed:/tmp/from-stdin']);
    await wharfBytes(fx, ['cp', '-', 'changed:/tmp/from-stdin'], archive);
    const copied = await tar(
      ['-xO'],
      await wharfBytes(fx, ['cp', 'changed:/tmp/from-stdin/dir/sub/inner.txt', '-']),
    );
    assert.equal(copied, 'inner\n');
  });

  it('cp gives files to root unless -a keeps their owners', async () => {
    const owned = join(work, 'owned.txt');
    writeFileSync(owned, 'owned\n');
    chownSync(owned, 1234, 5678);
    await fx.ok(['cp', owned, 'changed:/tmp/plain.txt']);
    await fx.ok(['cp', '-a', owned, 'changed:/tmp/kept.txt']);
    const listing = await tar(['-tv', '--numeric-owner'], await wharfBytes(fx, ['cp', 'changed:/tmp', '-']));
    assert.match(listing, /0\/0 .* tmp\/plain\.txt/);
    assert.match(listing, /1234\/5678 .* tmp\/kept\.txt/);
  });

  for (const running of [true, false]) {
    it(`cp never leaves the root of a ${running ? 'running' : 'stopped'} container through symlinks`, async () => {
      const sentinel = await mkdtemp(join(tmpdir(), 'wharf-sentinel-'));
      try {
        writeFileSync(join(sentinel, 'secret'), 'host secret\n');
        mkdirSync(join(sentinel, 'dir'));
        const before = hashTree(sentinel);
        const name = `escape-${running ? 'run' : 'stop'}`;
        await fx.ok([
          'run',
          '-d',
          '--name',
          name,
          'busybox',
          'sh',
          '-c',
          `ln -s / /to-root; ln -s ../../../../../../../../.. /to-up; mkdir -p /d/e; ln -s ../../../../../../.. /d/e/up; ${running ? 'sleep 120' : 'true'}`,
        ]);
        if (!running) await fx.ok(['wait', name]);
        else {
          for (let i = 0; i < 50 && !(await fx.ok(['diff', name])).includes('/to-up'); i++) {
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        const payload = join(sentinel, '..', `${sentinel.split('/').pop()}-payload`);
        writeFileSync(payload, 'payload\n');
        const out = join(work, `${name}-out`);
        mkdirSync(out);
        try {
          for (const via of ['/to-root', '/to-up', '/d/e/up']) {
            // Reading through the link names the container's own paths: the host file is not there.
            const read = await fx.wharf(['cp', `${name}:${via}${sentinel}/secret`, out]);
            assert.notEqual(read.code, 0, `${via}: read ${read.stdout}`);
            const readStream = await wharfBytes(fx, ['cp', `${name}:${via}${sentinel}/.`, '-']).catch(() =>
              Buffer.alloc(0),
            );
            assert.ok(!readStream.includes(Buffer.from('host secret')), via);
            // Writing through it lands in the container, or nowhere.
            await fx.wharf(['cp', payload, `${name}:${via}${sentinel}/dir/`]);
            await fx.wharf(['cp', payload, `${name}:${via}${sentinel}/`]);
            await fx.ok(['cp', payload, `${name}:${via}/tmp/`]);
          }
          // The copies made through the links are in the container's /tmp.
          const inside = await tar(['-t'], await wharfBytes(fx, ['cp', `${name}:/tmp/.`, '-']));
          assert.ok(inside.includes(payload.split('/').pop()!));
          assert.equal(hashTree(sentinel), before);
          assert.deepEqual(readdirSync(out), []);
        } finally {
          await rm(payload, { force: true });
          await fx.ok(['rm', '-f', name]);
        }
      } finally {
        await rm(sentinel, { recursive: true, force: true });
      }
    });
  }
});
