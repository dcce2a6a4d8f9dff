// `docker run --rm --network none busybox true` with the docker CLI 28, side by side in one run:
//   against Wharf's daemon   (`wharf system service` on a temp root and socket)
//   against dockerd          (Debian's docker.io, started here with its own --data-root,
//                             --exec-root, --pidfile and socket; --bridge=none --iptables=false
//                             so it leaves the host's firewall alone)
// Both daemons get the same busybox: the tarball test/helpers/base-images.ts imports into Wharf
// (scripts/make-base-images.sh) goes into dockerd with `docker import` and the same ENV and CMD.
// Runs alternate between the two so machine load hits both alike; medians of N runs, then the
// ratio (goal: Wharf at most 0.25x dockerd). Both daemons are stopped by their PIDs at the end.
// With WHARF_RUN_TRACE=1 the Wharf daemon traces its phases (src/util/phase-trace.ts) and the
// benchmark also prints where its time goes: each phase's median offset from the run's first
// request (bench/helpers/run-trace.ts), from the same runs (tracing costs a write per phase).
// Needs `apt-get install docker.io`, busybox-static, the docker CLI at /usr/local/bin/docker.
// Run: node --import tsx bench/engine-api-run.bench.ts [iterations]
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DOCKER_CLI } from '../test/helpers/wharf-daemon.ts';
import { busyboxTarball } from './helpers/busybox.ts';
import { DOCKERD, startDockerd } from './helpers/dockerd.ts';
import { startWharfService } from './helpers/engine-api.ts';
import { must } from './helpers/process.ts';
import { formatTimeline, traceRuns, traceTimeline } from './helpers/run-trace.ts';
import { median } from './helpers/stats.ts';

const iterations = Number(process.argv[2] ?? 15);

/** A daemon started here: the environment that points the docker CLI at it, and its stop. */
interface Daemon {
  name: string;
  env: NodeJS.ProcessEnv;
  /** The daemon's stderr so far (Wharf's: its run trace with WHARF_RUN_TRACE=1). */
  log?: () => string;
  stop(): Promise<void>;
}

async function startWharf(dir: string): Promise<Daemon> {
  const service = await startWharfService(dir, { cli: DOCKER_CLI });
  return { name: 'wharf', env: service.env, log: service.log, stop: service.stop };
}

async function startDocker(dir: string, tarball: string): Promise<Daemon> {
  const docker = await startDockerd({ dir, cli: DOCKER_CLI });
  if (typeof docker === 'string') throw new Error(docker);
  await docker.importBusybox(tarball, 'busybox:latest', { path: true }).catch(async (error: unknown) => {
    await docker.stop();
    throw error;
  });
  return { name: 'dockerd', env: docker.env, stop: docker.stop };
}

if (!existsSync(DOCKER_CLI)) throw new Error(`the docker CLI is not installed at ${DOCKER_CLI}`);
if (!existsSync(DOCKERD)) throw new Error('dockerd is not installed (apt-get install docker.io)');

const work = await mkdtemp(join(process.env.WHARF_BENCH_DIR ?? '/var/lib', 'wharf-engine-api-bench-'));
const daemons: Daemon[] = [];
try {
  daemons.push(await startWharf(join(work, 'wharf')));
  daemons.push(await startDocker(join(work, 'docker'), await busyboxTarball()));
  const args = ['run', '--rm', '--network', 'none', 'busybox', 'true'];
  const times = new Map<string, number[]>(daemons.map((daemon) => [daemon.name, []]));
  for (let i = -2; i < iterations; i++) {
    for (const daemon of daemons) {
      const { ms } = await must(DOCKER_CLI, args, daemon.env);
      if (i >= 0) times.get(daemon.name)!.push(ms);
    }
  }
  const wharf = median(times.get('wharf')!);
  const dockerd = median(times.get('dockerd')!);
  const spread = (name: string) => {
    const sorted = [...times.get(name)!].sort((a, b) => a - b);
    return `min ${sorted[0]!.toFixed(0)}, max ${sorted.at(-1)!.toFixed(0)}`;
  };
  console.log(`docker run --rm --network none busybox true, median of ${iterations} runs (docker CLI 28):`);
  console.log(`  against wharf system service  ${wharf.toFixed(1).padStart(8)} ms  (${spread('wharf')})`);
  console.log(`  against dockerd               ${dockerd.toFixed(1).padStart(8)} ms  (${spread('dockerd')})`);
  const ratio = wharf / dockerd;
  console.log(
    `  ratio wharf/dockerd           ${ratio.toFixed(3).padStart(8)}x    (goal <= 0.25x: ${ratio <= 0.25 ? 'met' : 'not met'})`,
  );
  const log = daemons.find((daemon) => daemon.name === 'wharf')?.log?.();
  if (process.env.WHARF_RUN_TRACE === '1' && log !== undefined) {
    // the two warm-up runs left out, as in the timings
    const runs = traceRuns(log, { first: 'api: HEAD /_ping', keep: '/containers/create' }).slice(2);
    console.log(
      `where wharf system service's time goes (median offset from the CLI's first request, ${runs.length} runs):`,
    );
    console.log(formatTimeline(traceTimeline(runs)));
  }
} finally {
  for (const daemon of daemons.reverse()) await daemon.stop().catch(() => undefined);
  await rm(work, { recursive: true, force: true }).catch((error: unknown) =>
    console.error(`Cannot remove ${work}: ${(error as Error).message}`),
  );
}
