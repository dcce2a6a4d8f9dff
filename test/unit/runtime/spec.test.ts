import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ALL_CAPABILITIES, DEFAULT_CAPABILITIES } from '../../../src/runtime/capabilities.ts';
import type { HostFacts } from '../../../src/runtime/host-facts.ts';
import {
  buildExecProcess,
  buildRuntimeSpec,
  DOCKER_MASKED_PATHS,
  parseUlimit,
  type SpecOptions,
  serializeRuntimeSpec,
} from '../../../src/runtime/spec.ts';

// A host like this one: root without CAP_SYS_RESOURCE, nofile hard 20000, swap accounted.
const host: HostFacts = {
  hardLimits: { RLIMIT_NOFILE: 20000, RLIMIT_NPROC: 32768, RLIMIT_CORE: Number.POSITIVE_INFINITY },
  capabilities: ALL_CAPABILITIES.filter((cap) => cap !== 'CAP_SYS_RESOURCE'),
  arch: 'x64',
  kernel: [6, 1],
  sysctls: ['net.ipv4.ping_group_range', 'net.ipv4.ip_unprivileged_port_start'],
  swapAccounting: true,
  thermalThrottlePaths: ['/sys/devices/system/cpu/cpu0/thermal_throttle'],
};

const base: SpecOptions = {
  args: ['sh', '-c', 'echo hi'],
  rootfs: '/bundles/c1/rootfs',
  cgroupsPath: '/wharf/c1',
  network: { mode: 'none' },
  host,
};

