// The classic builder output made from the builder's vertex events (src/daemon/classic-build-output.ts):
// steps numbered over the stages the target needs, config-only instructions printed in place,
// stages built in parallel printed one after the other, the image id after the last step.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClassicBuildOutput, neededStages } from '../../../src/daemon/classic-build-output.ts';
import { describeDockerfile } from '../../../src/engine/dockerfile-parse.ts';

const ID = `sha256:${'ab'.repeat(32)}`;

async function printer(source: string, target?: string) {
  const description = await describeDockerfile({ source });
  let text = '';
  const output = new ClassicBuildOutput(description, {
    ...(target ? { target } : {}),
    write: (chunk) => {
      text += chunk;
    },
    imageId: (name) =>
      name === 'docker.io/library/busybox:latest' ? `sha256:${'b0'.repeat(32)}` : undefined,
  });
  return { output, text: () => text };
}

const done = { kind: 'done' as const, seconds: 0.1 };
const cached = { kind: 'cached' as const, seconds: 0 };

describe('ClassicBuildOutput', () => {
  it('numbers every instruction and shows the base and final image ids', async () => {
    const { output, text } = await printer('FROM busybox\nWORKDIR /app\nENV A=1\nRUN echo hi\nCMD ["sh"]\n');
    output.start(1, '[internal] load build definition from Dockerfile');
    output.end(1, '', done);
    output.start(2, '[1/3] FROM docker.io/library/busybox:latest');
    output.end(2, '', done);
    output.start(3, '[2/3] WORKDIR /app');
    output.end(3, '', cached);
    output.start(4, '[3/3] RUN echo hi');
    output.log(4, '', { at: 0.1, text: 'hi' });
    output.end(4, '', done);
    output.start(5, 'exporting to image');
    output.end(5, '', done);
    assert.match(text(), /Step 5\/5 : CMD \["sh"\]\n$/, 'the id of the last step waits for the image');
    output.finish(ID);
    const lines = text().split('\n');
    assert.deepEqual(lines.slice(0, 5), [
      'Step 1/5 : FROM busybox',
      ` ---> ${'b0'.repeat(6)}`,
      'Step 2/5 : WORKDIR /app',
      ' ---> Using cache',
      lines[4],
    ]);
    assert.match(lines[4]!, /^ ---> [0-9a-f]{12}$/);
    assert.match(
      text(),
      /Step 3\/5 : ENV A=1\n ---> [0-9a-f]{12}\nStep 4\/5 : RUN echo hi\nhi\n ---> [0-9a-f]{12}\n/,
    );
    assert.match(text(), new RegExp(`Step 5/5 : CMD \\["sh"\\]\\n ---> ${'ab'.repeat(6)}\\n$`));
  });

  it('prints stages built in parallel one after the other, skipping stages the target does not need', async () => {
    const source = [
      'FROM busybox AS one',
      'RUN echo one',
      'FROM busybox AS skipped',
      'RUN echo never',
      'FROM busybox AS two',
      'RUN echo two',
      'FROM busybox',
      'COPY --from=one /a /a',
      'COPY --from=two /b /b',
      '',
    ].join('\n');
    const description = await describeDockerfile({ source });
    assert.deepEqual([...neededStages(description, undefined)].sort(), [0, 2, 3]);
    const { output, text } = await printer(source);
    output.start(1, '[one 1/2] FROM docker.io/library/busybox:latest');
    output.end(1, '', done);
    output.start(2, '[two 1/2] FROM docker.io/library/busybox:latest');
    output.end(2, '', done);
    output.start(3, '[two 2/2] RUN echo two');
    output.log(3, '', { at: 0.1, text: 'two' });
    output.start(4, '[one 2/2] RUN echo one');
    output.log(4, '', { at: 0.1, text: 'one' });
    output.end(3, '', done);
    output.end(4, '', done);
    output.start(5, '[stage-3 1/3] FROM docker.io/library/busybox:latest');
    output.end(5, '', done);
    output.start(6, '[stage-3 2/3] COPY --from=one /a /a');
    output.end(6, '', done);
    output.start(7, '[stage-3 3/3] COPY --from=two /b /b');
    output.end(7, '', done);
    output.finish(ID);
    const steps = text()
      .split('\n')
      .filter((line) => !line.startsWith(' --->'));
    assert.deepEqual(steps, [
      'Step 1/7 : FROM busybox AS one',
      'Step 2/7 : RUN echo one',
      'one',
      'Step 3/7 : FROM busybox AS two',
      'Step 4/7 : RUN echo two',
      'two',
      'Step 5/7 : FROM busybox',
      'Step 6/7 : COPY --from=one /a /a',
      'Step 7/7 : COPY --from=two /b /b',
      '',
    ]);
  });

  it('stops at the target, and shows the failing step with its output', async () => {
    const { output, text } = await printer('FROM busybox AS base\nRUN exit 3\nFROM base\nENV X=1\n', 'base');
    output.start(1, '[1/2] FROM docker.io/library/busybox:latest');
    output.end(1, '', done);
    output.start(2, '[2/2] RUN exit 3');
    output.log(2, '', { at: 0.1, text: 'about to fail' });
    output.end(2, '', { kind: 'error', seconds: 0.1, message: 'exit code: 3' });
    output.fail();
    assert.equal(
      text(),
      `Step 1/2 : FROM busybox AS base\n ---> ${'b0'.repeat(6)}\nStep 2/2 : RUN exit 3\nabout to fail\n`,
    );
  });

  it('copes with instructions that make no vertex (WORKDIR /, FROM scratch, FROM an earlier stage)', async () => {
    const { output, text } = await printer(
      'FROM scratch AS files\nCOPY a /a\nFROM files\nWORKDIR /\nRUN true\nLABEL x=y\n',
    );
    output.start(1, '[files 1/1] COPY a /a');
    output.end(1, '', done);
    output.start(2, '[stage-1 1/1] RUN true');
    output.end(2, '', done);
    output.finish(ID);
    const steps = text().match(/^Step \d+\/\d+ : .*$/gm);
    assert.deepEqual(steps, [
      'Step 1/6 : FROM scratch AS files',
      'Step 2/6 : COPY a /a',
      'Step 3/6 : FROM files',
      'Step 4/6 : WORKDIR /',
      'Step 5/6 : RUN true',
      'Step 6/6 : LABEL x=y',
    ]);
    // FROM an earlier stage shows that stage's last id
    const ids = text().match(/^ ---> ([0-9a-f]{12})$/gm)!;
    assert.equal(ids[1], ids[2]);
  });
});
