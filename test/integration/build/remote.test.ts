// ADD of http(s) URLs and HTTP build contexts, against a server on loopback, as BuildKit's
// dockerfile_add_test.go checks them. Each test names the items of
// shared/docs/dockerfile-behaviours.md it proves.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type BuildFixture, buildFixture, buildTestsMissing } from './helpers.ts';
import { makeTar, startServer, type TestServer } from './http-server.ts';

const skip = buildTestsMissing();
const sha256 = (data: string | Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

describe('build: ADD <url> and HTTP contexts', { skip }, () => {
  let fx: BuildFixture;
  let server: TestServer;
  // a day ago, in whole seconds (HTTP dates have no fraction)
  const modTime = new Date(Math.floor(Date.now() / 1000 - 24 * 3600) * 1000);
  const archiveTime = new Date(1700000302 * 1000);
  before(async () => {
    fx = await buildFixture();
    const tar = await makeTar([
      { name: 'foo', data: 'bar', mtime: archiveTime },
      { name: 'older', data: 'x', mtime: new Date(1600000000 * 1000) },
    ]);
    server = await startServer({
      '/foo': { content: 'content1', etag: 'etag-foo' },
      '/': { content: 'content2', etag: 'etag-root', lastModified: modTime },
      '/archive.tar': { content: tar, etag: 'etag-tar' },
      '/dated.tar': { content: tar, etag: 'etag-dated', lastModified: modTime },
    });
  });
  after(async () => {
    await server?.close();
    await fx?.cleanup();
  });

  it('89: ADD <url> /dest/ names the file after the URL, dates it by Last-Modified, mode 0600; a rebuild sends a HEAD; the User-Agent is buildkit/v…', async () => {
    const dockerfile = `FROM busybox\nADD ${server.url('/foo')} /dest/\nRUN stat -c "%a %u:%g" /dest/foo > /st\n`;
    const image = await fx.build(dockerfile);
    assert.equal(await image.read('/dest/foo'), 'content1');
    assert.equal(await image.read('/st'), '600 0:0\n');
    await fx.build(dockerfile);
    const requests = server.requests('/foo');
    assert.deepEqual(
      requests.map((r) => r.method),
      ['GET', 'HEAD'],
    );
    for (const r of requests) assert.match(r.headers['user-agent'] ?? '', /buildkit\/v/);
    const unnamed = await fx.build(`FROM scratch\nADD ${server.url('/')} /dest/\n`);
    assert.equal(await unnamed.read('/dest/__unnamed__'), 'content2');
    assert.equal(
      Math.floor((await unnamed.stat('/dest/__unnamed__')).mtimeMs / 1000),
      modTime.getTime() / 1000,
    );
    // no Last-Modified: 1970
    assert.equal((await image.stat('/dest/foo')).mtimeMs, 0);
  });

  it('87: a tar from a URL is not extracted unless --unpack=true', async () => {
    const image = await fx.build(
      `FROM scratch\nADD ${server.url('/archive.tar')} /kept/\nADD --unpack=true ${server.url('/archive.tar')} /unpacked/\n`,
    );
    assert.ok((await image.stat('/kept/archive.tar')).isFile());
    assert.equal(await image.read('/unpacked/foo'), 'bar');
    assert.equal(await image.exists('/unpacked/archive.tar'), false);
  });

  it('90: ADD --chmod works on URL sources, with variable modes', async () => {
    const url = server.url('/foo');
    const image = await fx.build(
      [
        'FROM busybox',
        `ADD --chmod=644 ${url} /tmp/foo1`,
        `ADD --chmod=755 ${url} /tmp/foo2`,
        `ADD --chmod=0413 ${url} /tmp/foo3`,
        'ARG mode',
        `ADD --chmod=\${mode} ${url} /tmp/foo4`,
        'RUN for f in 1 2 3 4; do stat -c "%04a" /tmp/foo$f >> /dest; done',
      ].join('\n'),
      {},
      { buildArgs: new Map([['mode', '400']]) },
    );
    assert.equal(await image.read('/dest'), '0644\n0755\n0413\n0400\n');
  });

  it('91: ADD --checksum checks URL content; the value may come from ENV', async () => {
    const image = await fx.build(
      `FROM scratch\nADD --checksum=${sha256('content1')} ${server.url('/foo')} /tmp/foo\nENV DIGEST=${sha256('content1')} LINK=${server.url('/foo')}\nADD --checksum=\${DIGEST} \${LINK} /tmp/foo2\n`,
    );
    assert.equal(await image.read('/tmp/foo'), 'content1');
    assert.equal(await image.read('/tmp/foo2'), 'content1');
  });

  it('92: checksum mismatch, unsupported or unknown algorithm, missing prefix, local path: each fails with its own error', async () => {
    const url = server.url('/foo');
    const cases: Array<[string, RegExp, Record<string, string>?]> = [
      [`ADD --checksum=${sha256('')} ${url} /tmp/foo`, /digest mismatch for http:\/\/127\.0\.0\.1:\d+\/foo/],
      [`ADD --checksum=md5:7e55db001d319a94b0b713529a756623 ${url} /tmp/foo`, /unsupported digest algorithm/],
      [
        `ADD --checksum=unknown:${sha256('content1').slice(7)} ${url} /tmp/foo`,
        /unsupported digest algorithm/,
      ],
      [`ADD --checksum=${sha256('content1').slice(7)} ${url} /tmp/foo`, /invalid checksum digest format/],
      [
        `ADD --checksum=${sha256('local file')} foo /tmp/foo`,
        /checksum requires HTTP\(S\) or Git sources/,
        { foo: 'local file' },
      ],
    ];
    for (const [line, expected, files] of cases) {
      const { error } = await fx.fails(`FROM scratch\n${line}\n`, files ?? {});
      assert.match(error.message, expected, line);
    }
  });

  it('119: an HTTP context gives SOURCE_DATE_EPOCH=context its Last-Modified, else its newest archive file; a local context gives none', async () => {
    const context = await makeTar([
      {
        name: 'Dockerfile',
        data: 'FROM busybox\nCOPY foo /\nARG SOURCE_DATE_EPOCH\nRUN echo -n "$SOURCE_DATE_EPOCH" > /epoch\n',
        mtime: new Date(1700000000 * 1000),
      },
      { name: 'foo', data: 'bar', mtime: archiveTime },
    ]);
    server.set('/context.tar', { content: context, etag: 'ctx' });
    server.set('/dated-context.tar', { content: context, etag: 'ctx2', lastModified: modTime });
    const args = { buildArgs: new Map([['SOURCE_DATE_EPOCH', 'context']]) };
    const archive = await fx.build(null, {}, { ...args, context: { url: server.url('/context.tar') } });
    assert.equal(await archive.read('/epoch'), String(archiveTime.getTime() / 1000));
    assert.equal(Date.parse(archive.config.created!), archiveTime.getTime());
    const dated = await fx.build(null, {}, { ...args, context: { url: server.url('/dated-context.tar') } });
    assert.equal(Date.parse(dated.config.created!), modTime.getTime());
    // an HTTP URL that is no archive is the Dockerfile
    server.set('/Dockerfile', { content: 'FROM busybox\nRUN echo from-url > /u\n', etag: 'df' });
    const plain = await fx.build(null, {}, { context: { url: server.url('/Dockerfile') } });
    assert.equal(await plain.read('/u'), 'from-url\n');
    const local = await fx.build(
      'FROM busybox\nARG SOURCE_DATE_EPOCH\nRUN echo -n "[$SOURCE_DATE_EPOCH]" > /epoch\n',
      {},
      args,
    );
    assert.equal(await local.read('/epoch'), '[]');
    assert.notEqual(Date.parse(local.config.created!), archiveTime.getTime());
  });

  it('119: a source-only stage named by SOURCE_DATE_EPOCH supplies it (Last-Modified, else the archive); a stage that is not source-only fails', async () => {
    const image = await fx.build(
      [
        'ARG SOURCE_DATE_EPOCH=mysource',
        'FROM scratch AS mysource',
        `ADD ${server.url('/archive.tar')} /`,
        'FROM busybox',
        'ARG SOURCE_DATE_EPOCH',
        'RUN echo -n "$SOURCE_DATE_EPOCH" > /epoch',
      ].join('\n'),
    );
    assert.equal(await image.read('/epoch'), String(archiveTime.getTime() / 1000));
    assert.equal(Date.parse(image.config.created!), archiveTime.getTime());
    const dated = await fx.build(
      `ARG SOURCE_DATE_EPOCH=src\nFROM scratch AS src\nADD ${server.url('/dated.tar')} /\nFROM busybox\nRUN true\n`,
    );
    assert.equal(Date.parse(dated.config.created!), modTime.getTime());
    // a build-arg overrides the Dockerfile's default
    const overridden = await fx.build(
      `ARG SOURCE_DATE_EPOCH=src\nFROM scratch AS src\nADD ${server.url('/dated.tar')} /\nFROM busybox\nRUN true\n`,
      {},
      { buildArgs: new Map([['SOURCE_DATE_EPOCH', '1700000502']]) },
    );
    assert.equal(Date.parse(overridden.config.created!), 1700000502000);
    const { error } = await fx.fails(
      'ARG SOURCE_DATE_EPOCH=mysource\nFROM scratch AS mysource\nCOPY Dockerfile /Dockerfile\nFROM scratch\n',
    );
    assert.match(error.message, /SOURCE_DATE_EPOCH stage does not meet source-only requirements/);
  });
});
