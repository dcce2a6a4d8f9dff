/**
 * Who owns a pin, a tombstone or the collector's lease: a process, named by its pid *and* its
 * start time (field 22 of `/proc/<pid>/stat`). A pid alone is not enough: a registry restarted in
 * a container after a kill -9 often gets the same pid back, and would then take its dead
 * predecessor's leftovers for its own live work. Where `/proc` is missing, the pid alone.
 *
 * @example
 * const me = currentProcessIdentity();      // '4242:1234567'
 * isProcessIdentityAlive(me);               // true
 */
import { readFileSync } from 'node:fs';
import { isProcessAlive } from './storage-lock.ts';

function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

let current: string | undefined;

/** `<pid>:<start time>` of this process. */
export function currentProcessIdentity(): string {
  current ??= `${process.pid}:${startTimeOf(process.pid) ?? '0'}`;
  return current;
}

/** Whether the process an identity names is still running (the same process, not a reused pid). */
export function isProcessIdentityAlive(identity: string): boolean {
  if (identity === currentProcessIdentity()) return true;
  const [pidText, start] = identity.split(':');
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  const actual = startTimeOf(pid);
  if (actual !== undefined) return start === '0' || actual === start;
  return isProcessAlive(pid);
}
