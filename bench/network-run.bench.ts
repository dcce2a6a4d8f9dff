// `run --rm busybox true` on each tool's default network, side by side in one run, on one busybox
// root filesystem tar imported into each tool:
//   wharf  run --rm busybox true    default bridge (a temp root: bridge wh-TAG, its own subnet)
//   podman run --rm busybox true    netavark, a default network made here: own config dir,
//                                   bridge wt-pmb0 on 10.231.92.0/24, no DNS (like Docker's and
//                                   Wharf's default bridge), same OCI runtime as Wharf
//   docker run --rm busybox true    a dockerd started here with its own data root, exec root,
//                                   pidfile and socket, on a bridge made here (--bridge wt-dkb0,
//                                   10.231.93.0/24), iptables on as by default
// and each tool again with `--network none`, so the network's share of a run is the difference.
// Each round runs every variant once in a shuffled order, so machine load and what a run leaves
// working in the background hit all alike; medians of N rounds.
// `WHARF_BENCH_BASELINE=<other bin/wharf>` runs another build alongside on its own root (say a copy
// of bin/ and dist/ from before a change, with a node_modules link beside them): before/after in
// one run; `WHARF_BENCH_BIN` replaces bin/wharf (a frozen copy of a build). `WHARF_BENCH_PEERS=none`
// leaves Podman and Docker out.
//
// Cleanup, even on failure: Wharf's root (its bridge and rules through NetworkManager.destroyAll),
// podman's containers, networks and storage, dockerd stopped by its PID, both bridges deleted,
// and the iptables rules and chains dockerd and netavark added (a diff of `iptables-save` against
// the one taken at the start, limited to DOCKER/NETAVARK chains and these bridges and subnets),
// the FORWARD policy put back. Needs `apt-get install docker.io podman`.
// Run: node --import tsx bench/network-run.bench.ts [iterations]
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { NetworkManager } from '../src/container/network/network-manager.ts';
import { openMetadataDatabase } from '../src/metadata/database.ts';
import { selectRuntime } from '../src/runtime/runtime-probe.ts';
import { wharfBin } from '../test/helpers/wharf.ts';
import { busyboxRootfsTar } from './helpers/busybox.ts';
import { dockerUnavailable, startDockerd } from './helpers/dockerd.ts';
import { podmanUnavailable, preparePodman } from './helpers/podman.ts';
import { must, run } from './helpers/process.ts';
import { median, percentile } from './helpers/stats.ts';

const iterations = Number(process.argv[2] ?? 9);
const PODMAN_BRIDGE = 'wt-pmb0';
const PODMAN_SUBNET = '10.231.92.0/24';
const DOCKER_BRIDGE = 'wt-dkb0';
const DOCKER_SUBNET = '10.231.93.0/24';
/** Lines of the peers' firewall work: their chains, bridges and subnets. */
const PEER_RULE = new RegExp(
  `DOCKER|NETAVARK|${PODMAN_BRIDGE}|${DOCKER_BRIDGE}|${PODMAN_SUBNET.replace(/\./g, '\\.')}|${DOCKER_SUBNET.replace(/\./g, '\\.')}`,
);

/** The filter and nat tables as sets of lines. */
function saveTables(): Record<'filter' | 'nat', string[]> {
  const read = (table: string) =>
    spawnSync('iptables-save', ['-t', table], { encoding: 'utf8' }).stdout.split('\n');
  return { filter: read('filter'), nat: read('nat') };
}

/**
 * Deletes the rules and chains the peers added since `before`: rules first (so chains are
 * unreferenced), then the chains they created; puts the FORWARD policy back.
 */
function removePeerRules(before: Record<'filter' | 'nat', string[]>): void {
  const now = saveTables();
  for (const table of ['filter', 'nat'] as const) {
    const had = new Set(before[table]);
    const rules = now[table]
      .filter((line) => line.startsWith('-A ') && !had.has(line) && PEER_RULE.test(line))
      .map((line) => `-D${line.slice(2)}`);
    const chains = now[table]
      .filter((line) => /^:(DOCKER|NETAVARK)/.test(line) && !had.has(line))
      .map((line) => line.slice(1).split(' ')[0]!)
      .filter((chain) => !before[table].some((line) => line.startsWith(`:${chain} `)));
    const lines = [...rules, ...chains.map((c) => `-F ${c}`), ...chains.map((c) => `-X ${c}`)];
    if (lines.length === 0) continue;
    const result = spawnSync('iptables-restore', ['--noflush', '-w', '5'], {
      input: `*${table}\n${lines.join('\n')}\nCOMMIT\n`,
      encoding: 'utf8',
    });
    if (result.status !== 0) console.error(`Cannot remove the peers' ${table} rules: ${result.stderr}`);
  }
  const policy = (lines: string[]) => lines.find((line) => line.startsWith(':FORWARD '))?.split(' ')[1];
  const was = policy(before.filter);
  if (was && policy(now.filter) !== was) spawnSync('iptables', ['-P', 'FORWARD', was]);
}

