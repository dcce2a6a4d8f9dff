// Runtime start-up cost, side by side in one run on the same bare busybox bundle running `true`:
//   bare:  `<runtime> run` of the bundle (crun when it works here, else runc: see the probe line)
//   wharf: the container layer's path: conmon, which has the runtime create the container and,
//          with crun, start it in the same process (`run --detach`; runc: `create`, then the
//          driver's `start`); then conmon's exit file, then the release of the runtime's state
//          (the cgroups and the state directory, without a third runtime process)
// Both get the very config.json Wharf writes: cgroup, mounts, Docker's default seccomp profile
// (with crun, as the program it compiled the first time: see src/runtime/seccomp-bpf-cache.ts).
// Run: node --import tsx bench/runtime.bench.ts [iterations]
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeCgroupTree } from '../src/runtime/cgroups.ts';
import { createWithConmon, waitForExit } from '../src/runtime/conmon.ts';
import { readHostFacts } from '../src/runtime/host-facts.ts';
import { SeccompBpfCache } from '../src/runtime/seccomp-bpf-cache.ts';
import { buildRuntimeSpec, serializeRuntimeSpec } from '../src/runtime/spec.ts';
import { makeRuntimeFixture } from '../test/helpers/runtime-fixture.ts';
import { run } from './helpers/process.ts';
import { median } from './helpers/stats.ts';

const iterations = Number(process.argv[2] ?? 20);
const fixture = await makeRuntimeFixture();
const { driver, selection } = fixture;
const seccompFilters = new SeccompBpfCache(join(fixture.root, 'runtime', 'seccomp'));
const startOnCreate = driver.name === 'crun';

try {
  const host = await readHostFacts();
  const spec = async (cgroupsPath: string) => {
    const config = buildRuntimeSpec({
      args: ['true'],
      rootfs: fixture.rootfs,
      cgroupsPath,
      network: { mode: 'none' },
      env: ['PATH=/bin'],
      host,
    });
    const pending = await seccompFilters.annotate(config, driver);
    return { text: serializeRuntimeSpec(config), pending };
  };
  const bare = await fixture.prepare({ args: ['true'] });
  const bareTimes: number[] = [];
  const wharfTimes: number[] = [];
  const phases = { create: [] as number[], wait: [] as number[], release: [] as number[] };
  // Alternate the two so that machine load hits both alike; two warm-up rounds each (the first
  // Wharf round keeps the compiled seccomp filter).
  for (let i = -2; i < iterations; i++) {
    const id = `bench-${randomBytes(6).toString('hex')}`;
    await writeFile(join(bare.bundle, 'config.json'), (await spec(`${fixture.cgroupParent}/${id}`)).text);
    let t0 = performance.now();
    const { code } = await run(
      driver.binary,
      [...driver.globalArgs(), 'run', '--bundle', bare.bundle, id],
      process.env,
      { output: 'ignore' },
    );
    const bareMs = performance.now() - t0;
    if (code !== 0) throw new Error(`${driver.name} run exited with ${code}`);

    const c = await fixture.prepare({ args: ['true'] });
    const written = await spec(c.cgroupsPath);
    await writeFile(join(c.bundle, 'config.json'), written.text);
    t0 = performance.now();
    await createWithConmon({
      ...c.location,
      runtime: driver,
      logPath: c.logPath,
      conmonCgroup: fixture.conmonCgroup,
      startOnCreate,
    });
    if (written.pending) await seccompFilters.remember(written.pending, driver, c.id);
    if (!startOnCreate) await driver.start(c.id);
    const t1 = performance.now();
    const exit = await waitForExit(c.location, { signal: AbortSignal.timeout(20_000) });
    const t2 = performance.now();
    await Promise.all([
      removeCgroupTree(c.cgroupsPath),
      rm(join(driver.stateDir, c.id), { recursive: true }),
    ]);
    const t3 = performance.now();
    if (exit.exitCode !== 0) throw new Error(`wharf container exited with ${exit.exitCode}`);
    if (i < 0) continue;
    bareTimes.push(bareMs);
    wharfTimes.push(t3 - t0);
    phases.create.push(t1 - t0);
    phases.wait.push(t2 - t1);
    phases.release.push(t3 - t2);
  }
  const bareMedian = median(bareTimes);
  const wharfMedian = median(wharfTimes);
  console.log(`runtime: ${selection.driver.name} (${selection.version})`);
  if (selection.fallbackReason) console.log(`probe: ${selection.fallbackReason}`);
  console.log(`iterations: ${iterations} (medians, ms)`);
  console.log(`${`${driver.name} run (bare bundle)`.padEnd(44)} ${bareMedian.toFixed(1).padStart(7)}`);
  console.log(`${'wharf conmon create+start+wait+release'.padEnd(44)} ${wharfMedian.toFixed(1).padStart(7)}`);
  const names = { create: 'create and start', wait: 'wait for the exit file', release: 'release' };
  for (const [phase, times] of Object.entries(phases)) {
    console.log(
      `${`  ${names[phase as keyof typeof names]}`.padEnd(44)} ${median(times).toFixed(1).padStart(7)}`,
    );
  }
  console.log(`${'ratio wharf / bare'.padEnd(44)} ${(wharfMedian / bareMedian).toFixed(2).padStart(7)}`);
} finally {
  await fixture.cleanup();
}
