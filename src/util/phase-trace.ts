/**
 * Timing of the phases of a container's run, for benchmarks and for finding where the time goes:
 * with `WHARF_RUN_TRACE=1`, each call prints one line to stderr, the milliseconds since the
 * process started and what just happened (`[run-trace 1234.5] start: mounted 0123abcd`). Without
 * it, a call costs a comparison.
 *
 * @example
 * tracePhase('start: mounted', id);
 */

const enabled = process.env.WHARF_RUN_TRACE === '1';

/** Prints `what` (and the first 12 characters of `id`) with the time, when tracing is on. */
export function tracePhase(what: string, id?: string): void {
  if (!enabled) return;
  const subject = id === undefined ? '' : ` ${id.slice(0, 12)}`;
  process.stderr.write(`[run-trace ${performance.now().toFixed(1)}] ${what}${subject}\n`);
}
