// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Dockerfiles, where ${...} is shell syntax
// Config-only instructions and history entries, checked on real builds. Each test names the item
// of shared/docs/dockerfile-behaviours.md it proves.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type BuildFixture, buildFixture, buildTestsMissing, envOf } from './helpers.ts';

const skip = buildTestsMissing();

describe('build: image config and history', { skip }, () => {
  let fx: BuildFixture;
  before(async () => {
    fx = await buildFixture();
  });
  after(() => fx?.cleanup());

  it('31, 32, 33: ENV legacy and k=v forms, literal values, visible later and in the config', async () => {
    const image = await fx.build(
      'FROM busybox\nENV ONE one two  three\nENV A=1 B="x y" C=foo%sbar\nENV D=${A}-$B\nRUN printf "%s|%s|%s" "$ONE" "$D" "$C" > /out\n',
    );
    const env = envOf(image.config);
    assert.equal(env.get('ONE'), 'one two  three');
    assert.equal(env.get('B'), 'x y');
    assert.equal(env.get('C'), 'foo%sbar');
    assert.equal(env.get('D'), '1-x y');
    assert.equal(await image.read('/out'), 'one two  three|1-x y|foo%sbar');
    const history = image.config.history!.map((h) => h.created_by);
    assert.ok(history.includes('ENV ONE=one two  three'));
    assert.ok(history.includes('ENV A=1 B=x y C=foo%sbar'));
  });

  it('100: CMD in JSON form is stored verbatim; ENTRYPOINT clears an inherited CMD', async () => {
    const base = await fx.build('FROM busybox\nCMD ["echo", "a b"]\n', {}, { tags: ['cmdbase:1'] });
    assert.deepEqual(base.config.config?.Cmd, ['echo', 'a b']);
    assert.equal(base.config.config?.ArgsEscaped, true);
    const child = await fx.build('FROM cmdbase:1\nENTRYPOINT ["/bin/true"]\n');
    assert.deepEqual(child.config.config?.Entrypoint, ['/bin/true']);
    assert.equal(child.config.config?.Cmd, undefined);
    // a CMD set in the same stage survives a later ENTRYPOINT
    const same = await fx.build('FROM busybox\nCMD ["x"]\nENTRYPOINT ["y"]\n');
    assert.deepEqual(same.config.config?.Cmd, ['x']);
    assert.deepEqual(same.config.config?.Entrypoint, ['y']);
  });

  it('101: shell-form CMD and ENTRYPOINT are wrapped in the current SHELL', async () => {
    const image = await fx.build('FROM busybox\nCMD echo hi\nSHELL ["ls"]\nENTRYPOINT my entrypoint\n');
    assert.deepEqual(image.config.config?.Cmd, ['/bin/sh', '-c', 'echo hi']);
    assert.deepEqual(image.config.config?.Entrypoint, ['ls', 'my entrypoint']);
    assert.deepEqual(image.config.config?.Shell, ['ls']);
    const plain = await fx.build('FROM busybox\nCMD echo hi\n');
    assert.deepEqual(plain.config.config?.Cmd, ['/bin/sh', '-c', 'echo hi']);
    const history = plain.config.history!.at(-1)!;
    assert.equal(history.created_by, 'CMD ["/bin/sh" "-c" "echo hi"]');
    assert.equal(history.empty_layer, true);
  });

  it('102: EXPOSE expands variables into several ports, tcp by default, /udp kept', async () => {
    const image = await fx.build('FROM busybox\nARG PORTS="80 443/udp"\nEXPOSE $PORTS 8000-8001\n');
    assert.deepEqual(Object.keys(image.config.config?.ExposedPorts ?? {}).sort(), [
      '443/udp',
      '80/tcp',
      '8000/tcp',
      '8001/tcp',
    ]);
    assert.equal(image.config.history!.at(-1)!.created_by, 'EXPOSE [80/tcp 443/udp 8000/tcp 8001/tcp]');
  });

  it('103: LABEL values and --label build options are stored', async () => {
    const image = await fx.build('FROM busybox\nLABEL a=1 "b c"="d e"\n', {}, { labels: { built: 'yes' } });
    assert.deepEqual(image.config.config?.Labels, { a: '1', 'b c': 'd e', built: 'yes' });
  });

  it('104: history: metadata instructions are empty-layer entries with BuildKit strings', async () => {
    const image = await fx.build(
      'FROM busybox\nMAINTAINER someone\nUSER nobody\nVOLUME /data /cache\nSTOPSIGNAL SIGINT\nSHELL ["/bin/sh", "-ec"]\nWORKDIR /app\nHEALTHCHECK --interval=90s --retries=2 CMD true\nARG X=1\n',
    );
    const entries = image.config.history!.slice(-8);
    assert.deepEqual(
      entries.map((h) => [h.created_by, h.empty_layer === true, h.comment]),
      [
        ['MAINTAINER someone', true, 'buildkit.dockerfile.v0'],
        ['USER nobody', true, 'buildkit.dockerfile.v0'],
        ['VOLUME [/data /cache]', true, 'buildkit.dockerfile.v0'],
        ['STOPSIGNAL SIGINT', true, 'buildkit.dockerfile.v0'],
        ['SHELL [/bin/sh -ec]', true, 'buildkit.dockerfile.v0'],
        ['WORKDIR /app', false, 'buildkit.dockerfile.v0'],
        [
          'HEALTHCHECK {Test:[CMD-SHELL true] Interval:1m30s Timeout:0s StartPeriod:0s StartInterval:0s Retries:2}',
          true,
          'buildkit.dockerfile.v0',
        ],
        ['ARG X=1', true, 'buildkit.dockerfile.v0'],
      ],
    );
    const c = image.config.config!;
    assert.equal(image.config.author, 'someone');
    assert.equal(c.User, 'nobody');
    assert.deepEqual(Object.keys(c.Volumes ?? {}).sort(), ['/cache', '/data']);
    assert.equal(c.StopSignal, 'SIGINT');
    assert.deepEqual(c.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 90_000_000_000, Retries: 2 });
    // every entry has a time, and the image's is the last one's
    assert.ok(image.config.history!.every((h) => typeof h.created === 'string'));
    assert.equal(image.config.created, image.config.history!.at(-1)!.created);
    // one layer per non-empty entry
    assert.equal(
      image.config.history!.filter((h) => !h.empty_layer).length,
      image.config.rootfs.diff_ids.length,
    );
  });

  it('23: FROM scratch: no layers, OS and arch set, WorkingDir /, default PATH, ENV an empty-layer entry', async () => {
    const image = await fx.build('FROM scratch\nENV A=b\n');
    assert.deepEqual(image.config.rootfs.diff_ids, []);
    assert.equal(image.config.os, 'linux');
    assert.ok(image.config.architecture);
    assert.equal(image.config.config?.WorkingDir, '/');
    assert.equal(
      envOf(image.config).get('PATH'),
      '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    );
    assert.deepEqual(
      image.config.history!.map((h) => [h.created_by, h.empty_layer]),
      [['ENV A=b', true]],
    );
  });

  it('95: WORKDIR creates the directory even in scratch; relative WORKDIR joins the previous one', async () => {
    const image = await fx.build('FROM scratch\nWORKDIR /a\nWORKDIR b/../c\n');
    assert.equal(image.config.config?.WorkingDir, '/a/c');
    assert.ok((await image.stat('/a/c')).isDirectory());
    assert.deepEqual(
      image.config.history!.map((h) => h.created_by),
      ['WORKDIR /a', 'WORKDIR /a/c'],
    );
  });

  it('96: a new WORKDIR is owned by the current USER; an existing one keeps its owner', async () => {
    const image = await fx.build('FROM busybox\nUSER nobody\nWORKDIR /work/here\nWORKDIR /tmp\n');
    const st = await image.stat('/work/here');
    assert.equal(st.uid, 65534);
    assert.equal(st.gid, 65534);
    assert.equal((await image.stat('/work')).uid, 65534);
    assert.equal((await image.stat('/tmp')).uid, 0);
  });

  it('98, 99: USER is stored as written; names resolve only when something runs', async () => {
    const image = await fx.build('FROM busybox\nUSER nosuchuser:nogroup\n');
    assert.equal(image.config.config?.User, 'nosuchuser:nogroup');
    const ran = await fx.build(
      'FROM busybox\nUSER nobody\nRUN id -u > /tmp/uid; id -g > /tmp/gid\nUSER 1234\nRUN id > /tmp/id\n',
    );
    assert.equal(await ran.read('/tmp/uid'), '65534\n');
    assert.equal(await ran.read('/tmp/gid'), '65534\n');
    assert.match(await ran.read('/tmp/id'), /^uid=1234 gid=0\(root\)/);
  });

  it('ONBUILD stores triggers in the config, with no history entry', async () => {
    const image = await fx.build('FROM busybox\nONBUILD RUN echo from-trigger\n');
    assert.deepEqual(image.config.config?.OnBuild, ['RUN echo from-trigger']);
    assert.ok(!image.config.history!.some((h) => h.created_by?.includes('ONBUILD')));
  });
});
