// ADD of local archives (the rules BuildKit's dockerfile_add_test.go checks beyond plain
// extraction), COPY's refusals, and ONBUILD triggers that mount from the child's stages. Each test
// names the items of shared/docs/dockerfile-behaviours.md it proves.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import tar from 'tar-stream';
import { type BuildFixture, buildFixture, buildTestsMissing } from './helpers.ts';

const skip = buildTestsMissing();

type Entry =
  | { name: string; type: 'directory' }
  | { name: string; type: 'file'; data: string }
  | { name: string; type: 'symlink' | 'link'; linkname: string };

async function makeTar(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    if (e.type === 'file') pack.entry({ name: e.name, mode: 0o644 }, e.data);
    else if (e.type === 'directory') pack.entry({ name: e.name, type: 'directory', mode: 0o755 });
    else pack.entry({ name: e.name, type: e.type, linkname: e.linkname, mode: 0o777 });
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('build: ADD archives, COPY refusals, ONBUILD mounts', { skip }, () => {
  let fx: BuildFixture;
  before(async () => {
    fx = await buildFixture();
  });
  after(() => fx?.cleanup());

  it('86, 88: --unpack=false keeps the file; ADD *.tar extracts each match; --chown applies to extracted entries', async () => {
    const t = await makeTar([{ name: 'foo', type: 'file', data: 'content0' }]);
    const b = await makeTar([{ name: 'bar', type: 'file', data: 'content1' }]);
    const image = await fx.build(
      'FROM busybox\nADD *.tar /dest\nADD --unpack=false t.tar /kept/\nADD --chown=1234:5678 b.tar /owned/\n',
      { 't.tar': { content: t }, 'b.tar': { content: b } },
    );
    assert.equal(await image.read('/dest/foo'), 'content0');
    assert.equal(await image.read('/dest/bar'), 'content1');
    assert.ok((await image.stat('/kept/t.tar')).isFile());
    assert.equal(await image.exists('/kept/foo'), false);
    const owned = await image.stat('/owned/bar');
    assert.deepEqual([owned.uid, owned.gid], [1234, 5678]);
  });

  it('88: an absolute symlink in the image is resolved inside the image root when an archive extracts through it', async () => {
    const rootfs = await makeTar([
      { name: 'run/', type: 'directory' },
      { name: 'var/', type: 'directory' },
      { name: 'var/run', type: 'symlink', linkname: '/run' },
    ]);
    const payload = await makeTar([
      { name: 'var/run/act/', type: 'directory' },
      { name: 'var/run/act/.git/', type: 'directory' },
      { name: 'var/run/act/.git/HEAD', type: 'file', data: 'ref: refs/heads/main\n' },
      { name: 'var/run/act/.git/HEAD.link', type: 'link', linkname: 'var/run/act/.git/HEAD' },
    ]);
    const image = await fx.build('FROM scratch\nADD rootfs.tar /\nADD payload.tar /\n', {
      'rootfs.tar': { content: rootfs },
      'payload.tar': { content: payload },
    });
    assert.equal(await image.read('/run/act/.git/HEAD'), 'ref: refs/heads/main\n');
    const file = await image.stat('/run/act/.git/HEAD');
    const link = await image.stat('/run/act/.git/HEAD.link');
    assert.equal(link.ino, file.ino);
    assert.equal(await image.readlink('/var/run'), '/run');
  });

  it('82: COPY refuses git refs as it refuses URLs; ADD of a git source waits for a later issue', async () => {
    const git = await fx.fails('FROM busybox\nCOPY https://github.com/moby/buildkit.git#v0.10.1 /\n');
    assert.match(git.error.message, /source can't be a git ref for COPY/);
    const ssh = await fx.fails('FROM busybox\nCOPY git@github.com:moby/buildkit.git /\n');
    assert.match(ssh.error.message, /source can't be a git ref for COPY/);
    const add = await fx.fails('FROM busybox\nADD https://github.com/moby/buildkit.git#v0.10.1 /\n');
    assert.match(add.error.message, /git sources are not supported yet/);
  });

  it('107: trigger RUN --mount=from=<name> resolves against the child Dockerfile stages; triggers can bring in new stages', async () => {
    await fx.build(
      'FROM busybox\nONBUILD RUN --mount=from=helper,source=/h,target=/mnt/h cat /mnt/h > /from-child-stage\n',
      {},
      { tags: ['onbuild-mount:1'] },
    );
    const child = await fx.build(
      'FROM busybox AS helper\nRUN echo helper-content > /h\nFROM onbuild-mount:1\n',
    );
    assert.equal(await child.read('/from-child-stage'), 'helper-content\n');
    assert.equal(await child.exists('/mnt/h'), false);
  });
});
