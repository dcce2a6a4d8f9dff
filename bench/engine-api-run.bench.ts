// `docker run --rm --network none busybox true` with the docker CLI 28, side by side in one run:
//   against Wharf's daemon   (`wharf system service` on a temp root and socket)
//   against dockerd          (Debian's docker.io, started here with its own --data-root,
//                             --exec-root, --pidfile and socket; --bridge=none --iptables=false
//                             so it leaves the host's firewall alone)
// Both daemons get the same busybox: the tarball test/helpers/base-images.ts imports into Wharf
// (scripts/make-base-images.sh) goes into dockerd with `docker import` and the same ENV and CMD.
// Runs alternate between the two so machine load hits both alike; medians of N runs, then the
// ratio (goal: Wharf at most 0.25x dockerd). Both daemons are stopped by their PIDs at the end.
// Needs `apt-get install docker.io`, busybox-static, the docker CLI at /usr/local/bin/docker.
// Run: node --import tsx bench/engine-api-run.bench.ts [iterations]
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureBaseImages } from '../test/helpers/base-images.ts';
import { wharfBin } from '../test/helpers/wharf.ts';
import { DOCKER_CLI } from '../test/helpers/wharf-daemon.ts';

const iterations = Number(process.argv[2] ?? 15);
const DOCKERD = '/usr/sbin/dockerd';
const BASE_CACHE = process.env.WHARF_BASE_CACHE ?? '/var/tmp/wharf-base-images';

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

/** A daemon started here: the environment that points the docker CLI at it, and its stop. */
interface Daemon {
  name: string;
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

function stopByPid(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
      resolve();
      return;
    }
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, 30_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    process.kill(child.pid, 'SIGTERM');
  });
}

async function waitForDaemon(name: string, child: ChildProcess, env: NodeJS.ProcessEnv, log: () => string) {
  for (let i = 0; ; i++) {
    if ((await run(DOCKER_CLI, ['version'], env)).code === 0) return;
    if (i > 150 || child.exitCode !== null) {
      await stopByPid(child);
      throw new Error(`${name} did not start: ${log().slice(-1500)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function startWharf(dir: string): Promise<Daemon> {
  const root = join(dir, 'root');
  await mkdir(root, { recursive: true });
  await ensureBaseImages(root);
  const socket = join(dir, 'wharf.sock');
  const child = spawn(wharfBin, ['--root', root, 'system', 'service', '-H', `unix://${socket}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (chunk) => (log += chunk));
  const env = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: join(dir, 'cli') };
  await waitForDaemon('wharf system service', child, env, () => log);
  return { name: 'wharf', env, stop: () => stopByPid(child) };
}

/** The busybox rootfs tarball make-base-images.sh made (and imported into Wharf) last. */
async function busyboxTarball(): Promise<string> {
  const names = (await readdir(BASE_CACHE)).filter((name) => /^busybox-.*\.tar$/.test(name));
  const dated = await Promise.all(
    names.map(async (name) => ({
      path: join(BASE_CACHE, name),
      mtime: (await stat(join(BASE_CACHE, name))).mtimeMs,
    })),
  );
  const newest = dated.sort((a, b) => b.mtime - a.mtime)[0];
  if (!newest) throw new Error(`no busybox tarball in ${BASE_CACHE}`);
  return newest.path;
}

async function startDockerd(dir: string, tarball: string): Promise<Daemon> {
  await mkdir(dir, { recursive: true });
  const socket = join(dir, 'docker.sock');
  const child = spawn(
    DOCKERD,
    [
      '--data-root',
      join(dir, 'data'),
      '--exec-root',
      join(dir, 'exec'),
      '--pidfile',
      join(dir, 'docker.pid'),
      '-H',
      `unix://${socket}`,
      // no bridge, no iptables: a dockerd may leave the FORWARD policy at DROP (see traps.md)
      '--bridge=none',
      '--iptables=false',
      '--ip-masq=false',
      '--storage-driver=overlay2',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (chunk) => (log += chunk));
  const env = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: join(dir, 'cli') };
  await waitForDaemon('dockerd', child, env, () => log);
  await must(
    DOCKER_CLI,
    [
      'import',
      '--change',
      'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      '--change',
      'CMD ["sh"]',
      tarball,
      'busybox:latest',
    ],
    env,
  );
  return { name: 'dockerd', env, stop: () => stopByPid(child) };
}

if (!existsSync(DOCKER_CLI)) throw new Error(`the docker CLI is not installed at ${DOCKER_CLI}`);
if (!existsSync(DOCKERD)) throw new Error('dockerd is not installed (apt-get install docker.io)');

const work = await mkdtemp(join(process.env.WHARF_BENCH_DIR ?? '/var/lib', 'wharf-engine-api-bench-'));
const daemons: Daemon[] = [];
try {
  daemons.push(await startWharf(join(work, 'wharf')));
  daemons.push(await startDockerd(join(work, 'docker'), await busyboxTarball()));
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
    `  ratio wharf/dockerd           ${ratio.toFixed(2).padStart(8)}x    (goal <= 0.25x: ${ratio <= 0.25 ? 'met' : 'not met'})`,
  );
} finally {
  for (const daemon of daemons.reverse()) await daemon.stop().catch(() => undefined);
  await rm(work, { recursive: true, force: true }).catch((error: unknown) =>
    console.error(`Cannot remove ${work}: ${(error as Error).message}`),
  );
}
