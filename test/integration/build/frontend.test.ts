// Front-end behaviours (parsing, errors, built-in ARGs, platforms) as a whole build shows them:
// the parser's own tests prove the parse, these prove what the build does with it. Each test
// names the items of shared/docs/dockerfile-behaviours.md it proves.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BuildStepError } from '../../../src/engine/build-service.ts';
import { type BuildFixture, buildFixture, buildTestsMissing } from './helpers.ts';

const skip = buildTestsMissing();

describe('build: front-end behaviours in builds', { skip }, () => {
  let fx: BuildFixture;
  before(async () => {
    fx = await buildFixture();
  });
  after(() => fx?.cleanup());

  it('3: exec form with trailing junk becomes shell form (the shell sees the junk); ENTRYPOINT []junk is a shell-form entrypoint', async () => {
    const { error, output } = await fx.fails('FROM busybox\nRUN ["echo", "hello"]this is invalid\n');
    assert.match(error.message, /this is invalid/);
    // the shell got the whole line: it looks for a command named `[echo,`
    assert.match(output, /\/bin\/sh: \[echo,: not found/);
    assert.match(output, /process "\/bin\/sh -c \[\\"echo\\", \\"hello\\"\]this is invalid"/);
    const image = await fx.build('FROM busybox\nENTRYPOINT []random string\n');
    assert.deepEqual(image.config.config?.Entrypoint, ['/bin/sh', '-c', '[]random string']);
  });

  it('4: a failing step points at its Dockerfile lines, all of a continued instruction', async () => {
    const { error } = await fx.fails(
      'FROM busybox\nRUN echo first && \\\n  false && \\\n  echo never\nCMD x\n',
    );
    assert.ok(error instanceof BuildStepError);
    assert.equal(error.source?.file, 'Dockerfile');
    assert.equal(error.source?.startLine, 2);
    assert.equal(error.source?.endLine, 4);
    const report = error.report();
    assert.match(report, /Dockerfile:2\n/);
    assert.match(
      report,
      / {3}2 \| >>> RUN echo first && \\\n {3}3 \| >>> {3}false && \\\n {3}4 \| >>> {3}echo never\n/,
    );
    const parse = await fx.fails('FROM busybox\nRUN --mount=type=bogus true\n');
    assert.match(parse.error.message, /^Dockerfile:2: /);
  });

  it('19: TARGETSTAGE, once declared with ARG, holds the target stage name; before the ARG it is empty', async () => {
    const dockerfile = [
      'FROM busybox AS base',
      'WORKDIR /out',
      'RUN echo -n "value:$TARGETSTAGE" > /out/first',
      'ARG TARGETSTAGE',
      'RUN echo -n "value:$TARGETSTAGE" > /out/second',
      'FROM scratch AS foo',
      'COPY --from=base /out/ /',
      'FROM scratch',
      'COPY --from=base /out/ /',
    ].join('\n');
    const foo = await fx.build(dockerfile, {}, { target: 'foo' });
    assert.equal(await foo.read('/first'), 'value:');
    assert.equal(await foo.read('/second'), 'value:foo');
    const last = await fx.build(dockerfile);
    assert.equal(await last.read('/second'), 'value:default');
  });

  it('22: FROM --platform=$BUILDPLATFORM runs the stage natively while TARGET* describe the output; TARGETOSVERSION exists', async () => {
    const image = await fx.build(
      [
        'FROM --platform=$BUILDPLATFORM busybox AS build',
        'ARG BUILDARCH TARGETARCH TARGETPLATFORM TARGETOSVERSION',
        'RUN echo "$BUILDARCH $TARGETARCH $TARGETPLATFORM [$TARGETOSVERSION] $(uname -m)" > /out',
        'FROM scratch',
        'COPY --from=build /out /out',
      ].join('\n'),
      {},
      { platform: { os: 'linux', architecture: 'arm64' } },
    );
    const host = process.arch === 'x64' ? 'amd64' : process.arch;
    const machine = process.arch === 'x64' ? 'x86_64' : process.arch;
    assert.equal(await image.read('/out'), `${host} arm64 linux/arm64 [] ${machine}\n`);
    assert.equal(image.config.architecture, 'arm64');
    assert.equal(image.config.os, 'linux');
  });
});
