// A CLI command's background deletes (src/util/background-delete.ts deleteAfterExit): handed to
// one detached `rm` when the process has nothing left to do, so it ends without waiting for them;
// that `rm` never crosses into another file system mounted in the trash.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { projectRoot } from '../../helpers/wharf.ts';

const isRoot = process.getuid?.() === 0;
const moduleUrl = new URL('../../../src/util/background-delete.ts', import.meta.url).href;

/** Runs a node process that deletes `paths` in the background the way a CLI command does. */
function deleteFromCommand(
  paths: string[],
  env: NodeJS.ProcessEnv = process.env,
): { status: number | null; stderr: string } {
  const code = `import('${moduleUrl}').then(({ deleteAfterExit, deleteInBackground }) => {
    deleteAfterExit();
    for (const path of ${JSON.stringify(paths)}) deleteInBackground(path);
  });`;
  const result = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], {
    cwd: projectRoot,
    encoding: 'utf8',
    env,
  });
  return { status: result.status, stderr: result.stderr };
}

async function gone(path: string, timeoutMs = 5000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (!existsSync(path)) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

describe('deletes handed on at exit', () => {
  const work = mkdtempSync(join(tmpdir(), 'wharf-bg-delete-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  it('end the process, then a detached rm deletes every path', async () => {
    const trees = ['a', 'b'].map((name) => {
      const dir = join(work, `rm-${name}`);
      mkdirSync(join(dir, 'deep', 'er'), { recursive: true });
      writeFileSync(join(dir, 'deep', 'er', 'file'), 'x');
      return dir;
    });
    assert.deepEqual(deleteFromCommand([...trees, join(work, 'missing')]), { status: 0, stderr: '' });
    for (const dir of trees) assert.ok(await gone(dir), `${dir} was not deleted`);
  });

  it('delete a small tree in the process itself, and hand a big one to rm', async () => {
    const small = join(work, 'rm-small');
    mkdirSync(join(small, 'upper', 'etc'), { recursive: true });
    mkdirSync(join(small, 'work', 'work'), { recursive: true });
    for (const name of ['hosts', 'hostname', 'resolv.conf']) writeFileSync(join(small, name), name);
    writeFileSync(join(small, 'upper', 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
    const big = join(work, 'rm-big');
    mkdirSync(big);
    for (let i = 0; i < 300; i++) writeFileSync(join(big, `f${i}`), '');
    const single = join(work, 'rm-file');
    writeFileSync(single, 'x');
    // no rm to be found: what goes is what the process deleted itself, before it ended
    const noTools = mkdtempSync(join(tmpdir(), 'wharf-no-tools-'));
    try {
      const result = deleteFromCommand([small, big, single], { ...process.env, PATH: noTools });
      assert.deepEqual(result, { status: 0, stderr: '' });
      assert.equal(existsSync(small), false, 'the small tree is gone when the process has ended');
      assert.equal(existsSync(single), false, 'so is a single file');
      assert.equal(existsSync(join(big, 'f0')), true, 'a tree over the limit waits for rm');
    } finally {
      rmSync(noTools, { recursive: true, force: true });
    }
    // with rm on PATH the big tree goes too
    assert.deepEqual(deleteFromCommand([big]), { status: 0, stderr: '' });
    assert.ok(await gone(big), `${big} was not deleted`);
  });

  it('never delete into another file system mounted inside a trash directory', {
    skip: !isRoot && 'needs root to mount',
  }, async () => {
    // what a failed unmount would leave in a container's trash: an overlay, a tmpfs...
    const trash = join(work, 'rm-mounted');
    const mountPoint = join(trash, 'mnt');
    mkdirSync(mountPoint, { recursive: true });
    writeFileSync(join(trash, 'own'), 'x');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint]);
    try {
      writeFileSync(join(mountPoint, 'precious'), 'data');
      assert.equal(deleteFromCommand([trash]).status, 0);
      assert.ok(await gone(join(trash, 'own')), 'the trash own file was not deleted');
      await new Promise((resolve) => setTimeout(resolve, 200)); // rm is done with the tree
      assert.equal(existsSync(join(mountPoint, 'precious')), true);
    } finally {
      execFileSync('umount', [mountPoint]);
    }
  });
});
