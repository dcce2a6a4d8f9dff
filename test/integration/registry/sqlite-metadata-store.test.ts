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

  it('upgrades a version 2 database to 3 (scan reports) without queueing its garbage again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-registry-meta-'));
    const path = join(dir, 'metadata.db');
    try {
      const store = SqliteMetadataStore.open(path);
      const digest = `sha256:${'2'.repeat(64)}` as const;
      const record = { digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 2 };
      await store.putManifest({ repository: 'a', manifest: record, blobs: [], manifests: [], tags: [] });
      const queued = await store.queueSize();
      await store.close();
      // What a version 2 file looks like: no scan_reports table.
      const db = new Database(path);
      db.exec('DROP TABLE scan_reports; DELETE FROM gc_queue;');
      db.pragma('user_version = 2');
      db.close();
      const upgraded = SqliteMetadataStore.open(path);
      assert.deepEqual(await upgraded.getManifest('a', { digest }), record);
      assert.deepEqual(
        await upgraded.queueSize(),
        { manifest: 0, link: 0, blob: 0 },
        `was ${JSON.stringify(queued)}`,
      );
      const counts = { CRITICAL: 1, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0 };
      await upgraded.putScanReports([
        { digest, database: 'x', scannedAt: new Date(5), counts, report: '{}' },
      ]);
      assert.deepEqual(await upgraded.getScanCounts(digest), counts);
      await upgraded.close();
      const reader = new Database(path, { readonly: true });
      assert.equal(reader.pragma('user_version', { simple: true }), 3);
      reader.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
