// Container records in a real wharf.db: lookup by id, name and prefix as Docker, name conflicts,
// compare-and-set updates through the state machine, the cross-process lock, and events.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { withContainerLock } from '../../../src/container/container-lock.ts';
import {
  CONTAINER_MIGRATIONS,
  type ContainerRecord,
  ContainerRecords,
} from '../../../src/container/container-records.ts';
import { transition } from '../../../src/container/container-state.ts';
import { defaultHostConfig } from '../../../src/container/docker-types.ts';
import { type MetadataDatabase, openMetadataDatabase } from '../../../src/metadata/database.ts';

function record(id: string, name: string): ContainerRecord {
  return {
    id,
    name,
    imageId: 'sha256:image',
    definition: {
      Config: { Image: 'busybox' },
      HostConfig: defaultHostConfig(),
      Path: 'true',
      Args: [],
      Created: new Date().toISOString(),
      ImageId: 'sha256:image',
      SnapshotKey: `container-${id}`,
      CgroupsPath: `/wharf/${id}`,
    },
    state: 'created',
    generation: 0,
    cleanedGeneration: 0,
    pid: 0,
    conmonPid: 0,
    exitCode: 0,
    oomKilled: false,
    error: '',
    startedAt: '',
    finishedAt: '',
    restartCount: 0,
    manuallyStopped: false,
    health: undefined,
    healthPid: 0,
    runtime: '',
  };
}

describe('container records', () => {
  let dir: string;
  let db: MetadataDatabase;
  let records: ContainerRecords;
  const a = `abc1${'0'.repeat(60)}`;
  const b = `abc2${'0'.repeat(60)}`;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-ctr-records-'));
    db = openMetadataDatabase(dir, { migrations: CONTAINER_MIGRATIONS });
    records = new ContainerRecords(db);
    records.insert(record(a, 'alpha'), Date.now());
    records.insert(record(b, 'beta'), Date.now() + 1);
  });
  after(async () => {
    db?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('finds containers by id, name and unique prefix', () => {
    assert.equal(records.find(a).name, 'alpha');
    assert.equal(records.find('beta').id, b);
    assert.equal(records.find('/beta').id, b);
    assert.equal(records.find('abc2').id, b);
    assert.throws(() => records.find('abc'), { message: 'Multiple IDs found with provided prefix: abc' });
    assert.throws(() => records.find('nope'), { name: 'NotFoundError', message: 'No such container: nope' });
    assert.deepEqual(
      records.list().map((r) => r.name),
      ['beta', 'alpha'],
    );
  });

  it('refuses a taken name, at insert and at rename', () => {
    assert.throws(() => records.insert(record(`ff${'0'.repeat(62)}`, 'alpha'), Date.now()), {
      name: 'ConflictError',
      message: /The container name "\/alpha" is already in use by container "abc1/,
    });
    assert.throws(() => records.update(b, () => ({ name: 'alpha' })), { name: 'ConflictError' });
  });

  it('applies state changes as compare-and-set updates', () => {
    const started = records.update(a, (current) => ({ state: transition(current.state, 'start'), pid: 42 }));
    assert.equal(started.state, 'running');
    assert.equal(records.get(a)?.pid, 42);
    assert.throws(() => records.update(a, (current) => ({ state: transition(current.state, 'unpause') })), {
      name: 'ConflictError',
    });
    assert.equal(records.get(a)?.state, 'running');
    records.update(a, () => ({ health: { Status: 'healthy', FailingStreak: 0, Log: [] }, oomKilled: true }));
    assert.deepEqual(records.get(a)?.health, { Status: 'healthy', FailingStreak: 0, Log: [] });
    assert.equal(records.get(a)?.oomKilled, true);
    assert.deepEqual(records.usingImage('sha256:image'), [
      { id: a, running: true },
      { id: b, running: false },
    ]);
  });

  it('locks a container across processes, and frees the lock of a dead holder', async () => {
    let inner = false;
    await withContainerLock(records, a, async () => {
      // Re-entrant within this process.
      await withContainerLock(records, a, async () => {
        inner = true;
      });
      assert.equal(records.tryLock(a), true);
    });
    assert.ok(inner);
    // A lock held by a process that is gone is free.
    db.sql.prepare('UPDATE containers SET lock_owner = ? WHERE id = ?').run('999999999:123', a);
    assert.equal(records.tryLock(a), true);
    records.unlock(a);
    // A lock held by a live other process is not.
    const other = `1:${(await import('node:fs')).readFileSync('/proc/1/stat', 'utf8').split(') ')[1]!.split(' ')[19]}`;
    db.sql.prepare('UPDATE containers SET lock_owner = ? WHERE id = ?').run(other, b);
    assert.equal(records.tryLock(b), false);
    await assert.rejects(
      withContainerLock(records, b, async () => undefined, { timeoutMs: 100 }),
      { name: 'UnavailableError' },
    );
    db.sql.prepare('UPDATE containers SET lock_owner = NULL WHERE id = ?').run(b);
  });

  it('stores events with nanosecond times and reads them in order', () => {
    const before = records.lastEventSeq();
    records.addEvent({
      timeNano: 1714557600123456789n,
      type: 'container',
      action: 'start',
      actorId: a,
      attributes: { name: 'alpha' },
    });
    records.addEvent({
      timeNano: 1714557601000000000n,
      type: 'container',
      action: 'die',
      actorId: a,
      attributes: { exitCode: '0' },
    });
    const events = records.events({ afterSeq: before });
    assert.deepEqual(
      events.map((e) => [e.action, e.timeNano]),
      [
        ['start', 1714557600123456789n],
        ['die', 1714557601000000000n],
      ],
    );
    assert.equal(records.events({ afterSeq: before, sinceNano: 1714557600500000000n }).length, 1);
  });
});
