/**
 * `DOCKER_BUILDKIT=0 docker build` (the docker CLI 28's classic builder client: a tar context
 * uploaded to `POST /build`) against `wharf system service`: multi-stage builds with build args
 * and a target, the classic `Step N/M` output with ` ---> Using cache` on a rebuild, `-q`, `-f`
 * outside the context, `.dockerignore`, labels, a failing RUN; then the image verbs on what was
 * built (images, inspect, history, tag, rmi, save | load), `builder prune`, the raw endpoint
 * (gzip context, JSON messages, the `aux` id, an error line), two builds at once, and a client
 * that leaves in the middle of its upload.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { baseImagesMissing, ensureBaseImages } from '../../helpers/base-images.ts';
import { DOCKER_CLI, socketRequest, startWharfDaemon, type WharfDaemon } from '../../helpers/wharf-daemon.ts';

const run = promisify(execFile);

const skip = !existsSync(DOCKER_CLI)
  ? `the docker CLI is not installed at ${DOCKER_CLI}`
  : baseImagesMissing();

const MULTI_STAGE = `ARG BASE=busybox
FROM \${BASE} AS builder
ARG GREETING=hello
RUN echo "$GREETING from the builder" > /greeting.txt && echo built the greeting
COPY src/ /src/

FROM busybox AS unused
RUN echo this stage is never needed && exit 1

FROM busybox
LABEL stage=final
WORKDIR /app
COPY --from=builder /greeting.txt /src/ ./
ENV MODE=test
CMD ["cat", "/app/greeting.txt"]
`;

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
  const done = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const [name, content] of Object.entries(files)) pack.entry({ name, mode: 0o644 }, content);
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** The files of an image as `docker save` writes it: path -> content, later layers winning. */
async function imageFiles(archive: Buffer): Promise<Map<string, string>> {
  const entries = new Map<string, Buffer>();
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: unknown) => {
        chunks.push(chunk as Buffer);
      });
      stream.on('end', () => {
        entries.set(header.name, Buffer.concat(chunks));
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  extract.end(archive);
  await done;
  const manifest = JSON.parse(entries.get('manifest.json')!.toString()) as Array<{ Layers: string[] }>;
  const files = new Map<string, string>();
  for (const layer of manifest[0]!.Layers) {
    const inner = tar.extract();
    const read = new Promise<void>((resolve, reject) => {
      inner.on('entry', (header, stream, next) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: unknown) => {
          chunks.push(chunk as Buffer);
        });
        stream.on('end', () => {
          if (header.type === 'file')
            files.set(header.name.replace(/^\.?\//, ''), Buffer.concat(chunks).toString());
          next();
        });
      });
      inner.on('finish', resolve);
      inner.on('error', reject);
    });
    inner.end(entries.get(layer)!);
    await read;
  }
  return files;
}