/** One tool: a run on its default network and one with `--network none`. */
interface Tool {
  name: string;
  bridge(): Promise<number>;
  none(): Promise<number>;
  stop(): Promise<void>;
}

async function wharfTool(root: string, tar: string, name = 'wharf', bin = wharfBin): Promise<Tool> {
  const env = { ...process.env, WHARF_ROOT: root };
  await must(bin, ['import', '-c', 'CMD ["sh"]', tar, 'bench-busybox:latest'], env);
  return {
    name,
    async bridge() {
      return (await must(bin, ['run', '--rm', 'bench-busybox', 'true'], env)).ms;
    },
    async none() {
      return (await must(bin, ['run', '--rm', '--network', 'none', 'bench-busybox', 'true'], env)).ms;
    },
    async stop() {
      const db = openMetadataDatabase(root);
      try {
        await (await NetworkManager.open(db, root)).destroyAll();
      } finally {
        db.close();
      }
    },
  };
}

async function podmanTool(dir: string, tar: string, runtime: string): Promise<Tool | string> {
  const unavailable = podmanUnavailable();
  if (unavailable) return unavailable;
  const networks = join(dir, 'networks');
  const podman = await preparePodman({
    dir,
    runtime,
    network: { configDir: networks, defaultNetwork: 'wtbench' },
  });
  const stop = () => podman.reset(['wtbench']);
  // Podman 4.3 has no --interface-name: the network file, as `podman network create` writes it
  await writeFile(
    join(networks, 'wtbench.json'),
    JSON.stringify({
      name: 'wtbench',
      id: 'b'.repeat(64),
      driver: 'bridge',
      network_interface: PODMAN_BRIDGE,
      created: new Date().toISOString(),
      subnets: [{ subnet: PODMAN_SUBNET, gateway: PODMAN_SUBNET.replace(/0\/24$/, '1') }],
      ipv6_enabled: false,
      internal: false,
      dns_enabled: false,
      ipam_options: { driver: 'host-local' },
    }),
  );
  const failed = await podman.importBusybox(tar, 'localhost/bench-busybox:latest');
  if (failed) {
    await stop();
    return failed;
  }
  return {
    name: 'podman',
    async bridge() {
      return (await podman.must(['run', '--rm', 'localhost/bench-busybox', 'true'])).ms;
    },
    async none() {
      return (await podman.must(['run', '--rm', '--network', 'none', 'localhost/bench-busybox', 'true'])).ms;
    },
    stop,
  };
}

