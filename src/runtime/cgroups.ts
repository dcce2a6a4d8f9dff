/**
 * Cgroup helpers for containers placed by the cgroupfs manager at an absolute `cgroupsPath`:
 * find the hierarchies (v1, v2, or hybrid as on this host: v1 controllers plus an empty v2
 * mount), read a container's usage and limits, put a process (conmon) in a cgroup, and remove a
 * cgroup tree. The runtime creates and deletes containers' own cgroups; these helpers are for
 * stats, tests, and the parents Wharf owns.
 *
 * Layout with cgroupsPath `/wharf/ID` on a v1/hybrid host:
 *
 *   /sys/fs/cgroup/
 *     memory/wharf/ID/       memory.usage_in_bytes, memory.limit_in_bytes, memory.oom_control (oom_kill N)
 *     cpuacct/wharf/ID/      cpuacct.usage (ns)
 *     cpu/wharf/ID/          cpu.cfs_quota_us, cpu.cfs_period_us, cpu.stat (throttling)
 *     pids/wharf/ID/         pids.current, pids.max
 *     blkio/wharf/ID/        blkio.throttle.io_service_bytes_recursive (bytes per device and op)
 *     ...one directory per mounted hierarchy
 *   and on v2 one directory, /sys/fs/cgroup/wharf/ID, with memory.current, memory.max,
 *   memory.events (oom_kill N), cpu.stat (usage_usec), pids.current, pids.max, io.stat.
 *
 * @example
 * const stats = await readCgroupStats('/wharf/0123abcd');
 * stats.memory?.usage; // bytes
 */
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno, NotFoundError } from '../errors/index.ts';
import type { Spawner } from './spawn-process.ts';

export interface CgroupHierarchy {
  /** `memory`, `cpu`, `name=systemd`...; empty for the v2 hierarchy. */
  controllers: string[];
  mountpoint: string;
  version: 1 | 2;
}

export type CgroupMode = 'v1' | 'v2' | 'hybrid';

export interface CgroupLayout {
  mode: CgroupMode;
  hierarchies: CgroupHierarchy[];
  /** Controllers enabled in the v2 hierarchy (what crun 1.8 refuses in hybrid mode). */
  v2Controllers: string[];
}

// Controllers a v1 hierarchy can carry; its other super options (xattr, noprefix...) are not.
const V1_CONTROLLERS = new Set([
  'blkio',
  'cpu',
  'cpuacct',
  'cpuset',
  'debug',
  'devices',
  'freezer',
  'hugetlb',
  'memory',
  'misc',
  'net_cls',
  'net_prio',
  'perf_event',
  'pids',
  'rdma',
]);

/** Parses /proc/self/mountinfo lines into cgroup hierarchies. */
export function parseCgroupMounts(mountinfo: string): CgroupHierarchy[] {
  const hierarchies: CgroupHierarchy[] = [];
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const mountpoint = left.split(' ')[4];
    const [fstype, , superOptions = ''] = right.split(' ');
    if (!mountpoint) continue;
    if (fstype === 'cgroup2') hierarchies.push({ controllers: [], mountpoint, version: 2 });
    else if (fstype === 'cgroup') {
      const controllers = superOptions
        .split(',')
        .filter((option) => V1_CONTROLLERS.has(option) || option.startsWith('name='));
      hierarchies.push({ controllers, mountpoint, version: 1 });
    }
  }
  return hierarchies;
}

let cachedLayout: Promise<CgroupLayout> | undefined;

/**
 * This host's cgroup hierarchies, read once per process. Read synchronously: two small kernel
 * files, microseconds, on the path of every container start (two thread-pool round trips
 * otherwise).
 */
export function cgroupLayout(): Promise<CgroupLayout> {
  cachedLayout ??= (async () => {
    const hierarchies = parseCgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8'));
    const v1 = hierarchies.some((h) => h.version === 1 && !h.controllers.every((c) => c.startsWith('name=')));
    const v2 = hierarchies.find((h) => h.version === 2);
    let v2Controllers: string[] = [];
    if (v2) {
      let text = '';
      try {
        text = readFileSync(join(v2.mountpoint, 'cgroup.controllers'), 'utf8');
      } catch {
        // no controllers file: none listed
      }
      v2Controllers = text.trim().split(/\s+/).filter(Boolean);
    }
    const mode: CgroupMode = v1 && v2 ? 'hybrid' : v2 ? 'v2' : 'v1';
    return { mode, hierarchies, v2Controllers };
  })();
  return cachedLayout;
}

