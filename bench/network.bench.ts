// Container network setup + teardown, side by side in one run on the same kind of network:
//   wharf made:  NetworkManager.attachContainer + removeContainer with the pool off (netns, veth
//                into the bridge, address, route; with -p, one DNAT rule), teardown waited for
//   wharf pool:  what the container service sees: attach taking a ready spare namespace (the
//                pool's helper made it beforehand, off the timed path) + a background detach
//                (port rules removed, the namespace handed to a deleting helper) — src/container/network
//   netavark: `ip netns add` + `netavark setup` + `netavark teardown` + `ip netns del`, the way
//             Podman drives it (Podman makes the namespace itself), same subnet size, same port
// and published-port data paths, host loopback -> busybox httpd in a namespace:
//   dnat:     Wharf's kernel DNAT (OUTPUT + route_localnet + MASQUERADE)
//   proxy:    a userland proxy (socat fork, as docker-proxy does) in front of the same httpd
// Medians of N rounds; the two setup paths alternate so that load hits both alike.
// Run: node --import tsx bench/network.bench.ts [iterations]
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetworkManager } from '../src/container/network/network-manager.ts';
import { openMetadataDatabase } from '../src/metadata/database.ts';
import { median } from './helpers/stats.ts';

const iterations = Number(process.argv[2] ?? 20);
const NETAVARK = '/usr/lib/podman/netavark';

