import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LocalContentStore } from '../../../src/content/local-content-store.ts';
import { runContentStoreSuite } from '../../../src/content/testsuite.ts';
import { SqliteContentReferences } from '../../../src/metadata/content-references.ts';
import { openMetadataDatabase } from '../../../src/metadata/database.ts';
import { LeaseStore } from '../../../src/metadata/lease-store.ts';

async function openStore(root: string) {
  const db = openMetadataDatabase(root);
  const leases = new LeaseStore(db);
  const store = await LocalContentStore.open(root, new SqliteContentReferences(db, leases));
  return { db, leases, store };
}

runContentStoreSuite('LocalContentStore', async () => {
  const root = await mkdtemp(join(tmpdir(), 'wharf-content-'));
  const { db, leases, store } = await openStore(root);
  return {
    store,
    createLease: () => leases.create().id,
    releaseLease: (id) => leases.delete(id),
    cleanup: async () => {
      db.close();
      await rm(root, { recursive: true, force: true });
    },
  };
});

describe('LocalContentStore on disk', () => {
  const roots: string[] = [];
  after(async () => {
    for (const root of roots) await rm(root, { recursive: true, force: true });
  });

  it('keeps blobs under blobs/sha256/<hex> and sweeps temp files of dead processes at open', async () => {
    const root = await mkdtemp(join(tmpdir(), 'wharf-content-'));
    roots.push(root);
    const first = await openStore(root);
    const { digest } = await first.store.writeBlob('on disk');
    assert.deepEqual(await readdir(join(root, 'content/blobs/sha256')), [digest.slice('sha256:'.length)]);
    first.db.close();

    // a pid that has surely exited: a child we ran and waited for
    const deadPid = spawnSync('true').pid;
    const ingest = join(root, 'content/ingest');
    await writeFile(join(ingest, `.ingest-${deadPid}-0123456789abcdef`), 'half');
    await writeFile(join(ingest, `.ingest-staged-${deadPid}-0123456789abcdef`), 'staged');
    await writeFile(join(ingest, `.ingest-${process.pid}-fedcba9876543210`), 'mine, in progress');
    const second = await openStore(root);
    assert.deepEqual(await readdir(ingest), [`.ingest-${process.pid}-fedcba9876543210`]);
    second.db.close();
  });

  it('drops the leases of dead processes at GC', async () => {
    const root = await mkdtemp(join(tmpdir(), 'wharf-content-'));
    roots.push(root);
    const { db, leases, store } = await openStore(root);
    const deadPid = spawnSync('true').pid!;
    const lease = leases.create({ pid: deadPid });
    const { digest } = await store.writeBlob('held by a dead process', { lease: lease.id });
    const expired = leases.create({ expiresInMs: -1 });
    const other = await store.writeBlob('held by an expired lease', { lease: expired.id });
    const result = await store.garbageCollect();
    assert.deepEqual(new Set(result.removed), new Set([digest, other.digest]));
    assert.deepEqual(leases.list(), []);
    db.close();
  });
});
