// A removed container's directory is renamed into `containers/rm-PID-...` (its path is free at
// once) and deleted in the background; trash that a dead process left is swept.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { containerPaths, containersDir } from '../../../src/container/container-paths.ts';
import { moveToTrash, sweepContainerTrash } from '../../../src/container/container-trash.ts';
import { deleteInBackground, settleBackgroundDeletes } from '../../../src/util/background-delete.ts';

/** The pid of a process that has exited (reaped). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

async function makeDir(dir: string): Promise<void> {
  await mkdir(join(dir, 'bundle'), { recursive: true });
  await writeFile(join(dir, 'bundle', 'config.json'), '{}');
  await writeFile(join(dir, 'ctr.log'), 'line\n');
}

describe('container trash', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'wharf-ctr-trash-'));
  });
  after(async () => {
    await settleBackgroundDeletes();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("frees a container's path at once and deletes the files in the background", async () => {
    const id = 'a'.repeat(64);
    const paths = containerPaths(root, id);
    await makeDir(paths.dir);
    const trash = await moveToTrash(root, paths.dir);
    assert.ok(trash, 'the directory was there');
    assert.ok(trash.startsWith(join(containersDir(root), `rm-${process.pid}-`)), trash);
    assert.ok(!(await readdir(containersDir(root))).includes(id), 'the container path is gone');
    deleteInBackground(trash);
    await settleBackgroundDeletes();
    assert.deepEqual(await readdir(containersDir(root)), []);
    assert.equal(await moveToTrash(root, paths.dir), undefined, 'a missing directory is no error');
  });

  it('sweeps the trash of dead processes only', async () => {
    const dead = join(containersDir(root), `rm-${deadPid()}-0123abcd`);
    const live = join(containersDir(root), `rm-${process.pid}-4567ef01`);
    const kept = containerPaths(root, 'b'.repeat(64)).dir;
    for (const dir of [dead, live, kept]) await makeDir(dir);
    await sweepContainerTrash(root);
    await settleBackgroundDeletes();
    // the live process's trash and a container's directory stay; the dead one's goes
    assert.deepEqual(
      (await readdir(containersDir(root))).sort(),
      [`rm-${process.pid}-4567ef01`, 'b'.repeat(64)].sort(),
    );
    await rm(live, { recursive: true });
    await rm(kept, { recursive: true });
  });

  it('is a no-op without a containers directory', async () => {
    await sweepContainerTrash(join(root, 'nowhere'));
  });
});
