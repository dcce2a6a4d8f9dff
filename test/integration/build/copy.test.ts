// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Dockerfiles, where ${...} is shell syntax
// COPY and ADD from the context, checked on real builds. Each test names the item of
// shared/docs/dockerfile-behaviours.md it proves.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type BuildFixture, buildFixture, buildTestsMissing } from './helpers.ts';

const run = promisify(execFile);
const skip = buildTestsMissing();

describe('build: COPY and ADD', { skip }, () => {
  let fx: BuildFixture;
  before(async () => {
    fx = await buildFixture();
  });
  after(() => fx?.cleanup());

  it('58, 61: a file copied to dir/ lands inside it; without the slash it becomes that name; parents are made', async () => {
    const image = await fx.build('FROM busybox\nCOPY a.txt /one/two/\nCOPY a.txt /three/four\n', {
      'a.txt': 'A',
    });
    assert.equal(await image.read('/one/two/a.txt'), 'A');
    assert.equal(await image.read('/three/four'), 'A');
    assert.ok((await image.stat('/one/two')).isDirectory());
  });

  it('59: relative destinations resolve against WORKDIR; an empty destination means WORKDIR', async () => {
    const image = await fx.build(
      'FROM busybox\nWORKDIR /w/x\nCOPY a.txt ./\nCOPY a.txt ../up.txt\nCOPY a.txt sub/\nARG empty\nCOPY b.txt $empty\n',
      { 'a.txt': 'A', 'b.txt': 'B' },
    );
    assert.equal(await image.read('/w/x/a.txt'), 'A');
    assert.equal(await image.read('/w/up.txt'), 'A');
    assert.equal(await image.read('/w/x/sub/a.txt'), 'A');
    assert.equal(await image.read('/w/x/b.txt'), 'B');
  });

  it('60: copying a directory copies its contents; dir, dir/ and dir/. alike', async () => {
    const files = { 'dir/f': 'F', 'dir/sub/g': 'G' };
    const image = await fx.build('FROM busybox\nCOPY dir /a/\nCOPY dir/ /b\nCOPY dir/. /c/\n', files);
    for (const d of ['/a', '/b', '/c']) {
      assert.equal(await image.read(`${d}/f`), 'F');
      assert.equal(await image.read(`${d}/sub/g`), 'G');
      assert.equal(await image.exists(`${d}/dir`), false);
    }
  });

  it('62, 114: wildcards (*.go, f*.go, sub/*, sub/*/dir2/foo); one matching nothing is fine beside others', async () => {
    const files = {
      'a.go': 'a',
      'fb.go': 'fb',
      'c.txt': 'c',
      'sub/x': 'x',
      'sub/y/dir2/foo': 'foo',
    };
    const image = await fx.build(
      'FROM busybox\nCOPY *.go /go/\nCOPY f*.go /f/\nCOPY sub/* /s/\nCOPY sub/*/dir2/foo /deep/\nCOPY nomatch* a.go /n/\n',
      files,
    );
    assert.equal(await image.read('/go/a.go'), 'a');
    assert.equal(await image.read('/go/fb.go'), 'fb');
    assert.equal(await image.exists('/go/c.txt'), false);
    assert.deepEqual(await image.exists('/f/a.go'), false);
    assert.equal(await image.read('/f/fb.go'), 'fb');
    assert.equal(await image.read('/s/x'), 'x');
    assert.equal(await image.read('/s/dir2/foo'), 'foo'); // sub/y copied by its contents
    assert.equal(await image.read('/deep/foo'), 'foo');
    assert.equal(await image.read('/n/a.go'), 'a');
  });

  it('63, 110: COPY . copies the whole context minus .dockerignore, which may exclude itself and the Dockerfile', async () => {
    const image = await fx.build('FROM busybox\nCOPY . /ctx/\n', {
      '.dockerignore': 'ba*\n!bay\n.dockerignore\nDockerfile\n',
      bar: 'no',
      bay: 'yes',
      keep: 'k',
    });
    assert.equal(await image.exists('/ctx/bar'), false);
    assert.equal(await image.read('/ctx/bay'), 'yes');
    assert.equal(await image.read('/ctx/keep'), 'k');
    assert.equal(await image.exists('/ctx/Dockerfile'), false);
    assert.equal(await image.exists('/ctx/.dockerignore'), false);
  });

  it('111: a bare ! line in .dockerignore fails the build', async () => {
    const { error } = await fx.fails('FROM busybox\nCOPY . /\n', { '.dockerignore': '!\n' });
    assert.match(error.message, /illegal exclusion pattern: "!"/);
  });

  it('112: <Dockerfile>.dockerignore beside the Dockerfile wins over .dockerignore', async () => {
    const ctx = await fx.context({
      'build.Dockerfile': 'FROM busybox\nCOPY . /ctx/\n',
      'build.Dockerfile.dockerignore': 'a\n',
      '.dockerignore': 'b\n',
      a: 'A',
      b: 'B',
    });
    const image = await fx.buildIn(ctx, { dockerfile: { path: join(ctx, 'build.Dockerfile') } });
    assert.equal(await image.exists('/ctx/a'), false);
    assert.equal(await image.read('/ctx/b'), 'B');
  });

  it('64, 65: variables expand in sources and destination; odd names are copied literally', async () => {
    const image = await fx.build(
      'FROM busybox\nARG FOO=src.txt\nENV DEST=/d\nCOPY $FOO ${DEST}/\nCOPY %C3%A4 a+b ä /odd/\n',
      {
        'src.txt': 'S',
        '%C3%A4': 'pct',
        'a+b': 'plus',
        ä: 'umlaut',
      },
    );
    assert.equal(await image.read('/d/src.txt'), 'S');
    assert.equal(await image.read('/odd/%C3%A4'), 'pct');
    assert.equal(await image.read('/odd/a+b'), 'plus');
    assert.equal(await image.read('/odd/ä'), 'umlaut');
  });

  it('66, 67: a source through a symlinked dir is followed; a symlink source is dereferenced; links inside a copied dir stay links', async () => {
    const image = await fx.build(
      'FROM busybox\nCOPY link/foo /via/\nCOPY l1 /deref/\nCOPY dir /kept/\nCOPY sub/l* /wild/\n',
      {
        'real/foo': 'FOO',
        link: { symlink: 'real' },
        target: 'T',
        l2: { symlink: 'target' },
        l1: { symlink: 'l2' },
        'dir/file': 'F',
        'dir/rel': { symlink: 'file' },
        'dir/dangling': { symlink: 'nowhere' },
        'sub/target': 'ST',
        'sub/lnk': { symlink: 'target' },
      },
    );
    assert.equal(await image.read('/via/foo'), 'FOO');
    assert.equal(await image.read('/deref/l1'), 'T');
    assert.ok((await image.stat('/deref/l1')).isFile());
    assert.equal(await image.readlink('/kept/rel'), 'file');
    assert.equal(await image.readlink('/kept/dangling'), 'nowhere');
    assert.ok((await image.stat('/wild/lnk')).isFile());
    assert.equal(await image.read('/wild/lnk'), 'ST');
  });

  it('issue 11: a source outside the context, or reached through a symlink out of it, is an error naming the line', async () => {
    const outside = await fx.fails('FROM busybox\nCOPY ../secret /x\n');
    assert.match(outside.error.message, /Dockerfile:2: .*outside the build context/);
    const viaLink = await fx.fails('FROM busybox\n\nCOPY etc/passwd /x\n', { etc: { symlink: '/etc' } });
    assert.match(viaLink.error.message, /Dockerfile:3: .*symlink out of the build context/);
    const missing = await fx.fails('FROM busybox\nCOPY nothere /x\n');
    assert.match(missing.error.message, /Dockerfile:2: .*"\/nothere": not found/);
  });

  it('68: a destination through a symlink in the image resolves inside the image root', async () => {
    const image = await fx.build('FROM busybox\nRUN mkdir /real && ln -s /real /lnk\nCOPY a.txt /lnk/\n', {
      'a.txt': 'A',
    });
    assert.equal(await image.read('/real/a.txt'), 'A');
  });

  it('69: a unix socket in the context becomes a regular file', async () => {
    const ctx = await fx.context({ Dockerfile: 'FROM busybox\nCOPY . /ctx/\n' });
    await run('python3', [
      '-c',
      `import socket; s=socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(join(ctx, 'sock'))})`,
    ]);
    const image = await fx.buildIn(ctx);
    assert.ok((await image.stat('/ctx/sock')).isFile());
  });

  it('70, 71: copying the same paths twice overwrites; a dir turned into a file between builds copies the file', async () => {
    const image = await fx.build('FROM busybox\nCOPY a /x/\nCOPY a /x/\n', { 'a/f': 'one' });
    assert.equal(await image.read('/x/f'), 'one');
    const ctx = await fx.context({ Dockerfile: 'FROM busybox\nCOPY thing /t\n', 'thing/inner': 'dir' });
    const first = await fx.buildIn(ctx);
    assert.equal(await first.read('/t/inner'), 'dir');
    await run('rm', ['-rf', join(ctx, 'thing')]);
    await writeFile(join(ctx, 'thing'), 'file now');
    const second = await fx.buildIn(ctx);
    assert.equal(await second.read('/t'), 'file now');
  });

  it('72, 73, 74: --chown takes names, numbers and variables; applies to new files and created dirs; default 0:0', async () => {
    const image = await fx.build(
      'FROM busybox\nARG owner=nobody\nCOPY --chown=${owner}:root a /n/\nCOPY --chown=1000 a /num/\nCOPY --chown=nobody:65534 a /mixed/deep/\nRUN mkdir /exist && chown 42:42 /exist\nCOPY --chown=7:7 a /exist/\nCOPY a /plain/\n',
      { a: { content: 'A', mode: 0o640 } },
    );
    const n = await image.stat('/n/a');
    assert.deepEqual([n.uid, n.gid], [65534, 0]);
    const num = await image.stat('/num/a');
    assert.deepEqual([num.uid, num.gid], [1000, 1000]);
    const mixed = await image.stat('/mixed/deep/a');
    assert.deepEqual([mixed.uid, mixed.gid], [65534, 65534]);
    const created = await image.stat('/mixed/deep');
    assert.deepEqual([created.uid, created.gid], [65534, 65534]);
    const existing = await image.stat('/exist');
    assert.deepEqual([existing.uid, existing.gid], [42, 42]);
    const plain = await image.stat('/plain/a');
    assert.deepEqual([plain.uid, plain.gid, plain.mode & 0o7777], [0, 0, 0o640]);
    assert.deepEqual(
      [(await image.stat('/plain')).uid, (await image.stat('/plain')).mode & 0o777],
      [0, 0o755],
    );
  });

  it('75, 77: --chmod octal (also for created parent dirs) and symbolic with X', async () => {
    const image = await fx.build(
      'FROM busybox\nARG mode=0751\nCOPY --chmod=${mode} a /parent/sub/\nCOPY --chmod=go-w a /sym/\nCOPY --chmod=a+X d /x/\n',
      {
        a: { content: 'A', mode: 0o666 },
        'd/f': { content: 'f', mode: 0o644 },
        'd/e': { content: 'e', mode: 0o744 },
      },
    );
    assert.equal((await image.stat('/parent/sub/a')).mode & 0o7777, 0o751);
    assert.equal((await image.stat('/parent/sub')).mode & 0o7777, 0o751);
    assert.equal((await image.stat('/sym/a')).mode & 0o7777, 0o644);
    assert.equal((await image.stat('/x/f')).mode & 0o7777, 0o644);
    assert.equal((await image.stat('/x/e')).mode & 0o7777, 0o755);
  });

  it("76: an invalid --chmod fails with BuildKit's message", async () => {
    const { error } = await fx.fails('FROM busybox\nCOPY --chmod=64a a /\n', { a: 'A' });
    assert.match(
      error.message,
      /invalid chmod parameter: '64a'. it should be octal string and between 0 and 07777/,
    );
  });

  it('78: --link copies into an independent layer (cached whatever comes before)', async () => {
    const first = await fx.build('FROM busybox\nRUN echo one > /one\nCOPY --link a /l/\n', { a: 'A' });
    assert.equal(await first.read('/l/a'), 'A');
    const second = await fx.build('FROM busybox\nRUN echo two > /two\nCOPY --link a /l/\n', { a: 'A' });
    assert.equal(second.config.rootfs.diff_ids.at(-1), first.config.rootfs.diff_ids.at(-1));
    assert.match(second.output, /COPY --link a \/l\/\n#\d+ CACHED/);
    assert.equal(await second.read('/two'), 'two\n');
  });

  it('79, 80: --parents keeps the relative path; /./ pivots; wildcards work; a missing plain source fails', async () => {
    const files = { 'x/y/a.txt': 'A', 'x/y/b.txt': 'B', 'x/z/c.md': 'C' };
    const image = await fx.build(
      'FROM busybox\nCOPY --parents x/y/a.txt x/*/*.md /p/\nCOPY --parents x/./y/b.txt /q/\n',
      files,
    );
    assert.equal(await image.read('/p/x/y/a.txt'), 'A');
    assert.equal(await image.read('/p/x/z/c.md'), 'C');
    assert.equal(await image.exists('/p/x/y/b.txt'), false);
    assert.equal(await image.read('/q/y/b.txt'), 'B');
    const { error } = await fx.fails('FROM busybox\nCOPY --parents x/none.txt /p/\n', files);
    assert.match(error.message, /not found/);
  });

  it('81: --exclude filters sources, with wildcards; --exclude=* gives an empty dir; symlinks kept', async () => {
    const files = {
      'd/keep.txt': 'k',
      'd/skip.log': 's',
      'd/sub/x.log': 'x',
      'd/ln': { symlink: 'keep.txt' },
    };
    const image = await fx.build(
      'FROM busybox\nCOPY --exclude=*.log --exclude=sub d /e/\nCOPY --exclude=* d /none/\n',
      files,
    );
    assert.equal(await image.read('/e/keep.txt'), 'k');
    assert.equal(await image.exists('/e/skip.log'), false);
    assert.equal(await image.exists('/e/sub'), false);
    assert.equal(await image.readlink('/e/ln'), 'keep.txt');
    assert.ok((await image.stat('/none')).isDirectory());
    assert.equal(await image.exists('/none/keep.txt'), false);
  });

  it('82: COPY refuses URLs', async () => {
    const { error } = await fx.fails('FROM busybox\nCOPY http://example.com/x /\n');
    assert.match(error.message, /source can't be a URL for COPY/);
  });

  it('86, 88: ADD extracts local tars (plain, gzip, bzip2, xz) with implied parents; COPY does not extract', async () => {
    const ctx = await fx.context({
      Dockerfile:
        'FROM busybox\nADD plain.tar gz.tgz bz.tar.bz2 xz.tar.xz /out/\nCOPY plain.tar /copied/\nADD --chown=nobody plain.tar /owned/\n',
    });
    const src = join(ctx, 'src');
    await mkdir(join(src, 'deep/er'), { recursive: true });
    await writeFile(join(src, 'deep/er/file'), 'F');
    await symlink('/etc/passwd', join(src, 'deep/abs'));
    await run('tar', ['-cf', join(ctx, 'plain.tar'), '-C', src, 'deep']);
    for (const [name, flag] of [
      ['gz.tgz', '-z'],
      ['bz.tar.bz2', '-j'],
      ['xz.tar.xz', '-J'],
    ] as const) {
      await run('tar', [
        flag,
        '-cf',
        join(ctx, name),
        '-C',
        src,
        '--transform',
        `s,^deep,${name.split('.')[0]},`,
        'deep',
      ]);
    }
    const image = await fx.buildIn(ctx);
    assert.equal(await image.read('/out/deep/er/file'), 'F');
    assert.equal(await image.read('/out/gz/er/file'), 'F');
    assert.equal(await image.read('/out/bz/er/file'), 'F');
    assert.equal(await image.read('/out/xz/er/file'), 'F');
    assert.equal(await image.readlink('/out/deep/abs'), '/etc/passwd');
    assert.ok((await image.stat('/copied/plain.tar')).isFile());
    assert.equal((await image.stat('/owned/deep/er/file')).uid, 65534);
  });

  it('92: ADD --checksum on a local path fails', async () => {
    const { error } = await fx.fails(
      'FROM busybox\nADD --checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 a /\n',
      { a: 'A' },
    );
    assert.match(error.message, /checksum requires HTTP\(S\) or Git sources/);
  });

  it('83 (basic): COPY <<EOF creates inline files with --chmod', async () => {
    const image = await fx.build('FROM busybox\nCOPY --chmod=0755 <<EOF /inline/\necho inline\nEOF\n');
    assert.equal(await image.read('/inline/EOF'), 'echo inline\n');
    assert.equal((await image.stat('/inline/EOF')).mode & 0o777, 0o755);
  });

  it('104: COPY history records the sources and destination as written (expanded)', async () => {
    const image = await fx.build('FROM busybox\nARG D=/dst\nCOPY --chown=1:2 --chmod=644 a b $D/\n', {
      a: 'A',
      b: 'B',
    });
    const entry = image.config.history!.at(-1)!;
    assert.equal(entry.created_by, 'COPY --chown=1:2 --chmod=644 a b /dst/ # buildkit');
    assert.equal(entry.empty_layer, undefined);
  });
});
