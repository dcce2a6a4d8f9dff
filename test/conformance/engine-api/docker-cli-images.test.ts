/**
 * The real docker CLI 28 against `wharf system service` (a child process on a temp root and
 * socket): version negotiation, info, the image verbs (images, image inspect, history, tag, rmi,
 * save | load, import, system df), the 501 answer of a service not wired yet, a robustness check
 * (clients that disconnect in the middle of a stream leave the daemon answering with the same
 * open file count) and a clean SIGTERM shutdown.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import { baseImagesMissing, ensureBaseImages } from '../../helpers/base-images.ts';
import { DOCKER_CLI, socketRequest, startWharfDaemon, type WharfDaemon } from '../../helpers/wharf-daemon.ts';

const run = promisify(execFile);

const skip = !existsSync(DOCKER_CLI)
  ? `the docker CLI is not installed at ${DOCKER_CLI}`
  : baseImagesMissing();

let daemon: WharfDaemon | undefined;

async function docker(args: string[]): Promise<string> {
  const { stdout } = await run(DOCKER_CLI, args, { env: daemon!.dockerEnv, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

async function dockerFails(args: string[]): Promise<string> {
  try {
    await run(DOCKER_CLI, args, { env: daemon!.dockerEnv });
  } catch (error) {
    return (error as { stderr: string }).stderr;
  }
  assert.fail(`docker ${args.join(' ')} succeeded`);
}

async function shell(script: string): Promise<string> {
  const { stdout } = await run('sh', ['-c', script], { env: daemon!.dockerEnv, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

async function rootfsTar(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
  const done = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const [name, content] of Object.entries(files)) {
    pack.entry({ name, mode: 0o755, mtime: new Date(0) }, content);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Starts a request, reads its first response bytes (or sends half a body), then drops the connection. */
function disconnectMidStream(
  socket: string,
  path: string,
  options: { method?: string; upload?: Buffer } = {},
): Promise<void> {
  return new Promise((resolve) => {
    const req = request({
      socketPath: socket,
      path,
      method: options.method ?? 'GET',
      ...(options.upload ? { headers: { 'Content-Length': String(options.upload.length) } } : {}),
    });
    req.on('error', () => {});
    const drop = () => {
      req.destroy();
      resolve();
    };
    if (options.upload) {
      req.write(options.upload.subarray(0, options.upload.length >> 1));
      setTimeout(drop, 200);
    } else {
      req.on('response', (res) => {
        res.on('error', () => {});
        res.once('data', () => {
          res.pause();
          setTimeout(drop, 100);
        });
      });
      req.end();
    }
  });
}

