// What the fast run path must keep true: an `--rm` container's writable layer is a volatile
// overlay (no sync of the host filesystem at its unmount) and a kept container's is not; a
// volatile overlay's mark (work/incompat/volatile, which makes the kernel refuse the next mount)
// never outlives the unmount, and one a crash left does not stop a start; nothing stays mounted
// after an exit, and an `--rm` container's exit command unmounts at once, before the exit's
// handling; crun's compiled seccomp filter is kept once per root and reused.
import assert from 'node:assert/strict';
import { access, mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type ContainerFixture,
  containerTestsSkipReason,
  eventually,
  makeContainerFixture,
} from './helpers.ts';

const skip = await containerTestsSkipReason();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Mount points under the fixture's root now. */
async function mountsUnder(root: string): Promise<string[]> {
  return (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point.startsWith(`${root}/`));
}

describe('the run path', { skip }, () => {
  let fx: ContainerFixture;
  before(async () => {
    fx = await makeContainerFixture();
  });
  after(async () => {
    await fx?.cleanup();
  });

  it('mounts --rm containers volatile, kept ones not, and leaves nothing mounted', async () => {
    const rootLine = ['sh', '-c', "grep ' / / ' /proc/self/mountinfo"];
    assert.match(await fx.ok(['run', '--rm', '--network', 'none', 'busybox', ...rootLine]), /volatile/);
    assert.doesNotMatch(
      await fx.ok(['run', '--name', 'kept', '--network', 'none', 'busybox', ...rootLine]),
      /volatile/,
    );
    assert.deepEqual(await mountsUnder(fx.root), []);
    // a kept container mounts again at its next start
    assert.doesNotMatch(await fx.ok(['start', '-a', 'kept']), /volatile/);
    assert.deepEqual(await mountsUnder(fx.root), []);
    await fx.ok(['rm', 'kept']);
  });

  it('starts an --rm container whose layer carries a crash’s volatile mark, and removes it', async () => {
    const id = await fx.ok(['create', '--rm', '--network', 'none', 'busybox', 'echo', 'fine']);
    const workdir = await fx.ok(['inspect', '-f', '{{.GraphDriver.Data.WorkDir}}', id]);
    assert.ok(workdir.startsWith(fx.root), `work dir ${workdir}`);
    await mkdir(join(workdir, 'work', 'incompat', 'volatile', 'dirty'), { recursive: true });
    assert.equal(await fx.ok(['start', '-a', id]), 'fine');
    for (let i = 0; i < 50 && (await fx.ok(['ps', '-aq'])) !== ''; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(await fx.ok(['ps', '-aq']), '', 'removed after its exit');
    assert.deepEqual(await mountsUnder(fx.root), []);
  });

  it("unmounts an --rm container's layer from its exit command, before the exit's handling", async () => {
    // The foreground `run`, which would handle the exit, is killed: conmon's exit command is
    // left, which unmounts at once and runs the cleanup only after the run's one-second delay.
    const run = fx.spawn(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'sleep 1']);
    try {
      const exists = (path: string) =>
        access(path).then(
          () => true,
          () => false,
        );
      // running: the init the runtime wrote the pid of runs the container's command
      const id = await eventually(async () => {
        const [name] = await readdir(join(fx.root, 'containers')).catch(() => []);
        if (!name) return undefined;
        const pid = await readFile(join(fx.root, 'containers', name, 'userdata', 'pidfile'), 'utf8');
        const cmdline = await readFile(`/proc/${pid.trim()}/cmdline`, 'utf8');
        return cmdline.includes('sleep') ? name : undefined; // `sh -c` or the `sleep` it execs
      }, 'the container to run');
      const rootfs = join(fx.root, 'containers', id, 'rootfs');
      assert.ok((await mountsUnder(fx.root)).includes(rootfs));
      run.kill('SIGKILL');
      const exitFile = join(fx.root, 'runtime', 'exits', id);
      for (let i = 0; i < 500 && !(await exists(exitFile)); i++) await sleep(20);
      assert.ok(await exists(exitFile), 'the container exited');
      let unmounted = false;
      for (let i = 0; i < 35 && !unmounted; i++) {
        unmounted = !(await mountsUnder(fx.root)).includes(rootfs);
        if (!unmounted) await sleep(20);
      }
      assert.ok(unmounted, 'unmounted within 0.7 s of the exit');
      assert.ok(await exists(join(fx.root, 'containers', id)), 'before the cleanup removed the container');
      await eventually(
        async () => ((await exists(join(fx.root, 'containers', id))) ? undefined : true),
        'the exit command to remove the container',
        20_000,
      );
      assert.deepEqual(await mountsUnder(fx.root), []);
    } finally {
      run.kill('SIGKILL');
    }
  });

  it('keeps one compiled seccomp filter per profile when the runtime is crun', async (t) => {
    const runtime = await fx.ok(['info', '-f', '{{.DefaultRuntime}}']);
    if (runtime !== 'crun') {
      t.skip(`the default runtime is ${runtime}: only crun takes a compiled filter`);
      return;
    }
    for (let i = 0; i < 2; i++) await fx.ok(['run', '--rm', '--network', 'none', 'busybox', 'true']);
    const kept = await readdir(join(fx.root, 'runtime', 'seccomp'));
    assert.equal(kept.filter((name) => name.endsWith('.bpf')).length, 1);
    // the filter still confines: the default profile refuses unshare(2)
    const out = await fx.wharf(['run', '--rm', '--network', 'none', 'busybox', 'unshare', '-U', 'true']);
    assert.notEqual(out.code, 0);
    assert.match(out.stderr + out.stdout, /Operation not permitted/);
  });
});