function checkPath(cgroupsPath: string): void {
  if (!cgroupsPath.startsWith('/') || cgroupsPath.split('/').includes('..')) {
    throw new NotFoundError(`Cannot use cgroup ${cgroupsPath}: it must be an absolute path without ..`);
  }
}

/** The directory of `cgroupsPath` in the hierarchy holding `controller` (`unified` for v2). */
export async function cgroupDirectory(cgroupsPath: string, controller: string): Promise<string | undefined> {
  checkPath(cgroupsPath);
  const layout = await cgroupLayout();
  const hierarchy =
    layout.mode === 'v2'
      ? layout.hierarchies.find((h) => h.version === 2)
      : controller === 'unified'
        ? layout.hierarchies.find((h) => h.version === 2)
        : layout.hierarchies.find((h) => h.version === 1 && h.controllers.includes(controller));
  return hierarchy ? join(hierarchy.mountpoint, cgroupsPath) : undefined;
}

async function readText(path: string | undefined): Promise<string | undefined> {
  if (!path) return undefined;
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}

function number(text: string | undefined): number | undefined {
  if (text === undefined || text === '' || text === 'max') return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

/** `key value` lines (memory.stat, cpu.stat, memory.events, memory.oom_control) as a record. */
export function parseFlatKeyed(text: string | undefined): Record<string, number> {
  const result: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && Number.isFinite(Number(value))) result[key] = Number(value);
  }
  return result;
}

// v1 reports "no limit" as a huge page-aligned number (PAGE_COUNTER_MAX * page size).
const V1_UNLIMITED = 2 ** 62;

export interface CgroupStats {
  memory?: {
    /** Bytes in use, page cache included (`docker stats` subtracts inactive_file; see `cache`). */
    usage: number;
    /** Bytes; undefined when unlimited. */
    limit?: number;
    maxUsage?: number;
    /** Inactive file cache, which `docker stats` leaves out of usage. */
    inactiveFile?: number;
    /** Times the kernel's OOM killer killed a process of this cgroup. */
    oomKills: number;
  };
  cpu?: {
    /** Nanoseconds of CPU used, all CPUs together. */
    usageNanos: number;
    /** Microseconds of quota per period; undefined when unlimited. */
    quota?: number;
    period?: number;
    throttledPeriods?: number;
  };
  pids?: {
    current: number;
    /** Undefined when unlimited. */
    limit?: number;
  };
  /** Bytes of block I/O per device and operation (Docker's `io_service_bytes_recursive`). */
  blkio?: BlkioEntry[];
}

/** One line of a blkio statistics file: `8:0 Read 4096` (v1) or rbytes/wbytes of io.stat (v2). */
export interface BlkioEntry {
  major: number;
  minor: number;
  /** `Read`, `Write`, `Sync`, `Async`, `Discard`, `Total` (v1); `read`, `write` (v2), as moby. */
  op: string;
  value: number;
}

/**
 * Parses a v1 blkio statistics file (`MAJOR:MINOR Op VALUE` lines and a last `Total N`, which is
 * left out, as containerd does).
 *
 * @example
 * parseBlkioEntries('254:0 Read 4096\n254:0 Write 0\nTotal 4096');
 * // [{ major: 254, minor: 0, op: 'Read', value: 4096 }, { major: 254, minor: 0, op: 'Write', value: 0 }]
 */
export function parseBlkioEntries(text: string | undefined): BlkioEntry[] {
  const entries: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const match = /^(\d+):(\d+)\s+(\S+)\s+(\d+)$/.exec(line.trim());
    if (match) {
      entries.push({
        major: Number(match[1]),
        minor: Number(match[2]),
        op: match[3]!,
        value: Number(match[4]),
      });
    }
  }
  return entries;
}