describe('docker CLI 28 against wharf system service: images', { skip }, () => {
  before(async () => {
    daemon = await startWharfDaemon({ prepare: (root) => ensureBaseImages(root) });
  });

  after(async () => {
    await daemon?.stop();
  });

  it('negotiates API 1.41 and shows the server in docker version', async () => {
    const out = await docker([
      'version',
      '--format',
      '{{.Client.APIVersion}} {{.Server.APIVersion}} {{.Server.Os}}',
    ]);
    assert.equal(out.trim(), '1.41 1.41 linux');
    const text = await docker(['version']);
    assert.match(text, /Server: Wharf /);
    assert.match(text, /API version:\s+1\.41 \(minimum version 1\.24\)/);
  });

  it('answers /_ping on GET and HEAD, versioned or not, with the builder and API headers', async () => {
    for (const [method, path] of [
      ['GET', '/_ping'],
      ['HEAD', '/_ping'],
      ['GET', '/v1.41/_ping'],
      ['HEAD', '/v1.24/_ping'],
    ] as const) {
      const response = await socketRequest(daemon!.socket, path, { method });
      assert.equal(response.status, 200, `${method} ${path}`);
      assert.equal(response.headers['api-version'], '1.41');
      assert.equal(response.headers['builder-version'], '1');
      assert.equal(response.headers.ostype, 'linux');
      assert.equal(response.headers['docker-experimental'], 'false');
      assert.equal(response.body, method === 'GET' ? 'OK' : '');
    }
    const tooNew = await socketRequest(daemon!.socket, '/v1.99/version');
    assert.equal(tooNew.status, 400);
    assert.match(JSON.parse(tooNew.body).message, /client version 1\.99 is too new/);
    const unknown = await socketRequest(daemon!.socket, '/v1.41/no/such/route');
    assert.equal(unknown.status, 404);
    assert.deepEqual(JSON.parse(unknown.body), { message: 'page not found' });
  });

  it('docker info reports the store', async () => {
    const out = await docker([
      'info',
      '--format',
      '{{.Images}}|{{.OSType}}|{{.DockerRootDir}}|{{.ServerVersion}}',
    ]);
    const [images, osType, rootDir, version] = out.trim().split('|');
    assert.equal(Number(images) >= 1, true);
    assert.equal(osType, 'linux');
    assert.equal(rootDir, daemon!.root);
    assert.match(version ?? '', /^\d+\.\d+\.\d+/);
  });

  it('lists, inspects and shows the history of images', async () => {
    const names = (await docker(['images', '--format', '{{.Repository}}:{{.Tag}}'])).trim().split('\n');
    assert.ok(names.includes('busybox:latest'), names.join(','));
    const inspect = JSON.parse(await docker(['image', 'inspect', 'busybox']));
    assert.equal(inspect.length, 1);
    assert.match(inspect[0].Id, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(inspect[0].RepoTags, ['busybox:latest']);
    assert.equal(await docker(['image', 'inspect', '-f', '{{json .Config.Cmd}}', 'busybox']), '["sh"]\n');
    const history = (
      await docker(['history', '--no-trunc', '--format', '{{.ID}} {{.Size}}', 'busybox'])
    ).trim();
    assert.match(history, new RegExp(`^${inspect[0].Id} `));
    const filtered = await docker(['images', '--filter', 'reference=busy*', '--format', '{{.Repository}}']);
    assert.equal(filtered, 'busybox\n');
  });

  it('tags and removes images, with names that hold a registry, a path and a tag', async () => {
    await docker(['tag', 'busybox', 'localhost:5000/team/bb:v1']);
    const names = await docker(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.match(names, /^localhost:5000\/team\/bb:v1$/m);
    const tags = JSON.parse(
      await docker(['image', 'inspect', '-f', '{{json .RepoTags}}', 'localhost:5000/team/bb:v1']),
    );
    assert.deepEqual(tags.sort(), ['busybox:latest', 'localhost:5000/team/bb:v1']);
    assert.equal(await docker(['rmi', 'localhost:5000/team/bb:v1']), 'Untagged: localhost:5000/team/bb:v1\n');
    const missing = await dockerFails(['rmi', 'no-such-image']);
    assert.match(missing, /Error response from daemon: No such image: no-such-image:latest/);
    const badInspect = await dockerFails(['image', 'inspect', 'no-such-image']);
    assert.match(badInspect, /No such image/);
  });

  it('round-trips images through docker save | docker load, and save -o / load -i', async () => {
    const id = (await docker(['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).trim();
    const piped = await shell(`"${DOCKER_CLI}" save busybox | "${DOCKER_CLI}" load`);
    assert.equal(piped, 'Loaded image: busybox:latest\n');
    const archive = join(daemon!.dir, 'busybox.tar');
    await docker(['save', '-o', archive, 'busybox']);
    await docker(['rmi', 'busybox']);
    assert.doesNotMatch(await docker(['images', '--format', '{{.Repository}}']), /busybox/);
    assert.equal(await docker(['load', '-i', archive]), 'Loaded image: busybox:latest\n');
    assert.equal((await docker(['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).trim(), id);
  });

  it('imports a filesystem tarball with changes and a message, from a file and from stdin', async () => {
    const tarball = join(daemon!.dir, 'rootfs.tar');
    await writeFile(tarball, await rootfsTar({ hello: '#!/bin/sh\necho hello\n' }));
    const id = (
      await docker(['import', '-c', 'CMD ["/hello"]', '-c', 'ENV A=b', '-m', 'from a test', tarball, 'imp:1'])
    ).trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(
      await docker([
        'image',
        'inspect',
        '-f',
        '{{json .Config.Cmd}} {{.Comment}} {{index .Config.Env 0}}',
        'imp:1',
      ]),
      '["/hello"] from a test A=b\n',
    );
    const fromStdin = (await shell(`"${DOCKER_CLI}" import - imp:2 < "${tarball}"`)).trim();
    assert.match(fromStdin, /^sha256:[0-9a-f]{64}$/);
    assert.equal((await docker(['history', '--format', '{{.Comment}}', 'imp:2'])).trim(), 'Imported from -');
    await docker(['rmi', 'imp:1', 'imp:2']);
  });

  it('docker system df shows the images', async () => {
    const out = await docker(['system', 'df', '--format', '{{.Type}}={{.TotalCount}}']);
    const counts = Object.fromEntries(
      out
        .trim()
        .split('\n')
        .map((line) => line.split('=')),
    );
    assert.ok(Number(counts.Images) >= 1, out);
    assert.equal(counts.Containers, '0');
    const verbose = await docker(['system', 'df', '-v']);
    assert.match(verbose, /^busybox\s+latest\s+[0-9a-f]{12}/m);
  });

  it('prunes dangling images', async () => {
    const out = await docker(['image', 'prune', '-f']);
    assert.match(out, /Total reclaimed space: /);
  });

  it('lists containers through the container service wired into the daemon', async () => {
    const out = await docker(['ps', '-a', '--format', '{{.ID}}']);
    assert.equal(typeof out, 'string');
    const response = await socketRequest(daemon!.socket, '/v1.41/containers/json?all=1');
    assert.equal(response.status, 200);
  });

  it('survives clients that disconnect mid-stream: /_ping answers, no file descriptor leaks', async () => {
    const socket = daemon!.socket;
    const archive = Buffer.from(await readFile(join(daemon!.dir, 'busybox.tar')));
    // warm up: every code path once, completely
    await socketRequest(socket, '/images/get?names=busybox');
    const before = await daemon!.openFds();
    for (let i = 0; i < 5; i++) {
      await disconnectMidStream(socket, '/v1.41/images/get?names=busybox');
      await disconnectMidStream(socket, '/v1.41/images/busybox/get');
      await disconnectMidStream(socket, '/v1.41/images/load', { method: 'POST', upload: archive });
      await disconnectMidStream(socket, '/v1.41/images/create?fromSrc=-&repo=partial', {
        method: 'POST',
        upload: archive,
      });
    }
    assert.equal((await socketRequest(socket, '/_ping')).body, 'OK');
    let after = await daemon!.openFds();
    for (let wait = 0; wait < 40 && after > before; wait++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      after = await daemon!.openFds();
    }
    assert.ok(after <= before, `open fds went from ${before} to ${after}`);
    assert.doesNotMatch(await docker(['images', '--format', '{{.Repository}}']), /partial/);
    assert.equal(daemon!.child.exitCode, null, daemon!.log());
  });

  it('stops cleanly on SIGTERM: exit code 0, socket and pid file removed', async () => {
    const pidFile = join(daemon!.dir, 'wharf.pid');
    assert.equal((await readFile(pidFile, 'utf8')).trim(), String(daemon!.pid));
    process.kill(daemon!.pid, 'SIGTERM');
    assert.equal(await daemon!.exited, 0);
    assert.equal(existsSync(daemon!.socket), false);
    assert.equal(existsSync(pidFile), false);
  });
});
