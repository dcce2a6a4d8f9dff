// What a container sees, through the real `wharf` binary on the busybox image: its own pids,
// network (only lo with --network none), mounts without host paths, hostname = short id; and what
// it writes: its own writable layer, invisible to the image and to other containers, gone at rm.
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { type ContainerFixture, containerTestsSkipReason, makeContainerFixture } from './helpers.ts';

const skip = await containerTestsSkipReason();

describe('container isolation', { skip }, () => {
  let fx: ContainerFixture;
  before(async () => {
    fx = await makeContainerFixture();
  });
  after(async () => {
    await fx?.cleanup();
  });

  it('runs the command as PID 1 in its own pid, network, mount and uts namespaces', async () => {
    const script = [
      'echo "pid1=$(tr "\\0" " " < /proc/1/cmdline)"',
      'echo "procs=$(ls /proc | grep -E "^[0-9]+$" | tr "\\n" " ")"',
      'echo "links=$(ip -o link | cut -d: -f2 | tr -d " " | tr "\\n" " ")"',
      'echo "hostname=$(hostname)"',
      'echo "etchostname=$(cat /etc/hostname)"',
    ].join('; ');
    const id = await fx.ok(['create', '--network', 'none', 'busybox', 'sh', '-c', script]);
    const result = await fx.wharf(['start', '-a', id]);
    assert.equal(result.code, 0, result.stderr);
    const out = Object.fromEntries(
      result.stdout
        .trim()
        .split('\n')
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1).trim()]),
    );
    assert.match(out.pid1!, /^sh -c /);
    // PID 1 (sh) and the short-lived `ls` (and its pipeline): only the container's processes.
    const pids = out.procs!.split(' ').map(Number);
    assert.ok(pids.includes(1));
    assert.ok(
      pids.every((pid) => pid < 20),
      `unexpected pids ${out.procs}`,
    );
    assert.equal(out.links, 'lo');
    assert.equal(out.hostname, id.slice(0, 12));
    assert.equal(out.etchostname, id.slice(0, 12));
    await fx.ok(['rm', id]);
  });

  it('shows no host path in /proc/mounts', async () => {
    const result = await fx.wharf(['run', '--rm', 'busybox', 'cat', '/proc/mounts']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^overlay \/ overlay /m);
    assert.ok(!result.stdout.includes(fx.root), `host root visible:\n${result.stdout}`);
    assert.ok(!/\/tmp\/|\/var\/lib\/wharf/.test(result.stdout), `host path visible:\n${result.stdout}`);
  });

  it('gives each container its own writable layer, removed with the container', async () => {
    const a = await fx.ok(['run', '-d', 'busybox', 'sh', '-c', 'echo from-a > /etc/shared; sleep 60']);
    const b = await fx.ok(['run', '-d', 'busybox', 'sh', '-c', 'echo from-b > /etc/shared; sleep 60']);
    const read = async (id: string) => {
      for (let i = 0; i < 100; i++) {
        const result = await fx.wharf(['exec', id, 'cat', '/etc/shared']);
        if (result.code === 0) return result.stdout.trim();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`container ${id} never wrote /etc/shared`);
    };
    assert.equal(await read(a), 'from-a');
    assert.equal(await read(b), 'from-b');
    const third = await fx.wharf(['run', '--rm', 'busybox', 'cat', '/etc/shared']);
    assert.notEqual(third.code, 0);
    assert.match(third.stderr + third.stdout, /No such file/);
    const upper = await fx.ok(['inspect', '-f', '{{.GraphDriver.Data.UpperDir}}', a]);
    const lower = await fx.ok(['inspect', '-f', '{{.GraphDriver.Data.LowerDir}}', a]);
    await access(`${upper}/etc/shared`);
    // The image's layers hold no trace of either write.
    for (const dir of lower.split(':')) {
      await assert.rejects(access(`${dir}/etc/shared`));
    }
    await fx.ok(['rm', '-f', a, b]);
    await assert.rejects(access(upper), { code: 'ENOENT' });
    assert.equal(await fx.ok(['ps', '-aq']), '');
  });
});
