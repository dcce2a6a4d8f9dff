// The run-trace timeline of the Engine API benchmark (bench/helpers/run-trace.ts): a daemon's
// WHARF_RUN_TRACE lines cut into runs at the CLI's first request, ids blanked so runs line up,
// polls without a create dropped, and each phase's median offset in the order phases come.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatTimeline, traceRuns, traceTimeline } from '../../../bench/helpers/run-trace.ts';

const ID_A = 'a'.repeat(64);
const ID_B = 'b'.repeat(64);

function run(start: number, id: string, offsets: { create: number; mounted: number; answered: number }) {
  return [
    `[run-trace ${start.toFixed(1)}] api: HEAD /_ping`,
    `[run-trace ${(start + offsets.create).toFixed(1)}] api: POST /v1.41/containers/create`,
    `[run-trace ${(start + offsets.mounted).toFixed(1)}] start: mounted ${id.slice(0, 12)}`,
    `{"level":30,"msg":"a log line between trace lines"}`,
    `[run-trace ${(start + offsets.mounted + 1).toFixed(1)}] umount: begin`,
    `[run-trace ${(start + offsets.mounted + 2).toFixed(1)}] umount: begin`,
    `[run-trace ${(start + offsets.answered).toFixed(1)}] api: answered POST /v1.41/containers/${id}/wait?condition=removed`,
  ].join('\n');
}

const poll = '[run-trace 5.0] api: HEAD /_ping\n[run-trace 5.4] api: GET /v1.41/version';

describe('traceRuns', () => {
  it('cuts the log at each first request, blanks ids and drops runs without the kept line', () => {
    const log = [
      poll,
      run(10, ID_A, { create: 1, mounted: 5, answered: 20 }),
      run(100, ID_B, { create: 2, mounted: 6, answered: 30 }),
    ].join('\n');
    const runs = traceRuns(log, { first: 'api: HEAD /_ping', keep: '/containers/create' });
    assert.equal(runs.length, 2);
    assert.deepEqual(
      runs[1]!.map((event) => event.what),
      [
        'api: HEAD /_ping',
        'api: POST /v1.41/containers/create',
        'start: mounted',
        'umount: begin',
        'umount: begin',
        'api: answered POST /v1.41/containers/ID/wait?condition=removed',
      ],
    );
    assert.equal(runs[1]![0]!.at, 100);
    assert.equal(traceRuns(log, { first: 'api: HEAD /_ping' }).length, 3);
  });
});

describe('traceTimeline', () => {
  it('gives each phase its median offset, numbers repeats and leaves out rare phases', () => {
    const log = [
      run(0, ID_A, { create: 1, mounted: 5, answered: 20 }),
      run(100, ID_B, { create: 3, mounted: 9, answered: 40 }),
      run(200, ID_A, { create: 2, mounted: 7, answered: 30 }),
      '[run-trace 300.0] api: HEAD /_ping',
      '[run-trace 301.0] api: POST /v1.41/containers/create',
      '[run-trace 302.0] once: only here',
    ].join('\n');
    const steps = traceTimeline(traceRuns(log, { first: 'api: HEAD /_ping' }));
    assert.deepEqual(
      steps.map((step) => [step.what, step.offsetMs, step.runs]),
      [
        ['api: HEAD /_ping', 0, 4],
        ['api: POST /v1.41/containers/create', 2, 4],
        ['start: mounted', 7, 3],
        ['umount: begin', 8, 3],
        ['umount: begin #2', 9, 3],
        ['api: answered POST /v1.41/containers/ID/wait?condition=removed', 30, 3],
      ],
    );
  });

  it('prints each offset with its step from the row before', () => {
    const text = formatTimeline([
      { what: 'api: HEAD /_ping', offsetMs: 0, runs: 3 },
      { what: 'start: mounted', offsetMs: 7.25, runs: 3 },
    ]);
    assert.equal(
      text,
      ['      0.0 ms  +  0.0  api: HEAD /_ping', '      7.3 ms  +  7.3  start: mounted'].join('\n'),
    );
  });
});
