// The small parsers of the runtime layer: /proc limits and mountinfo, capability masks, device
// flags, runtime error output, CRI log records and timestamps, seccomp conditions.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  capabilitiesFromMask,
  normalizeCapability,
  resolveCapabilities,
} from '../../../src/runtime/capabilities.ts';
import { parseCgroupMounts, parseFlatKeyed } from '../../../src/runtime/cgroups.ts';
import { parseDeviceFlag } from '../../../src/runtime/devices.ts';
import { parseProcLimits } from '../../../src/runtime/host-facts.ts';
import { formatLogTimestamp, parseCriLine, parseLogTimestamp } from '../../../src/runtime/logs.ts';
import { runtimeErrorMessage } from '../../../src/runtime/runtime-driver.ts';
import { resolveSeccompProfile } from '../../../src/runtime/seccomp.ts';

describe('host parsing', () => {
  it('reads hard limits from /proc/PID/limits', () => {
    const text = [
      'Limit                     Soft Limit           Hard Limit           Units     ',
      'Max cpu time              unlimited            unlimited            seconds   ',
      'Max processes             96365                96365                processes ',
      'Max open files            1024                 20000                files     ',
      'Max nice priority         0                    0                    ',
    ].join('\n');
    assert.deepEqual(parseProcLimits(text), {
      RLIMIT_CPU: Number.POSITIVE_INFINITY,
      RLIMIT_NPROC: 96365,
      RLIMIT_NOFILE: 20000,
      RLIMIT_NICE: 0,
    });
  });

  it('finds cgroup hierarchies in mountinfo (hybrid)', () => {
    const text = [
      '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
      '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
      '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
      '36 31 0:33 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio',
      '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
      '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
    ].join('\n');
    assert.deepEqual(parseCgroupMounts(text), [
      { controllers: ['cpu'], mountpoint: '/sys/fs/cgroup/cpu', version: 1 },
      { controllers: ['memory'], mountpoint: '/sys/fs/cgroup/memory', version: 1 },
      { controllers: ['net_cls', 'net_prio'], mountpoint: '/sys/fs/cgroup/net_cls,net_prio', version: 1 },
      { controllers: ['name=systemd'], mountpoint: '/sys/fs/cgroup/systemd', version: 1 },
      { controllers: [], mountpoint: '/sys/fs/cgroup/unified', version: 2 },
    ]);
    assert.deepEqual(parseFlatKeyed('oom_kill_disable 0\nunder_oom 0\noom_kill 2\n'), {
      oom_kill_disable: 0,
      under_oom: 0,
      oom_kill: 2,
    });
  });
});

describe('capabilities', () => {
  it('decodes masks and applies Docker rules', () => {
    assert.equal(capabilitiesFromMask('00000000a80425fb').length, 14);
    assert.ok(!capabilitiesFromMask('000001fffeffffff').includes('CAP_SYS_RESOURCE'));
    assert.equal(normalizeCapability('net_admin'), 'CAP_NET_ADMIN');
    const available = capabilitiesFromMask('000001ffffffffff');
    const all = resolveCapabilities({ add: ['ALL'], drop: ['NET_RAW'], available });
    assert.equal(all.length, 40);
    assert.ok(!all.includes('CAP_NET_RAW'));
    assert.deepEqual(resolveCapabilities({ add: ['kill'], drop: ['all'], available }), ['CAP_KILL']);
  });
});

describe('device flags', () => {
  it("parses Docker's --device forms", () => {
    assert.deepEqual(parseDeviceFlag('/dev/fuse'), { hostPath: '/dev/fuse' });
    assert.deepEqual(parseDeviceFlag('/dev/fuse:r'), { hostPath: '/dev/fuse', permissions: 'r' });
    assert.deepEqual(parseDeviceFlag('/dev/sda:/dev/xvda'), {
      hostPath: '/dev/sda',
      containerPath: '/dev/xvda',
    });
    assert.deepEqual(parseDeviceFlag('/dev/sda:/dev/xvda:rw'), {
      hostPath: '/dev/sda',
      containerPath: '/dev/xvda',
      permissions: 'rw',
    });
    assert.throws(() => parseDeviceFlag('dev/sda'), { name: 'InvalidArgumentError' });
    assert.throws(() => parseDeviceFlag('/dev/sda:/x:rwx'), /bad permissions/);
  });
});

describe('runtime error output', () => {
  it("extracts the message from runc's and crun's output", () => {
    assert.equal(
      runtimeErrorMessage('time="2026-01-01T00:00:00Z" level=error msg="container does not exist"\n'),
      'container does not exist',
    );
    assert.equal(
      runtimeErrorMessage(
        '{"level":"error","msg":"runc create failed: exec: \\"x\\": not found","time":"t"}\n',
      ),
      'runc create failed: exec: "x": not found',
    );
    assert.equal(
      runtimeErrorMessage('cgroups in hybrid mode not supported, drop all controllers from cgroupv2\n'),
      'cgroups in hybrid mode not supported, drop all controllers from cgroupv2',
    );
    assert.equal(runtimeErrorMessage(''), 'no message from the runtime');
  });
});

describe('CRI log records', () => {
  it('parses records and timestamps to the nanosecond', () => {
    assert.deepEqual(parseCriLine('2024-05-01T10:00:00.123456789+02:00 stderr P some text '), {
      timestamp: BigInt(Date.parse('2024-05-01T08:00:00.123Z')) * 1_000_000n + 456789n,
      stream: 'stderr',
      partial: true,
      text: 'some text ',
    });
    assert.equal(parseCriLine('2024-05-01T10:00:00Z stdout F ')?.text, '');
    assert.equal(parseCriLine('garbage'), undefined);
    assert.equal(parseLogTimestamp('1970-01-01T00:00:01.5Z'), 1_500_000_000n);
    assert.equal(formatLogTimestamp(1_000_000_001n), '1970-01-01T00:00:01.000000001Z');
    assert.throws(() => parseLogTimestamp('yesterday'), { name: 'InvalidArgumentError' });
  });
});

describe('seccomp resolution', () => {
  it('applies includes and excludes by capability, architecture and kernel', () => {
    const profile = {
      defaultAction: 'SCMP_ACT_ERRNO',
      archMap: [{ architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] }],
      syscalls: [
        { names: ['read'], action: 'SCMP_ACT_ALLOW' },
        { names: ['new'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '5.10' } },
        { names: ['armonly'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm64'] } },
        { names: ['admin'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
        {
          names: ['notadmin'],
          action: 'SCMP_ACT_ERRNO',
          errnoRet: 38,
          excludes: { caps: ['CAP_SYS_ADMIN'] },
        },
      ],
    };
    const names = (caps: string[], arch: string, kernel: [number, number]) =>
      resolveSeccompProfile(profile, { capabilities: caps, arch, kernel }).syscalls!.flatMap((s) => s.names);
    assert.deepEqual(names([], 'x64', [5, 4]), ['read', 'notadmin']);
    assert.deepEqual(names(['CAP_SYS_ADMIN'], 'arm64', [6, 1]), ['read', 'new', 'armonly', 'admin']);
    assert.deepEqual(
      resolveSeccompProfile(profile, { capabilities: [], arch: 'arm64', kernel: [6, 1] }).architectures,
      ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
    );
  });
});
