/**
 * HEALTHCHECK without a daemon. conmon cannot schedule probes and no Wharf process stays alive, so
 * each run of a container with a health check gets a tiny detached loop, a `sh` process (about a
 * megabyte, no node) that sleeps and runs one probe at a time:
 *
 *   sh -c 'd=$0; while sleep "$d"; do d=$("$@") || exit 0; done' FIRST_DELAY \
 *      node wharf.mjs --root ROOT container healthcheck ID --generation N
 *
 * `wharf container healthcheck` runs the probe (`runtime exec` of the test, with its timeout),
 * records `State.Health` as Docker does (status, failing streak, the last 5 results with their
 * output cut at 4 KiB, a `health_status` event on each change) and prints the delay before the
 * next probe (the interval, or the start interval during the start period). It exits non-zero
 * once run N is over, which ends the loop; the exit handling also kills the loop's process group.
 * Probes do not run while the container is paused.
 *
 * @example
 * const pid = spawnHealthLoop(context, record, check);
 * const next = await runHealthProbe(context, id, generation); // seconds
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { FailedPreconditionError } from '../errors/index.ts';
import type { RuntimeSpec } from '../runtime/oci-runtime-spec.ts';
import { buildExecProcess } from '../runtime/spec.ts';
import { effectiveHealthcheck } from './container-config.ts';
import type { ContainerContext } from './container-context.ts';
import { containerPaths } from './container-paths.ts';
import type { ContainerRecord } from './container-records.ts';
import type { HealthLogEntry, HealthState } from './docker-types.ts';
import { formatGoDuration } from './go-duration.ts';
import { formatRfc3339Nano, nowNanos, parseTime } from './timestamps.ts';

type Check = NonNullable<ReturnType<typeof effectiveHealthcheck>>;

const LOOP = 'd=$0; while sleep "$d"; do d=$("$@") || exit 0; done';
const MAX_OUTPUT = 4096;
const MAX_LOG_ENTRIES = 5;

function seconds(nanos: number): string {
  return (nanos / 1e9).toFixed(3);
}

/** The delay before the next probe (Docker: start interval while starting within the start period). */
function nextDelay(check: Check, record: ContainerRecord, health: HealthState | undefined): number {
  const started = parseTime(record.startedAt) ?? Date.now();
  const inStartPeriod = Date.now() - started < check.startPeriod / 1e6;
  if (inStartPeriod && health?.Status === 'starting' && record.definition.Config.Healthcheck?.StartInterval) {
    return check.startInterval;
  }
  return check.interval;
}

/** Starts the probe loop of a run; returns its pid (the leader of its own process group). */
export function spawnHealthLoop(context: ContainerContext, record: ContainerRecord, check: Check): number {
  const first = nextDelay(check, record, { Status: 'starting', FailingStreak: 0, Log: [] });
  const child = spawn(
    '/bin/sh',
    [
      '-c',
      LOOP,
      seconds(first),
      context.wharfCommand.path,
      ...context.wharfArgs(),
      'container',
      'healthcheck',
      record.id,
      '--generation',
      String(record.generation),
    ],
    { detached: true, stdio: 'ignore' },
  );
  child.on('error', () => undefined);
  child.unref();
  return child.pid ?? 0;
}

/** Ends a run's probe loop (its whole process group: the sh and its sleep or probe). */
export async function stopHealthLoop(record: ContainerRecord): Promise<void> {
  const pid = record.healthPid;
  if (pid <= 0) return;
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes(record.id) || !cmdline.includes('healthcheck')) return; // pid reused
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Runs one probe of run `generation` and records it; returns seconds until the next one. */
export async function runHealthProbe(
  context: ContainerContext,
  id: string,
  generation: number,
): Promise<number> {
  const record = context.records.get(id);
  if (
    !record ||
    record.generation !== generation ||
    (record.state !== 'running' && record.state !== 'paused')
  ) {
    throw new FailedPreconditionError(`Cannot run the health check of ${id}: run ${generation} is over`);
  }
  const check = effectiveHealthcheck(record.definition.Config);
  if (!check) throw new FailedPreconditionError(`Cannot run the health check of ${id}: it has none`);
  if (record.state === 'paused') return nextDelay(check, record, record.health) / 1e9;

  const probeStart = Date.now();
  const entry = await probe(context, record, check);
  const updated = context.records.update(id, (current) => {
    if (current.generation !== generation || current.state !== 'running') return undefined;
    const previous = current.health ?? { Status: 'starting', FailingStreak: 0, Log: [] };
    const health: HealthState = {
      Status: previous.Status,
      FailingStreak: previous.FailingStreak,
      Log: [...previous.Log, entry].slice(-MAX_LOG_ENTRIES),
    };
    if (entry.ExitCode === 0) {
      health.Status = 'healthy';
      health.FailingStreak = 0;
    } else {
      const started = parseTime(current.startedAt) ?? 0;
      const inStartPeriod = Date.parse(entry.Start) - started < check.startPeriod / 1e6;
      // Failures in the start period do not count, until the first success.
      if (!(inStartPeriod && previous.Status !== 'healthy')) {
        health.FailingStreak += 1;
        if (health.FailingStreak >= check.retries) health.Status = 'unhealthy';
      }
    }
    return { health };
  });
  if (updated.health && updated.health.Status !== record.health?.Status) {
    context.emit(`health_status: ${updated.health.Status}`, updated);
  }
  // The interval runs from one probe's start to the next one's, as Docker's ticker does.
  return Math.max(0.01, nextDelay(check, updated, updated.health) / 1e9 - (Date.now() - probeStart) / 1000);
}

async function probe(
  context: ContainerContext,
  record: ContainerRecord,
  check: Check,
): Promise<HealthLogEntry> {
  const start = formatRfc3339Nano(nowNanos());
  const finish = (exitCode: number, output: string): HealthLogEntry => ({
    Start: start,
    End: formatRfc3339Nano(nowNanos()),
    ExitCode: exitCode,
    Output: output,
  });
  try {
    const spec = JSON.parse(
      await readFile(containerPaths(context.root, record.id).configJson, 'utf8'),
    ) as RuntimeSpec;
    const args = check.shell ? ['/bin/sh', '-c', check.test[0]!] : check.test;
    const processSpec = buildExecProcess(spec.process, { args });
    const driver = await context.driver(record.runtime);
    const session = await driver.exec(record.id, processSpec, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let size = 0;
    const collect = (chunk: Buffer) => {
      if (size >= MAX_OUTPUT) return;
      const piece = chunk.subarray(0, MAX_OUTPUT - size);
      chunks.push(piece);
      size += piece.length;
    };
    session.child.stdout?.on('data', collect);
    session.child.stderr?.on('data', collect);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      // runc forwards SIGTERM to the probe; SIGKILL ends runc itself if the probe ignores it.
      session.child.kill('SIGTERM');
      setTimeout(() => session.child.kill('SIGKILL'), 1000).unref();
    }, check.timeout / 1e6);
    let code: number;
    try {
      code = await session.exitCode;
    } finally {
      clearTimeout(timer);
    }
    if (timedOut) return finish(-1, `Health check exceeded timeout (${formatGoDuration(check.timeout)})`);
    return finish(code, Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    return finish(-1, error instanceof Error ? error.message : String(error));
  }
}
