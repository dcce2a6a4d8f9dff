// `wharf registry serve` as a user runs it: where it stores things by default, what it says at
// start (including that it is open to anonymous push and pull), --config with flags overriding
// it, one server per storage directory, and a clean exit on SIGTERM.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { projectRoot, wharfBin } from '../../helpers/wharf.ts';
import { http } from './helpers.ts';

const built = existsSync(join(projectRoot, 'dist', 'wharf.mjs'));

async function serve(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = spawn(wharfBin, ['registry', 'serve', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stdout!.resume();
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening on (http:\/\/\S+)[\s\S]*anonymous push and pull/.exec(stderr);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${stderr}`)));
  });
  return { child, url, stderr: () => stderr };
}

async function terminate(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

describe('wharf registry serve', { skip: !built && 'dist/ is not built (node scripts/build.mjs)' }, () => {
  let root: string;
  const children: ChildProcess[] = [];
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'wharf-registry-cli-'));
  });
  after(async () => {
    for (const child of children) await terminate(child);
    await rm(root, { recursive: true, force: true });
  });

  it('serves from <root>/registry by default and warns that it is open to anonymous push and pull', async () => {
    const server = await serve(['--addr', '127.0.0.1:0'], { WHARF_ROOT: root });
    children.push(server.child);
    assert.match(server.stderr(), new RegExp(`storage ${join(root, 'registry')}\\)`));
    assert.match(server.stderr(), /open to anonymous push and pull/);
    const ping = await http('GET', server.url, '/v2/');
    assert.equal(ping.status, 200);
    assert.ok(existsSync(join(root, 'registry', 'metadata.db')));
    assert.match(server.stderr(), /web UI at http:\/\/\S+\/ui\//);
    assert.equal((await http('GET', server.url, '/ui/')).status, 200);

    // a second server on the same storage is refused while the first runs
    await assert.rejects(
      promisify(execFile)(wharfBin, ['registry', 'serve', '--addr', '127.0.0.1:0'], {
        env: { ...process.env, WHARF_ROOT: root },
      }),
      /another registry server \(pid \d+\) is serving it/,
    );
    assert.equal(await terminate(server.child), 0);
  });

  it('reads --config, with flags overriding it', async () => {
    const config = join(root, 'registry.json');
    await writeFile(
      config,
      JSON.stringify({ addr: '127.0.0.1:1', storage: join(root, 'from-config'), log: { level: 'warn' } }),
    );
    const server = await serve(['--config', config, '--addr', '127.0.0.1:0']);
    children.push(server.child);
    assert.match(server.stderr(), new RegExp(`storage ${join(root, 'from-config')}\\)`));
    assert.notEqual(new URL(server.url).port, '1');
    assert.equal(await terminate(server.child), 0);
    assert.match(server.stderr(), /Received SIGTERM, shutting down/);
  });

  it('serves no web UI with --no-ui or "ui": { "enabled": false }', async () => {
    const config = join(root, 'no-ui.json');
    await writeFile(config, JSON.stringify({ storage: join(root, 'no-ui'), ui: { enabled: false } }));
    for (const args of [
      ['--config', config],
      ['--storage', join(root, 'no-ui'), '--no-ui'],
    ]) {
      const server = await serve(['--addr', '127.0.0.1:0', ...args]);
      children.push(server.child);
      assert.doesNotMatch(server.stderr(), /web UI/);
      assert.equal((await http('GET', server.url, '/ui/')).status, 404);
      assert.equal((await http('GET', server.url, '/v2/')).status, 200);
      assert.equal(await terminate(server.child), 0);
    }
  });

  it('scans with --scan-db (and says so), and refuses scanning settings without a database', async () => {
    const db = join(root, 'vulndb');
    await mkdir(db, { recursive: true });
    await writeFile(join(db, 'DSA-1.json'), JSON.stringify({ id: 'DSA-1', affected: [] }));
    const storage = join(root, 'scanning');
    const server = await serve([
      '--addr',
      '127.0.0.1:0',
      '--storage',
      storage,
      '--scan-db',
      db,
      '--scan-on-push',
    ]);
    children.push(server.child);
    assert.match(server.stderr(), new RegExp(`Vulnerability scanning against ${db}, on push`));
    // enabled: a scan of a manifest the registry lacks is a 404, not the 501 of a registry without a database
    const scan = await http('POST', server.url, '/api/v1/repositories/team/app/manifests/v1/scan');
    assert.equal(scan.status, 404, scan.body.toString());
    assert.equal(await terminate(server.child), 0);

    const plain = await serve(['--addr', '127.0.0.1:0', '--storage', storage]);
    children.push(plain.child);
    assert.doesNotMatch(plain.stderr(), /Vulnerability scanning/);
    const off = await http('POST', plain.url, '/api/v1/repositories/team/app/manifests/v1/scan');
    assert.equal(off.status, 501);
    assert.equal(await terminate(plain.child), 0);

    const config = join(root, 'scan-no-db.json');
    await writeFile(config, JSON.stringify({ storage, scan: { preventVulnerable: { severity: 'HIGH' } } }));
    await assert.rejects(
      promisify(execFile)(wharfBin, ['registry', 'serve', '--addr', '127.0.0.1:0', '--config', config]),
      /Cannot serve: scan\.preventVulnerable needs a vulnerability database/,
    );
  });

  it('fails with a clear message on a bad address or config', async () => {
    const run = promisify(execFile);
    await assert.rejects(
      run(wharfBin, ['registry', 'serve', '--addr', 'nonsense']),
      /Cannot parse address "nonsense"/,
    );
    const bad = join(root, 'bad.json');
    await writeFile(bad, '{"log":{"level":"loud"}}');
    await assert.rejects(
      run(wharfBin, ['registry', 'serve', '--config', bad]),
      /Cannot read registry config .*log\.level/,
    );
  });

  it('documents its defaults in --help', async () => {
    const { stdout } = await promisify(execFile)(wharfBin, ['registry', 'serve', '--help']);
    assert.match(stdout, /127\.0\.0\.1:5000/);
    assert.match(stdout, /<root>\/registry/);
  });
});