function run(binary: string, args: string[], input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${binary} ${args.join(' ')}: ${err}`)),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function get(port: number, path = '/'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      res.on('end', () => resolve(bytes));
    });
    req.on('error', reject);
    req.end();
  });
}

/** netavark leaves its chains behind after the last teardown; the benchmark removes them if it made them. */
const netavarkChainsBefore = spawnSync('iptables-save', [], { encoding: 'utf8' }).stdout.includes('NETAVARK');

function removeNetavarkChains(): void {
  if (netavarkChainsBefore) return;
  const nat = spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout.split('\n');
  const filter = spawnSync('iptables-save', ['-t', 'filter'], { encoding: 'utf8' }).stdout.split('\n');
  for (const [table, lines] of [
    ['nat', nat],
    ['filter', filter],
  ] as const) {
    const jumps = lines
      .filter((l) => /^-A (PREROUTING|OUTPUT|POSTROUTING|FORWARD) .*-j NETAVARK/.test(l))
      .map((l) => `-D${l.slice(2)}`);
    const chains = lines.filter((l) => l.startsWith(':NETAVARK')).map((l) => l.slice(1).split(' ')[0]!);
    const text = [
      `*${table}`,
      ...jumps,
      ...chains.map((c) => `-F ${c}`),
      ...chains.map((c) => `-X ${c}`),
      'COMMIT',
      '',
    ].join('\n');
    if (jumps.length || chains.length) spawnSync('iptables-restore', ['--noflush'], { input: text });
  }
}

const root = await mkdtemp(join(tmpdir(), 'wharf-netbench-'));
const db = openMetadataDatabase(root);
const manager = await NetworkManager.open(db, root);
const cold = new NetworkManager(db, root, { poolSize: 0 });
const children: ReturnType<typeof spawn>[] = [];
const www = join(root, 'www');
try {
  await manager.create({
    name: 'bench',
    subnet: '10.231.90.0/24',
    options: { 'com.docker.network.bridge.name': 'wt-bench0' },
  });
  const netavarkConfig = (id: string, port: number | undefined) =>
    JSON.stringify({
      container_id: id,
      container_name: `nv-${id.slice(0, 8)}`,
      networks: { nvbench: { interface_name: 'eth0', static_ips: ['10.231.91.2'] } },
      network_info: {
        nvbench: {
          name: 'nvbench',
          id: 'b'.repeat(64),
          driver: 'bridge',
          network_interface: 'wt-nvbench0',
          subnets: [{ subnet: '10.231.91.0/24', gateway: '10.231.91.1' }],
          ipv6_enabled: false,
          internal: false,
          dns_enabled: false,
          ipam_options: { driver: 'host-local' },
        },
      },
      port_mappings: port
        ? [{ host_ip: '127.0.0.1', container_port: 80, host_port: port, range: 1, protocol: 'tcp' }]
        : [],
    });
  const haveNetavark = existsSync(NETAVARK);
  const times: Record<string, number[]> = {
    'wharf made setup': [],
    'wharf made teardown': [],
    'wharf made setup -p': [],
    'wharf made teardown -p': [],
    'wharf pool setup': [],
    'wharf pool teardown': [],
    'wharf pool setup -p': [],
    'wharf pool teardown -p': [],
    'netavark setup': [],
    'netavark teardown': [],
    'netavark setup -p': [],
    'netavark teardown -p': [],
  };
  const configDir = join(root, 'netavark');
  const port = await freePort();
  for (let i = -1; i < iterations; i++) {
    for (const withPort of [false, true]) {
      const suffix = withPort ? ' -p' : '';
      const request = {
        networkMode: 'bench',
        ...(withPort
          ? { portBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] } }
          : {}),
      };
      for (const kind of ['made', 'pool'] as const) {
        const id = randomBytes(32).toString('hex');
        // the pool's helpers run between containers, not inside the timed calls
        if (kind === 'pool') await manager.settle();
        let t0 = performance.now();
        const attached = await (kind === 'pool' ? manager : cold).attachContainer(id, {
          containerName: `w${i}`,
          ...request,
        });
        const setup = performance.now() - t0;
        if (kind === 'pool' && i >= 0 && attached.netnsPath.endsWith(id.slice(0, 12))) {
          throw new Error('the pooled attach made its own namespace: no spare was ready');
        }
        t0 = performance.now();
        if (kind === 'pool') await manager.removeContainer(id, { background: true });
        else await cold.removeContainer(id);
        const teardown = performance.now() - t0;
        if (i >= 0) {
          times[`wharf ${kind} setup${suffix}`]!.push(setup);
          times[`wharf ${kind} teardown${suffix}`]!.push(teardown);
        }
      }
      if (!haveNetavark) continue;
      const nvId = randomBytes(32).toString('hex');
      const ns = `nvbench-${nvId.slice(0, 8)}`;
      const file = join(root, `${nvId}.json`);
      await writeFile(file, netavarkConfig(nvId, withPort ? port : undefined));
      let t0 = performance.now();
      await run('ip', ['netns', 'add', ns]);
      await run(NETAVARK, ['--config', configDir, '-f', file, 'setup', `/run/netns/${ns}`]);
      const nvSetup = performance.now() - t0;
      t0 = performance.now();
      await run(NETAVARK, ['--config', configDir, '-f', file, 'teardown', `/run/netns/${ns}`]);
      await run('ip', ['netns', 'del', ns]);
      const nvTeardown = performance.now() - t0;
      if (i >= 0) {
        times[`netavark setup${suffix}`]!.push(nvSetup);
        times[`netavark teardown${suffix}`]!.push(nvTeardown);
      }
    }
  }
  console.log(`network setup/teardown per container, median of ${iterations} (ms):`);
  for (const [name, values] of Object.entries(times)) {
    if (values.length) console.log(`  ${name.padEnd(20)} ${median(values).toFixed(1)}`);
  }
  for (const suffix of ['', ' -p']) {
    const total = (name: string) =>
      times[`${name} setup${suffix}`]!.length
        ? median(times[`${name} setup${suffix}`]!) + median(times[`${name} teardown${suffix}`]!)
        : Number.NaN;
    const nv = total('netavark');
    for (const kind of ['made', 'pool']) {
      const wharf = total(`wharf ${kind}`);
      console.log(
        `  total${suffix || '   '}: wharf ${kind} ${wharf.toFixed(1)} ms, netavark ${nv.toFixed(1)} ms, ratio ${(wharf / nv).toFixed(2)}x`,
      );
    }
  }

  // Data path: the same httpd behind DNAT and behind a userland proxy.
  const { mkdir } = await import('node:fs/promises');
  await mkdir(www, { recursive: true });
  await writeFile(join(www, 'small'), 'x'.repeat(100));
  await writeFile(join(www, 'big'), Buffer.alloc(64 * 1024 * 1024, 1));
  const id = randomBytes(32).toString('hex');
  const dnatPort = await freePort();
  const attached = await manager.attachContainer(id, {
    containerName: 'web',
    networkMode: 'bench',
    portBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(dnatPort) }] },
  });
  const httpd = spawn(
    'nsenter',
    [`--net=${attached.netnsPath}`, 'busybox', 'httpd', '-f', '-p', '80', '-h', www],
    {
      stdio: 'ignore',
    },
  );
  children.push(httpd);
  const proxyPort = await freePort();
  const proxy = spawn(
    'socat',
    [`TCP-LISTEN:${proxyPort},bind=127.0.0.1,fork,reuseaddr`, `TCP:${attached.networks[0]!.ip}:80`],
    { stdio: 'ignore' },
  );
  children.push(proxy);
  for (let attempt = 0; attempt < 100; attempt++) {
    if (
      (await get(dnatPort, '/small').catch(() => 0)) > 0 &&
      (await get(proxyPort, '/small').catch(() => 0)) > 0
    )
      break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const requests = 200;
  const results: Record<string, { latency: number; mbps: number }> = {};
  for (const [name, target] of [
    ['dnat', dnatPort],
    ['proxy', proxyPort],
  ] as const) {
    const latencies: number[] = [];
    for (let i = 0; i < requests; i++) {
      const t0 = performance.now();
      await get(target, '/small');
      latencies.push(performance.now() - t0);
    }
    const t0 = performance.now();
    const bytes = await get(target, '/big');
    const seconds = (performance.now() - t0) / 1000;
    results[name] = { latency: median(latencies), mbps: bytes / 1024 / 1024 / seconds };
  }
  console.log(`published port, host loopback -> httpd (${requests} requests, one 64 MiB download):`);
  for (const [name, r] of Object.entries(results)) {
    console.log(
      `  ${name.padEnd(6)} request median ${r.latency.toFixed(2)} ms, download ${r.mbps.toFixed(0)} MiB/s`,
    );
  }
  await manager.removeContainer(id);
} finally {
  for (const child of children) child.kill('SIGKILL');
  await manager.destroyAll();
  // netavark leaves its bridge and chains behind after the last teardown: remove what it made
  spawnSync('ip', ['link', 'del', 'wt-nvbench0']);
  removeNetavarkChains();
  db.close();
  await rm(root, { recursive: true, force: true });
}
