/**
 * Start-up and per-command cost of the `wharf` binary against a bare `node -e 0`, side by side in
 * one run (alternating, so load changes hit every case alike): wall time (median) and CPU time
 * (user + system of the command and the children it waited for, mean: the kernel counts it in
 * 10 ms ticks). Goal: `wharf --version` within 2.5x of `node -e 0`.
 *
 * Cases: `--version`; `images -q` on an empty root and on a root holding busybox; `ps -a`; and
 * `run --rm --network none busybox true` (skipped with a message when it cannot run here). The
 * busybox root is a temp dir made with scripts/make-base-images.sh and removed at the end.
 *
 * To compare with another build (say a copy of bin/ and dist/ from before a change, with a
 * node_modules symlink beside them), set WHARF_BENCH_BASELINE to its `wharf` binary: each case
 * then also runs that binary, alternating with this one.
 *
 * NODE_EXTRA_CA_CERTS, when set, is parsed by every node start (Node 20 does it before any
 * JavaScript): the benchmark says so, since it then makes up most of `node -e 0`; run it with
 * `env -u NODE_EXTRA_CA_CERTS` to see Wharf's own cost against a bare node.
 *
 * Run: node --import tsx bench/startup.bench.ts [RUNS]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median as middle } from './helpers/stats.ts';

const runs = Number(process.argv[2] ?? 30);
const wharf = fileURLToPath(new URL('../bin/wharf', import.meta.url));
const baseline = process.env.WHARF_BENCH_BASELINE;
spawnSync('node', [fileURLToPath(new URL('../scripts/build.mjs', import.meta.url))], { stdio: 'inherit' });

/** User + system CPU of this process's waited-for children so far, in ms (/proc/self/stat). */
function childrenCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  // after "pid (comm) ": field 14 is cutime and 15 cstime (man 5 proc), counted from "state" = 0
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

interface Sample {
  wall: number;
  cpu: number;
}

function timeOnce(command: string, args: string[]): Sample {
  const cpu0 = childrenCpuMs();
  const start = process.hrtime.bigint();
  const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) {
    throw new Error(`Cannot time ${command} ${args.join(' ')}: exit ${result.status}: ${result.stderr}`);
  }
  return { wall, cpu: childrenCpuMs() - cpu0 };
}

// the upper of the two middle samples for an even count, as this benchmark has always reported
const median = (values: number[]): number => middle(values, { even: 'upper' });
const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

const emptyRoot = mkdtempSync(join(tmpdir(), 'wharf-startup-empty-'));
const imageRoot = mkdtempSync(join(tmpdir(), 'wharf-startup-images-'));
try {
  execFileSync(
    fileURLToPath(new URL('../scripts/make-base-images.sh', import.meta.url)),
    ['--root', imageRoot, '--only', 'busybox'],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, WHARF: wharf } },
  );

  type Case = [name: string, args: string[]];
  const wharfCases: Case[] = [
    ['--version', ['--version']],
    ['images -q (empty root)', ['--root', emptyRoot, 'images', '-q']],
    ['images -q (busybox)', ['--root', imageRoot, 'images', '-q']],
    ['ps -a', ['--root', imageRoot, 'ps', '-a']],
    ['run --rm busybox true', ['--root', imageRoot, 'run', '--rm', '--network', 'none', 'busybox', 'true']],
  ];
  const binaries: [label: string, path: string][] = [['wharf', wharf]];
  if (baseline) binaries.push(['baseline', baseline]);

  const cases = new Map<string, () => Sample>([['node -e 0', () => timeOnce(process.execPath, ['-e', '0'])]]);
  for (const [name, args] of wharfCases) {
    for (const [label, path] of binaries) {
      const probe = spawnSync(path, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      if (probe.status !== 0) {
        console.log(`skipped: ${label} ${name}: exit ${probe.status}: ${String(probe.stderr).trim()}`);
        continue;
      }
      cases.set(`${label} ${name}`, () => timeOnce(path, args));
    }
  }

  const samples = new Map<string, Sample[]>();
  for (let i = 0; i < runs; i++) {
    for (const [name, run] of cases) {
      const list = samples.get(name) ?? [];
      list.push(run());
      samples.set(name, list);
    }
  }

  const base = samples.get('node -e 0')!;
  const baseWall = median(base.map((s) => s.wall));
  const baseCpu = mean(base.map((s) => s.cpu));
  console.log(`${runs} runs each, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}`);
  if (process.env.NODE_EXTRA_CA_CERTS) {
    // Node 20 parses the file at every start, before any JavaScript: with a system bundle of ~140
    // certificates that is most of `node -e 0` here (docs/cli-startup.md)
    console.log(`NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS}: every node start here parses it`);
  }
  console.log(`${'case'.padEnd(36)} ${'wall ms'.padStart(8)} ${'ratio'.padStart(6)} ${'cpu ms'.padStart(8)}`);
  for (const [name, list] of samples) {
    const wall = median(list.map((s) => s.wall));
    const cpu = mean(list.map((s) => s.cpu));
    console.log(
      `${name.padEnd(36)} ${wall.toFixed(1).padStart(8)} ${`${(wall / baseWall).toFixed(2)}x`.padStart(6)} ${cpu.toFixed(1).padStart(8)}  (+${(cpu - baseCpu).toFixed(0)} cpu over node)`,
    );
  }
  const version = samples.get('wharf --version');
  if (version) {
    const ratio = median(version.map((s) => s.wall)) / baseWall;
    console.log(
      `goal: wharf --version <= 2.5x node -e 0: ${ratio <= 2.5 ? 'met' : 'NOT met'} (${ratio.toFixed(2)}x)`,
    );
  }
} finally {
  rmSync(emptyRoot, { recursive: true, force: true });
  removeRoot(imageRoot);
}

/** Removes a store root unless something is still mounted under it (then says so and keeps it). */
function removeRoot(root: string): void {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter((line) => line.split(' ')[1]?.startsWith(`${root}/`));
  if (mounts.length > 0) {
    console.error(`kept ${root}: ${mounts.length} mount(s) still under it`);
    return;
  }
  rmSync(root, { recursive: true, force: true });
}
