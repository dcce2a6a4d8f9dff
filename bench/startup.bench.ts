/**
 * Start-up cost of the `wharf` binary against a bare `node -e 0`, side by side in one run
 * (alternating, so load changes hit both alike). Goal: `wharf --version` within 2.5x.
 *
 * Run: node --import tsx bench/startup.bench.ts [RUNS]
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const runs = Number(process.argv[2] ?? 30);
const wharf = fileURLToPath(new URL('../bin/wharf', import.meta.url));
spawnSync('node', [fileURLToPath(new URL('../scripts/build.mjs', import.meta.url))], { stdio: 'inherit' });

function timeOnce(command: string, args: string[]): number {
  const start = process.hrtime.bigint();
  const result = spawnSync(command, args, { stdio: 'ignore' });
  if (result.status !== 0) throw new Error(`Cannot time ${command}: exit ${result.status}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

const cases = {
  'node -e 0': () => timeOnce(process.execPath, ['-e', '0']),
  'wharf --version': () => timeOnce(wharf, ['--version']),
  'wharf images (empty root)': () => timeOnce(wharf, ['--root', '/tmp/wharf-startup-bench', 'images', '-q']),
};
const samples: Record<string, number[]> = {};
for (let i = 0; i < runs; i++) {
  for (const [name, run] of Object.entries(cases)) (samples[name] ??= []).push(run());
}
const base = median(samples['node -e 0']!);
for (const [name, values] of Object.entries(samples)) {
  const m = median(values);
  console.log(`${name.padEnd(28)} median ${m.toFixed(1).padStart(7)} ms   ratio ${(m / base).toFixed(2)}x`);
}
const ratio = median(samples['wharf --version']!) / base;
console.log(
  `goal: wharf --version <= 2.5x node -e 0: ${ratio <= 2.5 ? 'met' : 'NOT met'} (${ratio.toFixed(2)}x)`,
);
