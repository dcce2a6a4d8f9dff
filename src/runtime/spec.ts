/**
 * Builds an OCI runtime `config.json` the way Docker does: the default capabilities, mounts,
 * masked and read-only paths, seccomp profile and device rules of moby's default Linux spec,
 * adjusted by the options a `run` carries (limits, devices, capabilities, network, privileged).
 * Pure: everything read from the host arrives in `options.host` (see host-facts.ts), so tests can
 * describe any host.
 *
 * What a container gets by default:
 *
 *   namespaces   pid, mount, uts, ipc, cgroup, and network (new, joined by path, or the host's)
 *   mounts       /proc, /dev (tmpfs), /dev/pts, /sys (ro), /sys/fs/cgroup (ro), /dev/mqueue,
 *                /dev/shm (tmpfs, 64 MiB unless shmSize), then the caller's bind/tmpfs mounts
 *   rlimits      nofile 1048576 and nproc 4194304 (Podman's), lowered to the host's hard limits
 *   cgroups      cgroupfs with an absolute cgroupsPath (no systemd here)
 *
 * @example
 * const spec = buildRuntimeSpec({
 *   args: ['sh', '-c', 'echo hi'], rootfs: '/var/lib/wharf/.../rootfs',
 *   cgroupsPath: '/wharf/0123abcd', network: { mode: 'none' }, host: await readHostFacts(),
 * });
 */
import { isAbsolute } from 'node:path/posix';
import { InvalidArgumentError } from '../errors/index.ts';
import { resolveCapabilities } from './capabilities.ts';
import type { ResolvedDevices } from './devices.ts';
import type { HostFacts } from './host-facts.ts';
import type {
  RuntimeDevice,
  RuntimeDeviceCgroupRule,
  RuntimeMount,
  RuntimeNamespace,
  RuntimeResources,
  RuntimeRlimit,
  RuntimeSpec,
  RuntimeUser,
} from './oci-runtime-spec.ts';
import { type DockerSeccompProfile, resolveSeccompProfile } from './seccomp.ts';
import { dockerDefaultSeccompProfile } from './seccomp-default-profile.ts';

export const OCI_VERSION = '1.0.2';

/** Docker's default /dev/shm size. */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/** Docker's smallest allowed memory limit. */
export const MIN_MEMORY = 6 * 1024 * 1024;

export type NetworkMode =
  /** A new network namespace holding only `lo`. */
  | { mode: 'none' }
  /** The host's network namespace. */
  | { mode: 'host' }
  /** Join a namespace prepared by the network layer (a netns file or `/proc/PID/ns/net`). */
  | { mode: 'path'; path: string };

export type MountRequest =
  | {
      type: 'bind';
      source: string;
      destination: string;
      readonly?: boolean;
      /** Defaults to `rprivate`, as Docker's. */
      propagation?: 'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave';
      /** `rbind` (the default) or a plain `bind` of the top mount only. */
      recursive?: boolean;
    }
  | {
      type: 'tmpfs';
      destination: string;
      /** Bytes. */
      size?: number;
      mode?: number;
      /** Mount options; defaults to Docker's `nosuid,nodev,noexec`. */
      options?: string[];
    };

export interface RlimitRequest {
  /** `nofile`, `nproc`, `RLIMIT_NOFILE`... */
  name: string;
  soft: number;
  hard: number;
}

export interface ResourceOptions {
  /** Bytes. */
  memory?: number;
  /** Memory plus swap in bytes (Docker's `--memory-swap`); -1 is unlimited; default twice `memory`. */
  memorySwap?: number;
  memoryReservation?: number;
  /** Docker's `--cpus`: a fraction of CPUs, turned into quota over a 100 ms period. */
  cpus?: number;
  cpuPeriod?: number;
  cpuQuota?: number;
  cpuShares?: number;
  cpusetCpus?: string;
  /** Docker's `--pids-limit`; 0 or less is unlimited. */
  pidsLimit?: number;
}