/**
 * Parses v2 `io.stat` (`MAJOR:MINOR rbytes=N wbytes=N rios=N ...`) into a `read` and a `write`
 * entry per device, as moby converts it for `blkio_stats`.
 *
 * @example
 * parseIoStat('254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0');
 * // [{ major: 254, minor: 0, op: 'read', value: 4096 }, { major: 254, minor: 0, op: 'write', value: 8192 }]
 */
export function parseIoStat(text: string | undefined): BlkioEntry[] {
  const entries: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const [device, ...fields] = line.trim().split(/\s+/);
    const match = /^(\d+):(\d+)$/.exec(device ?? '');
    if (!match) continue;
    const values = new Map(fields.map((field) => field.split('=') as [string, string]));
    const major = Number(match[1]);
    const minor = Number(match[2]);
    entries.push(
      { major, minor, op: 'read', value: Number(values.get('rbytes') ?? 0) },
      { major, minor, op: 'write', value: Number(values.get('wbytes') ?? 0) },
    );
  }
  return entries;
}

/**
 * The v1 blkio bytes of a cgroup: CFQ's recursive file where the kernel has it and it counted
 * something, else blk-throttle's (what containerd reads for dockerd). Recent kernels (6.18 here)
 * start blk-throttle on a disk, and so count its I/O, only once some cgroup sets a limit on that
 * disk; with none anywhere (and no CFQ), both files are empty and `stats` shows 0B, as Docker's
 * does on the same kernel.
 */
async function readV1Blkio(dir: string): Promise<BlkioEntry[] | undefined> {
  const cfq = parseBlkioEntries(await readText(join(dir, 'blkio.io_service_bytes_recursive')));
  if (cfq.length > 0) return cfq;
  const throttle =
    (await readText(join(dir, 'blkio.throttle.io_service_bytes_recursive'))) ??
    (await readText(join(dir, 'blkio.throttle.io_service_bytes')));
  return throttle === undefined ? undefined : parseBlkioEntries(throttle);
}

/**
 * Current usage and limits of a cgroup. Controllers whose directory is missing (the container is
 * gone, or the controller is not mounted) are left out; NotFoundError when none exists at all.
 */
