/**
 * The network layer on bare network namespaces (no container): published TCP and UDP ports
 * reachable from the host's loopback, `-P`, names and aliases through aardvark-dns, internal
 * networks, isolation between networks, and 50 attach/detach cycles that leave the host as it
 * was. Each test has its own bridge names, subnets (10.231.N.0/24) and ports.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  containerId,
  freePort,
  hostNetworkSnapshot,
  inNetns,
  makeNetnsFixture,
  type NetnsFixture,
  netnsMissing,
  waitFor,
} from './netns-fixture.ts';

const skip = netnsMissing();

async function httpGet(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return response.text();
}

describe('network layer on bare namespaces', { skip }, () => {
  let fx: NetnsFixture;
  let www: string;

  before(async () => {
    fx = await makeNetnsFixture();
    www = await mkdtemp(join(tmpdir(), 'wharf-net-www-'));
    await writeFile(join(www, 'index.html'), 'hello from the namespace\n');
  });

  after(async () => {
    await fx?.dispose();
    if (www) await rm(www, { recursive: true, force: true });
  });

  it('publishes a TCP port on 127.0.0.1 (and -P on every address) to an httpd in the namespace', async () => {
    await fx.manager.create({
      name: 'pub',
      subnet: '10.231.31.0/24',
      options: { 'com.docker.network.bridge.name': 'wt-pub0' },
    });
    const port = await freePort();
    const id = containerId();
    const result = await fx.manager.attachContainer(id, {
      containerName: 'web',
      networkMode: 'pub',
      portBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] },
      publishAllPorts: true,
      exposedPorts: { '80/tcp': {}, '8080/tcp': {} },
    });
    assert.equal(result.networks[0]?.ip, '10.231.31.2');
    assert.equal(result.networks[0]?.gateway, '10.231.31.1');
    const published = result.ports.find((p) => p.containerPort === 80);
    assert.deepEqual(published, { containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: port });
    const auto = result.ports.find((p) => p.containerPort === 8080);
    assert.ok(auto && auto.hostPort > 0 && auto.hostIp === '', '-P gave 8080 a kernel-chosen port');
    fx.spawnIn(result.netnsPath, ['busybox', 'httpd', '-f', '-p', '80', '-h', www]);
    const auto8080 = fx.spawnIn(result.netnsPath, ['busybox', 'httpd', '-f', '-p', '8080', '-h', www]);
    assert.ok(auto8080.pid);
    assert.ok(
      await waitFor(
        () => inNetns(result.netnsPath, ['curl', '-sf', '-m', '2', 'http://127.0.0.1:80/']).code === 0,
      ),
    );
    assert.equal(await httpGet(`http://127.0.0.1:${port}/`), 'hello from the namespace\n');
    assert.equal(await httpGet(`http://127.0.0.1:${auto!.hostPort}/`), 'hello from the namespace\n');
    // a second container cannot take the same host port
    await assert.rejects(
      fx.manager.attachContainer(containerId(), {
        containerName: 'clash',
        networkMode: 'pub',
        portBindings: { '80/tcp': [{ HostIp: '', HostPort: String(port) }] },
      }),
      /port is already allocated/,
    );
    await fx.manager.removeContainer(id);
    assert.equal(inNetns('/proc/1/ns/net', ['ip', 'netns', 'list']).out.includes(id.slice(0, 12)), false);
  });

  it('carries a UDP datagram through a published port', async () => {
    await fx.manager.create({
      name: 'udp',
      subnet: '10.231.32.0/24',
      options: { 'com.docker.network.bridge.name': 'wt-udp0' },
    });
    const id = containerId();
    const result = await fx.manager.attachContainer(id, {
      containerName: 'dgram',
      networkMode: 'udp',
      portBindings: { '9999/udp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
    });
    const port = result.ports[0]!.hostPort;
    const receiver = fx.spawnIn(result.netnsPath, ['socat', '-u', 'UDP-RECV:9999', 'STDOUT']);
    let received = '';
    receiver.stdout?.on('data', (chunk: Buffer) => {
      received += chunk.toString();
    });
    const socket = createSocket('udp4');
    try {
      // socat needs a moment to bind: send until it prints
      const ok = await waitFor(async () => {
        await new Promise<void>((resolve) =>
          socket.send('ping-over-udp\n', port, '127.0.0.1', () => resolve()),
        );
        await new Promise((resolve) => setTimeout(resolve, 100));
        return received.includes('ping-over-udp');
      });
      assert.ok(ok, `datagram arrived in the namespace (got ${JSON.stringify(received)})`);
    } finally {
      socket.close();
    }
    await fx.manager.removeContainer(id);
  });

  it('resolves peers by name and alias on a user network, not on another network', async () => {
    await fx.manager.create({
      name: 'names',
      subnet: '10.231.33.0/24',
      options: { 'com.docker.network.bridge.name': 'wt-names0' },
    });
    await fx.manager.create({
      name: 'other',
      subnet: '10.231.34.0/24',
      options: { 'com.docker.network.bridge.name': 'wt-other0' },
    });
    const a = containerId();
    const b = containerId();
    const c = containerId();
    const ra = await fx.manager.attachContainer(a, {
      containerName: 'alpha',
      networkMode: 'names',
      endpoints: { names: { aliases: ['db', 'primary'] } },
    });
    const rb = await fx.manager.attachContainer(b, {
      containerName: 'beta',
      networkMode: 'names',
      hostname: 'bee',
    });
    const rc = await fx.manager.attachContainer(c, { containerName: 'gamma', networkMode: 'other' });
    assert.match(rb.resolvConf, /^nameserver 10\.231\.33\.1$/m);
    assert.match(rb.hosts, /^10\.231\.33\.3\tbee$/m);
    const ip = ra.networks[0]!.ip;
    for (const name of ['alpha', 'db', 'primary', a.slice(0, 12)]) {
      const answer = await waitFor(
        () => inNetns(rb.netnsPath, ['busybox', 'nslookup', name, '10.231.33.1']).out.includes(ip),
        3000,
      );
      assert.ok(answer, `beta resolves ${name} to ${ip}`);
    }
    // gamma is on another network: aardvark answers it only with its own network's names
    const fromOther = inNetns(rc.netnsPath, ['busybox', 'nslookup', 'alpha', '10.231.34.1']).out;
    assert.ok(!fromOther.includes(ip), `gamma must not resolve alpha: ${fromOther}`);
    // after a detach the name is gone
    await fx.manager.detachContainer(a);
    assert.ok(
      await waitFor(
        () => !inNetns(rb.netnsPath, ['busybox', 'nslookup', 'alpha', '10.231.33.1']).out.includes(ip),
        3000,
      ),
    );
    await fx.manager.removeContainer(b);
    await fx.manager.removeContainer(c);
    await fx.manager.removeContainer(a);
  });

  it('gives --internal networks no outbound route and keeps other networks out', async () => {
    await fx.manager.create({
      name: 'inner',
      subnet: '10.231.35.0/24',
      internal: true,
      options: { 'com.docker.network.bridge.name': 'wt-inner0' },
    });
    await fx.manager.create({
      name: 'outer',
      subnet: '10.231.36.0/24',
      options: { 'com.docker.network.bridge.name': 'wt-outer0' },
    });
    const inner = containerId();
    const peer = containerId();
    const outsider = containerId();
    const ri = await fx.manager.attachContainer(inner, { containerName: 'inner', networkMode: 'inner' });
    const rp = await fx.manager.attachContainer(peer, { containerName: 'peer', networkMode: 'inner' });
    const ro = await fx.manager.attachContainer(outsider, {
      containerName: 'outsider',
      networkMode: 'outer',
    });
    const routes = inNetns(ri.netnsPath, ['ip', 'route']).out;
    assert.doesNotMatch(routes, /default/, 'no default route');
    assert.notEqual(inNetns(ri.netnsPath, ['ip', 'route', 'get', '192.0.2.1']).code, 0, 'no route out');
    assert.doesNotMatch(ro.resolvConf, /10\.231\.35/);
    fx.spawnIn(ri.netnsPath, ['busybox', 'httpd', '-f', '-p', '80', '-h', www]);
    const url = `http://${ri.networks[0]!.ip}/`;
    // a peer on the same internal network reaches it
    assert.ok(await waitFor(() => inNetns(rp.netnsPath, ['curl', '-sf', '-m', '2', url]).code === 0));
    // a container of another network does not (it has a route, the isolation rules drop it)
    assert.match(inNetns(ro.netnsPath, ['ip', 'route']).out, /default via 10\.231\.36\.1/);
    assert.notEqual(inNetns(ro.netnsPath, ['curl', '-sf', '-m', '2', url]).code, 0);
    for (const id of [inner, peer, outsider]) await fx.manager.removeContainer(id);
  });

  it('isolates two outbound networks from each other', async () => {
    await fx.manager.create({
      name: 'left',
      subnet: '10.231.37.0/24',
      options: { 'com.docker.network.bridge.name': 'wt-left0' },
    });
    await fx.manager.create({
      name: 'right',
      subnet: '10.231.38.0/24',
      options: { 'com.docker.network.bridge.name': 'wt-right0' },
    });
    const l = containerId();
    const r = containerId();
    const rl = await fx.manager.attachContainer(l, { containerName: 'l', networkMode: 'left' });
    const rr = await fx.manager.attachContainer(r, { containerName: 'r', networkMode: 'right' });
    fx.spawnIn(rr.netnsPath, ['busybox', 'httpd', '-f', '-p', '80', '-h', www]);
    const url = `http://${rr.networks[0]!.ip}/`;
    // the host reaches it (the server is up), the other network does not
    assert.ok(await waitFor(async () => (await httpGet(url).catch(() => '')) !== ''));
    assert.notEqual(inNetns(rl.netnsPath, ['curl', '-sf', '-m', '2', url]).code, 0);
    // connected to both, the container reaches it
    await fx.manager.connect('right', { id: l, name: 'l' });
    const routes = inNetns(rl.netnsPath, ['ip', '-o', 'addr']).out;
    assert.match(routes, /eth1.*10\.231\.38\./);
    assert.equal(inNetns(rl.netnsPath, ['curl', '-sf', '-m', '2', url]).code, 0);
    await fx.manager.disconnect('right', l);
    assert.doesNotMatch(inNetns(rl.netnsPath, ['ip', '-o', 'addr']).out, /eth1/);
    await fx.manager.removeContainer(l);
    await fx.manager.removeContainer(r);
  });

  it('attaches to the default bridge with the host resolvers', async () => {
    const id = containerId();
    const result = await fx.manager.attachContainer(id, { containerName: 'plain', networkMode: 'bridge' });
    const network = await fx.manager.get('bridge');
    assert.equal(result.networks[0]?.networkName, 'bridge');
    assert.equal(network.dns, false);
    assert.doesNotMatch(
      result.resolvConf,
      new RegExp(`nameserver ${network.gateway.replaceAll('.', '\\.')}`),
    );
    assert.match(
      inNetns(result.netnsPath, ['ip', 'route']).out,
      new RegExp(`default via ${network.gateway.replaceAll('.', '\\.')}`),
    );
    await assert.rejects(
      fx.manager.attachContainer(containerId(), {
        containerName: 'aliased',
        networkMode: 'bridge',
        endpoints: { bridge: { aliases: ['x'] } },
      }),
      /user defined networks/,
    );
    await fx.manager.removeContainer(id);
  });

  it('leaves links, namespaces and NAT rules as they were after 50 cycles with ports', async () => {
    await fx.manager.create({
      name: 'cycle',
      subnet: '10.231.39.0/24',
      options: { 'com.docker.network.bridge.name': 'wt-cycle0' },
    });
    // one attach creates the shared chains; the baseline is taken after it
    const warm = containerId();
    await fx.manager.attachContainer(warm, {
      containerName: 'warm',
      networkMode: 'cycle',
      portBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
    });
    await fx.manager.removeContainer(warm);
    // the spare namespace that first attach left is deleted too: the baseline is the bare network
    await fx.manager.drainPool();
    const before = hostNetworkSnapshot(fx.manager.tag, ['wt-cycle0']);
    assert.match(before.nat, /WHARF-POSTROUTING/, "the snapshot sees the network's rules");
    const started = performance.now();
    let fromPool = 0;
    for (let i = 0; i < 50; i++) {
      const id = containerId();
      const result = await fx.manager.attachContainer(id, {
        containerName: `c${i}`,
        networkMode: 'cycle',
        portBindings: {
          '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
          '53/udp': [{ HostIp: '', HostPort: '' }],
        },
      });
      assert.equal(result.ports.length, 2);
      if (!result.netnsPath.endsWith(id.slice(0, 12))) fromPool++;
      // idempotent: a second attach returns the same sandbox, a second detach is a no-op
      assert.equal(
        (await fx.manager.attachContainer(id, { containerName: `c${i}`, networkMode: 'cycle' })).netnsPath,
        result.netnsPath,
      );
      // half the detaches delete the namespace at once, half in the background (as containers do)
      await fx.manager.detachContainer(id, { background: i % 2 === 0 });
      await fx.manager.detachContainer(id, { background: i % 2 === 0 });
      await fx.manager.removeContainer(id);
    }
    const perCycle = (performance.now() - started) / 50;
    assert.ok(fromPool >= 25, `only ${fromPool} of 50 attaches took a spare namespace`);
    // background deletions finish, the last spare goes: the host is as it was
    await fx.manager.drainPool();
    const afterState = hostNetworkSnapshot(fx.manager.tag, ['wt-cycle0']);
    assert.equal(afterState.links, before.links);
    assert.equal(afterState.netns, before.netns);
    assert.equal(afterState.nat, before.nat);
    assert.equal(afterState.filter, before.filter);
    assert.ok(perCycle < 2000, `a cycle took ${perCycle.toFixed(0)} ms`);
  });
});
