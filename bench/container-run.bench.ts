// Starting a container, side by side in one run on the same busybox root filesystem (one tar,
// imported into each tool):
//   wharf run --rm --network none busybox true    (the whole CLI: node, SQLite, overlay, conmon)
//   node -e 0 + <runtime> run of a bare bundle     (the floor: node's start plus the OCI runtime)
//   podman run --rm --network none busybox true    (Debian's podman, runc, cgroupfs, nofile 20000)
//   docker run --rm --network none busybox true    (Debian's docker.io: a dockerd started here)
// and `exec CONTAINER true` into a running container of each tool.
// The floor's `node -e 0` runs in the caller's environment, as the goal is written. Where
// NODE_EXTRA_CA_CERTS is set (these machines: ~55 ms of parsing at node's every start), bin/wharf
// moves it aside, so the benchmark also prints node's start without it and wharf's distance from
// that lean floor: the honest measure of what wharf adds.
//
// Runs alternate between the tools so machine load hits all of them alike; medians of N runs.
// dockerd gets its own data root, exec root and socket, no iptables and no bridge, and is
// stopped by its PID at the end. Needs `apt-get install docker.io podman`.
// Run: node --import tsx bench/container-run.bench.ts [iterations]
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readHostFacts } from '../src/runtime/host-facts.ts';
import { buildRuntimeSpec, serializeRuntimeSpec } from '../src/runtime/spec.ts';
import { makeRuntimeFixture } from '../test/helpers/runtime-fixture.ts';
import { wharfBin } from '../test/helpers/wharf.ts';
import { busyboxRootfsTar } from './helpers/busybox.ts';
import { dockerUnavailable, startDockerd } from './helpers/dockerd.ts';
import { podmanUnavailable, preparePodman } from './helpers/podman.ts';
import { must, run } from './helpers/process.ts';
import { median } from './helpers/stats.ts';

const iterations = Number(process.argv[2] ?? 15);