export async function readCgroupStats(cgroupsPath: string): Promise<CgroupStats> {
  const layout = await cgroupLayout();
  const stats: CgroupStats = {};
  if (layout.mode === 'v2') {
    const dir = (await cgroupDirectory(cgroupsPath, 'unified'))!;
    const usage = number(await readText(join(dir, 'memory.current')));
    if (usage !== undefined) {
      const limit = number(await readText(join(dir, 'memory.max')));
      const events = parseFlatKeyed(await readText(join(dir, 'memory.events')));
      const memoryStat = parseFlatKeyed(await readText(join(dir, 'memory.stat')));
      stats.memory = { usage, oomKills: events['oom_kill'] ?? 0 };
      if (limit !== undefined) stats.memory.limit = limit;
      const peak = number(await readText(join(dir, 'memory.peak')));
      if (peak !== undefined) stats.memory.maxUsage = peak;
      if (memoryStat['inactive_file'] !== undefined) stats.memory.inactiveFile = memoryStat['inactive_file'];
    }
    const cpuStat = await readText(join(dir, 'cpu.stat'));
    if (cpuStat !== undefined) {
      const parsed = parseFlatKeyed(cpuStat);
      stats.cpu = { usageNanos: (parsed['usage_usec'] ?? 0) * 1000 };
      const max = await readText(join(dir, 'cpu.max'));
      const [quota, period] = (max ?? '').split(/\s+/);
      if (quota && quota !== 'max') stats.cpu.quota = Number(quota);
      if (period) stats.cpu.period = Number(period);
      if (parsed['nr_throttled'] !== undefined) stats.cpu.throttledPeriods = parsed['nr_throttled'];
    }
    const ioStat = await readText(join(dir, 'io.stat'));
    if (ioStat !== undefined) stats.blkio = parseIoStat(ioStat);
  } else {
    const memoryDir = await cgroupDirectory(cgroupsPath, 'memory');
    const usage = number(await readText(memoryDir && join(memoryDir, 'memory.usage_in_bytes')));
    if (memoryDir && usage !== undefined) {
      const limit = number(await readText(join(memoryDir, 'memory.limit_in_bytes')));
      const oomControl = parseFlatKeyed(await readText(join(memoryDir, 'memory.oom_control')));
      const memoryStat = parseFlatKeyed(await readText(join(memoryDir, 'memory.stat')));
      stats.memory = { usage, oomKills: oomControl['oom_kill'] ?? 0 };
      if (limit !== undefined && limit < V1_UNLIMITED) stats.memory.limit = limit;
      const maxUsage = number(await readText(join(memoryDir, 'memory.max_usage_in_bytes')));
      if (maxUsage !== undefined) stats.memory.maxUsage = maxUsage;
      const inactive = memoryStat['total_inactive_file'] ?? memoryStat['inactive_file'];
      if (inactive !== undefined) stats.memory.inactiveFile = inactive;
    }
    const cpuacctDir = await cgroupDirectory(cgroupsPath, 'cpuacct');
    const usageNanos = number(await readText(cpuacctDir && join(cpuacctDir, 'cpuacct.usage')));
    if (usageNanos !== undefined) {
      stats.cpu = { usageNanos };
      const cpuDir = await cgroupDirectory(cgroupsPath, 'cpu');
      if (cpuDir) {
        const quota = number(await readText(join(cpuDir, 'cpu.cfs_quota_us')));
        const period = number(await readText(join(cpuDir, 'cpu.cfs_period_us')));
        if (quota !== undefined && quota > 0) stats.cpu.quota = quota;
        if (period !== undefined) stats.cpu.period = period;
        const cpuStat = parseFlatKeyed(await readText(join(cpuDir, 'cpu.stat')));
        if (cpuStat['nr_throttled'] !== undefined) stats.cpu.throttledPeriods = cpuStat['nr_throttled'];
      }
    }
    const blkioDir = await cgroupDirectory(cgroupsPath, 'blkio');
    const blkio = blkioDir && (await readV1Blkio(blkioDir));
    if (blkio) stats.blkio = blkio;
  }
  const pidsDir = await cgroupDirectory(cgroupsPath, layout.mode === 'v2' ? 'unified' : 'pids');
  const current = number(await readText(pidsDir && join(pidsDir, 'pids.current')));
  if (pidsDir && current !== undefined) {
    stats.pids = { current };
    const limit = number(await readText(join(pidsDir, 'pids.max')));
    if (limit !== undefined) stats.pids.limit = limit;
  }
  if (!stats.memory && !stats.cpu && !stats.pids) {
    throw new NotFoundError(`Cannot read cgroup ${cgroupsPath}: it does not exist`);
  }
  return stats;
}

/**
 * How many times the kernel's OOM killer killed a process of the cgroup (0 when it does not
 * exist): one file, where `readCgroupStats` reads a dozen.
 */
export async function readOomKills(cgroupsPath: string): Promise<number> {
  const layout = await cgroupLayout();
  if (layout.mode === 'v2') {
    const dir = await cgroupDirectory(cgroupsPath, 'unified');
    return parseFlatKeyed(await readText(dir && join(dir, 'memory.events')))['oom_kill'] ?? 0;
  }
  const dir = await cgroupDirectory(cgroupsPath, 'memory');
  return parseFlatKeyed(await readText(dir && join(dir, 'memory.oom_control')))['oom_kill'] ?? 0;
}

/** Directories of `cgroupsPath` in every hierarchy (v1 ones, plus v2 where it is used). */
async function allDirectories(cgroupsPath: string): Promise<{ dir: string; hierarchy: CgroupHierarchy }[]> {
  checkPath(cgroupsPath);
  const layout = await cgroupLayout();
  return layout.hierarchies.map((hierarchy) => ({ dir: join(hierarchy.mountpoint, cgroupsPath), hierarchy }));
}

/** Cgroup directories this process made or found, so that moving the next process skips mkdir. */
const knownCgroups = new Set<string>();

/**
 * Creates `cgroupsPath` in every v1 hierarchy (and v2 when it is the only one) and moves `pid`
 * into it. A new v1 cpuset cgroup starts with no CPUs or memory nodes, so those are copied from
 * its parent first, as runc does.
 *
 * The hierarchies are written at once. A write to `cgroup.procs` may wait for an RCU grace
 * period (the kernel's cgroup_threadgroup_rwsem; writes within one of another go through at
 * once), holding one of libuv's four threads meanwhile: call it when little else waits on them
 * (conmon.ts moves conmon just after the runtime's own writes).
 */
