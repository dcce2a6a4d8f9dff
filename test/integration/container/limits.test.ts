// Resource limits of `run`, measured: a memory limit ends in an OOM kill (OOMKilled, 137), a pids
// limit makes forks fail with the cgroup at most at its limit, a CPU limit holds a busy loop to
// its share (read from the container's cgroup while it runs).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readCgroupStats } from '../../../src/runtime/cgroups.ts';
import {
  type ContainerFixture,
  containerTestsSkipReason,
  eventually,
  makeContainerFixture,
} from './helpers.ts';

const skip = await containerTestsSkipReason();

describe('container limits', { skip }, () => {
  let fx: ContainerFixture;
  before(async () => {
    fx = await makeContainerFixture();
  });
  after(async () => {
    await fx?.cleanup();
  });

  it('OOM-kills a container going past --memory 32m (OOMKilled true, exit 137)', async () => {
    // busybox dd allocates its block size and fills it: 100 MB in a 32 MB cgroup.
    const result = await fx.wharf([
      'run',
      '--name',
      'oom',
      '--memory',
      '32m',
      'busybox',
      'dd',
      'if=/dev/zero',
      'of=/dev/null',
      'bs=100M',
      'count=1',
    ]);
    assert.equal(result.code, 137, result.stderr);
    assert.equal(
      await fx.ok(['inspect', '-f', '{{.State.OOMKilled}} {{.State.ExitCode}}', 'oom']),
      'true 137',
    );
    assert.match(
      await fx.ok(['ps', '-a', '--filter', 'name=oom', '--format', '{{.Status}}']),
      /^Exited \(137\)/,
    );
    await fx.ok(['rm', 'oom']);
  });

  it('makes forks fail past --pids-limit 20, with pids.current at most 20', async () => {
    const id = await fx.ok([
      'run',
      '-d',
      '--pids-limit',
      '20',
      'busybox',
      'sh',
      '-c',
      // ash gives up on a failed fork: the loop runs in a subshell, PID 1 stays to report.
      '(for i in $(seq 1 60); do sleep 30 & done) 2>/tmp/errors; echo forked; sleep 30',
    ]);
    const cgroup = `${fx.cgroupParent}/${id}`;
    const logs = await eventually(async () => {
      const out = await fx.ok(['logs', id]);
      return out.includes('forked') ? out : undefined;
    }, 'the fork loop');
    assert.match(logs, /forked/);
    const errors = await fx.ok(['exec', id, 'cat', '/tmp/errors']).catch((error: Error) => error.message);
    assert.match(errors, /can't fork|Resource temporarily unavailable|fork/i);
    const stats = await readCgroupStats(cgroup);
    assert.equal(stats.pids?.limit, 20);
    assert.ok((stats.pids?.current ?? 99) <= 20, `pids.current ${stats.pids?.current}`);
    await fx.ok(['rm', '-f', id]);
  });

  it('holds a busy loop to --cpus 0.5 (at most 0.6 s of CPU per second)', async () => {
    const id = await fx.ok(['run', '-d', '--cpus', '0.5', 'busybox', 'sh', '-c', 'while :; do :; done']);
    const cgroup = `${fx.cgroupParent}/${id}`;
    await new Promise((resolve) => setTimeout(resolve, 300));
    const first = await readCgroupStats(cgroup);
    const t0 = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const second = await readCgroupStats(cgroup);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = (second.cpu!.usageNanos - first.cpu!.usageNanos) / 1e9 / seconds;
    assert.ok(cpu <= 0.6, `used ${cpu.toFixed(3)} s of CPU per second`);
    assert.ok(cpu >= 0.2, `the loop barely ran (${cpu.toFixed(3)} s/s): is the machine overloaded?`);
    assert.equal(second.cpu!.quota, 50000);
    await fx.ok(['rm', '-f', id]);
  });
});
