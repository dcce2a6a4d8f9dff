/**
 * The `network` verbs through the real `wharf` binary: create with IPAM options and labels, ls
 * with filters, formats and -q, inspect in Docker's shape (Containers included), rm, prune,
 * connect/disconnect of an attached container, and `port`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { NetworkManager } from '../../../src/container/network/network-manager.ts';
import { openMetadataDatabase } from '../../../src/metadata/database.ts';
import { projectRoot, wharfBin } from '../../helpers/wharf.ts';
import { containerId, freePort, netnsMissing, run } from './netns-fixture.ts';

const exec = promisify(execFile);
const skip =
  netnsMissing() ??
  (existsSync(`${projectRoot}dist/wharf.mjs`) ? undefined : 'the wharf binary is not built');

describe('network verbs', { skip }, () => {
  let root: string;

  async function wharf(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await exec(wharfBin, ['--root', root, ...args], { timeout: 60_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return {
        code: typeof e.code === 'number' ? e.code : 1,
        stdout: e.stdout ?? '',
        stderr: e.stderr ?? '',
      };
    }
  }

  /** Opens the root's network manager in this process (for what only the container service does). */
  async function withManager<T>(fn: (manager: NetworkManager) => Promise<T>): Promise<T> {
    const db = openMetadataDatabase(root);
    try {
      return await fn(new NetworkManager(db, root));
    } finally {
      db.close();
    }
  }

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'wharf-net-cli-'));
  });

  after(async () => {
    if (!root) return;
    await withManager((manager) => manager.destroyAll()).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  });

  it('creates, lists, inspects and removes networks as docker does', async () => {
    const created = await wharf(
      'network',
      'create',
      '--subnet',
      '10.231.71.0/24',
      '--gateway',
      '10.231.71.254',
      '--ip-range',
      '10.231.71.128/25',
      '--label',
      'team=web',
      '-o',
      'com.docker.network.bridge.name=wt-cli1',
      'frontend',
    );
    assert.equal(created.code, 0, created.stderr);
    const id = created.stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.equal(run('ip', ['link', 'show', 'wt-cli1']).code, 0, 'the bridge exists');
    assert.equal(
      (
        await wharf(
          'network',
          'create',
          '--internal',
          '-o',
          'com.docker.network.bridge.name=wt-cli2',
          'backend',
        )
      ).code,
      0,
    );

    const table = await wharf('network', 'ls');
    assert.match(table.stdout, /^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$/m);
    for (const name of ['bridge', 'host', 'none', 'frontend', 'backend'])
      assert.match(table.stdout, new RegExp(`\\s${name}\\s`));
    assert.equal(
      (await wharf('network', 'ls', '-q', '--filter', 'label=team=web')).stdout,
      `${id.slice(0, 12)}\n`,
    );
    assert.equal(
      (await wharf('network', 'ls', '--filter', 'type=custom', '--format', '{{.Name}} {{.Internal}}')).stdout,
      // sorted by name, as docker-cli does
      'backend true\nfrontend false\n',
    );

    const inspect = JSON.parse((await wharf('network', 'inspect', 'frontend')).stdout) as Array<
      Record<string, unknown>
    >;
    assert.equal(inspect[0]?.Id, id);
    assert.deepEqual(inspect[0]?.IPAM, {
      Driver: 'default',
      Options: {},
      Config: [{ Subnet: '10.231.71.0/24', Gateway: '10.231.71.254', IPRange: '10.231.71.128/25' }],
    });
    assert.deepEqual(inspect[0]?.Labels, { team: 'web' });
    assert.equal(
      (await wharf('network', 'inspect', '-f', '{{.Name}} {{.Driver}}', 'bridge', 'host', 'none')).stdout,
      'bridge bridge\nhost host\nnone null\n',
    );

    const duplicate = await wharf('network', 'create', 'frontend');
    assert.notEqual(duplicate.code, 0);
    assert.match(duplicate.stderr, /already exists/);
    const missing = await wharf('network', 'rm', 'nope');
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /network nope not found/);
    assert.notEqual((await wharf('network', 'rm', 'bridge')).code, 0);

    const prune = await wharf('network', 'prune', '-f', '--filter', 'label=team=web');
    assert.equal(prune.stdout, 'Deleted Networks:\nfrontend\n\n');
    assert.notEqual(run('ip', ['link', 'show', 'wt-cli1']).code, 0, 'the bridge is gone');
    assert.equal((await wharf('network', 'rm', 'backend')).stdout, 'backend\n');
  });

  it('lists by name in natural order with docker-cli row fields, and sorts inspect maps', async () => {
    // made in reverse order: docker-cli sorts the list by name (sortorder.NaturalLess)
    for (const name of ['nat10', 'nat2', 'nat1']) {
      const created = await wharf('network', 'create', '--label', 'z=1', '--label', 'a=2', name);
      assert.equal(created.code, 0, created.stderr);
    }
    try {
      const names = await wharf(
        'network',
        'ls',
        '--filter',
        'name=nat',
        '--format',
        '{{.Name}} {{.Label "a"}}',
      );
      assert.equal(names.stdout, 'nat1 2\nnat2 2\nnat10 2\n');
      const all = (await wharf('network', 'ls', '--format', '{{.Name}}')).stdout.trim().split('\n');
      assert.deepEqual(
        all,
        [...all].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })),
      );
      const json = await wharf('network', 'ls', '--filter', 'name=nat1', '--format', 'json');
      const row = JSON.parse(json.stdout.trim().split('\n')[0] ?? '') as Record<string, string>;
      assert.equal(row.IPv4, 'true');
      assert.equal(row.Labels, 'a=2,z=1');
      // Go's encoding/json writes map keys sorted
      const labels = await wharf('network', 'inspect', '-f', '{{json .Labels}}', 'nat1');
      assert.equal(labels.stdout, '{"a":"2","z":"1"}\n');
    } finally {
      await wharf('network', 'rm', 'nat10', 'nat2', 'nat1');
    }
  });

  it('shows attached containers, connects, disconnects and lists published ports', async () => {
    assert.equal(
      (
        await wharf(
          'network',
          'create',
          '--subnet',
          '10.231.72.0/24',
          '-o',
          'com.docker.network.bridge.name=wt-cli3',
          'apps',
        )
      ).code,
      0,
    );
    assert.equal(
      (
        await wharf(
          'network',
          'create',
          '--subnet',
          '10.231.73.0/24',
          '-o',
          'com.docker.network.bridge.name=wt-cli4',
          'extra',
        )
      ).code,
      0,
    );
    const id = containerId();
    const port = await freePort();
    // a container row, as the container service writes it, so that names resolve
    await withManager(async (manager) => {
      manager.store.db.write(() =>
        manager.store.db.sql
          .prepare('INSERT INTO containers (id, name, image_id, created_at) VALUES (?, ?, ?, ?)')
          .run(id, 'webapp', 'sha256:x', Date.now()),
      );
      await manager.attachContainer(id, {
        containerName: 'webapp',
        networkMode: 'apps',
        portBindings: {
          '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }],
          '53/udp': [{ HostIp: '', HostPort: '' }],
        },
      });
    });
    const containers = (await wharf('network', 'inspect', '-f', '{{json .Containers}}', 'apps')).stdout;
    const entry = (JSON.parse(containers) as Record<string, { Name: string; IPv4Address: string }>)[id];
    assert.deepEqual([entry?.Name, entry?.IPv4Address], ['webapp', '10.231.72.2/24']);

    const ports = await wharf('port', 'webapp');
    assert.match(ports.stdout, new RegExp(`^80/tcp -> 127\\.0\\.0\\.1:${port}$`, 'm'));
    assert.match(ports.stdout, /^53\/udp -> 0\.0\.0\.0:\d+$/m);
    assert.equal((await wharf('port', 'webapp', '80')).stdout, `127.0.0.1:${port}\n`);
    assert.notEqual((await wharf('port', 'webapp', '8080')).code, 0);

    const connect = await wharf(
      'network',
      'connect',
      '--alias',
      'api',
      '--ip',
      '10.231.73.50',
      'extra',
      'webapp',
    );
    assert.equal(connect.code, 0, connect.stderr);
    const netns = `/run/netns/wharf-${await withManager(async (m) => m.tag)}-${id.slice(0, 12)}`;
    assert.match(
      run('nsenter', [`--net=${netns}`, 'ip', '-o', 'addr']).out,
      /eth1\s+inet 10\.231\.73\.50\/24/,
    );
    assert.notEqual((await wharf('network', 'rm', 'extra')).code, 0, 'in use');
    assert.equal((await wharf('network', 'disconnect', 'extra', 'webapp')).code, 0);
    assert.doesNotMatch(run('nsenter', [`--net=${netns}`, 'ip', '-o', 'addr']).out, /eth1/);
    assert.equal((await wharf('network', 'rm', 'extra')).code, 0);
    await withManager((manager) => manager.removeContainer(id));
  });
});
