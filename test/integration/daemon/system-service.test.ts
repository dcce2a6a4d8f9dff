/**
 * `wharf system service` as a process: several listeners (unix socket and loopback TCP on a
 * port the kernel picks), a second daemon refused while the first answers, the socket and pid
 * file of a daemon killed with SIGKILL taken over by the next one, and the refusal to listen on
 * a non-loopback address.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { wharfBin } from '../../helpers/wharf.ts';
import { DOCKER_CLI, socketRequest, startWharfDaemon, type WharfDaemon } from '../../helpers/wharf-daemon.ts';

const run = promisify(execFile);

function wharf(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(wharfBin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

const daemons: WharfDaemon[] = [];
const dirs: string[] = [];

describe('wharf system service', () => {
  after(async () => {
    for (const daemon of daemons) await daemon.stop();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('listens on a unix socket (mode 0660) and on loopback TCP at once', async () => {
    const daemon = await startWharfDaemon({ args: ['-H', 'tcp://127.0.0.1:0'] });
    daemons.push(daemon);
    assert.equal((await stat(daemon.socket)).mode & 0o777, 0o660);
    const tcp = daemon.addresses.find((address) => address.startsWith('tcp://'));
    assert.match(tcp ?? '', /^tcp:\/\/127\.0\.0\.1:\d+$/);
    const response = await fetch(`${tcp!.replace('tcp://', 'http://')}/v1.41/version`);
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { ApiVersion: string }).ApiVersion, '1.41');
    if (existsSync(DOCKER_CLI)) {
      const { stdout } = await run(DOCKER_CLI, ['version', '--format', '{{.Server.APIVersion}}'], {
        env: { ...daemon.dockerEnv, DOCKER_HOST: tcp! },
      });
      assert.equal(stdout, '1.41\n');
    }
  });

  it('refuses to start a second daemon on a socket that answers', async () => {
    const daemon = daemons[0]!;
    const second = await wharf([
      '--root',
      daemon.root,
      'system',
      'service',
      '-H',
      `unix://${daemon.socket}`,
      '--pidfile',
      join(daemon.dir, 'second.pid'),
    ]);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /Cannot listen on .*wharf\.sock: another daemon is listening on it/);
    assert.equal((await socketRequest(daemon.socket, '/_ping')).body, 'OK');
    const samePid = await wharf([
      '--root',
      daemon.root,
      'system',
      'service',
      '-H',
      `unix://${daemon.dir}/other.sock`,
      '--pidfile',
      join(daemon.dir, 'wharf.pid'),
    ]);
    assert.equal(samePid.code, 1);
    assert.match(samePid.stderr, /names a running process \(\d+\)/);
  });

  it('takes over the socket and pid file of a daemon killed with SIGKILL', async () => {
    const first = await startWharfDaemon();
    daemons.push(first);
    process.kill(first.pid, 'SIGKILL');
    await first.exited;
    assert.ok(existsSync(first.socket), 'a killed daemon leaves its socket');
    assert.equal((await readFile(join(first.dir, 'wharf.pid'), 'utf8')).trim(), String(first.pid));
    const child = spawn(
      wharfBin,
      ['--root', first.root, 'system', 'service', '-H', `unix://${first.socket}`],
      {
        stdio: 'ignore',
      },
    );
    try {
      let ping: string | undefined;
      for (let i = 0; i < 200 && ping !== 'OK'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        ping = (await socketRequest(first.socket, '/_ping').catch(() => undefined))?.body;
      }
      assert.equal(ping, 'OK');
      assert.equal((await readFile(join(first.dir, 'wharf.pid'), 'utf8')).trim(), String(child.pid));
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      process.kill(child.pid!, 'SIGTERM');
      await exited;
    }
    assert.equal(existsSync(first.socket), false);
  });

  it('refuses a non-loopback TCP address', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-daemon-refuse-'));
    dirs.push(dir);
    const result = await wharf([
      '--root',
      join(dir, 'root'),
      'system',
      'service',
      '-H',
      'tcp://0.0.0.0:2375',
    ]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /only loopback addresses/);
    assert.equal(existsSync(join(dir, 'root')), false, 'nothing was created before the refusal');
  });
});
