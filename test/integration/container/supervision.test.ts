// Containers outlive the `wharf` process that started them: conmon supervises each run and its
// exit command records the exit, so later processes see the truth (including kill -9 of the init
// and of conmon) and `--rm` containers vanish with no Wharf process alive.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type ContainerFixture,
  containerEvents,
  containerTestsSkipReason,
  eventually,
  makeContainerFixture,
} from './helpers.ts';

const skip = await containerTestsSkipReason();

/** A live process (a zombie is dead: a container whose conmon died has no parent to reap it). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function conmonPid(fx: ContainerFixture, id: string): Promise<number> {
  return Number((await readFile(join(fx.root, 'containers', id, 'userdata', 'conmon.pid'), 'utf8')).trim());
}

/** Processes whose command line mentions this root (exit commands, health loops), conmon aside. */
async function wharfProcesses(fx: ContainerFixture): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ');
    if (cmdline.includes(fx.root) && !cmdline.startsWith('/usr/bin/conmon')) found.push(`${pid}: ${cmdline}`);
  }
  return found;
}

describe('container supervision', { skip }, () => {
  let fx: ContainerFixture;
  before(async () => {
    fx = await makeContainerFixture();
  });
  after(async () => {
    await fx?.cleanup();
  });

  it('keeps a -d container running after wharf exits; later processes see, log and stop it', async () => {
    const id = await fx.ok([
      'run',
      '-d',
      '--name',
      'daemon',
      'busybox',
      'sh',
      '-c',
      'echo hello; exec sleep 300',
    ]);
    // `run -d` has exited (fx.ok waited for it); the container lives on under its conmon.
    const pid = Number(await fx.ok(['inspect', '-f', '{{.State.Pid}}', id]));
    assert.ok(pid > 0 && alive(pid));
    assert.ok(alive(await conmonPid(fx, id)));
    assert.match(await fx.ok(['ps']), /daemon/);
    assert.equal(
      await eventually(async () => (await fx.ok(['logs', 'daemon'])) || undefined, 'logs'),
      'hello',
    );
    await fx.ok(['stop', '-t', '1', 'daemon']);
    assert.ok(!alive(pid));
    assert.match(await fx.ok(['ps', '-a', '--format', '{{.Status}}']), /^Exited \(137\)/);
    await fx.ok(['rm', 'daemon']);
  });

  it('shows Exited (137) after kill -9 of both the init and conmon', async () => {
    const id = await fx.ok(['run', '-d', '--name', 'victim', 'busybox', 'sleep', '300']);
    const pid = Number(await fx.ok(['inspect', '-f', '{{.State.Pid}}', id]));
    const conmon = await conmonPid(fx, id);
    process.kill(conmon, 'SIGKILL');
    process.kill(pid, 'SIGKILL');
    await eventually(async () => (!alive(pid) && !alive(conmon) ? true : undefined), 'the processes to die');
    // exec's fast path (src/engine/exec-service.ts) sees the dead conmon and hands the command to
    // `container exec`, whose lookup reconciles the record: the exit is handled there
    const exec = await fx.wharf(['exec', 'victim', 'true']);
    assert.equal(exec.code, 1);
    assert.match(exec.stderr, /^Error: Container [0-9a-f]{64} is not running\n$/);
    assert.match(
      await fx.ok(['ps', '-a', '--filter', 'name=victim', '--format', '{{.Status}}']),
      /^Exited \(137\)/,
    );
    assert.equal(
      await fx.ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}} {{.State.Pid}}', 'victim']),
      'exited 137 0',
    );
    // Nothing of it is left mounted.
    assert.ok(!(await readFile('/proc/self/mountinfo', 'utf8')).includes(join(fx.root, 'containers', id)));
    await fx.ok(['rm', 'victim']);
  });

  it('keeps a container whose conmon died running, and stops it', async () => {
    const id = await fx.ok(['run', '-d', '--name', 'orphan', 'busybox', 'sleep', '300']);
    const pid = Number(await fx.ok(['inspect', '-f', '{{.State.Pid}}', id]));
    process.kill(await conmonPid(fx, id), 'SIGKILL');
    // handed on by exec's fast path too: the service finds the init alive, so the exec runs
    assert.equal(await fx.ok(['exec', 'orphan', 'echo', 'still here']), 'still here');
    assert.match(await fx.ok(['ps', '--filter', 'name=orphan', '--format', '{{.Status}}']), /^Up /);
    await fx.ok(['stop', '-t', '1', 'orphan']);
    assert.ok(!alive(pid));
    assert.match(await fx.ok(['inspect', '-f', '{{.State.Status}}', 'orphan']), /exited/);
    await fx.ok(['rm', 'orphan']);
  });

  it('removes a --rm -d container when it exits, with no wharf process alive', async () => {
    const id = await fx.ok(['run', '-d', '--rm', 'busybox', 'sh', '-c', 'sleep 1; exit 2']);
    const dir = join(fx.root, 'containers', id);
    await access(dir);
    // No wharf command runs meanwhile: only conmon's exit command can clean up.
    await eventually(
      async () => {
        const exists = await access(dir).then(
          () => true,
          () => false,
        );
        return !exists && (await wharfProcesses(fx)).length === 0 ? true : undefined;
      },
      'the exit command to remove the container',
      20_000,
    );
    assert.ok(!(await readFile('/proc/self/mountinfo', 'utf8')).includes(fx.root));
    assert.equal(await fx.ok(['ps', '-aq']), '');
    assert.deepEqual(await containerEvents(fx, id), ['create', 'start', 'die', 'destroy']);
    // templates see Go's events.Message fields; {{json .}} is the API's JSON, in Go's field order
    const [create] = await containerEvents(fx, id, '{{.Status}} {{.ID}} {{.Time}} {{.TimeNano}} {{.Scope}}');
    const [status, eventId, time, timeNano, scope] = create!.split(' ');
    assert.deepEqual([status, eventId, scope], ['create', id, 'local']);
    assert.equal(BigInt(timeNano!) / 1_000_000_000n, BigInt(time!));
    const [json] = await containerEvents(fx, id, '{{json .}}');
    assert.deepEqual(Object.keys(JSON.parse(json!)), [
      'status',
      'id',
      'from',
      'Type',
      'Action',
      'Actor',
      'scope',
      'time',
      'timeNano',
    ]);
    assert.match(json!, new RegExp(`"timeNano":${timeNano}}$`), 'timeNano to the nanosecond');
  });
});
