// Reading CRI log files as conmon writes them: whole lines from fragments, tail, since/until,
// following a growing file (and a fresh file at rotation), and a live container's `logs -f`.
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stopContainer, waitForExit } from '../../../src/runtime/conmon.ts';
import { type LogEntry, readContainerLog } from '../../../src/runtime/logs.ts';
import {
  makeRuntimeFixture,
  type RuntimeFixture,
  runtimeTestsSkipReason,
} from '../../helpers/runtime-fixture.ts';

const T = (second: number) => `2024-05-01T10:00:${String(second).padStart(2, '0')}.000000001+02:00`;
const record = (second: number, stream: string, tag: string, text: string) =>
  `${T(second)} ${stream} ${tag} ${text}\n`;

async function collect(iterable: AsyncIterable<LogEntry>): Promise<LogEntry[]> {
  const entries: LogEntry[] = [];
  for await (const entry of iterable) entries.push(entry);
  return entries;
}

describe('CRI log files', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-logs-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('joins fragments per stream, filters by time and stream, and tails', async () => {
    const path = join(dir, 'a.log');
    await writeFile(
      path,
      record(1, 'stdout', 'F', 'one') +
        record(2, 'stdout', 'P', 'tw') +
        record(2, 'stderr', 'F', 'err-a') +
        record(3, 'stdout', 'F', 'o') +
        record(4, 'stderr', 'F', 'err-b') +
        'not a record\n' +
        record(5, 'stdout', 'F', 'five with  spaces') +
        record(6, 'stdout', 'F', ''),
    );
    const all = await collect(readContainerLog(path));
    assert.deepEqual(
      all.map((e) => [e.stream, e.text]),
      [
        ['stdout', 'one'],
        ['stderr', 'err-a'],
        ['stdout', 'two'],
        ['stderr', 'err-b'],
        ['stdout', 'five with  spaces'],
        ['stdout', ''],
      ],
    );
    // A joined line carries its first fragment's time; 10:00:02+02:00 is 08:00:02Z.
    assert.equal(all[2]!.timestamp, BigInt(Date.parse('2024-05-01T08:00:02Z')) * 1_000_000n + 1n);
    const tail = await collect(readContainerLog(path, { tail: 2 }));
    assert.deepEqual(
      tail.map((e) => e.text),
      ['five with  spaces', ''],
    );
    const since = await collect(
      readContainerLog(path, {
        since: new Date('2024-05-01T08:00:03Z'),
        until: new Date('2024-05-01T08:00:05Z'),
      }),
    );
    assert.deepEqual(
      since.map((e) => e.text),
      ['err-b'],
    );
    const stderr = await collect(readContainerLog(path, { stdout: false }));
    assert.deepEqual(
      stderr.map((e) => e.text),
      ['err-a', 'err-b'],
    );
    const fragments = await collect(readContainerLog(path, { fragments: true, stderr: false, tail: 4 }));
    assert.deepEqual(
      fragments.map((e) => [e.text, e.partial]),
      [
        ['tw', true],
        ['o', false],
        ['five with  spaces', false],
        ['', false],
      ],
    );
    await assert.rejects(collect(readContainerLog(join(dir, 'missing.log'))), { name: 'NotFoundError' });
  });

  it('follows a growing file, through a fresh file at rotation, until told to stop', async () => {
    const path = join(dir, 'b.log');
    await writeFile(path, record(1, 'stdout', 'F', 'old'));
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => {
      stop = resolve;
    });
    const seen: string[] = [];
    const arrival: number[] = [];
    const reading = (async () => {
      for await (const entry of readContainerLog(path, { follow: true, tail: 0, stop: stopped })) {
        seen.push(entry.text);
        arrival.push(Date.now());
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const written = Date.now();
    await appendFile(path, record(2, 'stdout', 'F', 'new'));
    while (seen.length < 1 && Date.now() - written < 3000)
      await new Promise((resolve) => setTimeout(resolve, 5));
    assert.deepEqual(seen, ['new']);
    assert.ok(arrival[0]! - written < 1000, `a new line arrives within 1 s (${arrival[0]! - written} ms)`);
    // conmon's rotation: the old file gets a last line, then a new file is renamed over it.
    await appendFile(path, record(3, 'stdout', 'P', 'half-'));
    await writeFile(`${path}.tmp`, record(4, 'stdout', 'F', 'after rotation'));
    await rename(`${path}.tmp`, path);
    await new Promise((resolve) => setTimeout(resolve, 600));
    await appendFile(path, record(5, 'stdout', 'F', 'more'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    stop();
    await reading;
    assert.deepEqual(seen, ['new', 'half-after rotation', 'more']);
  });
});

const skip = await runtimeTestsSkipReason();

describe('a live container log', { skip }, () => {
  let fixture: RuntimeFixture;
  before(async () => {
    fixture = await makeRuntimeFixture();
  });
  after(async () => {
    await fixture?.cleanup();
  });

  it('shows each new line within a second with follow, and ends when the container exits', async () => {
    const c = await fixture.run({
      args: ['sh', '-c', 'i=0; while [ $i -lt 4 ]; do echo "tick $i"; i=$((i+1)); sleep 0.3; done'],
    });
    const exited = waitForExit(c.location, { signal: AbortSignal.timeout(20_000) });
    const lags: number[] = [];
    const lines: string[] = [];
    for await (const entry of readContainerLog(c.logPath, { follow: true, stop: exited })) {
      lags.push(Date.now() - Number(entry.timestamp / 1_000_000n));
      lines.push(entry.text);
    }
    assert.deepEqual(lines, ['tick 0', 'tick 1', 'tick 2', 'tick 3']);
    assert.ok(Math.max(...lags.slice(1)) < 1000, `lags ${lags.join(', ')} ms`);
    assert.equal((await exited).exitCode, 0);
    await fixture.driver.delete(c.id);
  });

  it('rotates at --log-size-max and keeps following', async () => {
    const c = await fixture.run(
      {
        args: [
          'sh',
          '-c',
          'i=0; while [ $i -lt 30 ]; do echo "line $i padding padding padding"; i=$((i+1)); sleep 0.02; done; sleep 1000',
        ],
      },
      { logSizeMax: 1000 },
    );
    const controller = new AbortController();
    const lines: string[] = [];
    const reading = (async () => {
      for await (const entry of readContainerLog(c.logPath, {
        follow: true,
        signal: controller.signal,
        pollMs: 50,
      })) {
        lines.push(entry.text);
        if (entry.text.startsWith('line 29')) controller.abort();
      }
    })();
    await reading;
    assert.equal(lines.at(-1), 'line 29 padding padding padding');
    assert.ok(lines.length >= 20, `most lines were seen across rotations (${lines.length})`);
    await stopContainer(c.location, fixture.driver, { timeoutMs: 0 });
    await fixture.driver.delete(c.id);
  });
});
