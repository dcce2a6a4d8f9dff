// `wharf registry user|project|robot` as an operator runs them: on the storage directory of a
// registry that is serving, each change taking effect at the next request.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { projectRoot } from '../../helpers/wharf.ts';
import {
  basicAuth,
  generateImage,
  http,
  pushImage,
  startTestRegistry,
  type TestRegistry,
} from './helpers.ts';

function wharf(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', join(projectRoot, 'src/cli/main.ts'), 'registry', ...args],
      { cwd: projectRoot },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
    child.stdin?.end(input ?? '');
  });
}

describe('wharf registry user|project|robot', { timeout: 120_000 }, () => {
  let registry: TestRegistry;
  let storage: string[];

  before(async () => {
    registry = await startTestRegistry();
    storage = ['--storage', registry.storage];
  });
  after(async () => {
    await registry?.close();
  });

  it('adds users while the server runs; the registry closes at the first one', async () => {
    assert.equal((await http('GET', registry.url, '/v2/')).status, 200);
    const added = await wharf(
      ['user', 'add', 'root', '--admin', '--password-stdin', ...storage],
      'root-pw\n',
    );
    assert.equal(added.code, 0, added.stderr);
    assert.equal((await wharf(['user', 'add', 'ann', '-p', 'ann-pw', ...storage])).code, 0);
    assert.equal((await http('GET', registry.url, '/v2/')).status, 401);
    assert.equal(
      (await http('GET', registry.url, '/v2/', { headers: basicAuth('root', 'root-pw') })).status,
      200,
    );
    const list = await wharf(['user', 'ls', ...storage]);
    assert.match(list.stdout, /^NAME\s+ADMIN\s+CREATED\n/);
    assert.match(list.stdout, /\nann\s+false\s/);
    assert.match(list.stdout, /\nroot\s+true\s/);
    const duplicate = await wharf(['user', 'add', 'ann', '-p', 'x', ...storage]);
    assert.notEqual(duplicate.code, 0);
    assert.match(duplicate.stderr, /already exists/);
  });

  it('creates projects and members; roles apply at the next request', async () => {
    assert.equal((await wharf(['project', 'create', 'apps', ...storage])).code, 0);
    assert.equal((await wharf(['project', 'create', 'open', '--public', ...storage])).code, 0);
    assert.equal(
      (await wharf(['project', 'member', 'add', 'apps', 'ann', '--role', 'guest', ...storage])).code,
      0,
    );
    const denied = await pushImage(
      registry.url,
      'apps/web',
      generateImage(),
      'v1',
      basicAuth('ann', 'ann-pw'),
    ).catch((error: Error) => error);
    assert.ok(denied instanceof Error && /403/.test(denied.message), 'a guest cannot push');
    assert.equal(
      (await wharf(['project', 'member', 'add', 'apps', 'ann', '--role', 'developer', ...storage])).code,
      0,
    );
    const pushed = await pushImage(
      registry.url,
      'apps/web',
      generateImage(),
      'v1',
      basicAuth('ann', 'ann-pw'),
    );
    assert.equal(pushed.status, 201);
    const projects = await wharf(['project', 'ls', '--format', 'json', ...storage]);
    assert.deepEqual(
      (JSON.parse(projects.stdout) as Array<{ name: string; public: boolean }>).map((p) => [
        p.name,
        p.public,
      ]),
      [
        ['apps', false],
        ['open', true],
      ],
    );
    const members = await wharf(['project', 'member', 'ls', 'apps', ...storage]);
    assert.match(members.stdout, /ann\s+developer/);
    const busy = await wharf(['project', 'rm', 'apps', ...storage]);
    assert.notEqual(busy.code, 0);
    assert.match(busy.stderr, /still holds repositories/);
    assert.equal((await wharf(['project', 'rm', 'open', ...storage])).code, 0);
    assert.equal((await wharf(['project', 'member', 'rm', 'apps', 'ann', ...storage])).code, 0);
    assert.equal(
      (await http('GET', registry.url, '/v2/apps/web/tags/list', { headers: basicAuth('ann', 'ann-pw') }))
        .status,
      403,
    );
    assert.equal((await wharf(['user', 'passwd', 'ann', '-p', 'new-pw', ...storage])).code, 0);
    assert.equal(
      (await http('GET', registry.url, '/v2/', { headers: basicAuth('ann', 'ann-pw') })).status,
      401,
    );
    assert.equal((await wharf(['user', 'rm', 'ann', ...storage])).code, 0);
    assert.equal(
      (await http('GET', registry.url, '/v2/', { headers: basicAuth('ann', 'new-pw') })).status,
      401,
    );
  });

  it('creates robot accounts whose secret pushes, and removes them', async () => {
    const created = await wharf([
      'robot',
      'create',
      'builder',
      '--project',
      'apps:pull,push',
      '--format',
      'json',
      ...storage,
    ]);
    assert.equal(created.code, 0, created.stderr);
    const robot = JSON.parse(created.stdout) as { name: string; secret: string };
    assert.equal(robot.name, 'robot$builder');
    assert.ok(robot.secret.length >= 40);
    const pushed = await pushImage(
      registry.url,
      'apps/web',
      generateImage(),
      'ci',
      basicAuth(robot.name, robot.secret),
    );
    assert.equal(pushed.status, 201);
    const list = await wharf(['robot', 'ls', ...storage]);
    assert.match(list.stdout, /robot\$builder\s+apps:pull,push\s+never/);
    assert.ok(!list.stdout.includes(robot.secret), 'the secret is shown once');
    assert.equal((await wharf(['robot', 'rm', 'robot$builder', ...storage])).code, 0);
    assert.equal(
      (await http('GET', registry.url, '/v2/', { headers: basicAuth(robot.name, robot.secret) })).status,
      401,
    );
    const unknownProject = await wharf(['robot', 'create', 'x', '--project', 'nope', ...storage]);
    assert.notEqual(unknownProject.code, 0);
    assert.match(unknownProject.stderr, /no project nope/);
  });
});