describe('docker CLI 28 classic builder against wharf system service', { skip, timeout: 600_000 }, () => {
  let daemon: WharfDaemon | undefined;
  let context = '';
  const env = () => ({ ...daemon!.dockerEnv, DOCKER_BUILDKIT: '0' });
  const docker = async (args: string[], options: { cwd?: string } = {}) =>
    (await run(DOCKER_CLI, args, { env: env(), maxBuffer: 64 << 20, ...options })).stdout;
  const dockerFails = async (args: string[], options: { cwd?: string } = {}) => {
    try {
      await run(DOCKER_CLI, args, { env: env(), maxBuffer: 64 << 20, ...options });
    } catch (error) {
      const failure = error as { stdout: string; stderr: string; code: number };
      return { stdout: failure.stdout, stderr: failure.stderr, code: failure.code };
    }
    assert.fail(`docker ${args.join(' ')} succeeded`);
  };

  before(async () => {
    daemon = await startWharfDaemon({ prepare: (root) => ensureBaseImages(root) });
    context = join(daemon.dir, 'context');
    await mkdir(join(context, 'src'), { recursive: true });
    await writeFile(join(context, 'Dockerfile'), MULTI_STAGE);
    await writeFile(join(context, 'src', 'main.txt'), 'the main source\n');
    await writeFile(join(context, 'src', 'secret.txt'), 'must not be sent\n');
    await writeFile(join(context, '.dockerignore'), 'src/secret.txt\n');
  });

  after(async () => {
    await daemon?.stop();
  });

  it('builds a multi-stage Dockerfile with build args, in the classic builder output', async () => {
    const out = await docker([
      'build',
      '-t',
      'app:1',
      '-t',
      'app:latest',
      '--build-arg',
      'GREETING=hi',
      context,
    ]);
    // every instruction of the stages the target needs, numbered in file order; the unused stage is not built
    assert.match(out, /^Step 1\/11 : ARG BASE=busybox$/m);
    assert.match(out, /^Step 2\/11 : FROM \$\{BASE\} AS builder$/m);
    assert.match(
      out,
      /^Step 4\/11 : RUN echo "\$GREETING from the builder" > \/greeting.txt && echo built the greeting\nbuilt the greeting\n ---> [0-9a-f]{12}$/m,
    );
    assert.match(out, /^Step 11\/11 : CMD \["cat", "\/app\/greeting.txt"\]$/m);
    assert.doesNotMatch(out, /never needed/);
    const built = /^Successfully built ([0-9a-f]{12})$/m.exec(out);
    assert.ok(built, out);
    assert.match(out, new RegExp(` ---> ${built[1]}\\nSuccessfully built ${built[1]}\\n`));
    assert.match(out, /^Successfully tagged app:1$/m);
    assert.match(out, /^Successfully tagged app:latest$/m);
    const id = (await docker(['image', 'inspect', '-f', '{{.Id}}', 'app:1'])).trim();
    assert.equal(id.slice(7, 19), built[1]);
    const files = await imageFiles(
      Buffer.from(
        await run(DOCKER_CLI, ['save', 'app:1'], {
          env: env(),
          encoding: 'buffer',
          maxBuffer: 64 << 20,
        }).then((r) => r.stdout),
      ),
    );
    assert.equal(files.get('app/greeting.txt'), 'hi from the builder\n');
    assert.equal(files.get('app/main.txt'), 'the main source\n');
    assert.equal(files.has('app/secret.txt'), false, '.dockerignore keeps it out');
    const config = JSON.parse(await docker(['image', 'inspect', '-f', '{{json .Config}}', 'app:1']));
    assert.deepEqual(config.Cmd, ['cat', '/app/greeting.txt']);
    assert.equal(config.WorkingDir, '/app');
    assert.equal(config.Labels.stage, 'final');
    assert.ok(config.Env.includes('MODE=test'), config.Env);
  });

  it('rebuilds from the cache: Using cache, the same image id', async () => {
    const before = (await docker(['image', 'inspect', '-f', '{{.Id}}', 'app:1'])).trim();
    const df = await docker(['system', 'df', '--format', '{{.Type}}={{.TotalCount}}']);
    assert.ok(Number(/^Build Cache=(\d+)$/m.exec(df)?.[1]) >= 4, df);
    const out = await docker(['build', '-t', 'app:1', '--build-arg', 'GREETING=hi', context]);
    assert.equal(out.match(/^ ---> Using cache$/gm)?.length, 4, out); // RUN, COPY; WORKDIR, COPY --from
    assert.match(out, new RegExp(`^Successfully built ${before.slice(7, 19)}$`, 'm'));
    const changed = await docker(['build', '-t', 'app:2', '--build-arg', 'GREETING=bye', context]);
    assert.match(changed, /^built the greeting$/m);
    assert.doesNotMatch(changed, new RegExp(`Successfully built ${before.slice(7, 19)}`));
  });

  it('builds up to --target, and prints only the id with -q', async () => {
    const out = await docker(['build', '--target', 'builder', '-t', 'app:builder', context]);
    assert.match(out, /^Step 5\/5 : COPY src\/ \/src\/$/m);
    assert.doesNotMatch(out, /Step 6/);
    const quiet = await docker(['build', '-q', '--target', 'builder', context]);
    assert.match(quiet, /^sha256:[0-9a-f]{64}\n$/);
    const target = (await docker(['image', 'inspect', '-f', '{{.Id}}', 'app:builder'])).trim();
    assert.equal(quiet.trim(), target);
  });

  it('takes a Dockerfile from outside the context (-f) and labels (--label)', async () => {
    const outside = join(daemon!.dir, 'Other.dockerfile');
    await writeFile(outside, 'FROM busybox\nCOPY src/main.txt /main.txt\nCMD ["cat", "/main.txt"]\n');
    const out = await docker(['build', '-f', outside, '--label', 'team=api', '-t', 'other', context]);
    assert.match(out, /^Step 2\/3 : COPY src\/main.txt \/main.txt$/m);
    const labels = JSON.parse(await docker(['image', 'inspect', '-f', '{{json .Config.Labels}}', 'other']));
    assert.equal(labels.team, 'api');
    const stdin = await run(
      'sh',
      ['-c', `printf 'FROM busybox\\nENV FROM_STDIN=1\\n' | "${DOCKER_CLI}" build -q -`],
      {
        env: env(),
      },
    );
    assert.match(stdin.stdout, /^sha256:[0-9a-f]{64}$/m);
  });

  it('reports a failing RUN with its output and Docker error, the CLI exiting non-zero', async () => {
    const dir = join(daemon!.dir, 'failing');
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'Dockerfile'),
      'FROM busybox\nRUN echo about to fail && exit 3\nCMD ["true"]\n',
    );
    const failure = await dockerFails(['build', '-t', 'failing', dir]);
    assert.notEqual(failure.code, 0);
    assert.match(failure.stdout, /^Step 2\/3 : RUN echo about to fail && exit 3\nabout to fail$/m);
    assert.match(failure.stderr, /did not complete successfully: exit code: 3/);
    const missing = await dockerFails(['build', '-f', 'nope.Dockerfile', dir]);
    assert.match(missing.stderr, /nope\.Dockerfile/);
    await writeFile(join(dir, 'Dockerfile'), 'FROM busybox\nFORM typo\n');
    const syntax = await dockerFails(['build', dir]);
    assert.match(syntax.stderr, /unknown instruction: FORM/i);
  });

  it('lists, inspects, tags, removes and saves | loads what it built', async () => {
    const names = (await docker(['images', '--format', '{{.Repository}}:{{.Tag}}'])).trim().split('\n');
    for (const name of ['app:1', 'app:latest', 'app:builder', 'other:latest', 'busybox:latest']) {
      assert.ok(names.includes(name), `${name} in ${names.join(',')}`);
    }
    const history = await docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'app:1']);
    assert.match(history, /^CMD \["cat" "\/app\/greeting.txt"\]$/m);
    assert.match(history, /^WORKDIR \/app$/m);
    await docker(['tag', 'app:1', 'registry.example:5000/team/app:v1']);
    const tags = JSON.parse(await docker(['image', 'inspect', '-f', '{{json .RepoTags}}', 'app:1']));
    assert.ok(tags.includes('registry.example:5000/team/app:v1'), tags);
    const id = (await docker(['image', 'inspect', '-f', '{{.Id}}', 'app:1'])).trim();
    const piped = await run('sh', ['-c', `"${DOCKER_CLI}" save app:1 | "${DOCKER_CLI}" load`], {
      env: env(),
    });
    assert.equal(piped.stdout, 'Loaded image: app:1\n');
    assert.equal(
      await docker(['rmi', 'registry.example:5000/team/app:v1']),
      'Untagged: registry.example:5000/team/app:v1\n',
    );
    assert.equal((await docker(['image', 'inspect', '-f', '{{.Id}}', 'app:1'])).trim(), id);
  });

  it('serves POST /build: gzip context, tags, buildargs and labels as JSON, aux id, error lines', async () => {
    const body = gzipSync(
      await tarOf({
        'build/Dockerfile': 'FROM busybox\nARG WHO\nLABEL who=$WHO\nCOPY hello.txt /\n',
        'hello.txt': 'hello\n',
      }),
    );
    const query = new URLSearchParams({
      dockerfile: 'build/Dockerfile',
      buildargs: JSON.stringify({ WHO: 'api', UNUSED: null }),
      labels: JSON.stringify({ extra: 'yes' }),
      version: '1',
      rm: '1',
      forcerm: '0',
      networkmode: 'default',
      shmsize: '0',
    });
    query.append('t', 'raw:1');
    query.append('t', 'raw:2');
    const response = await socketRequest(daemon!.socket, `/v1.41/build?${query}`, {
      method: 'POST',
      body,
      headers: { 'Content-Type': 'application/x-tar' },
      timeoutMs: 120_000,
    });
    assert.equal(response.status, 200, response.body);
    const messages = response.body
      .trim()
      .split(/\r?\n/)
      .map((line) => JSON.parse(line) as { stream?: string; aux?: { ID: string }; error?: string });
    assert.equal(messages[0]?.stream, 'Step 1/4 : FROM busybox\n');
    const aux = messages.find((m) => m.aux);
    assert.match(aux?.aux?.ID ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(
      messages.slice(-3).map((m) => m.stream),
      [
        `Successfully built ${aux!.aux!.ID.slice(7, 19)}\n`,
        'Successfully tagged raw:1\n',
        'Successfully tagged raw:2\n',
      ],
    );
    const labels = JSON.parse(await docker(['image', 'inspect', '-f', '{{json .Config.Labels}}', 'raw:2']));
    assert.deepEqual(labels, { who: 'api', extra: 'yes' });

    const broken = await socketRequest(daemon!.socket, '/v1.41/build?t=broken', {
      method: 'POST',
      body: await tarOf({ Dockerfile: 'FROM busybox\nRUN exit 7\n' }),
      timeoutMs: 60_000,
    });
    const last = JSON.parse(broken.body.trim().split(/\r?\n/).at(-1)!);
    assert.match(last.errorDetail.message, /exit code: 7/);
    assert.equal(last.error, last.errorDetail.message);

    const notTar = await socketRequest(daemon!.socket, '/v1.41/build', {
      method: 'POST',
      body: 'not a tar at all',
    });
    assert.match(notTar.body, /Cannot read the build context/);
    const outside = await socketRequest(daemon!.socket, '/v1.41/build?dockerfile=../../etc/passwd', {
      method: 'POST',
      body: await tarOf({ Dockerfile: 'FROM busybox\n' }),
    });
    assert.match(outside.body, /outside the build context/);
    const buildkit = await socketRequest(daemon!.socket, '/v1.41/build?version=2', {
      method: 'POST',
      body: '',
    });
    assert.equal(buildkit.status, 400);
  });

  it('runs two builds at once, each in its own context directory', async () => {
    const one = tarOf({ Dockerfile: 'FROM busybox\nCOPY a /a\n', a: 'one\n' });
    const two = tarOf({ Dockerfile: 'FROM busybox\nCOPY a /a\n', a: 'two\n' });
    const [first, second] = await Promise.all([
      socketRequest(daemon!.socket, '/v1.41/build?t=concurrent:1', {
        method: 'POST',
        body: await one,
        timeoutMs: 120_000,
      }),
      socketRequest(daemon!.socket, '/v1.41/build?t=concurrent:2', {
        method: 'POST',
        body: await two,
        timeoutMs: 120_000,
      }),
    ]);
    assert.match(first.body, /Successfully tagged concurrent:1/);
    assert.match(second.body, /Successfully tagged concurrent:2/);
    const ids = await Promise.all(
      ['concurrent:1', 'concurrent:2'].map(async (n) =>
        (await docker(['image', 'inspect', '-f', '{{.Id}}', n])).trim(),
      ),
    );
    assert.notEqual(ids[0], ids[1]);
  });

  it('survives a client that leaves in the middle of its upload: no partial context kept, daemon answering', async () => {
    const big = await tarOf(
      Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`f${i}.txt`, 'x'.repeat(20_000)])),
    );
    await new Promise<void>((resolve) => {
      const req = request({
        socketPath: daemon!.socket,
        path: '/v1.41/build?t=abandoned',
        method: 'POST',
        headers: { 'Content-Length': String(big.length) },
      });
      req.on('error', () => {});
      req.write(big.subarray(0, big.length >> 1));
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 300);
    });
    assert.equal((await socketRequest(daemon!.socket, '/_ping')).body, 'OK');
    // slots keep the contexts of finished builds, never a part of one
    const tmp = join(daemon!.root, 'build', 'tmp');
    const partial = () =>
      readdirSync(tmp)
        .filter((name) => name.startsWith('api-context-'))
        .filter((name) => existsSync(join(tmp, name, 'f0.txt')));
    let left = partial();
    for (let wait = 0; wait < 50 && left.length > 0; wait++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      left = partial();
    }
    assert.deepEqual(left, []);
    assert.doesNotMatch(await docker(['images', '--format', '{{.Repository}}']), /abandoned/);
  });

  it('prunes the build cache: the next build runs every step again', async () => {
    const out = await docker(['builder', 'prune', '-af']);
    assert.match(out, /Total reclaimed space: /);
    // the contexts kept for the next builds go too
    const tmp = join(daemon!.root, 'build', 'tmp');
    assert.deepEqual(
      readdirSync(tmp).filter((name) => name.startsWith('api-context-')),
      [],
    );
    const rebuilt = await docker(['build', '-t', 'app:1', '--build-arg', 'GREETING=hi', context]);
    assert.doesNotMatch(rebuilt, /Using cache/);
    assert.match(rebuilt, /^built the greeting$/m);
  });
});
