// The build context sync of the daemon (src/daemon/context-sync.ts) against GNU tar: after
// syncing a tar into a directory holding an earlier context, the directory is what `tar -x` of
// that tar into an empty one gives (types, modes, bytes, link targets, mtimes, hard links), the
// files that did not change are the same inodes, and hostile names never reach outside it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  linkSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
} from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { syncContext } from '../../../src/daemon/context-sync.ts';

const run = promisify(execFile);

/** What this process has read through read(2) and its kin so far (`rchar` of /proc/self/io). */
function bytesReadByThisProcess(): number {
  return Number(/^rchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1]);
}

type Entry =
  | { name: string; type?: 'file'; content: string; mode?: number; mtime?: number }
  | { name: string; type: 'directory'; mode?: number; mtime?: number }
  | { name: string; type: 'symlink' | 'link'; linkname: string; mtime?: number };

const T0 = 1_700_000_000;

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
  const done = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const entry of entries) {
    const mtime = new Date((entry.mtime ?? T0) * 1000);
    if (entry.type === 'directory')
      pack.entry({ name: entry.name, type: 'directory', mode: entry.mode ?? 0o755, mtime });
    else if (entry.type === 'symlink' || entry.type === 'link')
      pack.entry({ name: entry.name, type: entry.type, linkname: entry.linkname, mtime });
    else if ('content' in entry)
      pack.entry({ name: entry.name, mode: entry.mode ?? 0o644, mtime }, entry.content);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Everything tar would compare: per path its kind, mode, bytes, target, mtime and link group. */
function describeTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const inodes = new Map<number, string>();
  const walk = (relative: string) => {
    for (const name of readdirSync(join(root, relative)).sort()) {
      const path = relative === '' ? name : `${relative}/${name}`;
      const full = join(root, path);
      const st = lstatSync(full);
      const mtime = Math.floor(st.mtimeMs / 1000);
      if (st.isDirectory()) {
        walk(path);
        out[path] = `dir ${(st.mode & 0o7777).toString(8)} ${mtime}`;
      } else if (st.isSymbolicLink()) {
        out[path] = `symlink -> ${readlinkSync(full)} ${mtime}`;
      } else {
        const group = st.nlink > 1 ? (inodes.get(st.ino) ?? path) : '';
        if (st.nlink > 1 && !inodes.has(st.ino)) inodes.set(st.ino, path);
        const hash = createHash('sha256').update(readFileSync(full)).digest('hex').slice(0, 16);
        out[path] = `file ${(st.mode & 0o7777).toString(8)} ${st.size} ${hash} ${mtime} ${group}`;
      }
    }
  };
  walk('');
  return out;
}

async function* chunksOf(bytes: Buffer, size = 7_000): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, offset + size);
}

const FIRST: Entry[] = [
  { name: 'Dockerfile', content: 'FROM busybox\nCOPY . .\n' },
  { name: 'src/', type: 'directory', mode: 0o755 },
  { name: 'src/keep.txt', content: 'unchanged\n' },
  { name: 'src/same-size.txt', content: 'aaaa\n' },
  { name: 'src/gone.txt', content: 'removed later\n' },
  { name: 'src/mode.sh', content: 'echo hi\n', mode: 0o644 },
  { name: 'src/time.txt', content: 'touched\n' },
  { name: 'becomes-dir', content: 'a file first\n' },
  { name: 'becomes-file/', type: 'directory' },
  { name: 'becomes-file/inner.txt', content: 'inner\n' },
  { name: 'link', type: 'symlink', linkname: 'src/keep.txt' },
  { name: 'old-dir/', type: 'directory' },
  { name: 'old-dir/deep/', type: 'directory' },
  { name: 'old-dir/deep/x.txt', content: 'x\n' },
];

