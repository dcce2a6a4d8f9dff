// Starting a container, side by side in one run on the same busybox root filesystem (one tar,
// imported into each tool):
//   wharf run --rm --network none busybox true    (the whole CLI: node, SQLite, overlay, conmon)
//   node -e 0 + <runtime> run of a bare bundle     (the floor: node's start plus the OCI runtime)
//   podman run --rm --network none busybox true    (Debian's podman, runc, cgroupfs, nofile 20000)
//   docker run --rm --network none busybox true    (Debian's docker.io: a dockerd started here)
// and `exec CONTAINER true` into a running container of each tool.
//
// Runs alternate between the tools so machine load hits all of them alike; medians of N runs.
// dockerd gets its own data root, exec root and socket, no iptables and no bridge, and is
// stopped by its PID at the end. Needs `apt-get install docker.io podman`.
// Run: node --import tsx bench/container-run.bench.ts [iterations]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readHostFacts } from '../src/runtime/host-facts.ts';
import { buildRuntimeSpec, serializeRuntimeSpec } from '../src/runtime/spec.ts';
import { makeBusyboxRootfs } from '../test/helpers/busybox-rootfs.ts';
import { makeRuntimeFixture } from '../test/helpers/runtime-fixture.ts';
import { wharfBin } from '../test/helpers/wharf.ts';

const iterations = Number(process.argv[2] ?? 15);

interface Result {
  code: number;
  ms: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Result> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code: code ?? -1,
        ms: performance.now() - t0,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      }),
    );
  });
}

