/**
 * The network and volume layers wired into the container service, end to end through the real
 * `wharf` binary: a published port answers from the host (`-p 127.0.0.1:PORT:80`, `-P` with
 * `wharf port`), containers on a user network reach each other by name and alias, a running
 * container joins and leaves a network live, `--dns`/`--add-host` shape its files; a named
 * volume outlives its containers, `ro` refuses writes, tmpfs content is gone after a restart,
 * `--rm` takes its anonymous volume; and nothing (namespace, rules, mounts) stays after `rm`.
 * Each test uses its own bridge name, subnet and host ports: other processes share the machine.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { rootTag } from '../../../src/container/network/network-manager.ts';
import { NetworkStore } from '../../../src/container/network/network-store.ts';
import { openMetadataDatabase } from '../../../src/metadata/database.ts';
import {
  type ContainerFixture,
  containerTestsSkipReason,
  eventually,
  importBusyboxImage,
  makeContainerFixture,
} from '../container/helpers.ts';
import { freePort } from '../network/netns-fixture.ts';

const skip =
  (await containerTestsSkipReason()) ??
  (spawnSync('ip', ['netns', 'list']).status === 0 ? undefined : 'ip netns does not work here');

/** The body at `url`, retried until the server in the container is up. */
async function fetchText(url: string): Promise<string> {
  return eventually(async () => {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return response.ok ? response.text() : undefined;
  }, `an answer from ${url}`);
}

/** A busybox httpd serving `text` on port 80 (or `port`). */
function httpd(text: string, port = 80): string[] {
  return ['sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p ${port} -h /www`];
}

/**
 * This root's kernel objects: whether a namespace of the root other than the pool's spares
 * exists (a container's, or one being deleted in the background), and whether NAT rules name
 * the container.
 */
function kernelState(root: string, containerId: string): { netns: boolean; rules: boolean } {
  const tag = rootTag(root);
  const db = openMetadataDatabase(root);
  let spares: Set<string>;
  try {
    spares = new Set(
      new NetworkStore(db)
        .listPool()
        .filter((row) => row.state === 'spare')
        .map((row) => row.netns),
    );
  } finally {
    db.close();
  }
  const netns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(`wharf-${tag}-`) && !spares.has(name));
  const nat = spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout;
  const short = containerId.slice(0, 12);
  return {
    netns: netns.length > 0,
    rules: nat.split('\n').some((line) => line.includes(tag) && line.includes(short)),
  };
}

/** The state once background deletions are done: nothing of the container left. */
function kernelStateGone(root: string, containerId: string): Promise<{ netns: boolean; rules: boolean }> {
  return eventually(
    async () => {
      const state = kernelState(root, containerId);
      return state.netns || state.rules ? undefined : state;
    },
    `the namespace and rules of ${containerId.slice(0, 12)} to go`,
  );
}