async function dockerTool(dir: string, tar: string): Promise<Tool | string> {
  const unavailable = dockerUnavailable();
  if (unavailable) return unavailable;
  const gateway = DOCKER_SUBNET.replace(/0\/24$/, '1/24');
  const made = spawnSync('ip', ['-b', '-'], {
    input: `link add ${DOCKER_BRIDGE} type bridge\naddr add ${gateway} dev ${DOCKER_BRIDGE}\nlink set ${DOCKER_BRIDGE} up\n`,
    encoding: 'utf8',
  });
  if (made.status !== 0) return `Cannot create bridge ${DOCKER_BRIDGE}: ${made.stderr}`;
  const deleteBridge = () => spawnSync('ip', ['link', 'del', DOCKER_BRIDGE]);
  // iptables on, as by default: the bridge's rules are part of what a run costs
  const docker = await startDockerd({ dir, bridge: DOCKER_BRIDGE });
  if (typeof docker === 'string') {
    deleteBridge();
    return docker;
  }
  const { cli, env } = docker;
  const stop = async () => {
    await run(cli, ['rm', '-f', ...(await run(cli, ['ps', '-aq'], env)).stdout.split(/\s+/)], env);
    await docker.stop();
    deleteBridge();
  };
  await docker.importBusybox(tar, 'bench-busybox:latest').catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return {
    name: 'docker',
    async bridge() {
      return (await must(cli, ['run', '--rm', 'bench-busybox', 'true'], env)).ms;
    },
    async none() {
      return (await must(cli, ['run', '--rm', '--network', 'none', 'bench-busybox', 'true'], env)).ms;
    },
    stop,
  };
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const loadBefore = load();
const tablesBefore = saveTables();
const work = await mkdtemp(join(process.env.WHARF_BENCH_DIR ?? '/var/lib', 'wharf-network-run-bench-'));
const tools: Tool[] = [];
const skipped: string[] = [];
try {
  const tar = await busyboxRootfsTar(work);
  const wharfRoot = join(work, 'wharf');
  await mkdir(wharfRoot, { recursive: true });
  tools.push(await wharfTool(wharfRoot, tar, 'wharf', process.env.WHARF_BENCH_BIN ?? wharfBin));
  const baseline = process.env.WHARF_BENCH_BASELINE;
  if (baseline) {
    const baseRoot = join(work, 'wharf-baseline');
    await mkdir(baseRoot, { recursive: true });
    tools.push(await wharfTool(baseRoot, tar, 'baseline', baseline));
  }
  const runtime = (await selectRuntime({ root: wharfRoot })).driver.name;
  // WHARF_BENCH_PEERS=none: Wharf (and the baseline) only, for more runs in the same time
  const peers = process.env.WHARF_BENCH_PEERS === 'none' ? [] : ['podman', 'docker'];
  for (const make of [
    () => podmanTool(join(work, 'podman'), tar, runtime),
    () => dockerTool(join(work, 'docker'), tar),
  ].filter((_, index) => peers.length > index)) {
    const tool = await make();
    if (typeof tool === 'string') skipped.push(tool);
    else tools.push(tool);
  }
  const times = new Map<string, number[]>();
  const record = (key: string, ms: number) => times.set(key, [...(times.get(key) ?? []), ms]);
  for (let i = -1; i < iterations; i++) {
    // a shuffled order each round: what one run leaves working in the background (a kernel
    // tearing a namespace down, a helper making a spare) falls on every variant alike
    const round = tools.flatMap((tool) => [
      { key: `${tool.name} bridge`, run: () => tool.bridge() },
      { key: `${tool.name} none`, run: () => tool.none() },
    ]);
    for (let j = round.length - 1; j > 0; j--) {
      const k = Math.floor(Math.random() * (j + 1));
      [round[j], round[k]] = [round[k]!, round[j]!];
    }
    for (const { key, run: once } of round) {
      const ms = await once();
      if (i >= 0) record(key, ms);
    }
  }
  const m = (key: string) => (times.get(key)?.length ? median(times.get(key)!) : Number.NaN);
  console.log(
    `run --rm busybox true, median of ${iterations} runs; OCI runtime ${runtime} for wharf and podman`,
  );
  console.log(`load average before: ${loadBefore}, after: ${load()}`);
  for (const reason of skipped) console.log(`skipped: ${reason}`);
  // the network's share: the median of each round's bridge - none (both ran in the same round,
  // so a loaded stretch of the machine weighs on both), and the spread of single runs
  const share = (name: string) => {
    const bridge = times.get(`${name} bridge`) ?? [];
    const none = times.get(`${name} none`) ?? [];
    return median(bridge.map((ms, index) => ms - (none[index] ?? Number.NaN)));
  };
  const spread = (key: string) => {
    const samples = times.get(key) ?? [];
    return `${percentile(samples, 25).toFixed(0)}-${percentile(samples, 75).toFixed(0)}`;
  };
  console.log(
    `  ${'tool'.padEnd(8)} ${'default net (p25-p75)'.padStart(24)} ${'--network none (p25-p75)'.padStart(26)} ${'network share'.padStart(14)}`,
  );
  const cell = (key: string, width: number) => `${m(key).toFixed(1)} ms (${spread(key)})`.padStart(width);
  for (const tool of tools) {
    console.log(
      `  ${tool.name.padEnd(8)} ${cell(`${tool.name} bridge`, 24)} ${cell(`${tool.name} none`, 26)} ${`${share(tool.name).toFixed(1)} ms`.padStart(14)}`,
    );
  }
  const wharf = m('wharf bridge');
  for (const peer of ['baseline', 'podman', 'docker']) {
    if (!times.has(`${peer} bridge`)) continue;
    const ratio = wharf / m(`${peer} bridge`);
    const goal = peer === 'podman' ? ` (goal <= 0.5x: ${ratio <= 0.5 ? 'met' : 'not met'})` : '';
    console.log(`  wharf/${peer} on the default network: ${ratio.toFixed(2)}x${goal}`);
  }
} finally {
  for (const tool of tools.reverse())
    await tool.stop().catch((error: unknown) => console.error(`cleanup of ${tool.name}: ${error}`));
  spawnSync('ip', ['link', 'del', PODMAN_BRIDGE], { stdio: 'ignore' });
  removePeerRules(tablesBefore);
  await rm(work, { recursive: true, force: true }).catch((error: unknown) => {
    console.error(`left ${work}: ${error}`);
  });
}
