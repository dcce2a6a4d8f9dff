// `remove(key, { background: true })`: it resolves once the row is gone and the directory renamed
// to `rm-PID-...`; the files go afterwards, in this process, or, when the process dies first, in
// the sweep of the next `open`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { NotFoundError } from '../../../src/errors/index.ts';
import { OverlaySnapshotter } from '../../../src/snapshot/overlay/overlay-snapshotter.ts';
import { settleBackgroundDeletes } from '../../../src/util/background-delete.ts';

const execFileAsync = promisify(execFile);
const projectDir = fileURLToPath(new URL('../../../', import.meta.url));

/** The writable directory of active snapshot `key` (a bind mount's source without a parent). */
async function upperOf(sn: OverlaySnapshotter, key: string): Promise<string> {
  const [mount] = await sn.mounts(key);
  const upper =
    mount?.type === 'bind'
      ? mount.source
      : mount?.options.find((o) => o.startsWith('upperdir='))?.slice('upperdir='.length);
  assert.ok(upper, `an upperdir in ${JSON.stringify(mount)}`);
  return upper;
}

async function fill(dir: string, files: number): Promise<void> {
  for (let d = 0; d < files / 100; d++) {
    await mkdir(join(dir, `d${d}`), { recursive: true });
    await Promise.all(
      Array.from({ length: 100 }, (_, f) => writeFile(join(dir, `d${d}`, `f${f}`), 'x'.repeat(64))),
    );
  }
}

// Runs in a child that is killed right after the remove resolves, its delete under way.
const CHILD = `
import { OverlaySnapshotter } from '${projectDir}src/snapshot/overlay/overlay-snapshotter.ts';
const [root] = process.argv.slice(2);
const sn = await OverlaySnapshotter.open(root);
await sn.remove('doomed', { volatile: true, background: true });
process.kill(process.pid, 'SIGKILL');
`;

describe('background snapshot removal', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-sn-bgrm-'));
  });
  after(async () => {
    await settleBackgroundDeletes();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('answers once the row is gone and the directory renamed, then deletes the files', async () => {
    const root = join(dir, 'a');
    const sn = await OverlaySnapshotter.open(root);
    try {
      await sn.prepare('layer', undefined, { volatile: true });
      const upper = await upperOf(sn, 'layer');
      await fill(upper, 500);
      const before = await readdir(join(root, 'snapshots'));
      await sn.remove('layer', { volatile: true, background: true });
      await assert.rejects(sn.stat('layer'), NotFoundError);
      const now = await readdir(join(root, 'snapshots'));
      assert.ok(
        before.filter((name) => /^\d+$/.test(name)).every((name) => !now.includes(name)),
        `the snapshot's directory is renamed away at once: ${now}`,
      );
      await settleBackgroundDeletes();
      assert.deepEqual(await readdir(join(root, 'snapshots')), [], 'nothing left once the deletes settle');
    } finally {
      sn.close();
    }
  });

  it("leaves a killed process's half-deleted snapshot to the next open's sweep", async () => {
    const root = join(dir, 'b');
    const sn = await OverlaySnapshotter.open(root);
    try {
      await sn.prepare('doomed', undefined, { volatile: true });
      await fill(await upperOf(sn, 'doomed'), 3000);
    } finally {
      sn.close();
    }
    const script = join(dir, 'child.mts');
    await writeFile(script, CHILD);
    await execFileAsync(process.execPath, ['--import', 'tsx', script, root], {
      cwd: projectDir,
      timeout: 60_000,
    }).catch((error: { signal?: string }) => {
      assert.equal(error.signal, 'SIGKILL', `the child dies by its own SIGKILL: ${String(error)}`);
    });
    const left = await readdir(join(root, 'snapshots'));
    // 3,000 files outlast the moment between the answer and the kill
    assert.equal(left.length, 1, `the renamed directory is left: ${left}`);
    assert.match(left[0]!, /^rm-\d+-/);
    const reopened = await OverlaySnapshotter.open(root);
    try {
      await assert.rejects(reopened.stat('doomed'), NotFoundError);
      assert.deepEqual(await readdir(join(root, 'snapshots')), [], "the open's sweep deleted the rest");
    } finally {
      reopened.close();
    }
  });
});
