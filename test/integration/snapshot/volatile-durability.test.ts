// What `volatile` buys: an `--rm` container's writable layer is made and removed without waiting
// for the disk (no fsync of the snapshot store's WAL), while every other snapshot's commit still
// waits for it. Counted with strace on a child process that does both, between two marker fsyncs.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

function straceSkipReason(): string | undefined {
  for (const dir of ['/usr/bin', '/bin', '/usr/local/bin']) {
    try {
      accessSync(join(dir, 'strace'), constants.X_OK);
      return undefined;
    } catch {
      // not here
    }
  }
  return 'strace is not installed (apt-get install strace)';
}

const skip = straceSkipReason();
const projectSrc = fileURLToPath(new URL('../../../src/', import.meta.url));

// Runs in the traced child: `phase` marks are fsyncs of files named after the phase.
const CHILD = `
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { OverlaySnapshotter } from '${projectSrc}snapshot/overlay/overlay-snapshotter.ts';
const [dir] = process.argv.slice(2);
const mark = (name) => { const fd = openSync(dir + '/mark-' + name, 'w'); fsyncSync(fd); closeSync(fd); };
const sn = await OverlaySnapshotter.open(dir + '/root');
await sn.prepare('base-active');
await sn.commit('base', 'base-active');
mark('volatile');
await sn.prepare('scratch', 'base', { volatile: true });
await sn.remove('scratch', { volatile: true });
mark('durable');
await sn.prepare('kept', 'base');
await sn.remove('kept');
mark('end');
sn.close();
`;

/** WAL fsyncs of the snapshot store between each mark and the next, by the mark's name. */
function walSyncsByPhase(trace: string): Map<string, number> {
  const counts = new Map<string, number>();
  let phase: string | undefined;
  for (const line of trace.split('\n')) {
    const marked = /f(?:data)?sync\(\d+<[^>]*\/mark-([a-z]+)>/.exec(line);
    if (marked) {
      phase = marked[1];
      counts.set(phase!, 0);
    } else if (phase && /f(?:data)?sync\(\d+<[^>]*metadata\.db-wal>/.test(line)) {
      counts.set(phase, (counts.get(phase) ?? 0) + 1);
    }
  }
  return counts;
}

describe('volatile snapshots and the disk', { skip }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-sn-durability-'));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('commits a volatile layer without a WAL fsync, and any other one with', async () => {
    const script = join(dir, 'child.mts'); // an ES module: top-level await
    await writeFile(script, CHILD);
    const traceFile = join(dir, 'trace');
    await execFileAsync(
      'strace',
      [
        '-f',
        '-y',
        '-e',
        'trace=fsync,fdatasync',
        '-o',
        traceFile,
        process.execPath,
        '--import',
        'tsx',
        script,
        dir,
      ],
      { timeout: 60_000, cwd: fileURLToPath(new URL('../../../', import.meta.url)) },
    );
    const phases = walSyncsByPhase(await readFile(traceFile, 'utf8'));
    assert.equal(phases.get('volatile'), 0, 'a volatile prepare and remove sync nothing');
    assert.ok((phases.get('durable') ?? 0) >= 2, `a plain prepare and remove sync the WAL: ${[...phases]}`);
  });
});
