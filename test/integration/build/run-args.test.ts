// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Dockerfiles, where ${...} is shell syntax
// RUN, ARG and build-args, checked on real builds. Each test names the item of
// shared/docs/dockerfile-behaviours.md it proves.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BuildStepError } from '../../../src/engine/build-service.ts';
import { type BuildFixture, buildFixture, buildTestsMissing, envOf } from './helpers.ts';

const skip = buildTestsMissing();

describe('build: RUN and ARG', { skip }, () => {
  let fx: BuildFixture;
  before(async () => {
    fx = await buildFixture();
  });
  after(() => fx?.cleanup());

  it('35, 36: shell form runs under /bin/sh -c, exec form without a shell; the base ENTRYPOINT is ignored', async () => {
    await fx.build('FROM busybox\nENTRYPOINT ["/bin/false"]\n', {}, { tags: ['withentry:1'] });
    const image = await fx.build(
      'FROM withentry:1\nRUN echo "$0" > /shell\nRUN ["/bin/sh", "-c", "echo exec $$ > /exec"]\nRUN ["echo", "$HOME"]\n',
    );
    assert.equal(await image.read('/shell'), '/bin/sh\n');
    assert.match(await image.read('/exec'), /^exec \d+\n$/);
    assert.match(image.output, /#\d+ \d+\.\d+ \$HOME\n/); // exec form: no expansion
    assert.equal(image.config.history!.at(-1)!.created_by, 'RUN echo $HOME # buildkit');
    assert.equal(image.config.history!.at(-3)!.created_by, 'RUN /bin/sh -c echo "$0" > /shell # buildkit');
  });

  it('37: a failing RUN reports the command, its exit code, its output and its Dockerfile line', async () => {
    const { error, output } = await fx.fails('FROM busybox\nRUN echo before-failing && exit 3\nCMD x\n');
    assert.ok(error instanceof BuildStepError);
    assert.equal(
      error.message,
      'process "/bin/sh -c echo before-failing && exit 3" did not complete successfully: exit code: 3',
    );
    assert.equal(error.exitCode, 3);
    const report = error.report();
    assert.match(report, /> \[2\/2\] RUN echo before-failing && exit 3:\n\d+\.\d+ before-failing\n------/);
    assert.match(
      report,
      /Dockerfile:2\n-+\n {3}1 \| {5}FROM busybox\n {3}2 \| >>> RUN echo before-failing && exit 3\n {3}3 \| {5}CMD x\n/,
    );
    assert.match(output, /ERROR: process "\/bin\/sh -c echo before-failing && exit 3"/);
  });

  it('38, 49: the sandbox hostname is buildkitsandbox, in /etc/hosts; --network=none has only lo; no mount stubs stay', async () => {
    const image = await fx.build(
      'FROM busybox\nRUN hostname > /h && cat /etc/hosts > /hosts && ls /sys/class/net > /nets\nRUN --network=none true\n',
    );
    assert.equal(await image.read('/h'), 'buildkitsandbox\n');
    assert.match(await image.read('/hosts'), /127\.0\.0\.1\s+localhost buildkitsandbox/);
    assert.equal(await image.read('/nets'), 'lo\n');
    assert.equal(await image.exists('/etc/hosts'), false);
    assert.equal(await image.exists('/etc/resolv.conf'), false);
    // a RUN that changes nothing makes an empty layer (two zero blocks, BuildKit's empty layer)
    assert.equal(
      image.config.rootfs.diff_ids.at(-1),
      'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef',
    );
  });

  it('RUN sees ENV, WORKDIR, USER and SHELL; its changes, deletions included, become one layer', async () => {
    const image = await fx.build(
      'FROM busybox\nENV GREETING=hello\nWORKDIR /w\nSHELL ["/bin/sh", "-ec"]\nRUN echo "$GREETING $(pwd)" > out && rm /bin/true\nUSER nobody\nRUN id -u > /tmp/who\n',
    );
    assert.equal(await image.read('/w/out'), 'hello /w\n');
    assert.equal(await image.exists('/bin/true'), false);
    assert.equal(await image.read('/tmp/who'), '65534\n');
    const listing = await image.layerListing(-2);
    assert.ok(
      listing.some((l) => l.endsWith('bin/.wh.true')),
      listing.join('\n'),
    );
  });

  it('25, 26, 27: several names per ARG; quoted defaults keep spaces; build-args win; ARG FOO unset is absent, ARG BAR= is empty', async () => {
    const image = await fx.build(
      'FROM busybox\nARG a1="foo bar" a2=box\nARG image=idle-image\nARG def=${my_arg:-def_val} trim=${image#idle}\nARG FOO\nARG BAR=\nRUN printf "%s|%s|%s|%s|%s|" "$a1" "$a2" "$def" "$trim" "$image" > /out; env | grep -c "^FOO=" >> /out || true; env | grep "^BAR=" >> /out\n',
      {},
      { buildArgs: new Map([['image', 'idle-given']]) },
    );
    assert.equal(await image.read('/out'), 'foo bar|box|def_val|-given|idle-given|0\nBAR=\n');
    // ARG values are not in the image's Env
    assert.equal(envOf(image.config).has('a1'), false);
  });

  it('29, 30: changing a declared build-arg reruns RUN after it; re-declared ARGs are recorded as RUN |N k=v', async () => {
    const dockerfile = 'FROM busybox\nARG V=1\nARG W=x\nARG V=2\nRUN echo $V$W > /v\n';
    const first = await fx.build(dockerfile);
    assert.equal(await first.read('/v'), '2x\n');
    assert.equal(
      first.config.history!.at(-1)!.created_by,
      'RUN |2 V=2 W=x /bin/sh -c echo $V$W > /v # buildkit',
    );
    const again = await fx.build(dockerfile);
    assert.match(again.output, /RUN echo 2x > \/v\n#\d+ CACHED/);
    const changed = await fx.build(dockerfile, {}, { buildArgs: new Map([['W', 'y']]) });
    assert.doesNotMatch(changed.output, /RUN echo 2y > \/v\n#\d+ CACHED/);
    assert.equal(await changed.read('/v'), '2y\n');
  });

  it('28: proxy args reach RUN without an ARG and do not touch the cache', async () => {
    const dockerfile = 'FROM busybox\nRUN echo "proxy=$http_proxy" > /p\n';
    const first = await fx.build(
      dockerfile,
      {},
      { buildArgs: new Map([['http_proxy', 'http://proxy:3128']]) },
    );
    assert.equal(await first.read('/p'), 'proxy=http://proxy:3128\n');
    assert.ok(!first.config.history!.at(-1)!.created_by!.includes('proxy:3128'));
    const second = await fx.build(dockerfile, {}, { buildArgs: new Map([['http_proxy', 'http://other:1']]) });
    assert.match(second.output, /#\d+ CACHED/);
    assert.equal(second.imageId, first.imageId);
  });

  it('7, 8, 9, 10: global ARGs in FROM, overridable, chained, invisible in a stage until re-declared', async () => {
    await fx.build('FROM busybox\nRUN echo base > /b\n', {}, { tags: ['argbase:v2'] });
    const image = await fx.build(
      'ARG TAG=v1\nARG NAME=argbase\nARG REF="$NAME:$TAG"\nFROM ${REF}\nRUN echo "[$TAG]" > /before\nARG TAG\nRUN echo "[$TAG]" > /after\n',
      {},
      { buildArgs: new Map([['TAG', 'v2']]) },
    );
    assert.equal(await image.read('/b'), 'base\n');
    assert.equal(await image.read('/before'), '[]\n');
    assert.equal(await image.read('/after'), '[v2]\n');
    const { error } = await fx.fails('ARG X=${X:?msg}\nFROM busybox\n');
    assert.match(error.message, /X: msg/);
  });

  it('20, 21: platform ARGs exist globally and need ARG inside a stage; a build-arg overrides TARGETOS', async () => {
    const image = await fx.build(
      'FROM busybox AS build-linux\nRUN echo "[$TARGETOS]" > /before\nARG TARGETOS TARGETPLATFORM BUILDARCH TARGETSTAGE\nRUN echo "$TARGETOS $TARGETPLATFORM $BUILDARCH $TARGETSTAGE" > /after\nFROM build-${TARGETOS}\n',
    );
    assert.equal(await image.read('/before'), '[]\n');
    const arch = image.config.architecture;
    assert.equal(await image.read('/after'), `linux linux/${arch} ${arch} default\n`);
    const overridden = await fx.build(
      'FROM busybox\nARG TARGETOS\nRUN echo $TARGETOS > /os\n',
      {},
      { buildArgs: new Map([['TARGETOS', 'plan9']]) },
    );
    assert.equal(await overridden.read('/os'), 'plan9\n');
  });

  it('6: a Dockerfile with only global ARGs fails; FROM of a blank name fails', async () => {
    assert.match((await fx.fails('ARG A=1\n')).error.message, /dockerfile contains no stages to build/);
    assert.match(
      (await fx.fails('ARG BLANK\nFROM ${BLANK}\n')).error.message,
      /base name \(\$\{BLANK\}\) should not be blank/,
    );
  });

  it('issue 11: FROM an image that is not there (and no registry) fails naming the line', async () => {
    const { error } = await fx.fails('FROM busybox AS a\nFROM localhost:1/absent/image:1\n');
    assert.match(error.message, /Dockerfile:2: /);
    assert.match(error.message, /absent\/image/);
  });

  it('1, 2: keywords are case-insensitive; an unknown instruction fails with a hint', async () => {
    const image = await fx.build('from busybox\nrun echo lower > /l\n');
    assert.equal(await image.read('/l'), 'lower\n');
    assert.match(
      (await fx.fails('FROM busybox\nENTRYPONT x\n')).error.message,
      /unknown instruction: ENTRYPONT \(did you mean ENTRYPOINT\?\)/,
    );
  });
});
