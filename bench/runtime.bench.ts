// Runtime start-up cost, side by side in one run on the same bare busybox bundle running `true`:
//   bare:  `<runtime> run` of the bundle (crun when it works here, else runc: see the probe line)
//   wharf: the driver's path, create under conmon + start + wait for conmon's exit file + delete
// Run: node --import tsx bench/runtime.bench.ts [iterations]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createWithConmon, waitForExit } from '../src/runtime/conmon.ts';
import { readHostFacts } from '../src/runtime/host-facts.ts';
import { buildRuntimeSpec, serializeRuntimeSpec } from '../src/runtime/spec.ts';
import { makeRuntimeFixture } from '../test/helpers/runtime-fixture.ts';

const iterations = Number(process.argv[2] ?? 20);
const fixture = await makeRuntimeFixture();
const { driver, selection } = fixture;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function run(binary: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code ?? -1));
  });
}

try {
  // One bundle for the bare runtime, with the very spec Wharf would write (cgroup, seccomp, mounts).
  const bare = await fixture.prepare({ args: ['true'] });
  const host = await readHostFacts();
  const bareTimes: number[] = [];
  const wharfTimes: number[] = [];
  const phases = {
    create: [] as number[],
    start: [] as number[],
    wait: [] as number[],
    delete: [] as number[],
  };
  // Alternate the two so that machine load hits both alike; one warm-up round each.
  for (let i = -1; i < iterations; i++) {
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
    let t0 = performance.now();
    const code = await run(driver.binary, [...driver.globalArgs(), 'run', '--bundle', bare.bundle, id]);
    const bareMs = performance.now() - t0;
    if (code !== 0) throw new Error(`${driver.name} run exited with ${code}`);

    const c = await fixture.prepare({ args: ['true'] });
    t0 = performance.now();
    await createWithConmon({
      ...c.location,
      runtime: driver,
      logPath: c.logPath,
      conmonCgroup: fixture.conmonCgroup,
    });
    const t1 = performance.now();
    await driver.start(c.id);
    const t2 = performance.now();
    const exit = await waitForExit(c.location, { signal: AbortSignal.timeout(20_000) });
    const t3 = performance.now();
    await driver.delete(c.id);
    const t4 = performance.now();
    if (exit.exitCode !== 0) throw new Error(`wharf container exited with ${exit.exitCode}`);
    if (i < 0) continue;
    bareTimes.push(bareMs);
    wharfTimes.push(t4 - t0);
    phases.create.push(t1 - t0);
    phases.start.push(t2 - t1);
    phases.wait.push(t3 - t2);
    phases.delete.push(t4 - t3);
  }
  const bareMedian = median(bareTimes);
  const wharfMedian = median(wharfTimes);
  console.log(`runtime: ${selection.driver.name} (${selection.version})`);
  if (selection.fallbackReason) console.log(`probe: ${selection.fallbackReason}`);
  console.log(`iterations: ${iterations} (medians, ms)`);
  console.log(`${`${driver.name} run (bare bundle)`.padEnd(44)} ${bareMedian.toFixed(1).padStart(7)}`);
  console.log(`${'wharf conmon create+start+wait+delete'.padEnd(44)} ${wharfMedian.toFixed(1).padStart(7)}`);
  for (const [phase, times] of Object.entries(phases)) {
    console.log(`${`  ${phase}`.padEnd(44)} ${median(times).toFixed(1).padStart(7)}`);
  }
  console.log(`${'ratio wharf / bare'.padEnd(44)} ${(wharfMedian / bareMedian).toFixed(2).padStart(7)}`);
} finally {
  await fixture.cleanup();
}
