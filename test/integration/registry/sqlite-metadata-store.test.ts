// The SQLite MetadataStore: the shared suite, plus what is SQLite's own: WAL mode, durability
// across reopening, and a second connection seeing committed writes.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteMetadataStore } from '../../../src/registry/metadata/sqlite-metadata-store.ts';
import { metadataStoreSuite } from './metadata-store-suite.ts';

metadataStoreSuite('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-registry-meta-'));
  const store = SqliteMetadataStore.open(join(dir, 'metadata.db'));
  return {
    store,
    dispose: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('SqliteMetadataStore', () => {
  it('uses WAL and keeps data across reopening', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-registry-meta-'));
    const path = join(dir, 'metadata.db');
    try {
      const store = SqliteMetadataStore.open(path);
      await store.linkBlob('a', { digest: `sha256:${'1'.repeat(64)}`, size: 3 });
      const reader = new Database(path, { readonly: true });
      assert.equal(reader.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(reader.prepare('SELECT count(*) AS n FROM repository_blobs').get()?.constructor, Object);
      reader.close();
      await store.close();
      const reopened = SqliteMetadataStore.open(path);
      assert.deepEqual(await reopened.getBlob('a', `sha256:${'1'.repeat(64)}`), {
        digest: `sha256:${'1'.repeat(64)}`,
        size: 3,
      });
      await reopened.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a database from a newer Wharf', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-registry-meta-'));
    const path = join(dir, 'metadata.db');
    try {
      const db = new Database(path);
      db.pragma('user_version = 99');
      db.close();
      assert.throws(() => SqliteMetadataStore.open(path), /schema version 99 is newer/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