describe('buildRuntimeSpec', () => {
  it("makes Docker's default container", () => {
    const spec = buildRuntimeSpec({ ...base, hostname: 'c1short', env: ['PATH=/bin'] });
    assert.equal(spec.ociVersion, '1.0.2');
    assert.deepEqual(spec.process.args, ['sh', '-c', 'echo hi']);
    assert.deepEqual(spec.process.user, { uid: 0, gid: 0 });
    assert.equal(spec.process.cwd, '/');
    assert.equal(spec.process.terminal, false);
    assert.equal(spec.process.noNewPrivileges, false);
    assert.deepEqual(spec.process.capabilities?.bounding, [...DEFAULT_CAPABILITIES]);
    assert.deepEqual(spec.process.capabilities?.effective, [...DEFAULT_CAPABILITIES]);
    assert.equal(spec.process.capabilities?.inheritable, undefined, 'no inheritable set (CVE-2022-24769)');
    assert.deepEqual(spec.root, { path: '/bundles/c1/rootfs', readonly: false });
    assert.equal(spec.hostname, 'c1short');
    assert.deepEqual(
      spec.mounts.map((m) => `${m.destination}:${m.type}`),
      [
        '/proc:proc',
        '/dev:tmpfs',
        '/dev/pts:devpts',
        '/sys:sysfs',
        '/sys/fs/cgroup:cgroup',
        '/dev/mqueue:mqueue',
        '/dev/shm:tmpfs',
      ],
    );
    assert.ok(spec.mounts.find((m) => m.destination === '/sys')?.options?.includes('ro'));
    assert.ok(spec.mounts.find((m) => m.destination === '/sys/fs/cgroup')?.options?.includes('ro'));
    assert.ok(spec.mounts.find((m) => m.destination === '/dev/shm')?.options?.includes('size=67108864'));
    assert.deepEqual(
      spec.linux.namespaces.map((n) => n.type),
      ['pid', 'mount', 'uts', 'ipc', 'cgroup', 'network'],
    );
    assert.equal(spec.linux.cgroupsPath, '/wharf/c1');
    assert.deepEqual(spec.linux.maskedPaths, [
      ...DOCKER_MASKED_PATHS,
      '/sys/devices/system/cpu/cpu0/thermal_throttle',
    ]);
    assert.deepEqual(spec.linux.readonlyPaths, [
      '/proc/bus',
      '/proc/fs',
      '/proc/irq',
      '/proc/sys',
      '/proc/sysrq-trigger',
    ]);
    assert.deepEqual(spec.linux.sysctl, {
      'net.ipv4.ping_group_range': '0 2147483647',
      'net.ipv4.ip_unprivileged_port_start': '0',
    });
    assert.deepEqual(spec.linux.resources?.devices?.[0], { allow: false, access: 'rwm' });
    assert.deepEqual(spec.linux.resources?.devices?.at(-1), {
      allow: false,
      type: 'c',
      major: 10,
      minor: 229,
      access: 'rwm',
    });
    assert.equal(spec.linux.seccomp?.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(spec.linux.seccomp?.defaultErrnoRet, 1);
    assert.deepEqual(spec.linux.seccomp?.architectures, [
      'SCMP_ARCH_X86_64',
      'SCMP_ARCH_X86',
      'SCMP_ARCH_X32',
    ]);
  });

  it('keeps rlimits within the host hard limits, and refuses explicit ones above them', () => {
    const spec = buildRuntimeSpec(base);
    assert.deepEqual(spec.process.rlimits, [
      { type: 'RLIMIT_NOFILE', soft: 20000, hard: 20000 },
      { type: 'RLIMIT_NPROC', soft: 32768, hard: 32768 },
    ]);
    const custom = buildRuntimeSpec({
      ...base,
      rlimits: [parseUlimit('nofile=1024:4096'), parseUlimit('core=-1')],
    });
    assert.deepEqual(custom.process.rlimits, [
      { type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 },
      { type: 'RLIMIT_NPROC', soft: 32768, hard: 32768 },
      { type: 'RLIMIT_CORE', soft: Number.POSITIVE_INFINITY, hard: Number.POSITIVE_INFINITY },
    ]);
    assert.match(
      serializeRuntimeSpec(custom),
      /"soft": 18446744073709551615/,
      'RLIM_INFINITY as an exact integer',
    );
    assert.throws(() => buildRuntimeSpec({ ...base, rlimits: [parseUlimit('nofile=30000')] }), {
      name: 'InvalidArgumentError',
      message: "Cannot set ulimit nofile=30000:30000: the host's hard limit is 20000",
    });
    assert.throws(
      () => buildRuntimeSpec({ ...base, rlimits: [parseUlimit('nofile=200:100')] }),
      /soft limit 200/,
    );
    assert.throws(
      () => buildRuntimeSpec({ ...base, rlimits: [{ name: 'bogus', soft: 1, hard: 1 }] }),
      /unknown resource/,
    );
    assert.throws(() => parseUlimit('nofile'), { name: 'InvalidArgumentError' });
  });

  it('maps memory, swap, cpus, shares and pids like Docker', () => {
    const spec = buildRuntimeSpec({
      ...base,
      resources: { memory: 32 * 1024 * 1024, cpus: 0.5, cpuShares: 512, pidsLimit: 20 },
    });
    assert.deepEqual(spec.linux.resources?.memory, { limit: 33554432, swap: 67108864 });
    assert.deepEqual(spec.linux.resources?.cpu, { period: 100000, quota: 50000, shares: 512 });
    assert.deepEqual(spec.linux.resources?.pids, { limit: 20 });
    const unlimitedSwap = buildRuntimeSpec({
      ...base,
      resources: { memory: 64 * 1024 * 1024, memorySwap: -1 },
    });
    assert.equal(unlimitedSwap.linux.resources?.memory?.swap, -1);
    const noPids = buildRuntimeSpec({ ...base, resources: { pidsLimit: -1 } });
    assert.equal(noPids.linux.resources?.pids, undefined);
    const noAccounting = buildRuntimeSpec({
      ...base,
      host: { ...host, swapAccounting: false },
      resources: { memory: 8 << 20 },
    });
    assert.deepEqual(noAccounting.linux.resources?.memory, { limit: 8 << 20 });
    assert.throws(() => buildRuntimeSpec({ ...base, resources: { memory: 1024 } }), /minimum is 6 MiB/);
    assert.throws(
      () => buildRuntimeSpec({ ...base, resources: { memory: 64 << 20, memorySwap: 32 << 20 } }),
      /at least/,
    );
    assert.throws(
      () =>
        buildRuntimeSpec({
          ...base,
          host: { ...host, swapAccounting: false },
          resources: { memory: 64 << 20, memorySwap: 128 << 20 },
        }),
      /does not account swap/,
    );
    assert.throws(() => buildRuntimeSpec({ ...base, resources: { cpus: 1, cpuQuota: 5000 } }), /together/);
    assert.throws(() => buildRuntimeSpec({ ...base, resources: { cpus: 0 } }), /above 0/);
  });

  it('adds and drops capabilities, and the seccomp rules follow them', () => {
    const spec = buildRuntimeSpec({
      ...base,
      capAdd: ['sys_admin', 'NET_ADMIN'],
      capDrop: ['CAP_MKNOD', 'net_raw'],
    });
    const caps = spec.process.capabilities!.bounding;
    assert.ok(caps.includes('CAP_SYS_ADMIN') && caps.includes('CAP_NET_ADMIN'));
    assert.ok(!caps.includes('CAP_MKNOD') && !caps.includes('CAP_NET_RAW'));
    const names = (s: typeof spec) => new Set(s.linux.seccomp!.syscalls!.flatMap((rule) => rule.names));
    assert.ok(names(spec).has('mount'), 'CAP_SYS_ADMIN unlocks mount');
    const plain = buildRuntimeSpec(base);
    assert.ok(!names(plain).has('mount'));
    assert.ok(!names(plain).has('s390_pci_mmio_read'), 'rules for other architectures are left out');
    const clone = plain.linux.seccomp!.syscalls!.find((rule) => rule.names.includes('clone'));
    assert.deepEqual(clone?.args, [{ index: 0, value: 2114060288, op: 'SCMP_CMP_MASKED_EQ' }]);
    assert.deepEqual(
      plain.linux.seccomp!.syscalls!.find((rule) => rule.names.includes('clone3')),
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
      'clone3 says ENOSYS so that libc falls back to the filtered clone',
    );
    assert.deepEqual(
      buildRuntimeSpec({ ...base, capDrop: ['ALL'], capAdd: ['chown'] }).process.capabilities?.bounding,
      ['CAP_CHOWN'],
    );
    assert.throws(
      () => buildRuntimeSpec({ ...base, capAdd: ['SYS_RESOURCE'] }),
      /bounding set does not have it/,
    );
    assert.throws(() => buildRuntimeSpec({ ...base, capAdd: ['CAP_MAKE_COFFEE'] }), /unknown capability/);
    assert.equal(buildRuntimeSpec({ ...base, seccomp: 'unconfined' }).linux.seccomp, undefined);
  });

  it('privileged: all host capabilities, no seccomp, no masked paths, rw /sys, all devices', () => {
    const hostDevices = [
      { path: '/dev/fuse', type: 'c' as const, major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
    ];
    const spec = buildRuntimeSpec({ ...base, privileged: true, hostDevices });
    assert.equal(spec.process.capabilities?.bounding.length, ALL_CAPABILITIES.length - 1);
    assert.equal(spec.linux.seccomp, undefined);
    assert.equal(spec.linux.maskedPaths, undefined);
    assert.equal(spec.linux.readonlyPaths, undefined);
    assert.ok(!spec.mounts.find((m) => m.destination === '/sys')?.options?.includes('ro'));
    assert.ok(!spec.mounts.find((m) => m.destination === '/sys/fs/cgroup')?.options?.includes('ro'));
    assert.deepEqual(spec.linux.resources?.devices, [{ allow: true, access: 'rwm' }]);
    assert.deepEqual(spec.linux.devices, hostDevices);
  });

  it('takes bind and tmpfs mounts, devices, network modes and sysctls', () => {
    const spec = buildRuntimeSpec({
      ...base,
      network: { mode: 'path', path: '/run/netns/wharf-1' },
      mounts: [
        { type: 'bind', source: '/srv/data', destination: '/data', readonly: true },
        { type: 'tmpfs', destination: '/dev/shm', size: 1 << 20 },
      ],
      devices: [
        {
          devices: [
            { path: '/dev/net/tun', type: 'c', major: 10, minor: 200, fileMode: 0o666, uid: 0, gid: 0 },
          ],
          rules: [{ allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' }],
        },
      ],
      sysctls: { 'net.core.somaxconn': '1024', 'kernel.shmmax': '1000' },
      readonlyRootfs: true,
      oomScoreAdj: 500,
      user: { uid: 1000, gid: 1000, additionalGids: [10, 20] },
    });
    assert.deepEqual(spec.mounts.at(-2), {
      destination: '/data',
      type: 'bind',
      source: '/srv/data',
      options: ['rbind', 'rprivate', 'ro'],
    });
    const shm = spec.mounts.filter((m) => m.destination === '/dev/shm');
    assert.equal(shm.length, 1, "the caller's /dev/shm replaces the default one");
    assert.deepEqual(shm[0]?.options, ['nosuid', 'nodev', 'noexec', 'size=1048576']);
    assert.deepEqual(spec.linux.namespaces.at(-1), { type: 'network', path: '/run/netns/wharf-1' });
    assert.deepEqual(spec.linux.devices?.[0]?.path, '/dev/net/tun');
    assert.deepEqual(spec.linux.resources?.devices?.at(-1), {
      allow: true,
      type: 'c',
      major: 10,
      minor: 200,
      access: 'rwm',
    });
    assert.equal(spec.linux.sysctl?.['net.core.somaxconn'], '1024');
    assert.equal(spec.root.readonly, true);
    assert.equal(spec.process.oomScoreAdj, 500);
    assert.deepEqual(spec.process.user, { uid: 1000, gid: 1000, additionalGids: [10, 20] });

    const hostNet = buildRuntimeSpec({ ...base, network: { mode: 'host' } });
    assert.ok(!hostNet.linux.namespaces.some((n) => n.type === 'network'));
    assert.equal(hostNet.linux.sysctl, undefined, 'no network sysctls in the host namespace');
    assert.throws(
      () => buildRuntimeSpec({ ...base, network: { mode: 'host' }, sysctls: { 'net.core.somaxconn': '1' } }),
      /host's network/,
    );
    assert.throws(() => buildRuntimeSpec({ ...base, sysctls: { 'vm.swappiness': '1' } }), /not namespaced/);
    assert.throws(
      () => buildRuntimeSpec({ ...base, mounts: [{ type: 'bind', source: 'rel', destination: '/x' }] }),
      /absolute/,
    );
    assert.throws(() => buildRuntimeSpec({ ...base, cgroupsPath: 'wharf/c1' }), /must be absolute/);
    assert.throws(() => buildRuntimeSpec({ ...base, args: [] }), /no command/);
    assert.throws(() => buildRuntimeSpec({ ...base, env: ['NOEQUALS'] }), /KEY=VALUE/);
    assert.throws(() => buildRuntimeSpec({ ...base, oomScoreAdj: 2000 }), /-1000..1000/);
  });
});

describe('buildExecProcess', () => {
  it("keeps the container's settings, merges the environment, overrides command, cwd and user", () => {
    const container = buildRuntimeSpec({ ...base, env: ['PATH=/bin', 'A=1'], cwd: '/app' }).process;
    const exec = buildExecProcess(container, {
      args: ['ls'],
      env: ['A=2', 'B=3'],
      user: { uid: 5, gid: 6 },
      terminal: true,
    });
    assert.deepEqual(exec.args, ['ls']);
    assert.deepEqual(exec.env, ['PATH=/bin', 'A=2', 'B=3']);
    assert.equal(exec.cwd, '/app');
    assert.deepEqual(exec.user, { uid: 5, gid: 6 });
    assert.equal(exec.terminal, true);
    assert.deepEqual(exec.capabilities, container.capabilities);
    assert.deepEqual(exec.rlimits, container.rlimits);
    const privileged = buildExecProcess(container, { args: ['id'], privileged: true, host });
    assert.equal(privileged.capabilities?.bounding.length, ALL_CAPABILITIES.length - 1);
    assert.equal(container.args[0], 'sh', 'the container process is not changed');
  });
});
