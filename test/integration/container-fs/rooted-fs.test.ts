/**
 * The rooted walker, archiver and extractor against hostile trees: symlinks to `/`, to
 * `../../..`, to absolute host paths, archive entries climbing out, and a process swapping a
 * directory for a symlink to the outside while copies run (the CVE-2018-15664 race). Sentinel
 * files beside the root are hashed before and after: nothing outside the root may be read (its
 * bytes never appear in an archive) or written.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { extractArchive } from '../../../src/container/fs/archive-extractor.ts';
import { archiveEntry } from '../../../src/container/fs/archive-writer.ts';
import { getArchive, putArchive, statPath } from '../../../src/container/fs/container-archive.ts';
import { RootedFs } from '../../../src/container/fs/rooted-fs.ts';
import {
  encodeTarHeader,
  TAR_TRAILER,
  type TarHeader,
  tarPadding,
} from '../../../src/image/layer/tar-format.ts';
import { TarReader } from '../../../src/image/layer/tar-reader.ts';

const SECRET = 'host secret: never in a container archive\n';

/** Path -> content hash (or link target / `dir`) of everything under `dir`. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (path: string) => {
    for (const name of readdirSync(path).sort()) {
      const full = join(path, name);
      const stats = lstatSync(full);
      if (stats.isDirectory()) {
        out.set(full, `dir ${stats.mode}`);
        walk(full);
      } else if (stats.isFile()) out.set(full, createHash('sha256').update(readFileSync(full)).digest('hex'));
      else out.set(full, `other ${stats.mode}`);
    }
  };
  walk(dir);
  return out;
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

async function entries(tar: Buffer): Promise<{ header: TarHeader; data: string }[]> {
  const reader = new TarReader([tar]);
  const out: { header: TarHeader; data: string }[] = [];
  for (let header = await reader.next(); header; header = await reader.next()) {
    const chunks: Buffer[] = [];
    for await (const chunk of reader.body()) chunks.push(Buffer.from(chunk));
    out.push({ header, data: Buffer.concat(chunks).toString('utf8') });
  }
  return out;
}

function tarOf(
  items: Array<{ name: string; type: TarHeader['type']; data?: string; linkname?: string }>,
): Buffer {
  const parts: Buffer[] = [];
  for (const item of items) {
    const data = Buffer.from(item.data ?? '');
    parts.push(
      encodeTarHeader({
        name: item.name,
        type: item.type,
        mode: item.type === 'dir' ? 0o755 : 0o644,
        uid: 0,
        gid: 0,
        size: item.type === 'file' ? data.length : 0,
        mtime: 1_700_000_000,
        linkname: item.linkname ?? '',
        devmajor: 0,
        devminor: 0,
        xattrs: new Map(),
      }),
    );
    if (item.type === 'file') parts.push(data, tarPadding(data.length));
  }
  parts.push(TAR_TRAILER);
  return Buffer.concat(parts);
}

describe('a rooted tree with hostile symlinks', () => {
  let base: string;
  let rootDir: string;
  let outside: string;
  let sentinels: Map<string, string>;
  let root: RootedFs;

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'wharf-rootedfs-'));
    outside = join(base, 'outside');
    rootDir = join(base, 'root');
    mkdirSync(join(outside, 'target'), { recursive: true });
    writeFileSync(join(outside, 'secret'), SECRET);
    writeFileSync(join(outside, 'target', 'secret'), SECRET);
    mkdirSync(join(rootDir, 'etc'), { recursive: true });
    mkdirSync(join(rootDir, 'd', 'e'), { recursive: true });
    mkdirSync(join(rootDir, 'tmp'), { recursive: true });
    writeFileSync(join(rootDir, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
    symlinkSync('/', join(rootDir, 'abs'));
    symlinkSync('../../..', join(rootDir, 'up'));
    symlinkSync('../../../../../../..', join(rootDir, 'd', 'e', 'up'));
    symlinkSync(outside, join(rootDir, 'host'));
    symlinkSync('../outside', join(rootDir, 'rel'));
    symlinkSync(join(outside, 'secret'), join(rootDir, 'secretlink'));
    sentinels = snapshot(outside);
    root = RootedFs.open(rootDir);
  });

  after(async () => {
    root?.close();
    if (base) await rm(base, { recursive: true, force: true });
  });

  it('resolves every escape inside the root', () => {
    const cases: Array<[string, string]> = [
      ['/abs/etc/passwd', 'etc/passwd'],
      ['/up/etc/passwd', 'etc/passwd'],
      ['/d/e/up/etc/passwd', 'etc/passwd'],
      ['/../../../etc/passwd', 'etc/passwd'],
      ['/abs', ''],
    ];
    for (const [path, expected] of cases) {
      const found = root.lookup(path, { follow: true });
      try {
        assert.equal(found.rel, expected, path);
        assert.ok(found.exists, path);
      } finally {
        found.close();
      }
    }
    // A link to a host path names that path inside the root, where there is nothing.
    for (const path of ['/host/secret', '/rel/secret', '/secretlink', `/abs${outside}/secret`]) {
      assert.throws(
        () => {
          const found = root.lookup(path, { follow: true });
          const { exists } = found;
          found.close();
          if (!exists) throw new Error('missing');
        },
        Error,
        path,
      );
    }
  });

  it('never archives what lies outside', async () => {
    for (const path of ['/abs/.', '/up/', '/d/e/up/.', '/host', '/host/', '/rel/.', '/secretlink', '/']) {
      let archive: ReturnType<typeof getArchive> | undefined;
      try {
        archive = getArchive(root, path);
      } catch {
        continue; // not found inside the root: fine
      }
      const all = await entries(await collect(archive.stream));
      assert.ok(
        all.every((entry) => !entry.data.includes('host secret')),
        `${path}: ${all.map((e) => e.header.name).join(' ')}`,
      );
    }
    // A symlink is archived as a link, never followed.
    const link = await entries(await collect(getArchive(root, '/secretlink').stream));
    assert.equal(link[0]!.header.type, 'symlink');
    assert.equal(statPath(root, '/abs').linkTarget, '/');
    assert.deepEqual(snapshot(outside), sentinels);
  });

  it('never writes outside, whatever the destination or the entry names', async () => {
    const payload = tarOf([
      { name: 'pwned', type: 'file', data: 'x' },
      { name: '../../../outside/pwned2', type: 'file', data: 'x' },
      { name: 'lnk', type: 'symlink', linkname: '/' },
      { name: 'lnk/outside/pwned3', type: 'file', data: 'x' },
      { name: 'rlnk', type: 'symlink', linkname: '../../outside' },
      { name: 'rlnk/pwned4', type: 'file', data: 'x' },
      { name: 'hard', type: 'link', linkname: '../../outside/secret' },
    ]);
    for (const dest of ['/tmp', '/up/tmp', '/abs/tmp', '/d/e/up/tmp']) {
      await putArchive(root, dest, [payload]).catch(() => undefined);
    }
    for (const dest of ['/host', '/rel', `/abs${outside}`]) {
      await assert.rejects(putArchive(root, dest, [payload]));
    }
    assert.deepEqual(snapshot(outside), sentinels);
    // What did land, landed inside.
    assert.equal(readFileSync(join(rootDir, 'tmp', 'pwned'), 'utf8'), 'x');
  });

  it('copies a tree with owners, modes, links and extended attributes', async () => {
    const src = join(base, 'src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'sub', 'file'), 'data');
    symlinkSync('file', join(src, 'sub', 'link'));
    const { spawnSync } = await import('node:child_process');
    spawnSync('chown', ['1234:5678', join(src, 'sub', 'file')]);
    spawnSync('chmod', ['4750', join(src, 'sub', 'file')]);
    spawnSync('ln', [join(src, 'sub', 'file'), join(src, 'sub', 'hard')]);
    spawnSync('setfattr', ['-n', 'user.wharf', '-v', 'yes', join(src, 'sub', 'file')]);
    const from = RootedFs.open(src);
    const to = RootedFs.open(rootDir);
    try {
      const top = from.lookup('/sub', { follow: false });
      try {
        await extractArchive(to, '/tmp', archiveEntry(from, top, { name: 'copy' }));
      } finally {
        top.close();
      }
    } finally {
      from.close();
      to.close();
    }
    const copied = join(rootDir, 'tmp', 'copy');
    const file = lstatSync(join(copied, 'file'));
    assert.equal(readFileSync(join(copied, 'file'), 'utf8'), 'data');
    assert.equal(file.uid, 1234);
    assert.equal(file.gid, 5678);
    assert.equal(file.mode & 0o7777, 0o4750);
    assert.equal(lstatSync(join(copied, 'hard')).ino, file.ino);
    assert.ok(lstatSync(join(copied, 'link')).isSymbolicLink());
    const xattr = spawnSync('getfattr', ['--only-values', '-n', 'user.wharf', join(copied, 'file')], {
      encoding: 'utf8',
    });
    assert.equal(xattr.stdout, 'yes');
  });
});

describe('a tree changed while it is copied (the CVE-2018-15664 race)', () => {
  let base: string;
  let rootDir: string;
  let outside: string;
  let swapper: ChildProcess | undefined;

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'wharf-race-'));
    outside = join(base, 'outside');
    rootDir = join(base, 'root');
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(outside, 'f'), SECRET);
    mkdirSync(join(rootDir, 'race', 'inner'), { recursive: true });
    mkdirSync(join(rootDir, 'drop'), { recursive: true });
    writeFileSync(join(rootDir, 'race', 'inner', 'f'), 'inside\n');
    // Swap race/inner (and drop/) between a real directory and links to the outside, as fast as
    // a shell can, as a malicious container would.
    const script = `cd ${rootDir}; while :; do
      mv race/inner race/real; ln -s ${outside} race/inner; rm race/inner; ln -s ../../../outside race/inner; rm race/inner; mv race/real race/inner;
      mv drop drop.real; ln -s ${outside} drop; rm drop; mv drop.real drop;
    done`;
    swapper = spawn('sh', ['-c', script], { stdio: 'ignore' });
  });

  after(async () => {
    if (swapper?.pid) {
      try {
        process.kill(swapper.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await new Promise((resolve) => swapper!.once('close', resolve));
    }
    if (base) await rm(base, { recursive: true, force: true });
  });

  it('reads and writes only inside the root', async () => {
    const sentinels = snapshot(outside);
    const payload = tarOf([{ name: 'x', type: 'file', data: 'written' }]);
    const root = RootedFs.open(rootDir);
    let archived = 0;
    try {
      for (let i = 0; i < 300; i++) {
        try {
          const archive = getArchive(root, i % 2 === 0 ? '/race' : '/race/inner/.');
          const all = await entries(await collect(archive.stream));
          archived++;
          assert.ok(
            all.every((entry) => !entry.data.includes('host secret')),
            'an archive holds the host secret',
          );
        } catch (error) {
          if (error instanceof assert.AssertionError) throw error;
        }
        await putArchive(root, i % 2 === 0 ? '/drop' : '/race/inner', [payload]).catch(() => undefined);
      }
    } finally {
      root.close();
    }
    assert.ok(archived > 0);
    assert.deepEqual(snapshot(outside), sentinels);
  });
});