const SECOND: Entry[] = [
  { name: './', type: 'directory', mode: 0o755 },
  { name: './Dockerfile', content: 'FROM busybox\nCOPY . .\n' },
  { name: './src/', type: 'directory', mode: 0o750, mtime: T0 + 5 },
  { name: './src/keep.txt', content: 'unchanged\n' },
  { name: './src/same-size.txt', content: 'bbbb\n' },
  { name: './src/mode.sh', content: 'echo hi\n', mode: 0o755 },
  { name: './src/time.txt', content: 'touched\n', mtime: T0 + 60 },
  { name: './src/new.txt', content: 'new\n' },
  { name: './src/hard.txt', type: 'link', linkname: 'src/new.txt' },
  { name: './becomes-dir/', type: 'directory' },
  { name: './becomes-dir/f.txt', content: 'now inside\n' },
  { name: './becomes-file', content: 'now a file\n' },
  { name: './link', type: 'symlink', linkname: 'src/new.txt' },
];

describe('syncContext', () => {
  let work = '';
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'wharf-context-sync-'));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  async function gnuTar(bytes: Buffer, name: string): Promise<string> {
    const dir = join(work, name);
    await mkdir(dir);
    const file = join(work, `${name}.tar`);
    await writeFile(file, bytes);
    await run('tar', ['-x', '--no-same-owner', '-f', file, '-C', dir]);
    return dir;
  }

  it('makes a directory equal to tar -x of the context, into an empty one and over an earlier one', async () => {
    const first = await tarOf(FIRST);
    const second = await tarOf(SECOND);
    const dir = join(work, 'synced');
    const signal = new AbortController().signal;
    const stats1 = await syncContext(chunksOf(first), dir, { signal });
    assert.deepEqual(describeTree(dir), describeTree(await gnuTar(first, 'expected-1')));
    assert.equal(stats1.written, stats1.files);
    const keptInode = lstatSync(join(dir, 'src/keep.txt')).ino;
    const dockerfileInode = lstatSync(join(dir, 'Dockerfile')).ino;

    const stats2 = await syncContext(chunksOf(second), dir, { signal });
    assert.deepEqual(describeTree(dir), describeTree(await gnuTar(second, 'expected-2')));
    // the unchanged files are the same inodes: the builder's digest cache still knows them
    assert.equal(lstatSync(join(dir, 'src/keep.txt')).ino, keptInode);
    assert.equal(lstatSync(join(dir, 'Dockerfile')).ino, dockerfileInode);
    // kept: Dockerfile, keep.txt, mode.sh and time.txt (same bytes; mode and mtime corrected)
    assert.equal(stats2.kept, 4);
    assert.equal(stats2.files, 8);
    assert.ok(stats2.removed >= 2, `removed ${stats2.removed}`); // src/gone.txt, old-dir
    assert.equal(existsSync(join(dir, 'old-dir')), false);

    // the same context again: nothing written, src/new.txt and its hard link src/hard.txt kept
    const stats3 = await syncContext(chunksOf(second), dir, { signal });
    assert.equal(stats3.written, 0);
    assert.equal(stats3.kept, stats3.files);
    assert.equal(stats3.removed, 0);
    assert.deepEqual(describeTree(dir), describeTree(join(work, 'expected-2')));
  });

  it('hands over the lstat of every entry as the sync left it, unless the tar has hard links', async () => {
    const signal = new AbortController().signal;
    const dir = join(work, 'entries');
    const withoutLinks = (entries: Entry[]) => entries.filter((e) => e.type !== 'link');
    for (const entries of [withoutLinks(FIRST), withoutLinks(SECOND), withoutLinks(SECOND)]) {
      const synced = await syncContext(chunksOf(await tarOf(entries)), dir, { signal });
      assert.ok(synced.entries, 'entries handed over');
      const walked = new Map<string, string>();
      const walk = (relative: string) => {
        for (const name of readdirSync(join(dir, relative))) {
          const path = relative === '' ? name : `${relative}/${name}`;
          const st = lstatSync(join(dir, path));
          walked.set(path, [st.mode, st.size, st.mtimeMs, st.ctimeMs, st.ino, st.dev, st.nlink].join(' '));
          if (st.isDirectory()) walk(path);
        }
      };
      walk('');
      for (const [path, expected] of walked) {
        const st = synced.entries.get(path);
        assert.ok(st, `${path} handed over`);
        assert.equal(
          [st.mode, st.size, st.mtimeMs, st.ctimeMs, st.ino, st.dev, st.nlink].join(' '),
          expected,
          path,
        );
      }
    }
    const linked = await syncContext(chunksOf(await tarOf(SECOND)), dir, { signal });
    assert.equal(linked.entries, undefined, 'a hard link moves link counts: nothing handed over');
  });

  it('never changes a file with another name in place, and hashes every file it passes', async () => {
    const signal = new AbortController().signal;
    const dir = join(work, 'shared');
    const elsewhere = join(work, 'shared-layer');
    await mkdir(elsewhere);
    const first: Entry[] = [
      { name: 'meta.txt', content: 'same bytes' },
      { name: 'plain.txt', content: 'plain' },
      { name: 'a.txt', content: 'linked in the tar' },
      { name: 'b.txt', type: 'link', linkname: 'a.txt' },
    ];
    const stats1 = await syncContext(chunksOf(await tarOf(first)), dir, { signal });
    const sha = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
    assert.deepEqual(Object.fromEntries(stats1.digests ?? []), {
      'meta.txt': sha('same bytes'),
      'plain.txt': sha('plain'),
      'a.txt': sha('linked in the tar'),
      'b.txt': sha('linked in the tar'),
    });
    // what a COPY does with the files of a context slot: another name, in a layer
    linkSync(join(dir, 'meta.txt'), join(elsewhere, 'meta.txt'));
    linkSync(join(dir, 'plain.txt'), join(elsewhere, 'plain.txt'));
    const layerMeta = lstatSync(join(elsewhere, 'meta.txt'));

    // the same bytes with another mode and mtime; the same bytes unchanged; and the earlier hard
    // link now two files of the same bytes
    const second: Entry[] = [
      { name: 'meta.txt', content: 'same bytes', mode: 0o600, mtime: T0 + 100 },
      { name: 'plain.txt', content: 'plain' },
      { name: 'a.txt', content: 'linked in the tar' },
      { name: 'b.txt', content: 'linked in the tar' },
    ];
    const stats2 = await syncContext(chunksOf(await tarOf(second)), dir, { signal });
    // kept: plain.txt (its other name does not matter while nothing changes) and a.txt
    assert.equal(stats2.kept, 2);
    assert.equal(lstatSync(join(dir, 'plain.txt')).ino, lstatSync(join(elsewhere, 'plain.txt')).ino);
    assert.notEqual(lstatSync(join(dir, 'a.txt')).ino, lstatSync(join(dir, 'b.txt')).ino);
    // meta.txt is a new file: its other name keeps the mode, mtime and bytes it had
    assert.notEqual(lstatSync(join(dir, 'meta.txt')).ino, layerMeta.ino);
    const after = lstatSync(join(elsewhere, 'meta.txt'));
    assert.deepEqual([after.mode, after.mtimeMs, after.nlink], [layerMeta.mode, layerMeta.mtimeMs, 1]);
    assert.equal(readFileSync(join(elsewhere, 'meta.txt'), 'utf8'), 'same bytes');
    assert.equal(stats2.digests?.get('b.txt'), sha('linked in the tar'));
    // once the other name is gone (the tree compares link groups), the directory is tar -x's
    await rm(join(elsewhere, 'plain.txt'));
    assert.deepEqual(describeTree(dir), describeTree(await gnuTar(await tarOf(second), 'expected-shared')));
  });

  it('trusts what the previous sync left only for files still as it left them, with the same bytes', async () => {
    const signal = new AbortController().signal;
    const dir = join(work, 'previous');
    const big = 'b'.repeat(2 * 1024 * 1024);
    const first: Entry[] = [
      { name: 'big.bin', content: big },
      { name: 'same-size.txt', content: 'version 1' },
      { name: 'touched.txt', content: 'touched' },
    ];
    const synced = await syncContext(chunksOf(await tarOf(first)), dir, { signal });
    const previous = { entries: synced.entries!, digests: synced.digests! };
    const inodes = (path: string) => lstatSync(join(dir, path)).ino;
    const bigInode = inodes('big.bin');
    // between two syncs, a file rewritten in place (what never happens to a slot: its mtime moves)
    await writeFile(join(dir, 'touched.txt'), 'TOUCHED');

    // the same big file, other bytes of the same size and mtime, and the touched file's old bytes
    const second: Entry[] = [
      { name: 'big.bin', content: big },
      { name: 'same-size.txt', content: 'version 2' },
      { name: 'touched.txt', content: 'touched' },
    ];
    const readBefore = bytesReadByThisProcess();
    const stats = await syncContext(chunksOf(await tarOf(second)), dir, { signal, previous });
    const read = bytesReadByThisProcess() - readBefore;
    assert.ok(read < big.length, `big.bin was not read back (${read} bytes read in all)`);
    assert.equal(inodes('big.bin'), bigInode);
    assert.deepEqual([stats.kept, stats.written], [1, 2]);
    // the digest told the bytes apart: written anew
    assert.equal(readFileSync(join(dir, 'same-size.txt'), 'utf8'), 'version 2');
    // not as the previous sync left it: compared, found different, written
    assert.equal(readFileSync(join(dir, 'touched.txt'), 'utf8'), 'touched');
    assert.deepEqual(describeTree(dir), describeTree(await gnuTar(await tarOf(second), 'expected-previous')));

    // without it, the same sync reads every kept file back to compare it
    const readAgain = bytesReadByThisProcess();
    await syncContext(chunksOf(await tarOf(second)), dir, { signal });
    assert.ok(bytesReadByThisProcess() - readAgain >= big.length, 'compared byte for byte');
  });

  it('reads gzip contexts and the docker CLI tar that ends without padding or end blocks', async () => {
    const signal = new AbortController().signal;
    const bytes = await tarOf([
      { name: 'Dockerfile', content: 'FROM busybox\n' },
      { name: 'a.txt', content: 'abc' },
    ]);
    const gz = join(work, 'gz');
    await syncContext(chunksOf(gzipSync(bytes)), gz, { signal });
    assert.equal(readFileSync(join(gz, 'a.txt'), 'utf8'), 'abc');
    // cut right after the last file's 3 bytes, as the docker CLI sends it for `-f` outside the context
    const cut = bytes.subarray(0, 512 * 3 + 3);
    const truncated = join(work, 'truncated');
    await syncContext(chunksOf(cut), truncated, { signal });
    assert.equal(readFileSync(join(truncated, 'a.txt'), 'utf8'), 'abc');
    assert.equal(readFileSync(join(truncated, 'Dockerfile'), 'utf8'), 'FROM busybox\n');
    const empty = join(work, 'empty');
    await mkdir(empty);
    await writeFile(join(empty, 'left'), 'x');
    await syncContext(chunksOf(Buffer.alloc(0)), empty, { signal });
    assert.deepEqual(readdirSync(empty), []);
  });

  it('never writes outside the directory', async () => {
    const signal = new AbortController().signal;
    const outside = join(work, 'outside');
    await mkdir(outside);
    const dir = join(work, 'hostile');
    await assert.rejects(
      syncContext(chunksOf(await tarOf([{ name: '../escape.txt', content: 'no' }])), dir, { signal }),
      /Cannot read the build context: \.\.\/escape\.txt: names with \.\. components are refused/,
    );
    await assert.rejects(
      syncContext(
        chunksOf(
          await tarOf([
            { name: 'out', type: 'symlink', linkname: outside },
            { name: 'out/planted.txt', content: 'no' },
          ]),
        ),
        dir,
        { signal },
      ),
      /its parent out is not a directory in the tar/,
    );
    assert.deepEqual(readdirSync(outside), []);
    // a symlink left by an earlier context in place of a directory is replaced, not followed
    const earlier = join(work, 'earlier');
    await mkdir(earlier);
    symlinkSync(outside, join(earlier, 'sub'));
    await syncContext(chunksOf(await tarOf([{ name: 'sub/f.txt', content: 'inside' }])), earlier, { signal });
    assert.equal(lstatSync(join(earlier, 'sub')).isDirectory(), true);
    assert.equal(readFileSync(join(earlier, 'sub/f.txt'), 'utf8'), 'inside');
    assert.deepEqual(readdirSync(outside), []);
    await assert.rejects(
      syncContext(
        chunksOf(Buffer.from('this is not a tar archive, not at all'.repeat(20))),
        join(work, 'bad'),
        {
          signal,
        },
      ),
      /Cannot read the build context/,
    );
  });
});
