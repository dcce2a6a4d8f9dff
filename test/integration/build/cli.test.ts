// `wharf build` and `wharf builder` as a user runs them: the real binary, Docker's flags,
// BuildKit's plain progress, stdin contexts, exit codes. And the README's example app.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ensureBaseImages } from '../../helpers/base-images.ts';
import { projectRoot, wharfBin } from '../../helpers/wharf.ts';
import { buildTestsMissing, writeContext } from './helpers.ts';

const execFileP = promisify(execFile);
const skip = buildTestsMissing();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function wharf(root: string, args: string[], input?: Buffer | string, cwd?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(wharfBin, ['--root', root, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(cwd ? { cwd } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      }),
    );
    child.stdin.end(input ?? '');
  });
}

describe('wharf build (CLI)', { skip }, () => {
  let dir: string;
  let root: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-build-cli-'));
    root = join(dir, 'root');
    await ensureBaseImages(root, { node: true });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('prints BuildKit plain progress, tags the image and writes --iidfile; -q prints only the id', async () => {
    const ctx = join(dir, 'plain');
    await writeContext(ctx, { Dockerfile: 'FROM busybox\nCOPY a /a\nRUN echo step-output\n', a: 'A' });
    const iid = join(dir, 'iid');
    const r = await wharf(root, [
      'build',
      '--progress=plain',
      '-t',
      'cli-test:1',
      '-t',
      'cli-test:2',
      '--iidfile',
      iid,
      ctx,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      /^\n#1 \[internal\] load build definition from Dockerfile\n#1 transferring dockerfile: \d+B done\n#1 DONE \d+\.\ds\n/,
    );
    assert.match(r.stderr, /#\d+ \[1\/3\] FROM docker\.io\/library\/busybox:latest\n/);
    assert.match(r.stderr, /#\d+ \[internal\] load build context\n/);
    assert.match(
      r.stderr,
      /#(\d+) \[3\/3\] RUN echo step-output\n#\1 \d+\.\d{3} step-output\n#\1 DONE \d+\.\ds\n/,
    );
    assert.match(
      r.stderr,
      /#\d+ exporting to image\n#\d+ exporting layers done\n#\d+ writing image sha256:[0-9a-f]{64} done\n#\d+ naming to docker\.io\/library\/cli-test:1 done\n#\d+ naming to docker\.io\/library\/cli-test:2 done\n/,
    );
    const id = await readFile(iid, 'utf8');
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    const inspect = await wharf(root, ['inspect', '--format', '{{.Id}}', 'cli-test:2']);
    assert.equal(inspect.stdout.trim(), id);
    const quiet = await wharf(root, ['build', '-q', ctx]);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stdout, `${id}\n`);
    assert.equal(quiet.stderr, '');
  });

  it("a failing step exits 1 with its output, Dockerfile lines and BuildKit's error line", async () => {
    const ctx = join(dir, 'failing');
    await writeContext(ctx, { Dockerfile: 'FROM busybox\nRUN echo doomed && exit 7\n' });
    const r = await wharf(root, ['build', '--progress', 'plain', ctx]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /------\n > \[2\/2\] RUN echo doomed && exit 7:\n\d+\.\d{3} doomed\n------\nDockerfile:2\n/,
    );
    assert.match(
      r.stderr,
      /\nERROR: failed to solve: process "\/bin\/sh -c echo doomed && exit 7" did not complete successfully: exit code: 7\n$/,
    );
  });

  it('a bad -t fails before any step runs, with docker buildx\'s "invalid tag" line', async () => {
    const ctx = join(dir, 'badtag');
    await writeContext(ctx, { Dockerfile: 'FROM busybox\nRUN echo should-not-run\n' });
    const upper = await wharf(root, ['build', '--progress', 'plain', '-t', 'ok:1', '-t', 'BadName', ctx]);
    assert.equal(upper.code, 1);
    assert.equal(upper.stderr, 'ERROR: invalid tag "BadName": repository name must be lowercase\n');
    const space = await wharf(root, ['build', '-q', '-t', 'ok:bad tag', ctx]);
    assert.equal(space.code, 1);
    assert.equal(space.stderr, 'ERROR: invalid tag "ok:bad tag": invalid reference format\n');
    assert.equal(space.stdout, '');
  });

  it('5: -f names a Dockerfile apart from the context (a lowercase dockerfile works too)', async () => {
    const ctx = join(dir, 'apart');
    await writeContext(ctx, { a: 'A' });
    const file = join(dir, 'Other.Dockerfile');
    await writeFile(file, 'FROM busybox\nCOPY a /a\n');
    const r = await wharf(root, ['build', '-q', '-f', file, ctx]);
    assert.equal(r.code, 0, r.stderr);
    const lower = join(dir, 'lower');
    await writeContext(lower, { dockerfile: 'FROM busybox\nLABEL lower=1\n' });
    const l = await wharf(root, ['build', '-q', lower]);
    assert.equal(l.code, 0, l.stderr);
  });

  it('stdin: a Dockerfile with no context, a tar context, and -f - with a directory context', async () => {
    const r = await wharf(
      root,
      ['build', '-q', '-t', 'from-stdin', '-'],
      'FROM busybox\nRUN echo stdin > /s\n',
    );
    assert.equal(r.code, 0, r.stderr);
    const noContext = await wharf(root, ['build', '-q', '-'], 'FROM busybox\nCOPY a /a\n');
    assert.equal(noContext.code, 1);
    assert.match(noContext.stderr, /Dockerfile:2: .*has none/);
    const ctx = join(dir, 'tarctx');
    await writeContext(ctx, { Dockerfile: 'FROM busybox\nCOPY hello /hello\n', hello: 'from tar' });
    const { stdout: tar } = await execFileP('tar', ['-czf', '-', '-C', ctx, '.'], {
      encoding: 'buffer',
      maxBuffer: 1 << 24,
    });
    const t = await wharf(root, ['build', '-q', '-t', 'tar-context', '-'], tar);
    assert.equal(t.code, 0, t.stderr);
    const dfStdin = await wharf(root, ['build', '-q', '-f', '-', ctx], 'FROM busybox\nCOPY hello /h2\n');
    assert.equal(dfStdin.code, 0, dfStdin.stderr);
  });

  it('--target and --build-arg NAME taken from the environment', async () => {
    const ctx = join(dir, 'target');
    await writeContext(ctx, {
      Dockerfile: 'FROM busybox AS one\nARG FROMENV\nLABEL v=$FROMENV\nFROM busybox AS two\nLABEL two=1\n',
    });
    const r = await new Promise<Run>((resolve) => {
      execFile(
        wharfBin,
        ['--root', root, 'build', '-q', '--target', 'one', '--build-arg', 'FROMENV', ctx],
        { env: { ...process.env, FROMENV: 'env-value' } },
        (error, stdout, stderr) => resolve({ code: error ? 1 : 0, stdout, stderr }),
      );
    });
    assert.equal(r.code, 0, r.stderr);
    const labels = await wharf(root, ['inspect', '--format', '{{json .Config.Labels}}', r.stdout.trim()]);
    assert.equal(labels.stdout.trim(), '{"v":"env-value"}');
  });

  it('README example: examples/hello-web builds, runs and answers HTTP; a rebuild is fully cached; one change reruns from COPY', async () => {
    const app = join(dir, 'hello-web');
    await cp(join(projectRoot, 'examples', 'hello-web'), app, { recursive: true });
    const first = await wharf(root, ['build', '--progress=plain', '-t', 'hello-web', app]);
    assert.equal(first.code, 0, first.stderr);
    const answer = await wharf(root, [
      'run',
      '--rm',
      'hello-web',
      'sh',
      '-c',
      'node /app/src/index.js & for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://127.0.0.1:8080/ 2>/dev/null && break; sleep 0.3; done; kill %1',
    ]);
    assert.equal(answer.code, 0, answer.stderr);
    assert.ok(answer.stdout.length > 0, 'the app answered nothing');
    const second = await wharf(root, ['build', '--progress=plain', '-t', 'hello-web', app]);
    assert.equal(second.code, 0, second.stderr);
    for (const step of ['WORKDIR /app', 'COPY . .', 'RUN node -e']) {
      assert.match(
        second.stderr,
        new RegExp(`\\] ${step.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*\\n#\\d+ CACHED`),
      );
    }
    const firstId = /writing image (sha256:[0-9a-f]{64})/.exec(first.stderr)?.[1];
    assert.equal(/writing image (sha256:[0-9a-f]{64})/.exec(second.stderr)?.[1], firstId);
    await writeFile(join(app, 'package.json'), `${await readFile(join(app, 'package.json'), 'utf8')}\n`);
    const third = await wharf(root, ['build', '--progress=plain', '-t', 'hello-web', app]);
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stderr, /\] WORKDIR \/app\n#\d+ CACHED/);
    assert.doesNotMatch(third.stderr, /\] COPY \. \.\n#\d+ CACHED/);
    assert.doesNotMatch(third.stderr, /\] RUN node -e.*\n#\d+ CACHED/);
  });
});