export interface SpecOptions {
  args: string[];
  env?: string[];
  /** Absolute; defaults to `/`. */
  cwd?: string;
  user?: RuntimeUser;
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  /** The root filesystem directory (absolute, or relative to the bundle). */
  rootfs: string;
  readonlyRootfs?: boolean;
  hostname?: string;
  mounts?: MountRequest[];
  network: NetworkMode;
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  noNewPrivileges?: boolean;
  rlimits?: RlimitRequest[];
  oomScoreAdj?: number;
  /** Bytes; defaults to 64 MiB. */
  shmSize?: number;
  /** `--device` nodes, resolved with `resolveDevice`. */
  devices?: ResolvedDevices[];
  /** Every host device (`listHostDevices()`), used only when privileged. */
  hostDevices?: RuntimeDevice[];
  resources?: ResourceOptions;
  /** Absolute cgroup path for the cgroupfs manager, e.g. `/wharf/ID`. */
  cgroupsPath: string;
  sysctls?: Record<string, string>;
  /** `default` is Docker's profile; `unconfined` is none. Privileged containers get none. */
  seccomp?: 'default' | 'unconfined' | DockerSeccompProfile;
  /** Docker's `--security-opt systempaths=unconfined`: no masked or read-only /proc paths. */
  unmaskSystemPaths?: boolean;
  annotations?: Record<string, string>;
  host: HostFacts;
}

/** Podman's defaults; lowered to the host's hard limits since raising them needs CAP_SYS_RESOURCE. */
const DEFAULT_RLIMITS: readonly RuntimeRlimit[] = [
  { type: 'RLIMIT_NOFILE', soft: 1048576, hard: 1048576 },
  { type: 'RLIMIT_NPROC', soft: 4194304, hard: 4194304 },
];

const RLIMIT_NAMES = new Set([
  'RLIMIT_AS',
  'RLIMIT_CORE',
  'RLIMIT_CPU',
  'RLIMIT_DATA',
  'RLIMIT_FSIZE',
  'RLIMIT_LOCKS',
  'RLIMIT_MEMLOCK',
  'RLIMIT_MSGQUEUE',
  'RLIMIT_NICE',
  'RLIMIT_NOFILE',
  'RLIMIT_NPROC',
  'RLIMIT_RSS',
  'RLIMIT_RTPRIO',
  'RLIMIT_RTTIME',
  'RLIMIT_SIGPENDING',
  'RLIMIT_STACK',
]);

/** moby's defaultLinuxMaskedPaths (plus the per-CPU thermal_throttle paths that exist). */
export const DOCKER_MASKED_PATHS: readonly string[] = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/sys/devices/virtual/powercap',
  '/sys/firmware',
];

export const DOCKER_READONLY_PATHS: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

/**
 * moby's default device-cgroup rules: deny everything, then allow null, zero, urandom, random,
 * tty and console; deny fuse. (The runtimes append their own defaults: /dev/pts, ptmx, full.)
 */
