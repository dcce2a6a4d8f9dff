// A CLI command's background deletes (src/util/background-delete.ts deleteAfterExit): handed to
// one detached `rm` when the process has nothing left to do, so it ends without waiting for them;
// that `rm` never crosses into another file system mounted in the trash.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { randomHex } from '../../../src/util/random-hex.ts';
import { projectRoot } from '../../helpers/wharf.ts';

const isRoot = process.getuid?.() === 0;
const moduleUrl = new URL('../../../src/util/background-delete.ts', import.meta.url).href;

/** Runs a node process that deletes `paths` in the background the way a CLI command does. */
function deleteFromCommand(paths: string[]): { status: number | null; stderr: string } {
  const code = `import('${moduleUrl}').then(({ deleteAfterExit, deleteInBackground }) => {
    deleteAfterExit();
    for (const path of ${JSON.stringify(paths)}) deleteInBackground(path);
  });`;
  const result = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], {
    cwd: projectRoot,
    encoding: 'utf8',
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

describe('random hex', () => {
  it('gives fresh names of the asked length', () => {
    const names = new Set(Array.from({ length: 200 }, () => randomHex(6)));
    assert.equal(names.size, 200);
    for (const name of names) assert.match(name, /^[0-9a-f]{12}$/);
    assert.match(randomHex(32), /^[0-9a-f]{64}$/);
  });
});
