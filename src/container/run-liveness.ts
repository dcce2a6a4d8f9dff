/**
 * Whether a container's run is still what its record says, told without the lifecycle's code:
 * its conmon is alive and has recorded no exit. A reader that only needs a running container
 * (`exec`) checks this first; when it does not hold, the record must be reconciled
 * (container-lifecycle.ts reconcileRecord: the exit handled, hooks run) before anything is done.
 *
 * @example
 * if (!(await runningAsRecorded(root, record))) record = await service.get(record.id);
 */
import { readFileSync } from 'node:fs';
import { readExit } from '../runtime/conmon.ts';
import { containerPaths } from './container-paths.ts';
import type { ContainerRecord } from './container-records.ts';

/** Whether `pid` is the conmon supervising container `id` (its command line names both). */
export async function conmonAlive(pid: number, id: string): Promise<boolean> {
  try {
    // synchronous: a few bytes of procfs, where a thread-pool round trip costs more
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.split('\0')[0]?.endsWith('conmon') === true && cmdline.includes(id);
  } catch {
    return false;
  }
}

/**
 * True when `record` is running, its conmon alive and no exit recorded: the case in which
 * reconcileRecord returns the record unchanged because the run goes on. False says only "ask
 * reconcileRecord", not "not running".
 */
export async function runningAsRecorded(root: string, record: ContainerRecord): Promise<boolean> {
  if (record.state !== 'running' || record.conmonPid === 0) return false;
  const [supervised, exit] = await Promise.all([
    conmonAlive(record.conmonPid, record.id),
    readExit(containerPaths(root, record.id).location),
  ]);
  return supervised && exit === undefined;
}
