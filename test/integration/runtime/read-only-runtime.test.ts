// The read-only view of the runtime binary (src/runtime/read-only-runtime.ts): made once, a
// read-only bind of the very binary (writes fail), runnable with the environment crun trusts,
// reused rather than stacked, and made again when it disappears.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { readOnlyRuntime } from '../../../src/runtime/read-only-runtime.ts';
import { findExecutable } from '../../../src/runtime/runtime-probe.ts';

const execFileAsync = promisify(execFile);
const crun = await findExecutable('crun');
const skip = process.getuid?.() !== 0 ? 'needs root' : crun ? undefined : 'crun is not installed';

async function mountsAt(path: string): Promise<number> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text.split('\n').filter((line) => line.split(' ')[4] === path).length;
}

/** The per-mount options (`ro` or `rw`, the first of mountinfo's sixth field) of the mounts at `path`. */
async function mountOptionsAt(path: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .map((line) => line.split(' '))
    .filter((fields) => fields[4] === path)
    .map((fields) => (fields[5] ?? '').split(',')[0] ?? '');
}

describe('read-only runtime binary', { skip }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-ro-runtime-'));
  });
  after(async () => {
    if (!dir) return;
    const text = await readFile('/proc/self/mountinfo', 'utf8');
    for (const point of text
      .split('\n')
      .map((line) => line.split(' ')[4] ?? '')
      .filter((point) => point.startsWith(`${dir}/`))
      .reverse()) {
      await execFileAsync('umount', [point]).catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('binds the binary read-only once, runs it, and binds it again when it is gone', async () => {
    const launch = await readOnlyRuntime(crun!, dir);
    assert.ok(launch, 'a view was made');
    assert.equal(launch.env._LIBCONTAINER_CLONED_BINARY, '1');
    const [view, real] = await Promise.all([stat(launch.path), stat(crun!)]);
    assert.equal(view.ino, real.ino, 'the view is the binary itself');
    assert.equal(await mountsAt(launch.path), 1);
    // the mount itself is read-only (opening for writing is no proof: while another process
    // runs crun the open fails with ETXTBSY before the mount is looked at), and writes fail
    assert.deepEqual(await mountOptionsAt(launch.path), ['ro']);
    await assert.rejects(open(launch.path, 'r+'), (error: NodeJS.ErrnoException) =>
      ['EROFS', 'ETXTBSY'].includes(error.code ?? ''),
    );
    const { stdout } = await execFileAsync(launch.path, ['--version'], {
      env: { ...launch.env, PATH: '/bin' },
    });
    assert.match(stdout, /crun version/);

    assert.deepEqual(await readOnlyRuntime(crun!, dir), launch, 'the same view again');
    assert.equal(await mountsAt(launch.path), 1, 'not stacked');

    // unmounted by hand (or a reboot): the plain binary this once, then a new view
    await execFileAsync('umount', [launch.path]);
    assert.equal(await readOnlyRuntime(crun!, dir), undefined);
    const again = await readOnlyRuntime(crun!, dir);
    assert.equal(again?.path, launch.path);
    assert.equal(await mountsAt(launch.path), 1);
  });

  it('makes no view of a script in front of the runtime (nothing to gain, a mount kept until reboot)', async () => {
    const script = join(dir, 'wrapper.sh');
    await writeFile(script, '#!/bin/sh\nexec true\n', { mode: 0o755 });
    assert.equal(await readOnlyRuntime(script, dir), undefined);
    const text = await readFile('/proc/self/mountinfo', 'utf8');
    assert.ok(!text.includes(`${dir}/wrapper.sh-`), 'no mount was made for it');
  });
});
