// Multi-stage builds, checked on real builds. Each test names the item of
// shared/docs/dockerfile-behaviours.md it proves.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type BuildFixture, buildFixture, buildTestsMissing, envOf } from './helpers.ts';

const skip = buildTestsMissing();

describe('build: stages', { skip }, () => {
  let fx: BuildFixture;
  before(async () => {
    fx = await buildFixture();
  });
  after(() => fx?.cleanup());

  it('12, 16, 33, 97: FROM <stage> inherits ENV/WORKDIR/USER; COPY --from by name and index, relative to the stage root', async () => {
    const image = await fx.build(
      [
        'FROM busybox AS base',
        'ENV FROM_BASE=yes',
        'WORKDIR /srv',
        'RUN echo made > /srv/made && mkdir -p /data && echo d > /data/file && chown 1234:5678 /data/file',
        'USER nobody',
        'FROM base AS child',
        'FROM busybox',
        'ENV OTHER=1',
        'WORKDIR /elsewhere',
        'COPY --from=base srv/made /fromname/',
        'COPY --from=0 /data /fromindex/',
        'COPY --from=child /srv/made /fromchild/',
      ].join('\n'),
    );
    assert.equal(await image.read('/fromname/made'), 'made\n');
    assert.equal(await image.read('/fromindex/file'), 'd\n');
    assert.equal(await image.read('/fromchild/made'), 'made\n');
    // 74: files copied from another stage keep their owner
    const st = await image.stat('/fromindex/file');
    assert.deepEqual([st.uid, st.gid], [1234, 5678]);
    assert.equal(envOf(image.config).has('FROM_BASE'), false);
    const child = await fx.build(
      'FROM busybox AS base\nENV FROM_BASE=yes\nWORKDIR /srv\nUSER nobody\nFROM base\nRUN echo "$FROM_BASE $(pwd) $(id -u)" > /tmp/x\n',
    );
    assert.equal(await child.read('/tmp/x'), 'yes /srv 65534\n');
    assert.equal(child.config.config?.User, 'nobody');
    assert.equal(child.config.config?.WorkingDir, '/srv');
  });

  it('11, 17: stage names are case-insensitive; --target picks the stage; a typo gets a hint', async () => {
    const dockerfile =
      'FROM busybox AS STAge0\nRUN echo 0 > /s\nFROM staGE0 AS Stage1\nRUN echo 1 >> /s\nFROM busybox AS last\nRUN echo last > /s\n';
    const target = await fx.build(dockerfile, {}, { target: 'Stage1' });
    assert.equal(await target.read('/s'), '0\n1\n');
    const last = await fx.build(dockerfile);
    assert.equal(await last.read('/s'), 'last\n');
    const { error } = await fx.fails(dockerfile, {}, { target: 'stag1' });
    assert.match(error.message, /target stage "stag1" could not be found \(did you mean stage1\?\)/);
  });

  it('18: only stages the target reaches are built', async () => {
    const image = await fx.build(
      'FROM busybox AS needed\nRUN echo n > /n\nFROM busybox AS skipped\nRUN exit 1\nFROM busybox\nCOPY --from=needed /n /n\n',
    );
    assert.equal(await image.read('/n'), 'n\n');
    assert.doesNotMatch(image.output, /exit 1/);
  });

  it('15, 34: --from a later stage, a variable in --from, or the stage itself fail', async () => {
    assert.match(
      (await fx.fails('FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\n')).error.message,
      /cannot copy from stage "b", it needs to be defined before current stage "a"/,
    );
    assert.match(
      (await fx.fails('FROM busybox AS a\nARG S=a\nCOPY --from=$S /x /x\n')).error.message,
      /variable expansion is not supported for --from/,
    );
    assert.match(
      (await fx.fails('FROM busybox AS a\nCOPY --from=a /x /x\n')).error.message,
      /circular dependency detected/,
    );
  });

  it('13, 14: COPY --from=<image> reads an image; a stage of the same name shadows it', async () => {
    await fx.build('FROM busybox\nRUN echo from-image > /marker\n', {}, { tags: ['markerimage:1'] });
    const image = await fx.build('FROM scratch\nCOPY --from=markerimage:1 /marker /m\n');
    assert.equal(await image.read('/m'), 'from-image\n');
    const shadowed = await fx.build(
      'FROM busybox AS markerimage\nRUN echo from-stage > /marker\nFROM scratch\nCOPY --from=markerimage /marker /m\n',
    );
    assert.equal(await shadowed.read('/m'), 'from-stage\n');
  });

  it('103, 104: the consuming stage keeps its own base labels; only the final stage history is exported', async () => {
    await fx.build('FROM busybox\nLABEL base=one\n', {}, { tags: ['labelled:1'] });
    const image = await fx.build(
      'FROM busybox AS other\nLABEL other=yes\nRUN echo x > /x\nFROM labelled:1\nCOPY --from=other /x /x\n',
    );
    assert.deepEqual(image.config.config?.Labels, { base: 'one' });
    assert.ok(!image.config.history!.some((h) => h.created_by?.includes('other=yes')));
  });

  it('issue 11: independent stages build in parallel', async () => {
    const image = await fx.build(
      'FROM busybox AS a\nRUN sleep 1 && cut -d" " -f1 /proc/uptime > /t\nFROM busybox AS b\nRUN sleep 1 && cut -d" " -f1 /proc/uptime > /t\nFROM busybox\nCOPY --from=a /t /a\nCOPY --from=b /t /b\n',
    );
    // seconds since boot, with hundredths
    const a = Number((await image.read('/a')).trim()) * 1000;
    const b = Number((await image.read('/b')).trim()) * 1000;
    // sequential stages would finish at least a second apart
    assert.ok(Math.abs(a - b) < 900, `stage a ended at ${a}, b at ${b}`);
  });

  it('105, 106, 107: ONBUILD triggers of a base image run first, in the child context, once; --from resolves in the child', async () => {
    await fx.build(
      'FROM busybox\nONBUILD RUN echo trig >> /count\nONBUILD COPY a /from-child-context\nONBUILD COPY --from=helper /h /h\n',
      {},
      { tags: ['onbuild-base:1'] },
    );
    const child = await fx.build(
      'FROM busybox AS helper\nRUN echo helper > /h\nFROM onbuild-base:1\nRUN echo own > /own\n',
      { a: 'child-file' },
      { tags: ['onbuild-child:1'] },
    );
    assert.equal(await child.read('/count'), 'trig\n');
    assert.equal(await child.read('/from-child-context'), 'child-file');
    assert.equal(await child.read('/h'), 'helper\n');
    assert.equal(await child.read('/own'), 'own\n');
    assert.equal(child.config.config?.OnBuild, undefined);
    assert.match(child.output, /\[stage-1 2\/5\] ONBUILD RUN echo trig >> \/count/);
    const grandchild = await fx.build('FROM onbuild-child:1\nRUN cat /count > /seen\n');
    assert.equal(await grandchild.read('/seen'), 'trig\n');
  });

  it('108: ONBUILD of an earlier stage runs when a later stage builds FROM it', async () => {
    const image = await fx.build(
      'FROM busybox AS base\nONBUILD RUN echo fired > /fired\nFROM base\nRUN cat /fired > /copy\n',
    );
    assert.equal(await image.read('/copy'), 'fired\n');
  });

  it('progress names stages [name i/n] and unnamed ones stage-N', async () => {
    const image = await fx.build(
      'FROM busybox AS first\nRUN true\nFROM busybox\nCOPY --from=first /bin/true /t\n',
    );
    assert.match(image.output, /#\d+ \[first 1\/2\] FROM docker\.io\/library\/busybox:latest/);
    assert.match(image.output, /#\d+ \[first 2\/2\] RUN true/);
    assert.match(image.output, /#\d+ \[stage-1 2\/2\] COPY --from=first \/bin\/true \/t/);
  });
});