/** One tool: how it runs a container and execs into a running one. */
interface Tool {
  name: string;
  run(): Promise<number>;
  exec?(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * A tool with docker's verbs (wharf, docker) and bench-busybox imported: a detached `sleep` to
 * exec into, then `run --rm` and `exec`; its stop removes the sleeper, then runs `stopMore`.
 */
async function cliTool(
  name: string,
  command: string,
  env: NodeJS.ProcessEnv,
  stopMore: () => Promise<void> = async () => {},
): Promise<Tool> {
  const id = (
    await must(command, ['run', '-d', '--network', 'none', 'bench-busybox', 'sleep', '3600'], env)
  ).stdout.trim();
  return {
    name,
    async run() {
      return (await must(command, ['run', '--rm', '--network', 'none', 'bench-busybox', 'true'], env)).ms;
    },
    async exec() {
      return (await must(command, ['exec', id, 'true'], env)).ms;
    },
    async stop() {
      await run(command, ['rm', '-f', id], env);
      await stopMore();
    },
  };
}

async function wharfTool(root: string, tar: string): Promise<Tool> {
  const env = { ...process.env, WHARF_ROOT: root };
  await must(wharfBin, ['import', '-c', 'CMD ["sh"]', tar, 'bench-busybox:latest'], env);
  return cliTool('wharf', wharfBin, env);
}

/** `node -e 0` plus the OCI runtime running a bare bundle of the same rootfs (no image, no conmon). */
async function floorTool(): Promise<
  Tool & { nodeMs: number[]; leanNodeMs: number[]; runtimeMs: number[]; runtime: string }
> {
  const fixture = await makeRuntimeFixture();
  const bare = await fixture.prepare({ args: ['true'] });
  const host = await readHostFacts();
  const { driver } = fixture;
  const nodeMs: number[] = [];
  // node as bin/wharf starts it: NODE_EXTRA_CA_CERTS (set on these machines, ~55 ms of parsing
  // at every start) moved aside, so the floor can also be read without what wharf never pays
  const leanNodeMs: number[] = [];
  const leanEnv = { ...process.env };
  delete leanEnv.NODE_EXTRA_CA_CERTS;
  const runtimeMs: number[] = [];
  return {
    name: 'floor',
    runtime: `${driver.name} (${fixture.selection.version})`,
    nodeMs,
    leanNodeMs,
    runtimeMs,
    async run() {
      const node = (await must(process.execPath, ['-e', '0'])).ms;
      leanNodeMs.push((await must(process.execPath, ['-e', '0'], leanEnv)).ms);
      const id = `bench-${randomBytes(6).toString('hex')}`;
      const config = buildRuntimeSpec({
        args: ['true'],
        rootfs: fixture.rootfs,
        cgroupsPath: `${fixture.cgroupParent}/${id}`,
        network: { mode: 'none' },
        env: ['PATH=/bin'],
        host,
      });
      await writeFile(join(bare.bundle, 'config.json'), serializeRuntimeSpec(config));
      const runtime = (
        await must(driver.binary, [...driver.globalArgs(), 'run', '--bundle', bare.bundle, id])
      ).ms;
      nodeMs.push(node);
      runtimeMs.push(runtime);
      return node + runtime;
    },
    stop: () => fixture.cleanup(),
  };
}

async function podmanTool(dir: string, tar: string): Promise<Tool | string> {
  const unavailable = podmanUnavailable();
  if (unavailable) return unavailable;
  const podman = await preparePodman({ dir });
  const failed = await podman.importBusybox(tar, 'localhost/bench-busybox:latest');
  if (failed) return failed;
  const started = await podman.run([
    'run',
    '-d',
    '--network',
    'none',
    'localhost/bench-busybox',
    'sleep',
    '3600',
  ]);
  if (started.code !== 0) return `podman run failed: ${started.stderr.slice(-800)}`;
  const id = started.stdout.trim();
  return {
    name: 'podman',
    async run() {
      return (await podman.must(['run', '--rm', '--network', 'none', 'localhost/bench-busybox', 'true'])).ms;
    },
    async exec() {
      return (await podman.must(['exec', id, 'true'])).ms;
    },
    stop: () => podman.reset(),
  };
}

async function dockerTool(dir: string, tar: string): Promise<Tool | string> {
  const unavailable = dockerUnavailable();
  if (unavailable) return unavailable;
  const docker = await startDockerd({ dir });
  if (typeof docker === 'string') return docker;
  try {
    await docker.importBusybox(tar, 'bench-busybox:latest');
    return await cliTool('docker', docker.cli, docker.env, docker.stop);
  } catch (error) {
    await docker.stop();
    throw error;
  }
}

const work = await mkdtemp(join(process.env.WHARF_BENCH_DIR ?? '/var/lib', 'wharf-container-bench-'));
const tools: Tool[] = [];
const skipped: string[] = [];
try {
  const tar = await busyboxRootfsTar(work);
  const floor = await floorTool();
  tools.push(floor);
  tools.push(await wharfTool(join(work, 'wharf'), tar));
  for (const make of [
    () => podmanTool(join(work, 'podman'), tar),
    () => dockerTool(join(work, 'docker'), tar),
  ]) {
    const tool = await make();
    if (typeof tool === 'string') skipped.push(tool);
    else tools.push(tool);
  }
  const runs = new Map<string, number[]>(tools.map((tool) => [tool.name, []]));
  const execs = new Map<string, number[]>(tools.filter((tool) => tool.exec).map((tool) => [tool.name, []]));
  for (let i = -1; i < iterations; i++) {
    for (const tool of tools) {
      const ms = await tool.run();
      if (i >= 0) runs.get(tool.name)!.push(ms);
    }
    for (const tool of tools) {
      if (!tool.exec) continue;
      const ms = await tool.exec();
      if (i >= 0) execs.get(tool.name)!.push(ms);
    }
  }
  const m = (map: Map<string, number[]>, name: string) =>
    map.get(name)?.length ? median(map.get(name)!) : Number.NaN;
  const line = (label: string, ms: number, extra = '') =>
    console.log(`${label.padEnd(52)} ${ms.toFixed(1).padStart(8)} ms${extra}`);
  console.log(`runtime: ${floor.runtime}; iterations: ${iterations} (medians)`);
  for (const reason of skipped) console.log(`skipped: ${reason}`);
  const wharfRun = m(runs, 'wharf');
  line('node -e 0', median(floor.nodeMs));
  line(`bare ${floor.runtime.split(' ')[0]} run`, median(floor.runtimeMs));
  line('node -e 0 + bare runtime run (floor)', m(runs, 'floor'));
  const leanFloor = median(floor.leanNodeMs) + median(floor.runtimeMs);
  if (process.env.NODE_EXTRA_CA_CERTS) {
    line('node -e 0 without NODE_EXTRA_CA_CERTS (as bin/wharf)', median(floor.leanNodeMs));
  }
  line(
    'wharf run --rm --network none busybox true',
    wharfRun,
    `   (floor + ${(wharfRun - m(runs, 'floor')).toFixed(1)} ms; goal +40` +
      (process.env.NODE_EXTRA_CA_CERTS
        ? `; over the lean floor: +${(wharfRun - leanFloor).toFixed(1)} ms)`
        : ')'),
  );
  for (const peer of ['podman', 'docker']) {
    if (!runs.has(peer)) continue;
    const peerMs = m(runs, peer);
    line(
      `${peer} run --rm --network none busybox true`,
      peerMs,
      `   (wharf/${peer} ${(wharfRun / peerMs).toFixed(2)}x)`,
    );
  }
  const wharfExec = m(execs, 'wharf');
  line('wharf exec CONTAINER true', wharfExec);
  for (const peer of ['podman', 'docker']) {
    if (!execs.has(peer)) continue;
    const peerMs = m(execs, peer);
    line(`${peer} exec CONTAINER true`, peerMs, `   (wharf/${peer} ${(wharfExec / peerMs).toFixed(2)}x)`);
  }
  console.log('goals: run <= floor + 40 ms and <= 0.7x podman; exec <= 0.8x docker');
} finally {
  for (const tool of tools.reverse())
    await tool.stop().catch((error: unknown) => console.error(`cleanup of ${tool.name}: ${error}`));
  await rm(work, { recursive: true, force: true }).catch((error: unknown) => {
    console.error(`left ${work}: ${error}`);
  });
}