async function must(command: string, args: string[], env?: NodeJS.ProcessEnv): Promise<Result> {
  const result = await run(command, args, env);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.code}: ${result.stderr.slice(-1500)}`);
  }
  return result;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** One tool: how it runs a container and execs into a running one. */
interface Tool {
  name: string;
  run(): Promise<number>;
  exec?(): Promise<number>;
  stop(): Promise<void>;
}

async function wharfTool(root: string, tar: string): Promise<Tool> {
  const env = { ...process.env, WHARF_ROOT: root };
  await must(wharfBin, ['import', '-c', 'CMD ["sh"]', tar, 'bench-busybox:latest'], env);
  const id = (
    await must(wharfBin, ['run', '-d', '--network', 'none', 'bench-busybox', 'sleep', '3600'], env)
  ).stdout.trim();
  return {
    name: 'wharf',
    async run() {
      return (await must(wharfBin, ['run', '--rm', '--network', 'none', 'bench-busybox', 'true'], env)).ms;
    },
    async exec() {
      return (await must(wharfBin, ['exec', id, 'true'], env)).ms;
    },
    async stop() {
      await run(wharfBin, ['rm', '-f', id], env);
    },
  };
}

/** `node -e 0` plus the OCI runtime running a bare bundle of the same rootfs (no image, no conmon). */
async function floorTool(): Promise<Tool & { nodeMs: number[]; runtimeMs: number[]; runtime: string }> {
  const fixture = await makeRuntimeFixture();
  const bare = await fixture.prepare({ args: ['true'] });
  const host = await readHostFacts();
  const { driver } = fixture;
  const nodeMs: number[] = [];
  const runtimeMs: number[] = [];
  return {
    name: 'floor',
    runtime: `${driver.name} (${fixture.selection.version})`,
    nodeMs,
    runtimeMs,
    async run() {
      const node = (await must(process.execPath, ['-e', '0'])).ms;
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
  if (!existsSync('/usr/bin/podman')) return 'podman is not installed';
  await mkdir(dir, { recursive: true });
  const conf = join(dir, 'containers.conf');
  // Root here lacks CAP_SYS_RESOURCE: rlimits above the hard ones (nofile 20000) fail in runc.
  await writeFile(
    conf,
    '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nruntime = "runc"\n',
  );
  const base = ['--root', join(dir, 'root'), '--runroot', join(dir, 'run'), '--storage-driver', 'overlay'];
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const imported = await run(
    '/usr/bin/podman',
    [...base, 'import', '--change', 'CMD ["sh"]', tar, 'localhost/bench-busybox:latest'],
    env,
  );
  if (imported.code !== 0) return `podman import failed: ${imported.stderr.slice(-800)}`;
  const started = await run(
    '/usr/bin/podman',
    [...base, 'run', '-d', '--network', 'none', 'localhost/bench-busybox', 'sleep', '3600'],
    env,
  );
  if (started.code !== 0) return `podman run failed: ${started.stderr.slice(-800)}`;
  const id = started.stdout.trim();
  return {
    name: 'podman',
    async run() {
      return (
        await must(
          '/usr/bin/podman',
          [...base, 'run', '--rm', '--network', 'none', 'localhost/bench-busybox', 'true'],
          env,
        )
      ).ms;
    },
    async exec() {
      return (await must('/usr/bin/podman', [...base, 'exec', id, 'true'], env)).ms;
    },
    async stop() {
      await run('/usr/bin/podman', [...base, 'rm', '-f', '-a'], env);
      await run('/usr/bin/podman', [...base, 'system', 'reset', '-f'], env);
    },
  };
}

async function dockerTool(dir: string, tar: string): Promise<Tool | string> {
  if (!existsSync('/usr/sbin/dockerd') || !existsSync('/usr/bin/docker')) return 'docker.io is not installed';
  await mkdir(dir, { recursive: true });
  const sock = join(dir, 'docker.sock');
  const daemon = spawn(
    '/usr/sbin/dockerd',
    [
      '--data-root',
      join(dir, 'data'),
      '--exec-root',
      join(dir, 'exec'),
      '--pidfile',
      join(dir, 'docker.pid'),
      '--host',
      `unix://${sock}`,
      // No iptables: a dockerd may leave the FORWARD policy at DROP (see traps.md).
      '--iptables=false',
      '--ip-masq=false',
      '--bridge=none',
      '--storage-driver=overlay2',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const log: Buffer[] = [];
  daemon.stderr.on('data', (chunk: Buffer) => log.push(chunk));
  const env = { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(dir, 'cli') };
  const stopDaemon = async () => {
    if (daemon.exitCode === null && daemon.pid !== undefined) {
      process.kill(daemon.pid, 'SIGTERM');
      await new Promise((resolve) => daemon.once('exit', resolve));
    }
  };
  for (let i = 0; ; i++) {
    if ((await run('/usr/bin/docker', ['version'], env)).code === 0) break;
    if (i > 150 || daemon.exitCode !== null) {
      await stopDaemon();
      return `dockerd did not start: ${Buffer.concat(log).toString().slice(-1500)}`;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await must('/usr/bin/docker', ['import', '--change', 'CMD ["sh"]', tar, 'bench-busybox:latest'], env);
  const id = (
    await must('/usr/bin/docker', ['run', '-d', '--network', 'none', 'bench-busybox', 'sleep', '3600'], env)
  ).stdout.trim();
  return {
    name: 'docker',
    async run() {
      return (
        await must('/usr/bin/docker', ['run', '--rm', '--network', 'none', 'bench-busybox', 'true'], env)
      ).ms;
    },
    async exec() {
      return (await must('/usr/bin/docker', ['exec', id, 'true'], env)).ms;
    },
    async stop() {
      await run('/usr/bin/docker', ['rm', '-f', id], env);
      await stopDaemon();
    },
  };
}

const work = await mkdtemp(join(process.env.WHARF_BENCH_DIR ?? '/var/lib', 'wharf-container-bench-'));
const tools: Tool[] = [];
const skipped: string[] = [];
try {
  const rootfs = join(work, 'rootfs');
  await makeBusyboxRootfs(rootfs);
  const tar = join(work, 'busybox.tar');
  await must('tar', ['-C', rootfs, '-cf', tar, '.']);
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
  line(
    'wharf run --rm --network none busybox true',
    wharfRun,
    `   (floor + ${(wharfRun - m(runs, 'floor')).toFixed(1)} ms; goal +40)`,
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
