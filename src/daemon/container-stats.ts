/**
 * Docker's stats JSON (`GET /containers/ID/stats`, API 1.41 `ContainerStats`) from two readings
 * of a container's cgroup: `cpu_stats` now and `precpu_stats` before, each with the host's
 * `system_cpu_usage` (the sum of /proc/stat's first line in nanoseconds, as moby reads it), so
 * that `docker stats` computes CPU % as (container delta / system delta) x online CPUs; memory
 * with `total_inactive_file` (cgroup v1) and `inactive_file` (v2), which the CLI subtracts from
 * usage; the limit is the host's memory when the cgroup has none (moby's rule); block I/O bytes
 * per device and op in `blkio_stats.io_service_bytes_recursive` and the interfaces' counters in
 * `networks`, which the CLI sums into BLOCK I/O and NET I/O (no `networks` key with
 * `--network host`, nor when the container has only `lo`: Go's omitempty of an empty map).
 *
 * @example
 * const doc = statsDocument(await service.statsSample(id), await systemCpuNanos(), previous);
 */
import { readFile } from 'node:fs/promises';
import type { StatsSample } from '../container/container-service.ts';
import { ZERO_TIME } from '../container/timestamps.ts';
import type { BlkioEntry } from '../runtime/cgroups.ts';
import type { InterfaceCounters } from '../runtime/interface-stats.ts';

/** One reading with the host's CPU time at the same moment. */
export interface StatsReading {
  sample: StatsSample;
  systemNanos: number;
}

// USER_HZ: the unit of /proc/stat on every Linux architecture Node runs on
const CLOCK_TICKS_PER_SECOND = 100;

/** The host's CPU time (user..steal of /proc/stat's `cpu` line) in nanoseconds. */
export async function systemCpuNanos(): Promise<number> {
  const text = await readFile('/proc/stat', 'utf8').catch(() => '');
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return 0;
  const ticks = line
    .trim()
    .split(/\s+/)
    .slice(1, 9)
    .reduce((sum, field) => sum + (Number(field) || 0), 0);
  return (ticks * 1e9) / CLOCK_TICKS_PER_SECOND;
}

function cpuStats(reading: StatsReading | undefined): Record<string, unknown> {
  const cpu = reading?.sample.cgroup?.cpu;
  return {
    cpu_usage: {
      total_usage: cpu?.usageNanos ?? 0,
      usage_in_kernelmode: 0,
      usage_in_usermode: 0,
    },
    system_cpu_usage: reading?.systemNanos ?? 0,
    online_cpus: reading?.sample.onlineCpus ?? 0,
    throttling_data: {
      periods: 0,
      throttled_periods: cpu?.throttledPeriods ?? 0,
      throttled_time: 0,
    },
  };
}

function isoOf(ms: number): string {
  return new Date(ms).toISOString();
}

/** The stats document of `current`, with `previous` as the precpu reading (absent: zeros). */
export function statsDocument(current: StatsReading, previous?: StatsReading): Record<string, unknown> {
  const { sample } = current;
  const memory = sample.cgroup?.memory;
  const running = sample.cgroup !== undefined;
  const limit =
    memory?.limit !== undefined && memory.limit > 0 && memory.limit < sample.hostMemory
      ? memory.limit
      : sample.hostMemory;
  const inactive = memory?.inactiveFile ?? 0;
  return {
    read: running ? isoOf(sample.read) : ZERO_TIME,
    preread: previous?.sample.cgroup ? isoOf(previous.sample.read) : ZERO_TIME,
    pids_stats: running
      ? {
          current: sample.cgroup?.pids?.current ?? 0,
          ...(sample.cgroup?.pids?.limit !== undefined ? { limit: sample.cgroup.pids.limit } : {}),
        }
      : {},
    blkio_stats: {
      io_service_bytes_recursive: sample.cgroup?.blkio ? sample.cgroup.blkio.map(blkioEntry) : null,
      io_serviced_recursive: null,
      io_queue_recursive: null,
      io_service_time_recursive: null,
      io_wait_time_recursive: null,
      io_merged_recursive: null,
      io_time_recursive: null,
      sectors_recursive: null,
    },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: running ? cpuStats(current) : cpuStats(undefined),
    precpu_stats: cpuStats(previous?.sample.cgroup ? previous : undefined),
    memory_stats: running
      ? {
          usage: memory?.usage ?? 0,
          ...(memory?.maxUsage !== undefined ? { max_usage: memory.maxUsage } : {}),
          stats: { total_inactive_file: inactive, inactive_file: inactive },
          limit,
        }
      : {},
    name: `/${sample.name}`,
    id: sample.id,
    ...(sample.networks && Object.keys(sample.networks).length > 0
      ? { networks: networksDocument(sample.networks) }
      : {}),
  };
}

function blkioEntry(entry: BlkioEntry): Record<string, unknown> {
  return { major: entry.major, minor: entry.minor, op: entry.op, value: entry.value };
}

function networksDocument(networks: Record<string, InterfaceCounters>): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [name, counters] of Object.entries(networks)) {
    result[name] = {
      rx_bytes: counters.rxBytes,
      rx_packets: counters.rxPackets,
      rx_errors: counters.rxErrors,
      rx_dropped: counters.rxDropped,
      tx_bytes: counters.txBytes,
      tx_packets: counters.txPackets,
      tx_errors: counters.txErrors,
      tx_dropped: counters.txDropped,
    };
  }
  return result;
}
