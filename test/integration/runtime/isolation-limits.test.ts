// What a container sees and what it may use, measured from inside and from its cgroup: namespaces,
// hostname, network, memory (OOM kill), pids and CPU limits.
import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { readCgroupStats } from '../../../src/runtime/cgroups.ts';
import { conmonPaths, stopContainer, waitForExit } from '../../../src/runtime/conmon.ts';
import { listHostDevices, parseDeviceFlag, resolveDevice } from '../../../src/runtime/devices.ts';
import { readContainerLog } from '../../../src/runtime/logs.ts';
import { parseUlimit } from '../../../src/runtime/spec.ts';
import {
  makeRuntimeFixture,
  type RuntimeFixture,
  runtimeTestsSkipReason,
} from '../../helpers/runtime-fixture.ts';

const skip = await runtimeTestsSkipReason();

async function logText(path: string): Promise<string> {
  const lines: string[] = [];
  for await (const entry of readContainerLog(path)) lines.push(entry.text);
  return lines.join('\n');
}

async function waitForLog(path: string, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await logText(path).catch(() => '');
    if (pattern.test(text)) return text;
    if (Date.now() > deadline) assert.fail(`log never matched ${pattern}: ${text}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('container isolation and limits', { skip }, () => {
  let fixture: RuntimeFixture;
  before(async () => {
    fixture = await makeRuntimeFixture();
  });
  after(async () => {
    await fixture?.cleanup();
  });

  it('gives the container its own pids, network, hostname and mounts', async () => {
    const script = [
      'echo "pid1=$(tr "\\0" " " < /proc/1/cmdline)"',
      'echo "procs=$(ls /proc | grep -E "^[0-9]+$" | tr "\\n" " ")"',
      'echo "links=$(ip -o link | cut -d: -f2 | tr -d " " | tr "\\n" " ")"',
      'echo "netdev=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | tr "\\n" " ")"',
      'echo "hostname=$(hostname)"',
      'echo "rootmount=$(grep " / " /proc/mounts | cut -d" " -f2)"',
      'echo "sysro=$(grep " /sys " /proc/mounts | grep -c "[ ,]ro[ ,]")"',
      'echo "keys=$(wc -c < /proc/keys)"',
      '(echo x > /proc/sys/kernel/domainname) 2>/dev/null && echo procsys=rw || echo procsys=ro',
    ].join('; ');
    const c = await fixture.run({ args: ['sh', '-c', script], hostname: 'box-1234' });
    const exit = await waitForExit(c.location, { signal: AbortSignal.timeout(20_000) });
    assert.equal(exit.exitCode, 0, await logText(c.logPath));
    const out = Object.fromEntries(
      (await logText(c.logPath))
        .split('\n')
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1).trim()]),
    );
    assert.match(out.pid1!, /^sh -c echo "pid1=/, 'PID 1 is the command');
    const pids = out.procs!.split(' ').map(Number);
    assert.ok(pids.includes(1));
    assert.ok(
      pids.every((pid) => pid < 50),
      `only the container's own pids: ${out.procs}`,
    );
    assert.equal(out.links, 'lo', 'a new network namespace has only lo');
    assert.equal(out.netdev, 'lo');
    assert.equal(out.hostname, 'box-1234');
    assert.equal(out.rootmount, '/');
    assert.equal(out.sysro, '1', '/sys is read-only');
    assert.equal(out.keys, '0', '/proc/keys is masked');
    assert.equal(out.procsys, 'ro', '/proc/sys is read-only');
    await fixture.driver.delete(c.id);
  });

  it('OOM-kills a container over --memory 32m: exit 137, OOMKilled', async () => {
    const c = await fixture.run({
      // sh grows a 100 MB string in its own memory: a real allocation, by PID 1 itself.
      args: [
        'sh',
        '-c',
        'x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo "survived $(echo -n "$x" | wc -c)"',
      ],
      resources: { memory: 32 * 1024 * 1024 },
    });
    const exit = await waitForExit(c.location, {
      signal: AbortSignal.timeout(60_000),
      cgroupsPath: c.cgroupsPath,
    });
    assert.equal(exit.exitCode, 137);
    assert.equal(exit.oomKilled, true);
    const stats = await readCgroupStats(c.cgroupsPath);
    assert.equal(stats.memory?.limit, 32 * 1024 * 1024);
    assert.ok((stats.memory?.oomKills ?? 0) >= 1, 'the cgroup counted the OOM kill');
    // conmon's own record of it (the event can race the exit; give it a moment).
    let oomFile = false;
    for (let i = 0; i < 40 && !oomFile; i++) {
      oomFile = await access(conmonPaths(c.location).oomFile).then(
        () => true,
        () => false,
      );
      if (!oomFile) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(oomFile, 'conmon wrote the oom file');
    await fixture.driver.delete(c.id);
  });

  it('stops forks at --pids-limit 20', async () => {
    const c = await fixture.run({
      // The loop runs in a subshell: ash gives up on the first failed fork, the outer shell
      // reports and then only waits (no fork needed).
      args: ['sh', '-c', '(i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); done); echo spawned; wait'],
      resources: { pidsLimit: 20 },
    });
    const text = await waitForLog(c.logPath, /spawned/);
    assert.match(text, /can't fork|Resource temporarily unavailable|fork/i, 'the shell saw fork fail');
    const stats = await readCgroupStats(c.cgroupsPath);
    assert.equal(stats.pids?.limit, 20);
    assert.ok((stats.pids?.current ?? 99) <= 20, `pids.current ${stats.pids?.current} <= 20`);
    assert.ok((await fixture.driver.ps(c.id)).length <= 20);
    await stopContainer(c.location, fixture.driver, { timeoutMs: 0 });
    await fixture.driver.delete(c.id);
  });

  it('holds a busy loop to --cpus 0.5', async () => {
    const c = await fixture.run({ args: ['sh', '-c', 'while :; do :; done'], resources: { cpus: 0.5 } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const before = await readCgroupStats(c.cgroupsPath);
    const t0 = process.hrtime.bigint();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const afterStats = await readCgroupStats(c.cgroupsPath);
    const wallNanos = Number(process.hrtime.bigint() - t0);
    const used = (afterStats.cpu!.usageNanos - before.cpu!.usageNanos) / wallNanos;
    assert.equal(afterStats.cpu?.quota, 50_000);
    assert.equal(afterStats.cpu?.period, 100_000);
    assert.ok(used <= 0.6, `used ${used.toFixed(2)} CPU-seconds per second`);
    assert.ok(used >= 0.2, `the loop did run (${used.toFixed(2)})`);
    await stopContainer(c.location, fixture.driver, { timeoutMs: 0 });
    await fixture.driver.delete(c.id);
  });

  it('adds --device nodes and sets rlimits', async () => {
    const device = await resolveDevice(parseDeviceFlag('/dev/null:/dev/wharf-null:rw'));
    const c = await fixture.run({
      args: [
        'sh',
        '-c',
        'ls -l /dev/wharf-null; echo data > /dev/wharf-null && echo wrote; ulimit -n; ulimit -Hn',
      ],
      devices: [device],
      rlimits: [parseUlimit('nofile=1024:2048')],
    });
    await waitForExit(c.location, { signal: AbortSignal.timeout(20_000) });
    const lines = (await logText(c.logPath)).split('\n');
    assert.match(lines[0]!, /^crw-rw-rw-\s+1 root\s+root\s+1,\s+3 .* \/dev\/wharf-null$/);
    assert.deepEqual(lines.slice(1), ['wrote', '1024', '2048']);
    await fixture.driver.delete(c.id);
  });

  it('applies Docker default capabilities and seccomp, and privileged lifts them', async () => {
    const probe = 'grep -E "^(CapBnd|Seccomp):" /proc/self/status | tr "\\t" " "; ls /dev/loop0 2>&1';
    const plain = await fixture.run({ args: ['sh', '-c', probe] });
    await waitForExit(plain.location, { signal: AbortSignal.timeout(20_000) });
    const plainText = await logText(plain.logPath);
    assert.match(plainText, /^CapBnd: 00000000a80425fb$/m, "Docker's 14 default capabilities");
    assert.match(plainText, /^Seccomp: 2$/m, 'a seccomp filter is on');
    assert.match(plainText, /No such file/, 'no host devices without privileged');
    const privileged = await fixture.run({
      args: ['sh', '-c', probe],
      privileged: true,
      hostDevices: await listHostDevices(),
    });
    await waitForExit(privileged.location, { signal: AbortSignal.timeout(20_000) });
    const privilegedText = await logText(privileged.logPath);
    assert.match(privilegedText, /^Seccomp: 0$/m);
    assert.match(privilegedText, /^\/dev\/loop0$/m, "the host's devices");
    const hostBounding = /^CapBnd:\s*(\S+)$/m.exec(await readFile('/proc/self/status', 'utf8'))![1];
    assert.match(
      privilegedText,
      new RegExp(`^CapBnd: ${hostBounding}$`, 'm'),
      "all of the host's capabilities",
    );
    await fixture.driver.delete(plain.id);
    await fixture.driver.delete(privileged.id);
  });
});