export const DOCKER_DEVICE_RULES: readonly RuntimeDeviceCgroupRule[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
  { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
];

/** Sysctls a container may set: those namespaced by IPC or (with its own netns) network. */
function checkSysctl(name: string, network: NetworkMode): void {
  const ipc =
    [
      'kernel.msgmax',
      'kernel.msgmnb',
      'kernel.msgmni',
      'kernel.sem',
      'kernel.shmall',
      'kernel.shmmax',
    ].includes(name) ||
    name === 'kernel.shmmni' ||
    name === 'kernel.shm_rmid_forced' ||
    name.startsWith('fs.mqueue.');
  if (ipc) return;
  if (name.startsWith('net.')) {
    if (network.mode === 'host') {
      throw new InvalidArgumentError(`Cannot set sysctl ${name}: it is not allowed with the host's network`);
    }
    return;
  }
  throw new InvalidArgumentError(
    `Cannot set sysctl ${name}: it is not namespaced, so it would change the host`,
  );
}

/** Parses Docker's `--ulimit NAME=SOFT[:HARD]`. */
export function parseUlimit(value: string): RlimitRequest {
  const match = /^([a-z_]+)=(-?\d+)(?::(-?\d+))?$/i.exec(value.trim());
  if (!match) throw new InvalidArgumentError(`Cannot parse ulimit "${value}": expected NAME=SOFT[:HARD]`);
  const soft = Number(match[2]);
  const hard = match[3] === undefined ? soft : Number(match[3]);
  return { name: match[1]!, soft, hard };
}

function rlimitType(name: string): string {
  const upper = name.toUpperCase();
  const type = upper.startsWith('RLIMIT_') ? upper : `RLIMIT_${upper}`;
  if (!RLIMIT_NAMES.has(type)) throw new InvalidArgumentError(`Cannot set ulimit ${name}: unknown resource`);
  return type;
}

function buildRlimits(requests: readonly RlimitRequest[], host: HostFacts): RuntimeRlimit[] {
  const byType = new Map<string, RuntimeRlimit>();
  for (const fallback of DEFAULT_RLIMITS) {
    const hostHard = host.hardLimits[fallback.type] ?? Number.POSITIVE_INFINITY;
    const value = Math.min(fallback.hard, hostHard);
    byType.set(fallback.type, { type: fallback.type, soft: Math.min(fallback.soft, value), hard: value });
  }
  for (const request of requests) {
    const type = rlimitType(request.name);
    const soft = request.soft < 0 ? Number.POSITIVE_INFINITY : request.soft;
    const hard = request.hard < 0 ? Number.POSITIVE_INFINITY : request.hard;
    if (soft > hard) {
      throw new InvalidArgumentError(
        `Cannot set ulimit ${request.name}: soft limit ${request.soft} is above hard limit ${request.hard}`,
      );
    }
    const hostHard = host.hardLimits[type] ?? Number.POSITIVE_INFINITY;
    if (hard > hostHard) {
      // Raising a hard limit needs CAP_SYS_RESOURCE, which root lacks here: the runtime would fail
      // with EPERM. Say so now, with the number that would work.
      throw new InvalidArgumentError(
        `Cannot set ulimit ${request.name}=${request.soft}:${request.hard}: the host's hard limit is ${hostHard}`,
      );
    }
    byType.set(type, { type, soft, hard });
  }
  return [...byType.values()];
}

function defaultMounts(options: SpecOptions, privileged: boolean): RuntimeMount[] {
  const shmSize = options.shmSize ?? DEFAULT_SHM_SIZE;
  if (!Number.isInteger(shmSize) || shmSize <= 0) {
    throw new InvalidArgumentError(`Cannot set shm size ${shmSize}: it must be a positive number of bytes`);
  }
  const sysOptions = ['nosuid', 'noexec', 'nodev', ...(privileged ? [] : ['ro'])];
  const cgroupOptions = [...(privileged ? [] : ['ro']), 'nosuid', 'noexec', 'nodev'];
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: sysOptions },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: cgroupOptions },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shmSize}`],
    },
  ];
}

function userMount(request: MountRequest): RuntimeMount {
  if (!isAbsolute(request.destination)) {
    throw new InvalidArgumentError(
      `Cannot mount at ${request.destination}: the destination must be absolute`,
    );
  }
  if (request.type === 'bind') {
    if (!isAbsolute(request.source)) {
      throw new InvalidArgumentError(`Cannot bind-mount ${request.source}: the source must be absolute`);
    }
    const options = [request.recursive === false ? 'bind' : 'rbind', request.propagation ?? 'rprivate'];
    if (request.readonly) options.push('ro');
    return { destination: request.destination, type: 'bind', source: request.source, options };
  }
  const options = [...(request.options ?? ['nosuid', 'nodev', 'noexec'])];
  if (request.size !== undefined) options.push(`size=${request.size}`);
  if (request.mode !== undefined) options.push(`mode=${request.mode.toString(8)}`);
  return { destination: request.destination, type: 'tmpfs', source: 'tmpfs', options };
}

function buildResources(options: SpecOptions, privileged: boolean): RuntimeResources {
  const wanted = options.resources ?? {};
  const resources: RuntimeResources = {};
  const devices: RuntimeDeviceCgroupRule[] = privileged
    ? [{ allow: true, access: 'rwm' }]
    : [
        ...DOCKER_DEVICE_RULES.map((rule) => ({ ...rule })),
        ...(options.devices ?? []).flatMap((d) => d.rules),
      ];
  resources.devices = devices;

  if (wanted.memory !== undefined) {
    if (!Number.isInteger(wanted.memory) || wanted.memory < MIN_MEMORY) {
      throw new InvalidArgumentError(`Cannot set memory limit ${wanted.memory}: the minimum is 6 MiB`);
    }
    resources.memory = { limit: wanted.memory };
    if (wanted.memorySwap !== undefined && wanted.memorySwap !== 0) {
      if (!options.host.swapAccounting) {
        throw new InvalidArgumentError(
          'Cannot set a memory+swap limit: the kernel does not account swap here',
        );
      }
      if (wanted.memorySwap !== -1 && wanted.memorySwap < wanted.memory) {
        throw new InvalidArgumentError(
          `Cannot set memory+swap limit ${wanted.memorySwap}: it must be at least the memory limit ${wanted.memory}`,
        );
      }
      resources.memory.swap = wanted.memorySwap;
    } else if (options.host.swapAccounting) {
      // Docker's default: as much swap as memory.
      resources.memory.swap = wanted.memory * 2;
    }
  } else if (wanted.memorySwap !== undefined && wanted.memorySwap !== -1 && wanted.memorySwap !== 0) {
    throw new InvalidArgumentError('Cannot set a memory+swap limit without a memory limit');
  }
  if (wanted.memoryReservation !== undefined) {
    resources.memory = { ...resources.memory, reservation: wanted.memoryReservation };
  }

  const cpu: NonNullable<RuntimeResources['cpu']> = {};
  if (wanted.cpus !== undefined) {
    if (wanted.cpuPeriod !== undefined || wanted.cpuQuota !== undefined) {
      throw new InvalidArgumentError('Cannot set --cpus together with a CPU period or quota');
    }
    if (!(wanted.cpus > 0))
      throw new InvalidArgumentError(`Cannot set cpus ${wanted.cpus}: it must be above 0`);
    cpu.period = 100000;
    cpu.quota = Math.round(wanted.cpus * 100000);
    if (cpu.quota < 1000)
      throw new InvalidArgumentError(`Cannot set cpus ${wanted.cpus}: the minimum is 0.01`);
  }
  if (wanted.cpuPeriod !== undefined) cpu.period = wanted.cpuPeriod;
  if (wanted.cpuQuota !== undefined) cpu.quota = wanted.cpuQuota;
  if (wanted.cpuShares !== undefined) cpu.shares = wanted.cpuShares;
  if (wanted.cpusetCpus !== undefined) cpu.cpus = wanted.cpusetCpus;
  if (Object.keys(cpu).length > 0) resources.cpu = cpu;

  if (wanted.pidsLimit !== undefined && wanted.pidsLimit > 0) {
    if (!Number.isInteger(wanted.pidsLimit)) {
      throw new InvalidArgumentError(`Cannot set pids limit ${wanted.pidsLimit}: it must be an integer`);
    }
    resources.pids = { limit: wanted.pidsLimit };
  }
  return resources;
}

/**
 * config.json text for a spec. JSON numbers from JavaScript cannot say RLIM_INFINITY (2^64-1), so
 * an `Infinity` rlimit is written as that exact integer here.
 */
export function serializeRuntimeSpec(spec: RuntimeSpec | RuntimeSpec['process']): string {
  const marker = `@rlim-infinity-${Math.random().toString(36).slice(2)}@`;
  const text = JSON.stringify(
    spec,
    (key, value) =>
      (key === 'soft' || key === 'hard') && value === Number.POSITIVE_INFINITY ? marker : value,
    2,
  );
  return text.replaceAll(`"${marker}"`, '18446744073709551615');
}

/** The `config.json` for one container. */
export function buildRuntimeSpec(options: SpecOptions): RuntimeSpec {
  const privileged = options.privileged === true;
  const { host } = options;
  if (options.args.length === 0) throw new InvalidArgumentError('Cannot build a container spec: no command');
  const cwd = options.cwd ?? '/';
  if (!isAbsolute(cwd))
    throw new InvalidArgumentError(`Cannot use working directory ${cwd}: it must be absolute`);
  if (!options.cgroupsPath.startsWith('/')) {
    throw new InvalidArgumentError(`Cannot use cgroups path ${options.cgroupsPath}: it must be absolute`);
  }
  for (const entry of options.env ?? []) {
    if (!entry.includes('='))
      throw new InvalidArgumentError(`Cannot set environment "${entry}": expected KEY=VALUE`);
  }

  const capabilities = privileged
    ? resolveCapabilities({ add: ['ALL'], available: host.capabilities })
    : resolveCapabilities({
        add: options.capAdd ?? [],
        drop: options.capDrop ?? [],
        available: host.capabilities,
      });

  const userMounts = (options.mounts ?? []).map(userMount);
  const overridden = new Set(userMounts.map((mount) => mount.destination));
  const mounts = [
    ...defaultMounts(options, privileged).filter((m) => !overridden.has(m.destination)),
    ...userMounts,
  ];

  const namespaces: RuntimeNamespace[] = [
    { type: 'pid' },
    { type: 'mount' },
    { type: 'uts' },
    { type: 'ipc' },
    { type: 'cgroup' },
  ];
  if (options.network.mode === 'none') namespaces.push({ type: 'network' });
  else if (options.network.mode === 'path') {
    if (!isAbsolute(options.network.path)) {
      throw new InvalidArgumentError(
        `Cannot join network namespace ${options.network.path}: not an absolute path`,
      );
    }
    namespaces.push({ type: 'network', path: options.network.path });
  }

  const sysctl: Record<string, string> = {};
  if (options.network.mode !== 'host') {
    // Docker's defaults for a private network namespace: ping without CAP_NET_RAW, low ports
    // without CAP_NET_BIND_SERVICE. Only where the kernel has them (the runtime fails otherwise).
    if (host.sysctls.includes('net.ipv4.ping_group_range'))
      sysctl['net.ipv4.ping_group_range'] = '0 2147483647';
    if (host.sysctls.includes('net.ipv4.ip_unprivileged_port_start')) {
      sysctl['net.ipv4.ip_unprivileged_port_start'] = '0';
    }
  }
  for (const [name, value] of Object.entries(options.sysctls ?? {})) {
    checkSysctl(name, options.network);
    sysctl[name] = value;
  }

  const user: RuntimeUser = { uid: options.user?.uid ?? 0, gid: options.user?.gid ?? 0 };
  if (options.user?.additionalGids?.length) user.additionalGids = [...options.user.additionalGids];
  if (options.user?.umask !== undefined) user.umask = options.user.umask;

  const spec: RuntimeSpec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: options.terminal === true,
      user,
      args: [...options.args],
      env: [...(options.env ?? [])],
      cwd,
      capabilities: { bounding: capabilities, effective: capabilities, permitted: capabilities },
      rlimits: buildRlimits(options.rlimits ?? [], host),
      noNewPrivileges: options.noNewPrivileges === true,
    },
    root: { path: options.rootfs, readonly: options.readonlyRootfs === true },
    mounts,
    linux: {
      namespaces,
      cgroupsPath: options.cgroupsPath,
      resources: buildResources(options, privileged),
    },
  };
  if (options.consoleSize) spec.process.consoleSize = { ...options.consoleSize };
  if (options.oomScoreAdj !== undefined) {
    if (!Number.isInteger(options.oomScoreAdj) || options.oomScoreAdj < -1000 || options.oomScoreAdj > 1000) {
      throw new InvalidArgumentError(
        `Cannot set oom score adjust ${options.oomScoreAdj}: it must be -1000..1000`,
      );
    }
    spec.process.oomScoreAdj = options.oomScoreAdj;
  }
  if (options.hostname !== undefined) spec.hostname = options.hostname;
  if (options.annotations) spec.annotations = { ...options.annotations };
  if (Object.keys(sysctl).length > 0) spec.linux.sysctl = sysctl;

  const devices = privileged
    ? [...(options.hostDevices ?? []), ...(options.devices ?? []).flatMap((d) => d.devices)]
    : (options.devices ?? []).flatMap((d) => d.devices);
  if (devices.length > 0) {
    // One node per path: a --device entry wins over the host's node of the same path.
    const byPath = new Map(devices.map((device) => [device.path, device]));
    spec.linux.devices = [...byPath.values()];
  }

  if (!privileged && !options.unmaskSystemPaths) {
    spec.linux.maskedPaths = [...DOCKER_MASKED_PATHS, ...host.thermalThrottlePaths];
    spec.linux.readonlyPaths = [...DOCKER_READONLY_PATHS];
  }

  const seccomp = options.seccomp ?? 'default';
  if (!privileged && seccomp !== 'unconfined') {
    const profile = seccomp === 'default' ? dockerDefaultSeccompProfile : seccomp;
    spec.linux.seccomp = resolveSeccompProfile(profile, {
      capabilities,
      arch: host.arch,
      kernel: host.kernel,
    });
  }
  return spec;
}

export interface ExecProcessOptions {
  args: string[];
  /** Added to the container's environment; a KEY here replaces the container's KEY. */
  env?: string[];
  cwd?: string;
  user?: RuntimeUser;
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  /** `exec --privileged`: every capability the host allows. */
  privileged?: boolean;
  /** Needed with `privileged` (the host's bounding set). */
  host?: HostFacts;
}

/**
 * The process.json for `runtime exec`: the container's own process settings (capabilities,
 * rlimits, no-new-privileges, environment) with the exec's command, as `docker exec` does.
 */
export function buildExecProcess(
  container: RuntimeSpec['process'],
  options: ExecProcessOptions,
): RuntimeSpec['process'] {
  if (options.args.length === 0) throw new InvalidArgumentError('Cannot exec: no command');
  const cwd = options.cwd ?? container.cwd;
  if (!isAbsolute(cwd))
    throw new InvalidArgumentError(`Cannot use working directory ${cwd}: it must be absolute`);
  const env = new Map<string, string>();
  for (const entry of [...container.env, ...(options.env ?? [])]) {
    const equals = entry.indexOf('=');
    if (equals < 0) throw new InvalidArgumentError(`Cannot set environment "${entry}": expected KEY=VALUE`);
    env.set(entry.slice(0, equals), entry);
  }
  const process: RuntimeSpec['process'] = {
    ...structuredClone(container),
    terminal: options.terminal === true,
    args: [...options.args],
    env: [...env.values()],
    cwd,
  };
  delete process.consoleSize;
  if (options.consoleSize) process.consoleSize = { ...options.consoleSize };
  if (options.user) process.user = structuredClone(options.user);
  if (options.privileged) {
    if (!options.host) throw new InvalidArgumentError('Cannot exec privileged: the host facts are missing');
    const all = resolveCapabilities({ add: ['ALL'], available: options.host.capabilities });
    process.capabilities = { bounding: all, effective: all, permitted: all };
  }
  return process;
}
