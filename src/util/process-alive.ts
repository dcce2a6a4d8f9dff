/**
 * Whether a process exists, for the many places that record the pid of a writer, a helper or a
 * lease holder and must tell a crashed one from a live one: signal 0 checks without signalling,
 * and EPERM means it exists under another user. Pids below 1 are never a live process here
 * (`kill(0, 0)` would probe this process group instead).
 *
 * @example
 * isProcessAlive(process.pid); // true
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
