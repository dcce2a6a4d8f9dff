/**
 * SQL for the image tables (`images`, `tags`, `repo_digests`, `image_content`; schema in
 * database.ts). Plain records, no Docker semantics: those live in src/image/image-store.ts,
 * which runs these inside `db.write()` so each decision and its change are one transaction.
 *
 * @example
 * const records = new ImageRecords(db);
 * db.write(() => records.setTag('docker.io/library/busybox:latest', id));
 */
import { NotFoundError } from '../errors/index.ts';
import type { MetadataDatabase } from './database.ts';

export interface ImageRecord {
  /** The config digest. */
  id: string;
  manifestDigest: string;
  manifestMediaType: string;
  indexDigest?: string;
  created?: string;
  size: number;
  architecture: string;
  os: string;
  variant?: string;
  parent?: string;
  addedAt: number;
}

export interface TagRecord {
  /** Normalized, e.g. `docker.io/library/busybox:latest`. */
  reference: string;
  imageId: string;
  taggedAt: number;
}

interface ImageRow {
  id: string;
  manifest_digest: string;
  manifest_media_type: string;
  index_digest: string | null;
  created: string | null;
  size: number;
  architecture: string;
  os: string;
  variant: string | null;
  parent: string | null;
  added_at: number;
}

function toRecord(row: ImageRow): ImageRecord {
  const record: ImageRecord = {
    id: row.id,
    manifestDigest: row.manifest_digest,
    manifestMediaType: row.manifest_media_type,
    size: row.size,
    architecture: row.architecture,
    os: row.os,
    addedAt: row.added_at,
  };
  if (row.index_digest !== null) record.indexDigest = row.index_digest;
  if (row.created !== null) record.created = row.created;
  if (row.variant !== null) record.variant = row.variant;
  if (row.parent !== null) record.parent = row.parent;
  return record;
}

export class ImageRecords {
  readonly #db: MetadataDatabase;

  constructor(db: MetadataDatabase) {
    this.#db = db;
  }

  get db(): MetadataDatabase {
    return this.#db;
  }

