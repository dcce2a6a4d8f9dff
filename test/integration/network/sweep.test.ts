/**
 * What a crash and a lost root leave behind is swept: an attach whose process died without
 * detaching is undone at the next open; `network rm` and `destroyAll` leave no bridge, rule,
 * namespace or DNS daemon; a deleted root's objects are found by another root's deep sweep.
 * Concurrent allocations from several processes never hand out one address twice.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { dnsDaemonPid } from '../../../src/container/network/aardvark.ts';
import { listRuleOwners } from '../../../src/container/network/firewall.ts';
import { NetworkManager, rootTag } from '../../../src/container/network/network-manager.ts';
import { NetworkStore } from '../../../src/container/network/network-store.ts';
import { openMetadataDatabase } from '../../../src/metadata/database.ts';
import {
  containerId,
  hostNetworkSnapshot,
  makeNetnsFixture,
  netnsMissing,
  run,
  waitFor,
} from './netns-fixture.ts';

const skip = netnsMissing();
const projectRoot = new URL('../../../', import.meta.url).pathname;

/** Runs a TypeScript snippet in a child process (its own pid, so its death can be simulated). */
function child(code: string): { code: number; out: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    encoding: 'utf8',
    cwd: projectRoot,
    timeout: 60_000,
  });
  return { code: result.status ?? 1, out: `${result.stdout}${result.stderr}` };
}

