/**
 * The docker CLI 28 against `wharf system service`, with a Wharf registry (`wharf registry serve`,
 * a user in its user table, so access control is on): `docker login` checks the credentials
 * through `/auth`, `docker push` and `docker pull` send them in `X-Registry-Auth` (the daemon
 * reads no config.json of its own), `docker search` lists the registry's catalog. The pull goes
 * to a second daemon with an empty root, so layers are really downloaded and unpacked. The raw
 * API's pull stream is checked for Docker's JSON progress shape.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import { baseImagesMissing, ensureBaseImages } from '../../helpers/base-images.ts';
import { wharfBin } from '../../helpers/wharf.ts';
import { DOCKER_CLI, socketRequest, startWharfDaemon, type WharfDaemon } from '../../helpers/wharf-daemon.ts';

const run = promisify(execFile);

const skip = !existsSync(DOCKER_CLI)
  ? `the docker CLI is not installed at ${DOCKER_CLI}`
  : baseImagesMissing();

interface Registry {
  host: string;
  storage: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** `wharf registry serve` on a random loopback port, with `alice` (registry admin) in its user table. */
async function startRegistry(): Promise<Registry> {
  const storage = await mkdtemp(join(tmpdir(), 'wharf-api-registry-'));
  await run(wharfBin, [
    'registry',
    'user',
    'add',
    '--storage',
    storage,
    '--admin',
    '-p',
    'alice-pw',
    'alice',
  ]);
  const child = spawn(wharfBin, ['registry', 'serve', '--addr', '127.0.0.1:0', '--storage', storage], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      process.kill(child.pid, 'SIGTERM');
      await exited;
    }
    await rm(storage, { recursive: true, force: true });
  };
  try {
    const host = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`the registry did not start: ${out}`)), 20_000);
      const onData = (chunk: Buffer) => {
        out += chunk;
        const match = /listening on http:\/\/(127\.0\.0\.1:\d+)/.exec(out);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => reject(new Error(`the registry exited (${code}): ${out}`)));
    });
    return { host, storage, child, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function rootfsTar(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
  const done = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const [name, content] of Object.entries(files)) pack.entry({ name, mode: 0o644 }, content);
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

function authHeader(auth: object): string {
  return Buffer.from(JSON.stringify(auth)).toString('base64url');
}

describe('docker CLI 28 against wharf system service: login, push, pull, search', {
  skip,
  timeout: 300_000,
}, () => {
  let daemon: WharfDaemon | undefined;
  let second: WharfDaemon | undefined;
  let registry: Registry | undefined;

  const docker = async (args: string[], on: WharfDaemon = daemon!) =>
    (await run(DOCKER_CLI, args, { env: on.dockerEnv, maxBuffer: 64 << 20 })).stdout;
  const dockerFails = async (args: string[], on: WharfDaemon = daemon!) => {
    try {
      await run(DOCKER_CLI, args, { env: on.dockerEnv });
    } catch (error) {
      return (error as { stderr: string }).stderr;
    }
    assert.fail(`docker ${args.join(' ')} succeeded`);
  };

  before(async () => {
    registry = await startRegistry();
    daemon = await startWharfDaemon({ prepare: (root) => ensureBaseImages(root) });
    second = await startWharfDaemon();
    const tarball = join(daemon.dir, 'app.tar');
    await writeFile(tarball, await rootfsTar({ 'app/hello.txt': `hello ${Date.now()}\n` }));
    await docker(['import', '-c', 'CMD ["cat", "/app/hello.txt"]', tarball, `${registry.host}/team/app:v1`]);
    await docker(['tag', 'busybox', `${registry.host}/team/bb:v1`]);
  });

  after(async () => {
    await second?.stop();
    await daemon?.stop();
    await registry?.stop();
  });

  it('refuses a push without credentials, and a login with a wrong password', async () => {
    const push = await dockerFails(['push', `${registry!.host}/team/app:v1`]);
    assert.match(push, /unauthorized|authentication required/i);
    const login = await dockerFails(['login', '-u', 'alice', '-p', 'nope', registry!.host]);
    assert.match(login, /Error response from daemon: .*(unauthorized|authentication required)/i);
    const raw = await socketRequest(daemon!.socket, '/v1.41/auth', {
      method: 'POST',
      body: JSON.stringify({ username: 'alice', password: 'nope', serveraddress: registry!.host }),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.ok(raw.status >= 400 && raw.status < 500, `status ${raw.status}: ${raw.body}`);
    assert.match(JSON.parse(raw.body).message, /Cannot log in to 127\.0\.0\.1:\d+/);
  });

  it('logs in through /auth: the daemon checks the credentials, the CLI stores them', async () => {
    const raw = await socketRequest(daemon!.socket, '/v1.41/auth', {
      method: 'POST',
      body: JSON.stringify({ username: 'alice', password: 'alice-pw', serveraddress: registry!.host }),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(raw.status, 200, raw.body);
    assert.deepEqual(JSON.parse(raw.body), { Status: 'Login Succeeded', IdentityToken: '' });
    const out = await docker(['login', '-u', 'alice', '-p', 'alice-pw', registry!.host]);
    assert.match(out, /Login Succeeded/);
    const config = JSON.parse(await readFile(join(daemon!.dockerEnv.DOCKER_CONFIG!, 'config.json'), 'utf8'));
    assert.ok(config.auths[registry!.host], JSON.stringify(config));
  });

  it('pushes with the credentials of X-Registry-Auth, with Docker progress and the digest line', async () => {
    const out = await docker(['push', `${registry!.host}/team/app:v1`]);
    assert.match(out, new RegExp(`The push refers to repository \\[${registry!.host}/team/app\\]`));
    assert.match(out, /^[0-9a-f]{12}: Pushed$/m);
    const digestLine = /^v1: digest: (sha256:[0-9a-f]{64}) size: (\d+)$/m.exec(out);
    assert.ok(digestLine, out);
    assert.equal(out.match(/: digest: /g)?.length, 1, 'the digest line is printed once');
    const again = await docker(['push', `${registry!.host}/team/app:v1`]);
    assert.match(again, /^[0-9a-f]{12}: Layer already exists$/m);
    const repoDigests = JSON.parse(
      await docker(['image', 'inspect', '-f', '{{json .RepoDigests}}', `${registry!.host}/team/app:v1`]),
    );
    assert.ok(repoDigests.includes(`${registry!.host}/team/app@${digestLine[1]}`), repoDigests);
    const bb = await docker(['push', `${registry!.host}/team/bb:v1`]);
    assert.match(bb, /^v1: digest: sha256:[0-9a-f]{64} size: \d+$/m);
  });

  it('pulls into an empty daemon: refused anonymously, downloaded and unpacked with credentials', async () => {
    const reference = `${registry!.host}/team/app:v1`;
    const anonymous = await dockerFails(['pull', reference], second);
    // refused before any progress: an error status, which the CLI shows as the daemon's answer
    assert.match(anonymous, /Error response from daemon: .*(unauthorized|authentication required)/i);
    await docker(['login', '-u', 'alice', '-p', 'alice-pw', registry!.host], second);
    const out = await docker(['pull', reference], second);
    assert.match(out, /^v1: Pulling from team\/app$/m);
    assert.match(out, /^[0-9a-f]{12}: Pull complete$/m);
    assert.match(out, /^Digest: sha256:[0-9a-f]{64}$/m);
    assert.match(out, new RegExp(`^Status: Downloaded newer image for ${reference}$`, 'm'));
    const id = (await docker(['image', 'inspect', '-f', '{{.Id}}', reference])).trim();
    assert.equal((await docker(['image', 'inspect', '-f', '{{.Id}}', reference], second)).trim(), id);
    const again = await docker(['pull', reference], second);
    assert.match(again, new RegExp(`^Status: Image is up to date for ${reference}$`, 'm'));
  });

  it('streams Docker JSON progress from POST /images/create?fromImage=', async () => {
    const response = await socketRequest(
      second!.socket,
      `/v1.41/images/create?fromImage=${encodeURIComponent(`${registry!.host}/team/bb`)}&tag=v1`,
      {
        method: 'POST',
        headers: {
          'X-Registry-Auth': authHeader({
            username: 'alice',
            password: 'alice-pw',
            serveraddress: registry!.host,
          }),
        },
        timeoutMs: 60_000,
      },
    );
    assert.equal(response.status, 200, response.body);
    assert.match(String(response.headers['content-type']), /application\/json/);
    const messages = response.body
      .trim()
      .split(/\r?\n/)
      .map(
        (line) =>
          JSON.parse(line) as { id?: string; status?: string; progressDetail?: object; error?: string },
      );
    assert.deepEqual(messages[0], { id: 'v1', status: 'Pulling from team/bb' });
    assert.ok(messages.some((m) => m.status === 'Pulling fs layer' && /^[0-9a-f]{12}$/.test(m.id ?? '')));
    assert.ok(
      messages.some((m) => m.status === 'Downloading' && m.progressDetail && 'current' in m.progressDetail),
    );
    assert.ok(messages.some((m) => m.status === 'Pull complete'));
    assert.equal(messages.filter((m) => m.error).length, 0);
    assert.match(messages.at(-1)?.status ?? '', /^Status: Downloaded newer image for /);
    // wrong credentials fail before the first message: an HTTP error status of its own
    const refused = await socketRequest(
      second!.socket,
      `/v1.41/images/create?fromImage=${encodeURIComponent(`${registry!.host}/team/bb`)}&tag=v1`,
      {
        method: 'POST',
        headers: { 'X-Registry-Auth': authHeader({ username: 'alice', password: 'wrong' }) },
      },
    );
    assert.ok(refused.status >= 400, `${refused.status} ${refused.body}`);
    assert.match(JSON.parse(refused.body).message, /unauthorized|authentication required/i);
  });

  it('searches the registry catalog, with Docker filters and limit', async () => {
    const out = await docker(['search', '--format', '{{.Name}}|{{.StarCount}}', `${registry!.host}/team`]);
    assert.deepEqual(out.trim().split('\n').sort(), [
      `${registry!.host}/team/app|0`,
      `${registry!.host}/team/bb|0`,
    ]);
    const one = await docker(['search', '--limit', '1', '--format', '{{.Name}}', `${registry!.host}/app`]);
    assert.equal(one, `${registry!.host}/team/app\n`);
    const official = await docker([
      'search',
      '--filter',
      'is-official=true',
      '--format',
      '{{.Name}}',
      `${registry!.host}/team`,
    ]);
    assert.equal(official, '');
    const bad = await dockerFails(['search', '--filter', 'nope=1', `${registry!.host}/team`]);
    assert.match(bad, /invalid filter 'nope'/);
  });
});
