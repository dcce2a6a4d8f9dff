/**
 * The pool keeper (pool-keeper.ts) on its own, in a temp directory: one long-lived process runs
 * the commands every send hands it (no process per command), marks a spare made or failed, exits
 * once idle, stops on request; while one holds the lock a second process runs only its own
 * commands and leaves the keeper alone. Namespaces are named wt-keeper-* (outside every root's
 * sweep pattern) and deleted after each test.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { deleteCommand, makeCommand, PoolKeeper } from '../../../src/container/network/pool-keeper.ts';
import { isProcessAlive } from '../../../src/util/process-alive.ts';
import { netnsMissing, run, waitFor } from './netns-fixture.ts';

const skip = netnsMissing();

describe('pool keeper', { skip }, () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  async function keeperDir(idleSeconds?: number): Promise<{ dir: string; keeper: PoolKeeper }> {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-keeper-'));
    const keeper = new PoolKeeper(dir, idleSeconds === undefined ? {} : { idleSeconds });
    cleanups.push(async () => {
      await keeper.stop();
      await rm(dir, { recursive: true, force: true });
    });
    return { dir, keeper };
  }

  function namespace(): string {
    const name = `wt-keeper-${randomBytes(4).toString('hex')}`;
    cleanups.push(async () => {
      run('ip', ['netns', 'del', name]);
    });
    return name;
  }

  it('runs every command in one process, marks spares made or failed, and stops on request', async () => {
    const { dir, keeper } = await keeperDir();
    const good = namespace();
    const pid = keeper.send([makeCommand(good, { host: `netns add ${good}\n`, inside: 'link set lo up\n' })]);
    assert.ok(pid > 0);
    assert.ok(await waitFor(() => existsSync(join(dir, `${good}.ready`))), 'the spare is marked made');
    assert.ok(existsSync(`/run/netns/${good}`));
    assert.match(run('ip', ['-n', good, 'link', 'show', 'lo']).out, /state UNKNOWN|UP/);
    assert.equal(keeper.pid(), pid, 'the process that ran it stays, as the keeper');

    const bad = namespace();
    const again = keeper.send([
      makeCommand(bad, {
        host: `link add ${bad.slice(0, 12)} type no-such-kind\n`,
        inside: 'link set lo up\n',
      }),
      deleteCommand(good, `netns del ${good}\n`),
    ]);
    assert.equal(again, pid, 'the next commands go to the same process');
    assert.ok(await waitFor(() => existsSync(join(dir, `${bad}.failed`))), 'a failed spare is marked');
    assert.equal(existsSync(join(dir, `${bad}.ready`)), false);
    assert.ok(await waitFor(() => !existsSync(`/run/netns/${good}`)), 'the namespace is deleted');

    await keeper.stop();
    assert.equal(isProcessAlive(pid), false, 'stop waits for it to exit');
    assert.equal(keeper.pid(), 0);
  });

  it('exits once idle; the next send starts another', async () => {
    const { keeper } = await keeperDir(1);
    const name = namespace();
    const first = keeper.send([deleteCommand(name, `netns del ${name}\n`)]);
    assert.ok(first > 0);
    assert.ok(await waitFor(() => keeper.pid() === first), 'it becomes the keeper');
    assert.ok(await waitFor(() => !isProcessAlive(first), 5000), 'it exits after a second without commands');
    assert.equal(keeper.pid(), 0);
    const second = keeper.send([
      makeCommand(name, { host: `netns add ${name}\n`, inside: 'link set lo up\n' }),
    ]);
    assert.ok(second > 0 && second !== first);
    assert.ok(await waitFor(() => existsSync(`/run/netns/${name}`)));
  });

  it('leaves the keeper alone when a second process finds the lock taken', async () => {
    const { dir, keeper } = await keeperDir();
    const name = namespace();
    const first = keeper.send([deleteCommand(name, `netns del ${name}\n`)]);
    assert.ok(await waitFor(() => keeper.pid() === first));
    // a sender that missed the keeper (its pid unreadable) starts a process of its own
    writeFileSync(join(dir, 'keeper.pid'), '');
    const second = keeper.send([
      makeCommand(name, { host: `netns add ${name}\n`, inside: 'link set lo up\n' }),
    ]);
    assert.ok(second > 0 && second !== first);
    assert.ok(await waitFor(() => existsSync(join(dir, `${name}.ready`))), 'it ran its command');
    assert.ok(await waitFor(() => !isProcessAlive(second)), 'and exited');
    assert.ok(isProcessAlive(first), 'the keeper still runs');
    assert.equal(readFileSync(join(dir, 'keeper.pid'), 'utf8'), '', 'its pid file was left as it was');
    writeFileSync(join(dir, 'keeper.pid'), `${first}\n`);
    assert.equal(keeper.send([deleteCommand(name, `netns del ${name}\n`)]), first);
    assert.ok(await waitFor(() => !existsSync(`/run/netns/${name}`)));
  });

  it('refuses commands that would not fit one atomic line', () => {
    assert.throws(() => deleteCommand('bad name', 'netns del x\n'), /Cannot name namespace/);
    assert.throws(() => deleteCommand('ok', 'link del a;b\n'), /holds ";"/);
    assert.throws(() => deleteCommand('ok', `${'link del x\n'.repeat(500)}`), /4 KiB/);
  });
});