describe('network sweeps', { skip }, () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('undoes the attach of a process that died without detaching', async () => {
    const fx = await makeNetnsFixture();
    cleanups.push(() => fx.dispose());
    await fx.manager.create({
      name: 'crash',
      subnet: '10.231.41.0/24',
      options: { 'com.docker.network.bridge.name': 'wt-crash0' },
    });
    const id = containerId();
    const attached = child(`
      import { openMetadataDatabase } from './src/metadata/database.ts';
      import { NetworkManager } from './src/container/network/network-manager.ts';
      const db = openMetadataDatabase(${JSON.stringify(fx.root)});
      const m = await NetworkManager.open(db, ${JSON.stringify(fx.root)});
      const r = await m.attachContainer(${JSON.stringify(id)}, { containerName: 'lost', networkMode: 'crash',
        portBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } });
      console.log(r.netnsPath);
      process.exit(0); // dies without detaching, as a killed wharf would
    `);
    assert.equal(attached.code, 0, attached.out);
    const netns = attached.out.trim().split('\n').pop()!;
    assert.ok(existsSync(netns));
    const tag = rootTag(fx.root);
    assert.ok((await listRuleOwners()).includes(`wharf-ctr:${tag}:${id.slice(0, 12)}`));
    // the next open sweeps it: its owner is dead and no container record says it runs
    const db = openMetadataDatabase(fx.root);
    try {
      const manager = await NetworkManager.open(db, fx.root);
      assert.equal(manager.store.findSandbox(id), undefined);
    } finally {
      db.close();
    }
    assert.equal(existsSync(netns), false);
    assert.equal((await listRuleOwners()).includes(`wharf-ctr:${tag}:${id.slice(0, 12)}`), false);
    assert.equal(fx.manager.store.endpointsOfContainer(id)[0]?.ip, undefined, 'address released');
  });

  it('removes a network with its bridge, rules and DNS daemon', async () => {
    const fx = await makeNetnsFixture();
    const before = hostNetworkSnapshot(fx.manager.tag, ['wt-gone0']);
    cleanups.push(() => fx.dispose());
    const network = await fx.manager.create({
      name: 'gone',
      subnet: '10.231.42.0/24',
      options: { 'com.docker.network.bridge.name': 'wt-gone0' },
    });
    assert.equal(run('ip', ['link', 'show', 'wt-gone0']).code, 0);
    const id = containerId();
    await fx.manager.attachContainer(id, { containerName: 'x', networkMode: 'gone' });
    assert.ok(dnsDaemonPid(fx.manager.dnsDir), 'aardvark-dns runs');
    await assert.rejects(fx.manager.remove('gone'), /active endpoints/);
    await fx.manager.removeContainer(id);
    await fx.manager.remove(network.id.slice(0, 12));
    assert.notEqual(run('ip', ['link', 'show', 'wt-gone0']).code, 0);
    assert.equal(
      (await listRuleOwners()).some((o) => o.includes(network.id.slice(0, 12))),
      false,
    );
    assert.ok(await waitFor(() => dnsDaemonPid(fx.manager.dnsDir) === undefined), 'aardvark-dns exited');
    const afterState = hostNetworkSnapshot(fx.manager.tag, ['wt-gone0']);
    assert.deepEqual(afterState, before);
    await fx.dispose();
    cleanups.pop();
    assert.equal(existsSync(fx.manager.runDir), false, "the root's run dir is gone");
  });

  it('sweeps the objects of a root that was deleted without cleaning up', async () => {
    const lost = await mkdtemp(join(tmpdir(), 'wharf-net-lost-'));
    const db = openMetadataDatabase(lost);
    const manager = await NetworkManager.open(db, lost);
    await manager.create({
      name: 'orphan',
      subnet: '10.231.43.0/24',
      options: { 'com.docker.network.bridge.name': 'wt-orph0' },
    });
    const netns = (
      await manager.attachContainer(containerId(), { containerName: 'o', networkMode: 'orphan' })
    ).netnsPath;
    db.close();
    await rm(lost, { recursive: true, force: true });
    const fx = await makeNetnsFixture();
    cleanups.push(() => fx.dispose());
    await fx.manager.deepSweep();
    assert.notEqual(run('ip', ['link', 'show', 'wt-orph0']).code, 0);
    assert.equal(existsSync(netns), false);
    assert.equal(
      (await listRuleOwners()).some((o) => o.includes(rootTag(lost))),
      false,
    );
  });

  it('never gives one address twice when processes allocate at once', async () => {
    const root = await mkdtemp(join(tmpdir(), 'wharf-net-ipam-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const db = openMetadataDatabase(root);
    const store = new NetworkStore(db);
    store.insertNetwork({
      id: 'f'.repeat(64),
      name: 'ipam',
      driver: 'bridge',
      bridge: 'wt-ipam0',
      subnet: '10.231.44.0/24',
      gateway: '10.231.44.1',
      internal: false,
      dns: false,
      labels: {},
      options: {},
      created: new Date().toISOString(),
    });
    db.close();
    const workers = Array.from({ length: 4 }, (_, w) =>
      import('node:child_process').then(
        ({ spawn }) =>
          new Promise<string>((resolve) => {
            const code = `
              import { randomBytes } from 'node:crypto';
              import { openMetadataDatabase } from './src/metadata/database.ts';
              import { NetworkStore } from './src/container/network/network-store.ts';
              const db = openMetadataDatabase(${JSON.stringify(root)});
              const store = new NetworkStore(db);
              const network = store.getNetwork('ipam');
              const ips = [];
              for (let i = 0; i < 25; i++) {
                const id = randomBytes(32).toString('hex');
                store.upsertEndpoint({ containerId: id, networkId: network.id, containerName: 'w${w}-' + i, aliases: [] });
                ips.push(store.allocateAddress(id, network).ip);
              }
              console.log(JSON.stringify(ips));
            `;
            const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
              cwd: projectRoot,
            });
            let out = '';
            proc.stdout.on('data', (chunk: Buffer) => {
              out += chunk.toString();
            });
            proc.on('close', () => resolve(out));
          }),
      ),
    );
    const results = (await Promise.all(workers)).map((out) => JSON.parse(out.trim()) as string[]);
    const all = results.flat();
    assert.equal(all.length, 100);
    assert.equal(new Set(all).size, 100, 'no duplicates');
    assert.ok(!all.includes('10.231.44.1') && !all.includes('10.231.44.0'));
  });
});
