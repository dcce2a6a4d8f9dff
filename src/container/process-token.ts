/**
 * A process's identity that survives pid reuse: `<pid>:<start time in clock ticks since boot>`.
 * Container locks record it, so a lock whose holder died (killed `wharf`, reboot) is seen as free.
 *
 * @example
 * const me = processToken(process.pid);   // '4242:1234567'
 * isTokenAlive(me);                        // true
 */
import { readFileSync } from 'node:fs';

/** The token of `pid`, or `<pid>:gone` when there is no such process. */
export function processToken(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime) follows the command name, which sits in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return `${pid}:gone`;
    return `${pid}:${fields[19]}`;
  } catch {
    return `${pid}:gone`;
  }
}

let own: string | undefined;

/** This process's token (computed once). */
export function ownToken(): string {
  own ??= processToken(process.pid);
  return own;
}

/** True while the process a token names is alive (and is the same process). */
export function isTokenAlive(token: string): boolean {
  const pid = Number(token.split(':')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  return processToken(pid) === token;
}
