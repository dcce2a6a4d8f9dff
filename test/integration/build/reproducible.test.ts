// SOURCE_DATE_EPOCH and reproducible images: the same inputs give the same image digest, on real
// builds. Each test names the items of shared/docs/dockerfile-behaviours.md it proves.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureBaseImages } from '../../helpers/base-images.ts';
import { projectRoot, wharfBin } from '../../helpers/wharf.ts';
import { type BuildFixture, buildFixture, buildTestsMissing } from './helpers.ts';

const skip = buildTestsMissing();
const EPOCH = 1700000000;
const EPOCH_ISO = '2023-11-14T22:13:20Z';

function wharf(
  root: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(wharfBin, ['--root', root, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('build: SOURCE_DATE_EPOCH and reproducible images', { skip }, () => {
  let fx: BuildFixture;
  before(async () => {
    fx = await buildFixture();
  });
  after(() => fx?.cleanup());

  const epochArgs = { buildArgs: new Map([['SOURCE_DATE_EPOCH', String(EPOCH)]]) };

  it('119: SOURCE_DATE_EPOCH dates the image and its new history, keeps the base history, and clamps layer mtimes', async () => {
    const base = await fx.build('FROM busybox\n');
    const image = await fx.build(
      'FROM busybox\nENV A=b\nRUN echo x > /made\nCOPY old /old\n',
      { old: 'from the context' },
      epochArgs,
    );
    assert.equal(image.config.created, EPOCH_ISO);
    const baseHistory = base.config.history ?? [];
    const history = image.config.history!;
    assert.deepEqual(history.slice(0, baseHistory.length), baseHistory);
    for (const h of history.slice(baseHistory.length)) assert.equal(h.created, EPOCH_ISO, h.created_by);
    // written now (after the epoch): clamped to it
    assert.equal((await image.stat('/made')).mtimeMs / 1000, EPOCH);
    assert.equal((await image.stat('/old')).mtimeMs / 1000, EPOCH);
    // a Dockerfile ARG default works as the build-arg does
    const byDefault = await fx.build(`ARG SOURCE_DATE_EPOCH=${EPOCH}\nFROM busybox\nRUN echo x > /made\n`);
    assert.equal(byDefault.config.created, EPOCH_ISO);
    // the same build without an epoch is another image (layers are cached per epoch)
    const plain = await fx.build('FROM busybox\nENV A=b\nRUN echo x > /made\nCOPY old /old\n', {
      old: 'from the context',
    });
    assert.notEqual(plain.imageId, image.imageId);
    assert.notEqual(plain.config.created, EPOCH_ISO);
  });

  it('119: invalid values fail, as a build-arg or as a Dockerfile default', async () => {
    const arg = await fx.fails(
      'FROM busybox\n',
      {},
      { buildArgs: new Map([['SOURCE_DATE_EPOCH', 'not-a-timestamp']]) },
    );
    assert.match(arg.error.message, /invalid SOURCE_DATE_EPOCH: not-a-timestamp/);
    const def = await fx.fails('ARG SOURCE_DATE_EPOCH=not-a-timestamp\nFROM scratch\nCOPY Dockerfile .\n');
    assert.match(def.error.message, /invalid SOURCE_DATE_EPOCH: not-a-timestamp/);
  });

  it('95: WORKDIR output is reproducible under SOURCE_DATE_EPOCH', async () => {
    const dockerfile = 'FROM busybox\nWORKDIR /foo/bar\nWORKDIR ../baz\n';
    const first = await fx.build(dockerfile, {}, { ...epochArgs, noCache: true });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const second = await fx.build(dockerfile, {}, { ...epochArgs, noCache: true });
    assert.deepEqual(second.config.rootfs.diff_ids, first.config.rootfs.diff_ids);
    assert.equal(second.imageId, first.imageId);
  });

  it('issue 12: two --no-cache builds of a multi-stage Dockerfile with SOURCE_DATE_EPOCH give the same image digest', async () => {
    const files = {
      Dockerfile: [
        'FROM busybox AS build',
        'WORKDIR /src',
        'COPY . .',
        'RUN mkdir -p /out && cat main.c | tr a-z A-Z > /out/app && ln -s app /out/link && ln /out/app /out/hard && chmod 755 /out/app',
        'RUN --mount=type=cache,target=/cache echo cached >> /cache/log && rm -f /tmp/x',
        'FROM busybox AS assets',
        'COPY <<EOF /assets/config.json',
        '{"name": "app"}',
        'EOF',
        'FROM busybox',
        'LABEL org.example=reproducible',
        'COPY --from=build /out /usr/local/bin/',
        'COPY --from=assets /assets /etc/app/',
        'USER nobody',
        'CMD ["/usr/local/bin/app"]',
      ].join('\n'),
      'main.c': 'int main(void) { return 0; }\n',
      '.dockerignore': '.git\n',
    };
    const ctx = await fx.context(files);
    const first = await fx.buildIn(ctx, { ...epochArgs, noCache: true });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const second = await fx.buildIn(ctx, { ...epochArgs, noCache: true });
    assert.equal(second.executed, first.executed);
    assert.ok(first.executed >= 5);
    assert.deepEqual(second.config.rootfs.diff_ids, first.config.rootfs.diff_ids);
    assert.equal(second.imageId, first.imageId);
    assert.equal(first.config.created, EPOCH_ISO);
  });

  it('issue 12: two --no-cache builds of the README example (SOURCE_DATE_EPOCH from the environment) give the same image digest', async () => {
    await ensureBaseImages(fx.root, { node: true });
    const app = join(await fx.context({}), 'hello-web');
    await cp(join(projectRoot, 'examples', 'hello-web'), app, { recursive: true });
    // The example's RUN writes the time of the build into the image: its bytes change on every
    // build, whatever the layer mtimes (BuildKit's rewrite-timestamp clamps times, never contents).
    // The variant takes that time from SOURCE_DATE_EPOCH, as reproducible build steps do.
    const dockerfile = await readFile(join(app, 'Dockerfile'), 'utf8');
    const variant = dockerfile.replace(
      /^RUN node -e .*$/m,
      "ARG SOURCE_DATE_EPOCH\nRUN node -e \"require('fs').writeFileSync('/app/build-info.json', JSON.stringify({ builtAt: new Date(Number(process.env.SOURCE_DATE_EPOCH) * 1000).toISOString() }))\"",
    );
    assert.notEqual(variant, dockerfile, 'the example has no RUN node -e line any more');
    await writeFile(join(app, 'Dockerfile'), variant);
    const env = { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH) };
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await wharf(fx.root, ['build', '-q', '--no-cache', '-t', 'hello-web:repro', app], env);
      assert.equal(r.code, 0, r.stderr);
      ids.push(r.stdout.trim());
      if (i === 0) await new Promise((resolve) => setTimeout(resolve, 1100));
    }
    assert.match(ids[0]!, /^sha256:[0-9a-f]{64}$/);
    assert.equal(ids[1], ids[0]);
    const inspect = await wharf(
      fx.root,
      ['image', 'inspect', '--format', '{{.Created}}', 'hello-web:repro'],
      env,
    );
    assert.match(inspect.stdout, /2023-11-14/);
  });
});