export async function moveProcessToCgroup(pid: number, cgroupsPath: string): Promise<void> {
  const layout = await cgroupLayout();
  await settleAll(
    (await allDirectories(cgroupsPath)).map(async ({ dir, hierarchy }) => {
      if (hierarchy.version === 2 && layout.mode !== 'v2') return;
      const procs = join(dir, 'cgroup.procs');
      if (knownCgroups.has(dir)) {
        try {
          await writeFile(procs, String(pid));
          return;
        } catch (error) {
          if (!isErrno(error, 'ENOENT')) throw error;
          knownCgroups.delete(dir); // removed meanwhile: made again below
        }
      }
      await mkdir(dir, { recursive: true });
      if (hierarchy.controllers.includes('cpuset')) await fillCpuset(hierarchy.mountpoint, cgroupsPath);
      await writeFile(procs, String(pid));
      knownCgroups.add(dir);
    }),
  );
}

async function fillCpuset(mountpoint: string, cgroupsPath: string): Promise<void> {
  const parts = cgroupsPath.split('/').filter(Boolean);
  for (let depth = 1; depth <= parts.length; depth++) {
    const dir = join(mountpoint, ...parts.slice(0, depth));
    const parent = join(mountpoint, ...parts.slice(0, depth - 1));
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      const own = await readText(join(dir, file));
      if (own === '') await writeFile(join(dir, file), (await readText(join(parent, file))) ?? '');
    }
  }
}

/**
 * Removes a cgroup and everything below it from every hierarchy, deepest first. The cgroups must
 * be empty of processes (the kernel refuses otherwise: EBUSY, reported). Missing ones are fine.
 */
export async function removeCgroupTree(
  cgroupsPath: string,
  options: { spawner?: Spawner } = {},
): Promise<void> {
  // A container's cgroup usually has no children: rmdir first, and list it only when the kernel
  // refuses (EBUSY: children, or processes, which the second rmdir then reports).
  const removeDir = async (dir: string): Promise<void> => {
    try {
      await rmdir(dir);
      return;
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return;
      if (!isErrno(error, 'EBUSY') && !isErrno(error, 'ENOTEMPTY')) throw error;
    }
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return;
      throw error;
    }
    for (const entry of entries) if (entry.isDirectory()) await removeDir(join(dir, entry.name));
    try {
      await rmdir(dir);
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw error;
    }
  };
  if (cgroupsPath === '/' || cgroupsPath === '') return;
  const dirs = (await allDirectories(cgroupsPath)).map(({ dir }) => dir);
  // A spawner's helper removes them all in one request, one system call each (no round trip
  // through the thread pool for each, 1-3 ms in all); what it cannot remove goes below.
  if (options.spawner && (await rmdirAll(options.spawner, dirs))) return;
  // the hierarchies are independent: remove from all of them at once
  await settleAll(dirs.map((dir) => removeDir(dir)));
}

/** The spawner's `:rmdir` of `dirs`: true when none is left. */
function rmdirAll(spawner: Spawner, dirs: readonly string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawner.spawn(':rmdir', dirs, { stdio: ['ignore', 'ignore', 'ignore'] });
    child.on('error', () => resolve(false));
    child.on('close', (code: number | null) => resolve(code === 0));
  });
}

/** Waits for every promise, then throws the first failure: nothing is left running on an error. */
async function settleAll(promises: Promise<void>[]): Promise<void> {
  for (const outcome of await Promise.allSettled(promises)) {
    if (outcome.status === 'rejected') throw outcome.reason;
  }
}

/** Host pids in a cgroup (from the pids hierarchy, or v2's), for checks after a container exits. */
export async function cgroupPids(cgroupsPath: string): Promise<number[]> {
  const layout = await cgroupLayout();
  const dir = await cgroupDirectory(cgroupsPath, layout.mode === 'v2' ? 'unified' : 'pids');
  const text = await readText(dir && join(dir, 'cgroup.procs'));
  return (text ?? '').split('\n').filter(Boolean).map(Number);
}
