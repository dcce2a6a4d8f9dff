/**
 * The pool of prepared network namespaces (netns-pool.ts) on bare namespaces: a spare is made
 * after a container's attach and handed, wired, to the next one; background detaches delete
 * the namespace and give its address back once it is gone; a static address a spare holds goes
 * to the container asking for it; `network rm` deletes the network's spares; spares whose helper
 * failed are swept; the root's one keeper process does all the kernel work and `destroyAll`
 * stops it; what a killed keeper lost is done again; the pool can be turned off. Each test has
 * its own bridge and subnet (10.231.61-64.0/24, 10.231.67-68.0/24) and leaves no namespace,
 * veth or rule.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { currentBootId, NetworkManager } from '../../../src/container/network/network-manager.ts';
import { isProcessAlive } from '../../../src/util/process-alive.ts';
import {
  containerId,
  hostNetworkSnapshot,
  inNetns,
  makeNetnsFixture,
  type NetnsFixture,
  netnsMissing,
  run,
  waitFor,
} from './netns-fixture.ts';

const skip = netnsMissing();

describe('pool of prepared network namespaces', { skip }, () => {
  const fixtures: NetnsFixture[] = [];
  after(async () => {
    for (const fx of fixtures.reverse()) await fx.dispose().catch(() => undefined);
  });

  async function fixture(): Promise<NetnsFixture> {
    const fx = await makeNetnsFixture();
    fixtures.push(fx);
    return fx;
  }

  it('hands a wired spare to the next container and gives addresses back after background detaches', async () => {
    const fx = await fixture();
    const network = await fx.manager.create({
      name: 'pool',
      subnet: '10.231.61.0/24',
      options: { 'com.docker.network.bridge.name': 'wt-pool1' },
    });
    const before = hostNetworkSnapshot(fx.manager.tag, ['wt-pool1']);
    const a = containerId();
    const ra = await fx.manager.attachContainer(a, { containerName: 'a', networkMode: 'pool' });
    assert.equal(ra.netnsPath, `/run/netns/wharf-${fx.manager.tag}-${a.slice(0, 12)}`, 'made for it');
    assert.equal(ra.networks[0]?.ip, '10.231.61.2');
    await fx.manager.settle();
    const [spare, ...more] = fx.manager.store.listPool(network.id);
    assert.ok(spare && more.length === 0, 'one spare after the first attach');
    assert.deepEqual([spare.state, spare.ip, spare.mac], ['spare', '10.231.61.3', '02:42:0a:e7:3d:03']);
    const spareNetns = `/run/netns/${spare.netns}`;
    assert.match(inNetns(spareNetns, ['ip', '-o', '-4', 'addr']).out, /eth0\s+inet 10\.231\.61\.3\/24/);
    assert.match(inNetns(spareNetns, ['ip', 'route']).out, /default via 10\.231\.61\.1 dev eth0/);
    assert.match(run('ip', ['-o', 'link', 'show', 'master', 'wt-pool1']).out, new RegExp(spare.hostVeth));

    const b = containerId();
    const rb = await fx.manager.attachContainer(b, { containerName: 'b', networkMode: 'pool' });
    assert.equal(rb.netnsPath, spareNetns, 'the spare is taken');
    assert.deepEqual([rb.networks[0]?.ip, rb.networks[0]?.mac], [spare.ip, spare.mac]);
    assert.equal(fx.manager.store.endpointsOfContainer(b)[0]?.hostVeth, spare.hostVeth);
    assert.match(rb.hosts, /^10\.231\.61\.3\t/m);
    // the taken namespace is on the bridge: it reaches the first container
    assert.equal(
      inNetns(rb.netnsPath, ['busybox', 'ping', '-c', '1', '-W', '3', ra.networks[0]!.ip]).code,
      0,
    );

    await fx.manager.detachContainer(b, { background: true });
    assert.equal(fx.manager.store.findSandbox(b), undefined, 'the sandbox row goes at once');
    await fx.manager.removeContainer(b);
    await fx.manager.settle();
    assert.equal(existsSync(rb.netnsPath), false, 'the helper deleted the namespace');
    assert.notEqual(run('ip', ['link', 'show', spare.hostVeth]).code, 0, 'and its veth');
    assert.equal(
      fx.manager.store.listPool(network.id).some((row) => row.state === 'retired'),
      false,
      'the retired row is forgotten once the kernel let go',
    );
    // its address is free again: a container may ask for it
    const c = containerId();
    const rc = await fx.manager.attachContainer(c, {
      containerName: 'c',
      networkMode: 'pool',
      endpoints: { pool: { ipv4Address: '10.231.61.3' } },
    });
    assert.equal(rc.networks[0]?.ip, '10.231.61.3');
    for (const id of [a, c]) await fx.manager.removeContainer(id, { background: true });
    await fx.manager.drainPool();
    assert.deepEqual(hostNetworkSnapshot(fx.manager.tag, ['wt-pool1']), before);
  });

  it('gives a static address held by a spare to the container asking for it', async () => {
    const fx = await fixture();
    const network = await fx.manager.create({
      name: 'fixed',
      subnet: '10.231.62.0/24',
      options: { 'com.docker.network.bridge.name': 'wt-pool2' },
    });
    const a = containerId();
    await fx.manager.attachContainer(a, { containerName: 'a', networkMode: 'fixed' });
    await fx.manager.settle();
    const spare = fx.manager.store.listPool(network.id)[0];
    assert.equal(spare?.ip, '10.231.62.3');
    const b = containerId();
    const rb = await fx.manager.attachContainer(b, {
      containerName: 'b',
      networkMode: 'fixed',
      endpoints: { fixed: { ipv4Address: spare.ip } },
    });
    assert.equal(rb.networks[0]?.ip, spare.ip);
    assert.notEqual(rb.netnsPath, `/run/netns/${spare.netns}`, 'a static address is not taken from the pool');
    assert.equal(existsSync(`/run/netns/${spare.netns}`), false, 'the spare holding it was deleted');
    assert.match(inNetns(rb.netnsPath, ['ip', '-o', '-4', 'addr']).out, /eth0\s+inet 10\.231\.62\.3\/24/);
    for (const id of [a, b]) await fx.manager.removeContainer(id);
  });

  it("deletes a network's spares with it and sweeps spares whose helper failed", async () => {
    const fx = await fixture();
    const network = await fx.manager.create({
      name: 'doomed',
      subnet: '10.231.63.0/24',
      options: { 'com.docker.network.bridge.name': 'wt-pool3' },
    });
    const a = containerId();
    await fx.manager.attachContainer(a, { containerName: 'a', networkMode: 'doomed' });
    await fx.manager.settle();
    const spare = fx.manager.store.listPool(network.id)[0];
    assert.ok(spare && existsSync(`/run/netns/${spare.netns}`));

    // a spare whose helper died half way: its namespace exists, READY never came
    const failed = fx.manager.store.insertSpare({
      netns: `wharf-${fx.manager.tag}-${randomBytes(6).toString('hex')}`,
      hostVeth: `wh${randomBytes(6).toString('hex').slice(0, 11)}`,
      network,
      bootId: currentBootId(),
    });
    assert.equal(run('ip', ['netns', 'add', failed.netns]).code, 0);
    const dead = spawnSync('true').pid!;
    fx.manager.store.setPoolPid(failed.netns, dead);
    // the next open sweeps it: retired, deleted by a helper, then forgotten with its address
    const reopened = await NetworkManager.open(fx.db, fx.root);
    await reopened.settle();
    assert.equal(existsSync(`/run/netns/${failed.netns}`), false);
    assert.equal(reopened.store.poolHolder(network.id, failed.ip), undefined);
    assert.ok(existsSync(`/run/netns/${spare.netns}`), 'the good spare stays');

    await fx.manager.removeContainer(a);
    await fx.manager.remove('doomed');
    assert.equal(existsSync(`/run/netns/${spare.netns}`), false, 'network rm deletes its spares');
    assert.notEqual(run('ip', ['link', 'show', spare.hostVeth]).code, 0);
    assert.deepEqual(fx.manager.store.listPool(), []);
    assert.notEqual(run('ip', ['link', 'show', 'wt-pool3']).code, 0);
  });

  it("hands spares and deletions to the root's one keeper, which destroyAll stops", async () => {
    const fx = await fixture();
    const network = await fx.manager.create({
      name: 'kept',
      subnet: '10.231.67.0/24',
      options: { 'com.docker.network.bridge.name': 'wt-pool5' },
    });
    const keeperPid = () =>
      Number(readFileSync(join(fx.manager.runDir, 'netns-pool', 'keeper.pid'), 'utf8').trim() || 0);
    await fx.manager.attachContainer(containerId(), { containerName: 'a', networkMode: 'kept' });
    await fx.manager.settle();
    const keeper = keeperPid();
    assert.ok(isProcessAlive(keeper), 'a keeper made the first spare and stays');
    for (let i = 0; i < 3; i++) {
      const id = containerId();
      const taken = fx.manager.store.listPool(network.id)[0]!;
      const result = await fx.manager.attachContainer(id, { containerName: `c${i}`, networkMode: 'kept' });
      assert.equal(result.netnsPath, `/run/netns/${taken.netns}`, 'the spare is taken');
      const [replacement, ...more] = fx.manager.store.listPool(network.id);
      assert.ok(
        replacement && more.length === 0 && replacement.netns !== taken.netns,
        'its replacement is recorded',
      );
      assert.equal(replacement.pid, keeper, 'and handed to the keeper');
      await fx.manager.removeContainer(id, { background: true });
      assert.equal(
        fx.manager.store.listPool(network.id).find((row) => row.state === 'retired')?.pid,
        keeper,
        'the deletion too',
      );
      await fx.manager.settle();
      assert.equal(existsSync(result.netnsPath), false);
    }
    assert.equal(keeperPid(), keeper, 'no other process was started');
    await fx.dispose();
    fixtures.splice(fixtures.indexOf(fx), 1);
    assert.equal(isProcessAlive(keeper), false, 'destroyAll stops the keeper');
  });

  it('finishes the work a killed keeper lost', async () => {
    const fx = await fixture();
    const network = await fx.manager.create({
      name: 'lost',
      subnet: '10.231.68.0/24',
      options: { 'com.docker.network.bridge.name': 'wt-pool6' },
    });
    const before = hostNetworkSnapshot(fx.manager.tag, ['wt-pool6']);
    const a = containerId();
    await fx.manager.attachContainer(a, { containerName: 'a', networkMode: 'lost' });
    await fx.manager.settle();
    const keeper = Number(readFileSync(join(fx.manager.runDir, 'netns-pool', 'keeper.pid'), 'utf8'));
    // stopped, the keeper takes the next commands into its FIFO and never runs them
    process.kill(keeper, 'SIGSTOP');
    const b = containerId();
    const rb = await fx.manager.attachContainer(b, { containerName: 'b', networkMode: 'lost' });
    await fx.manager.removeContainer(b, { background: true });
    process.kill(keeper, 'SIGKILL');
    assert.ok(await waitFor(() => !isProcessAlive(keeper)));
    const lost = fx.manager.store.listPool(network.id);
    assert.deepEqual(lost.map((row) => row.state).sort(), ['retired', 'spare']);
    // the next opens see a spare whose process died unmade and a namespace still there: the
    // spare is given up at once, the deletion is done again once its retry delay has passed
    assert.ok(
      await waitFor(async () => {
        const reopened = await NetworkManager.open(fx.db, fx.root);
        await reopened.settle();
        return reopened.store.listPool(network.id).every((row) => !lost.some((l) => l.netns === row.netns));
      }, 15_000),
      'the lost rows are done with',
    );
    assert.equal(existsSync(rb.netnsPath), false, "b's namespace is deleted");
    const again = containerId();
    await fx.manager.attachContainer(again, { containerName: 'again', networkMode: 'lost' });
    for (const id of [a, again]) await fx.manager.removeContainer(id);
    await fx.manager.drainPool();
    assert.deepEqual(hostNetworkSnapshot(fx.manager.tag, ['wt-pool6']), before);
  });

  it('keeps no spare when the pool is turned off', async () => {
    const fx = await fixture();
    const manager = new NetworkManager(fx.db, fx.root, { poolSize: 0 });
    await manager.create({
      name: 'nopool',
      subnet: '10.231.64.0/24',
      options: { 'com.docker.network.bridge.name': 'wt-pool4' },
    });
    const ids = [containerId(), containerId()];
    for (const id of ids) {
      const result = await manager.attachContainer(id, {
        containerName: id.slice(0, 6),
        networkMode: 'nopool',
      });
      assert.equal(result.netnsPath, `/run/netns/wharf-${manager.tag}-${id.slice(0, 12)}`);
    }
    await manager.settle();
    assert.deepEqual(manager.store.listPool(), []);
    for (const id of ids) await manager.removeContainer(id);
  });
});
