/**
 * Where a daemon's time goes in a benchmark: the `WHARF_RUN_TRACE=1` lines a `wharf system
 * service` writes on stderr (`[run-trace 1234.5] start: mounted 0123abcd`, src/util/phase-trace.ts),
 * cut into one list per `docker run` and summed up as a timeline: for each phase, the median of
 * its offset from the run's first request, in the order phases usually come.
 *
 * Why it exists: the Engine API benchmark's headline is one figure per run; the timeline says
 * which part of the daemon (the API, the create, the runtime, the exit's handling) holds the time,
 * from the same runs, without a second harness. Container ids are blanked so the same phase of
 * two runs has one name; a phase seen twice in one run is numbered (`umount: begin #2`).
 *
 * @example
 * const runs = traceRuns(service.log(), { first: 'api: HEAD /_ping', keep: 'containers/create' });
 * for (const step of traceTimeline(runs.slice(2))) console.log(step.offsetMs, step.what);
 */

export interface TraceEvent {
  /** Milliseconds since the daemon started. */
  at: number;
  /** What happened, ids blanked (`api: POST /v1.41/containers/ID/start`). */
  what: string;
}

export interface TraceRunsOptions {
  /** The line that opens a run (the docker CLI's first request): `api: HEAD /_ping`. */
  first: string;
  /** Only runs with a line containing this (drops `docker version` polls): `containers/create`. */
  keep?: string;
}

export interface TimelineStep {
  what: string;
  /** Median offset from the run's first line, ms. */
  offsetMs: number;
  /** In how many runs the phase was seen. */
  runs: number;
}

const LINE = /^\[run-trace (\d+(?:\.\d+)?)\] (.*)$/;

/** A phase's name the same in every run: full ids become `ID`, a trailing short id goes. */
function phaseName(text: string): string {
  return text
    .replace(/[0-9a-f]{64}/g, 'ID')
    .replace(/ [0-9a-f]{12}$/, '')
    .trim();
}

/** The trace lines of `log`, one list per run (see TraceRunsOptions). */
export function traceRuns(log: string, options: TraceRunsOptions): TraceEvent[][] {
  const runs: TraceEvent[][] = [];
  let current: TraceEvent[] | undefined;
  for (const line of log.split('\n')) {
    const match = LINE.exec(line);
    if (!match) continue;
    const what = phaseName(match[2]!);
    if (what === options.first) {
      current = [];
      runs.push(current);
    }
    current?.push({ at: Number(match[1]), what });
  }
  const keep = options.keep;
  return keep === undefined ? runs : runs.filter((run) => run.some((event) => event.what.includes(keep)));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/**
 * Each phase seen in at least half the runs, with its median offset from the run's first line,
 * sorted by that offset.
 */
export function traceTimeline(runs: readonly TraceEvent[][]): TimelineStep[] {
  const offsets = new Map<string, number[]>();
  for (const run of runs) {
    const start = run[0]?.at ?? 0;
    const seen = new Map<string, number>();
    for (const event of run) {
      const count = (seen.get(event.what) ?? 0) + 1;
      seen.set(event.what, count);
      const what = count === 1 ? event.what : `${event.what} #${count}`;
      const list = offsets.get(what) ?? [];
      list.push(event.at - start);
      offsets.set(what, list);
    }
  }
  return [...offsets]
    .filter(([, list]) => list.length * 2 >= runs.length)
    .map(([what, list]) => ({ what, offsetMs: median(list), runs: list.length }))
    .sort((a, b) => a.offsetMs - b.offsetMs);
}

/** The timeline as text: offset, the step from the row before, the phase. */
export function formatTimeline(steps: readonly TimelineStep[], indent = '  '): string {
  let before = 0;
  return steps
    .map((step) => {
      const delta = step.offsetMs - before;
      before = step.offsetMs;
      return `${indent}${step.offsetMs.toFixed(1).padStart(7)} ms  +${delta.toFixed(1).padStart(5)}  ${step.what}`;
    })
    .join('\n');
}
