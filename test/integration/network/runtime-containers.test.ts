/**
 * Real containers (busybox rootfs, crun/runc under conmon, the runtime layer's spec) joined to
 * the namespaces the network layer prepares, exactly as the container service does it: attach,
 * put `netnsPath` in the spec and bind-mount the returned /etc/hosts and /etc/resolv.conf,
 * run, detach. Shows a published httpd answering curl from the host, names resolving between
 * containers, and an internal network without a way out.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AttachResult } from '../../../src/container/network/network-types.ts';
import { waitForExit } from '../../../src/runtime/conmon.ts';
import type { MountRequest } from '../../../src/runtime/spec.ts';
import {
  makeRuntimeFixture,
  type RuntimeFixture,
  runtimeTestsSkipReason,
} from '../../helpers/runtime-fixture.ts';
import {
  containerId,
  freePort,
  makeNetnsFixture,
  type NetnsFixture,
  netnsMissing,
  waitFor,
} from './netns-fixture.ts';

const skip = netnsMissing() ?? (await runtimeTestsSkipReason());

describe('containers on Wharf networks', { skip }, () => {
  let net: NetnsFixture;
  let rt: RuntimeFixture;

  before(async () => {
    net = await makeNetnsFixture();
    rt = await makeRuntimeFixture();
    await writeFile(join(rt.rootfs, 'index.html'), 'served by a container\n');
  });

  after(async () => {
    await rt?.cleanup();
    await net?.dispose();
  });

  /** The mounts and network mode the container service derives from an attach result. */
  async function networkSpec(
    result: AttachResult,
    name: string,
  ): Promise<{ network: { mode: 'path'; path: string }; mounts: MountRequest[]; hostname: string }> {
    const hosts = join(rt.dir, `${name}.hosts`);
    const resolv = join(rt.dir, `${name}.resolv.conf`);
    await writeFile(hosts, result.hosts);
    await writeFile(resolv, result.resolvConf);
    return {
      network: { mode: 'path', path: result.netnsPath },
      hostname: result.hostname,
      mounts: [
        { type: 'bind', source: hosts, destination: '/etc/hosts' },
        { type: 'bind', source: resolv, destination: '/etc/resolv.conf' },
      ],
    };
  }

  async function runToExit(
    args: string[],
    spec: Awaited<ReturnType<typeof networkSpec>>,
  ): Promise<{ code: number; log: string }> {
    const c = await rt.run({ args, ...spec });
    const exit = await waitForExit(c.location, { signal: AbortSignal.timeout(30_000) });
    const log = await readFile(c.logPath, 'utf8').catch(() => '');
    return { code: exit.exitCode ?? -1, log };
  }

  it('publishes a containerized httpd on 127.0.0.1 and answers curl from the host', async () => {
    await net.manager.create({
      name: 'web',
      subnet: '10.231.51.0/24',
      options: { 'com.docker.network.bridge.name': 'wt-web0' },
    });
    const port = await freePort();
    const id = containerId();
    const result = await net.manager.attachContainer(id, {
      containerName: 'httpd',
      networkMode: 'web',
      portBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] },
    });
    await rt.run({ args: ['httpd', '-f', '-p', '80', '-h', '/'], ...(await networkSpec(result, 'httpd')) });
    let body = '';
    const answered = await waitFor(async () => {
      body = await fetch(`http://127.0.0.1:${port}/index.html`, { signal: AbortSignal.timeout(2000) })
        .then((r) => r.text())
        .catch(() => '');
      return body !== '';
    }, 15_000);
    assert.ok(answered, 'httpd answered through the published port');
    assert.equal(body, 'served by a container\n');
  });

  it('lets container b reach container a by name and by alias', async () => {
    await net.manager.create({
      name: 'pair',
      subnet: '10.231.52.0/24',
      options: { 'com.docker.network.bridge.name': 'wt-pair0' },
    });
    const a = containerId();
    const ra = await net.manager.attachContainer(a, {
      containerName: 'alpha',
      networkMode: 'pair',
      endpoints: { pair: { aliases: ['web-alias'] } },
    });
    await rt.run({ args: ['httpd', '-f', '-p', '80', '-h', '/'], ...(await networkSpec(ra, 'alpha')) });
    const b = containerId();
    const rb = await net.manager.attachContainer(b, { containerName: 'beta', networkMode: 'pair' });
    const spec = await networkSpec(rb, 'beta');
    const script = [
      'cat /etc/resolv.conf',
      'nslookup alpha',
      'nslookup web-alias',
      'for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - http://alpha/index.html && break; sleep 0.3; done',
      'wget -q -O - http://web-alias/index.html',
    ].join('; ');
    const { code, log } = await runToExit(['sh', '-c', script], spec);
    assert.equal(code, 0, log);
    assert.match(log, /nameserver 10\.231\.52\.1/);
    assert.ok((log.match(/served by a container/g) ?? []).length >= 2, log);
    assert.ok(log.includes(ra.networks[0]!.ip), log);
    await net.manager.removeContainer(b);
  });

  it('keeps an internal network without outbound route', async () => {
    await net.manager.create({
      name: 'sealed',
      subnet: '10.231.53.0/24',
      internal: true,
      options: { 'com.docker.network.bridge.name': 'wt-sealed0' },
    });
    const id = containerId();
    const result = await net.manager.attachContainer(id, { containerName: 'sealed', networkMode: 'sealed' });
    const { log } = await runToExit(
      ['sh', '-c', 'ip route; ip route get 192.0.2.1 || echo NO-ROUTE'],
      await networkSpec(result, 'sealed'),
    );
    assert.doesNotMatch(log, /default/);
    assert.match(log, /NO-ROUTE/);
    await net.manager.removeContainer(id);
  });
});