describe('containers with networks and volumes', { skip, timeout: 300_000 }, () => {
  let fx: ContainerFixture;

  before(async () => {
    fx = await makeContainerFixture();
    await importBusyboxImage(fx, 'exposed', ['EXPOSE 80', 'EXPOSE 81/udp', 'CMD ["sh"]']);
  });

  after(async () => {
    await fx?.cleanup();
  });

  it('publishes -p 127.0.0.1:PORT:80 to the host, and leaves nothing behind after rm', async () => {
    const port = await freePort();
    const id = await fx.ok(['run', '-d', '-p', `127.0.0.1:${port}:80`, 'busybox', ...httpd('published')]);
    assert.equal(await fetchText(`http://127.0.0.1:${port}/`), 'published\n');
    assert.equal(await fx.ok(['port', id]), `80/tcp -> 127.0.0.1:${port}`);
    assert.equal(
      await fx.ok(['ps', '--format', '{{.Ports}} {{.Networks}}']),
      `127.0.0.1:${port}->80/tcp bridge`,
    );
    const settings = JSON.parse(await fx.ok(['inspect', '-f', '{{json .NetworkSettings}}', id]));
    assert.deepEqual(settings.Ports, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] });
    assert.match(settings.Networks.bridge.IPAddress, /^\d+\.\d+\.\d+\.\d+$/);
    assert.equal(settings.IPAddress, settings.Networks.bridge.IPAddress);
    assert.deepEqual(kernelState(fx.root, id), { netns: true, rules: true });
    const sandbox = await fx.ok(['inspect', '-f', '{{.NetworkSettings.SandboxKey}}', id]);
    assert.ok(existsSync(sandbox), sandbox);
    // a new run gets its network again, on the same host port
    await fx.ok(['restart', '-t', '0', id]);
    assert.equal(await fetchText(`http://127.0.0.1:${port}/`), 'published\n');
    const restarted = await fx.ok(['inspect', '-f', '{{.NetworkSettings.SandboxKey}}', id]);
    await fx.ok(['rm', '-f', id]);
    assert.deepEqual(await kernelStateGone(fx.root, id), { netns: false, rules: false });
    assert.equal(existsSync(sandbox) || existsSync(restarted), false);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) }));
  });

  it('undoes the network of a start that fails: a taken host port, a command not found', async () => {
    const port = await freePort();
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve));
    try {
      const refused = await fx.wharf([
        'run',
        '-d',
        '--name',
        'port-taken',
        '-p',
        `127.0.0.1:${port}:80`,
        'busybox',
        'true',
      ]);
      assert.equal(refused.code, 125, refused.stderr);
      assert.match(refused.stderr, /port is already allocated/);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
    const id = await fx.ok(['inspect', '-f', '{{.Id}}', 'port-taken']);
    assert.deepEqual(await kernelStateGone(fx.root, id), { netns: false, rules: false });
    const missing = await fx.wharf([
      'run',
      '--name',
      'no-command',
      '-p',
      `127.0.0.1:${port}:80`,
      'busybox',
      'no-such-command',
    ]);
    assert.equal(missing.code, 127, missing.stderr);
    const other = await fx.ok(['inspect', '-f', '{{.Id}}', 'no-command']);
    assert.deepEqual(await kernelStateGone(fx.root, other), { netns: false, rules: false });
    // the port is free again: the failed run released it
    await fx.ok(['rm', 'port-taken', 'no-command']);
    const id2 = await fx.ok([
      'run',
      '-d',
      '--rm',
      '-p',
      `127.0.0.1:${port}:80`,
      'busybox',
      ...httpd('free-again'),
    ]);
    assert.equal(await fetchText(`http://127.0.0.1:${port}/`), 'free-again\n');
    await fx.ok(['stop', '-t', '0', id2]);
    assert.deepEqual(await kernelStateGone(fx.root, id2), { netns: false, rules: false });
  });

  it('publishes the EXPOSEd ports with -P on ports the kernel picks (wharf port)', async () => {
    const id = await fx.ok(['run', '-d', '-P', 'exposed', ...httpd('all-published')]);
    const ports = await fx.ok(['port', id]);
    const tcp = /^80\/tcp -> 0\.0\.0\.0:(\d+)$/m.exec(ports);
    assert.ok(tcp, ports);
    assert.match(ports, /^81\/udp -> 0\.0\.0\.0:\d+$/m);
    assert.equal(await fetchText(`http://127.0.0.1:${tcp[1]}/`), 'all-published\n');
    assert.equal(await fx.ok(['port', id, '80']), `0.0.0.0:${tcp[1]}`);
    await fx.ok(['rm', '-f', id]);
  });

  it('lets containers on a user network reach each other by name and alias; connects one live', async () => {
    const subnet = `10.${randomInt(120, 200)}.${randomInt(0, 250)}.0/24`;
    const bridge = `wcw-${randomBytes(4).toString('hex')}`;
    const network = `wiring-${randomBytes(3).toString('hex')}`;
    await fx.ok([
      'network',
      'create',
      '--subnet',
      subnet,
      '-o',
      `com.docker.network.bridge.name=${bridge}`,
      network,
    ]);
    try {
      await fx.ok([
        'run',
        '-d',
        '--name',
        'server-b',
        '--network',
        network,
        '--network-alias',
        'bee',
        'busybox',
        ...httpd('from-b'),
      ]);
      const fetched = await fx.ok([
        'run',
        '--rm',
        '--name',
        'client-a',
        '--network',
        network,
        'busybox',
        'sh',
        '-c',
        'for i in $(seq 1 30); do wget -qO- http://server-b/ && wget -qO- http://bee/ && exit 0; sleep 0.2; done; exit 1',
      ]);
      assert.equal(fetched, 'from-b\nfrom-b');
      const aliases = JSON.parse(
        await fx.ok([
          'inspect',
          '-f',
          `{{json (index .NetworkSettings.Networks "${network}").Aliases}}`,
          'server-b',
        ]),
      ) as string[];
      assert.ok(aliases.includes('bee'), JSON.stringify(aliases));
      // a container on the default bridge joins the network while it runs, and leaves it
      await fx.ok(['run', '-d', '--name', 'server-c', 'busybox', ...httpd('from-c')]);
      await fx.ok(['network', 'connect', '--alias', 'sea', network, 'server-c']);
      assert.match(
        await fx.ok(['exec', 'server-c', 'ip', '-o', '-4', 'addr']),
        new RegExp(`eth1\\s+inet ${subnet.split('.').slice(0, 3).join('\\.')}\\.`),
      );
      const reached = await fx.ok([
        'run',
        '--rm',
        '--network',
        network,
        'busybox',
        'sh',
        '-c',
        'for i in $(seq 1 30); do wget -qO- http://sea/ && exit 0; sleep 0.2; done; exit 1',
      ]);
      assert.equal(reached, 'from-c');
      await fx.ok(['network', 'disconnect', network, 'server-c']);
      assert.doesNotMatch(await fx.ok(['exec', 'server-c', 'ip', '-o', '-4', 'addr']), /eth1/);
      const members = JSON.parse(await fx.ok(['network', 'inspect', '-f', '{{json .Containers}}', network]));
      assert.deepEqual(
        Object.values(members).map((member) => (member as { Name: string }).Name),
        ['server-b'],
      );
    } finally {
      await fx.wharf(['rm', '-f', 'server-b', 'server-c']);
      await fx.ok(['network', 'rm', network]);
    }
    assert.equal(spawnSync('ip', ['link', 'show', bridge]).status, 1, 'the bridge went with its network');
  });

  it('writes --dns, --dns-search, --dns-option and --add-host into the container files', async () => {
    const out = await fx.ok([
      'run',
      '--rm',
      '--hostname',
      'wired',
      '--dns',
      '10.0.0.53',
      '--dns-search',
      'example.test',
      '--dns-option',
      'ndots:2',
      '--add-host',
      'db.local:10.1.2.3',
      'busybox',
      'sh',
      '-c',
      'cat /etc/resolv.conf /etc/hosts',
    ]);
    assert.match(out, /^nameserver 10\.0\.0\.53$/m);
    assert.match(out, /^search example\.test$/m);
    assert.match(out, /^options ndots:2$/m);
    assert.match(out, /^10\.1\.2\.3\s+db\.local$/m);
    assert.match(out, /^\d+\.\d+\.\d+\.\d+\s+wired$/m);
  });

  it('refuses a network that does not exist, and -p with --network none', async () => {
    const missing = await fx.wharf(['create', '--network', 'no-such-network', 'busybox']);
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, /network no-such-network not found/);
    const conflicting = await fx.wharf(['create', '--network', 'none', '-p', '80', 'busybox']);
    assert.equal(conflicting.code, 125);
    assert.match(conflicting.stderr, /port publishing/);
    assert.equal(await fx.ok(['ps', '-aq']), '', 'no container was left by the refusals');
    const isolated = await fx.ok(['create', '--network', 'none', 'busybox']);
    const connect = await fx.wharf(['network', 'connect', 'bridge', isolated]);
    assert.equal(connect.code, 1);
    assert.match(connect.stderr, /private \(none\) mode/);
    await fx.ok(['rm', isolated]);
  });

  it('runs --network none with only lo, the layer untouched', async () => {
    const out = await fx.ok(['run', '--rm', '--network', 'none', 'busybox', 'ls', '/sys/class/net']);
    assert.equal(out, 'lo');
  });

  it('keeps a named volume across containers; ro refuses writes', async () => {
    const volume = `keep-${randomBytes(3).toString('hex')}`;
    await fx.ok([
      'run',
      '--name',
      'writer',
      '-v',
      `${volume}:/data`,
      'busybox',
      'sh',
      '-c',
      'echo kept > /data/f',
    ]);
    await fx.ok(['rm', 'writer']);
    assert.equal(await fx.ok(['volume', 'ls', '-q', '--filter', `name=${volume}`]), volume);
    assert.equal(await fx.ok(['run', '--rm', '-v', `${volume}:/data`, 'busybox', 'cat', '/data/f']), 'kept');
    const refused = await fx.wharf([
      'run',
      '--rm',
      '-v',
      `${volume}:/data:ro`,
      'busybox',
      'sh',
      '-c',
      'echo x > /data/g',
    ]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr + refused.stdout, /Read-only file system/);
    const mounts = JSON.parse(
      await fx.ok([
        'inspect',
        '-f',
        '{{json .Mounts}}',
        await fx.ok(['create', '-v', `${volume}:/data:ro`, 'busybox']),
      ]),
    );
    assert.deepEqual(mounts, [
      {
        Type: 'volume',
        Name: volume,
        Source: `${fx.root}/volumes/${volume}/_data`,
        Destination: '/data',
        Driver: 'local',
        Mode: 'ro',
        RW: false,
        Propagation: '',
      },
    ]);
    await fx.ok(['container', 'prune', '-f']);
    await fx.ok(['volume', 'rm', volume]);
  });

  it('loses tmpfs content after a restart; --rm takes the anonymous volume', async () => {
    const id = await fx.ok(['run', '-d', '--tmpfs', '/scratch', 'busybox', 'sleep', '600']);
    await fx.ok(['exec', id, 'sh', '-c', 'echo x > /scratch/f']);
    await fx.ok(['restart', '-t', '0', id]);
    assert.notEqual((await fx.wharf(['exec', id, 'test', '-e', '/scratch/f'])).code, 0);
    await fx.ok(['rm', '-f', id]);
    const before = await fx.ok(['volume', 'ls', '-q']);
    const out = await fx.ok([
      'run',
      '--rm',
      '-v',
      '/anon',
      'busybox',
      'sh',
      '-c',
      'echo y > /anon/f && grep " /anon " /proc/mounts',
    ]);
    assert.match(out, / \/anon /);
    assert.equal(await fx.ok(['volume', 'ls', '-q']), before, '--rm removed the anonymous volume');
    const mounted = (await readFile('/proc/self/mountinfo', 'utf8'))
      .split('\n')
      .filter((line) => line.includes(fx.root));
    assert.deepEqual(mounted, [], 'nothing of the root stays mounted');
  });
});