  get(id: string): ImageRecord | undefined {
    const row = this.#db.sql.prepare('SELECT * FROM images WHERE id = ?').get(id) as ImageRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  all(): ImageRecord[] {
    return (this.#db.sql.prepare('SELECT * FROM images').all() as ImageRow[]).map(toRecord);
  }

  /** Ids starting with `prefix` (which includes the `sha256:` part). */
  idsWithPrefix(prefix: string): string[] {
    // GLOB, not LIKE: it is case-sensitive and `_` is not a wildcard
    return this.#db.sql
      .prepare('SELECT id FROM images WHERE id GLOB ? ORDER BY id')
      .pluck()
      .all(`${prefix.replace(/[[\]*?]/g, '')}*`) as string[];
  }

  byManifestDigest(digest: string): ImageRecord[] {
    const rows = this.#db.sql
      .prepare('SELECT * FROM images WHERE manifest_digest = ? OR index_digest = ?')
      .all(digest, digest) as ImageRow[];
    return rows.map(toRecord);
  }

  children(id: string): string[] {
    return this.#db.sql.prepare('SELECT id FROM images WHERE parent = ?').pluck().all(id) as string[];
  }

  /** Inserts an image and the blobs it needs (no-op for an image already present). */
  insert(record: ImageRecord, content: readonly string[]): boolean {
    return this.#db.write(() => {
      const result = this.#db.sql
        .prepare(
          `INSERT OR IGNORE INTO images (id, manifest_digest, manifest_media_type, index_digest, created, size,
             architecture, os, variant, parent, added_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          record.id,
          record.manifestDigest,
          record.manifestMediaType,
          record.indexDigest ?? null,
          record.created ?? null,
          record.size,
          record.architecture,
          record.os,
          record.variant ?? null,
          record.parent ?? null,
          record.addedAt,
        );
      const addContent = this.#db.sql.prepare(
        'INSERT OR IGNORE INTO image_content (image_id, digest) VALUES (?, ?)',
      );
      for (const digest of content) addContent.run(record.id, digest);
      return result.changes > 0;
    });
  }

  /** Removes an image row, its tags, repo digests and content list; returns the blobs it listed. */
  delete(id: string): string[] {
    return this.#db.write(() => {
      const content = this.content(id);
      this.#db.sql.prepare('DELETE FROM tags WHERE image_id = ?').run(id);
      this.#db.sql.prepare('DELETE FROM repo_digests WHERE image_id = ?').run(id);
      this.#db.sql.prepare('DELETE FROM image_content WHERE image_id = ?').run(id);
      this.#db.sql.prepare('UPDATE images SET parent = NULL WHERE parent = ?').run(id);
      this.#db.sql.prepare('DELETE FROM images WHERE id = ?').run(id);
      return content;
    });
  }

  content(id: string): string[] {
    return this.#db.sql
      .prepare('SELECT digest FROM image_content WHERE image_id = ?')
      .pluck()
      .all(id) as string[];
  }

  /** How many images list each blob (for shared sizes). */
  contentUseCounts(): Map<string, number> {
    const rows = this.#db.sql
      .prepare('SELECT digest, COUNT(*) AS n FROM image_content GROUP BY digest')
      .all() as Array<{ digest: string; n: number }>;
    return new Map(rows.map((row) => [row.digest, row.n]));
  }

  tag(reference: string): TagRecord | undefined {
    const row = this.#db.sql.prepare('SELECT * FROM tags WHERE reference = ?').get(reference) as
      | { reference: string; image_id: string; tagged_at: number }
      | undefined;
    return row ? { reference: row.reference, imageId: row.image_id, taggedAt: row.tagged_at } : undefined;
  }

  tagsOf(id: string): TagRecord[] {
    const rows = this.#db.sql
      .prepare('SELECT * FROM tags WHERE image_id = ? ORDER BY reference')
      .all(id) as Array<{ reference: string; image_id: string; tagged_at: number }>;
    return rows.map((row) => ({ reference: row.reference, imageId: row.image_id, taggedAt: row.tagged_at }));
  }

  allTags(): TagRecord[] {
    const rows = this.#db.sql.prepare('SELECT * FROM tags ORDER BY reference').all() as Array<{
      reference: string;
      image_id: string;
      tagged_at: number;
    }>;
    return rows.map((row) => ({ reference: row.reference, imageId: row.image_id, taggedAt: row.tagged_at }));
  }

  /**
   * Points `reference` at image `id`; returns the image it pointed at before (if another).
   * Throws NotFoundError when the image is gone (removed by another process meanwhile).
   */
  setTag(reference: string, id: string, now = Date.now()): string | undefined {
    return this.#db.write(() => {
      if (!this.#db.sql.prepare('SELECT 1 FROM images WHERE id = ?').get(id)) {
        throw new NotFoundError(`No such image: ${id}`);
      }
      const previous = this.tag(reference)?.imageId;
      this.#db.sql
        .prepare(
          `INSERT INTO tags (reference, image_id, tagged_at) VALUES (?, ?, ?)
           ON CONFLICT (reference) DO UPDATE SET image_id = excluded.image_id, tagged_at = excluded.tagged_at`,
        )
        .run(reference, id, now);
      return previous !== id ? previous : undefined;
    });
  }

  removeTag(reference: string): boolean {
    return this.#db.write(
      () => this.#db.sql.prepare('DELETE FROM tags WHERE reference = ?').run(reference).changes > 0,
    );
  }

  repoDigestsOf(id: string): string[] {
    return this.#db.sql
      .prepare('SELECT reference FROM repo_digests WHERE image_id = ? ORDER BY reference')
      .pluck()
      .all(id) as string[];
  }

  imagesWithRepoDigest(reference: string): string[] {
    return this.#db.sql
      .prepare('SELECT image_id FROM repo_digests WHERE reference = ?')
      .pluck()
      .all(reference) as string[];
  }

  addRepoDigest(reference: string, id: string): void {
    this.#db.write(() =>
      this.#db.sql
        .prepare('INSERT OR IGNORE INTO repo_digests (reference, image_id) VALUES (?, ?)')
        .run(reference, id),
    );
  }

  removeRepoDigest(reference: string, id: string): boolean {
    return this.#db.write(
      () =>
        this.#db.sql
          .prepare('DELETE FROM repo_digests WHERE reference = ? AND image_id = ?')
          .run(reference, id).changes > 0,
    );
  }

  /** Containers recorded in the placeholder `containers` table that use the image. */
  containersUsing(id: string): string[] {
    return this.#db.sql.prepare('SELECT id FROM containers WHERE image_id = ?').pluck().all(id) as string[];
  }
}
