/**
 * The content store's view of the metadata database (`ContentReferences`): blob labels, lease
 * holds, and the set of referenced blobs that garbage collection must keep: every blob an image
 * lists in `image_content`, and every `content` resource of a live lease.
 *
 * @example
 * const store = await LocalContentStore.open(root, new SqliteContentReferences(db, leases));
 */
import type { Digest } from '../oci/digest.ts';
import type { MetadataDatabase } from './database.ts';
import type { LeaseStore } from './lease-store.ts';

export class SqliteContentReferences {
  readonly #db: MetadataDatabase;
  readonly #leases: LeaseStore;

  constructor(db: MetadataDatabase, leases: LeaseStore) {
    this.#db = db;
    this.#leases = leases;
  }

  labels(digest: Digest): Record<string, string> {
    const rows = this.#db.sql
      .prepare('SELECT key, value FROM content_labels WHERE digest = ? ORDER BY key')
      .all(digest) as Array<{ key: string; value: string }>;
    return Object.fromEntries(rows.map((row) => [row.key, row.value]));
  }

  updateLabels(digest: Digest, labels: Record<string, string | null>): Record<string, string> {
    return this.#db.write(() => {
      const set = this.#db.sql.prepare(
        'INSERT INTO content_labels (digest, key, value) VALUES (?, ?, ?) ON CONFLICT (digest, key) DO UPDATE SET value = excluded.value',
      );
      const del = this.#db.sql.prepare('DELETE FROM content_labels WHERE digest = ? AND key = ?');
      for (const [key, value] of Object.entries(labels)) {
        if (value === null) del.run(digest, key);
        else set.run(digest, key, value);
      }
      return this.labels(digest);
    });
  }

  forget(digests: readonly Digest[]): void {
    this.#db.write(() => {
      const del = this.#db.sql.prepare('DELETE FROM content_labels WHERE digest = ?');
      for (const digest of digests) del.run(digest);
    });
  }

  hold(lease: string, digest: Digest): void {
    this.#leases.addResource(lease, 'content', digest);
  }

  withReferencedSet<T>(sweep: (referenced: ReadonlySet<string>) => T): T {
    return this.#db.write(() => {
      this.#leases.expire();
      const referenced = this.#leases.heldResources('content');
      const rows = this.#db.sql
        .prepare('SELECT DISTINCT digest FROM image_content')
        .pluck()
        .all() as string[];
      for (const digest of rows) referenced.add(digest);
      return sweep(referenced);
    });
  }
}
