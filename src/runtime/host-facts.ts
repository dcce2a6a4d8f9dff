/**
 * What the spec generator needs to know about the host, read once per process: the hard rlimits
 * (root lacks CAP_SYS_RESOURCE here, so a container cannot go above them), the capability
 * bounding set, the architecture and kernel (for seccomp), which sysctls exist, whether swap is
 * accounted, and which per-CPU paths Docker masks. Keeping these in one value keeps
 * `buildRuntimeSpec` pure and testable with made-up hosts.
 *
 * @example
 * const host = await readHostFacts();
 * host.hardLimits.RLIMIT_NOFILE; // 20000 here
 */
import { existsSync, readFileSync } from 'node:fs';
import { capabilitiesFromMask } from './capabilities.ts';

export interface HostFacts {
  /** Hard limit per `RLIMIT_*` name; `Infinity` for unlimited. */
  hardLimits: Record<string, number>;
  /** The capability bounding set of this process (what a container may hold at most). */
  capabilities: string[];
  /** Node's `process.arch`. */
  arch: string;
  kernel: [number, number];
  /** Sysctls (dotted names) known to exist, among those Wharf sets by default. */
  sysctls: string[];
  /** cgroup v1 `memory.memsw.*` present: a memory+swap limit can be set. */
  swapAccounting: boolean;
  /** `/sys/devices/system/cpu/cpuN/thermal_throttle` paths that exist (Docker masks them). */
  thermalThrottlePaths: string[];
}

// /proc/self/limits row labels -> RLIMIT_* names.
const LIMIT_NAMES: Record<string, string> = {
  'Max cpu time': 'RLIMIT_CPU',
  'Max file size': 'RLIMIT_FSIZE',
  'Max data size': 'RLIMIT_DATA',
  'Max stack size': 'RLIMIT_STACK',
  'Max core file size': 'RLIMIT_CORE',
  'Max resident set': 'RLIMIT_RSS',
  'Max processes': 'RLIMIT_NPROC',
  'Max open files': 'RLIMIT_NOFILE',
  'Max locked memory': 'RLIMIT_MEMLOCK',
  'Max address space': 'RLIMIT_AS',
  'Max file locks': 'RLIMIT_LOCKS',
  'Max pending signals': 'RLIMIT_SIGPENDING',
  'Max msgqueue size': 'RLIMIT_MSGQUEUE',
  'Max nice priority': 'RLIMIT_NICE',
  'Max realtime priority': 'RLIMIT_RTPRIO',
  'Max realtime timeout': 'RLIMIT_RTTIME',
};

/** Parses /proc/PID/limits into hard limits by RLIMIT_* name. */
export function parseProcLimits(text: string): Record<string, number> {
  const limits: Record<string, number> = {};
  for (const line of text.split('\n').slice(1)) {
    // Columns are fixed width: a 26-character label, then soft, hard and units.
    const label = line.slice(0, 26).trim();
    const name = LIMIT_NAMES[label];
    if (!name) continue;
    const hard = line.slice(26).trim().split(/\s+/)[1];
    if (hard === undefined) continue;
    limits[name] = hard === 'unlimited' ? Number.POSITIVE_INFINITY : Number(hard);
  }
  return limits;
}

const DEFAULT_SYSCTLS = ['net.ipv4.ping_group_range', 'net.ipv4.ip_unprivileged_port_start'];

function readPossibleCpus(): number[] {
  let text: string;
  try {
    text = readFileSync('/sys/devices/system/cpu/possible', 'utf8');
  } catch {
    return [];
  }
  const cpus: number[] = [];
  for (const part of text.trim().split(',')) {
    const [from, to] = part.split('-').map(Number);
    if (from === undefined || Number.isNaN(from)) continue;
    for (let cpu = from; cpu <= (to ?? from); cpu++) cpus.push(cpu);
  }
  return cpus;
}

let cached: Promise<HostFacts> | undefined;

/** Reads the host's facts once per process (they do not change while it runs). */
export function readHostFacts(): Promise<HostFacts> {
  cached ??= (async () => readHostFactsNow())();
  return cached;
}

/**
 * Synchronously: a dozen small files of /proc and /sys, which never wait for a disk, read on the
 * way of every start; each costs microseconds, where a thread-pool round trip costs 0.1-0.5 ms
 * quiet (about twenty of them, half one after another, when these were asynchronous).
 */
function readHostFactsNow(): HostFacts {
  const limitsText = readFileSync('/proc/self/limits', 'utf8');
  const statusText = readFileSync('/proc/self/status', 'utf8');
  const release = readFileSync('/proc/sys/kernel/osrelease', 'utf8');
  const bounding = /^CapBnd:\s*([0-9a-f]+)$/m.exec(statusText)?.[1] ?? '0';
  const [, major = '0', minor = '0'] = /^(\d+)\.(\d+)/.exec(release) ?? [];
  const sysctls = DEFAULT_SYSCTLS.filter((name) => existsSync(`/proc/sys/${name.replaceAll('.', '/')}`));
  const thermalThrottlePaths = readPossibleCpus()
    .map((cpu) => `/sys/devices/system/cpu/cpu${cpu}/thermal_throttle`)
    .filter((path) => existsSync(path));
  return {
    hardLimits: parseProcLimits(limitsText),
    capabilities: capabilitiesFromMask(bounding),
    arch: process.arch,
    kernel: [Number(major), Number(minor)],
    sysctls,
    swapAccounting:
      existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes') ||
      existsSync('/sys/fs/cgroup/memory.swap.max'),
    thermalThrottlePaths,
  };
}
