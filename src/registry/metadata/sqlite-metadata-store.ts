/**
 * The MetadataStore on SQLite (better-sqlite3): WAL mode so readers never wait for the writer,
 * `synchronous = FULL` so an acknowledged push survives power loss as well as kill -9, a
 * `busy_timeout`, and `BEGIN IMMEDIATE` for every write so checks and inserts happen under the
 * write lock. Each method is one short transaction; no I/O happens inside one.
 *
 * Schema (user_version 1):
 *
 *   repositories ─┬─< repository_blobs       links: which blobs a repository may serve
 *     id PK        │     (repository_id, digest) PK ──> blobs.digest
 *     name UNIQUE  ├─< manifests              (repository_id, digest) PK
 *     created_at   │     media_type, size, artifact_type, subject, annotations (JSON), created_at
 *                  │     index (repository_id, subject)          — the referrers API
 *                  ├─< manifest_references    (repository_id, manifest_digest, child_digest, kind) PK
 *                  │     kind 'blob' (config, layer) | 'manifest' (an index's entry)
 *                  │     index (child_digest)                    — "is anything still using it?"
 *                  └─< tags                   (repository_id, name) PK ──> manifests.digest
 *                        index (repository_id, digest)           — tags to drop with a manifest
 *   blobs                                      bytes present in the StorageDriver
 *     digest PK, size, created_at              (layers, configs and manifest payloads alike)
 *   uploads                                    open upload sessions (bytes at /uploads/<id>/data)
 *     id PK, repository (name), algorithm NULL, started_at
 *
 * Times are Unix milliseconds. Names and tags compare in byte order (SQLite's BINARY collation),
 * which is the "ASCIIbetical" order the spec asks of tag lists.
 *
 * @example
 * const store = SqliteMetadataStore.open('/var/lib/wharf/registry/metadata.db');
 */
import Database from 'better-sqlite3';
import type { Digest, DigestAlgorithm } from '../../oci/digest.ts';
import type {
  BlobRecord,
  DeleteResult,
  ManifestRecord,
  MetadataStore,
  MissingReference,
  Page,
  PutManifestInput,
  PutManifestResult,
  UploadRecord,
} from './metadata-store.ts';

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS repositories (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS blobs (
  digest TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS repository_blobs (
  repository_id INTEGER NOT NULL REFERENCES repositories(id),
  digest TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (repository_id, digest)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS repository_blobs_digest ON repository_blobs(digest);
CREATE TABLE IF NOT EXISTS manifests (
  repository_id INTEGER NOT NULL REFERENCES repositories(id),
  digest TEXT NOT NULL,
  media_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  artifact_type TEXT,
  subject TEXT,
  annotations TEXT,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (repository_id, digest)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS manifests_subject ON manifests(repository_id, subject) WHERE subject IS NOT NULL;
CREATE INDEX IF NOT EXISTS manifests_digest ON manifests(digest);
CREATE TABLE IF NOT EXISTS manifest_references (
  repository_id INTEGER NOT NULL,
  manifest_digest TEXT NOT NULL,
  child_digest TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('blob', 'manifest')),
  PRIMARY KEY (repository_id, manifest_digest, child_digest, kind)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS manifest_references_child ON manifest_references(child_digest);
CREATE TABLE IF NOT EXISTS tags (
  repository_id INTEGER NOT NULL REFERENCES repositories(id),
  name TEXT NOT NULL,
  digest TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (repository_id, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_digest ON tags(repository_id, digest);
CREATE TABLE IF NOT EXISTS uploads (
  id TEXT PRIMARY KEY,
  repository TEXT NOT NULL,
  algorithm TEXT,
  started_at INTEGER NOT NULL
) WITHOUT ROWID;
`;

interface ManifestRow {
  digest: string;
  media_type: string;
  size: number;
  artifact_type: string | null;
  subject: string | null;
  annotations: string | null;
}

interface UploadRow {
  id: string;
  repository: string;
  algorithm: string | null;
  started_at: number;
}

type Statement = Database.Statement<unknown[], unknown>;

export class SqliteMetadataStore implements MetadataStore {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Statement>();

  private constructor(db: Database.Database) {
    this.#db = db;
  }

  /** Opens (creating and migrating) the database file. */
  static open(path: string): SqliteMetadataStore {
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      db.close();
      throw new Error(
        `Cannot open registry metadata ${path}: schema version ${version} is newer than this Wharf (${SCHEMA_VERSION})`,
      );
    }
    if (version < SCHEMA_VERSION) {
      db.transaction(() => {
        db.exec(SCHEMA);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
      }).immediate();
    }
    return new SqliteMetadataStore(db);
  }

  #prepare(sql: string): Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #repositoryId(name: string): number | undefined {
    const row = this.#prepare('SELECT id FROM repositories WHERE name = ?').get(name) as
      | { id: number }
      | undefined;
    return row?.id;
  }

  #ensureRepository(name: string, now: number): number {
    const existing = this.#repositoryId(name);
    if (existing !== undefined) return existing;
    const result = this.#prepare('INSERT INTO repositories (name, created_at) VALUES (?, ?)').run(name, now);
    return Number(result.lastInsertRowid);
  }

  #write<T>(fn: () => T): T {
    return this.#db.transaction(fn).immediate();
  }

  // --- blobs ---------------------------------------------------------------------------------

  async getBlob(repository: string, digest: Digest): Promise<BlobRecord | undefined> {
    const row = this.#prepare(
      `SELECT b.size AS size FROM repositories r
         JOIN repository_blobs rb ON rb.repository_id = r.id AND rb.digest = ?
         JOIN blobs b ON b.digest = rb.digest
       WHERE r.name = ?`,
    ).get(digest, repository) as { size: number } | undefined;
    return row ? { digest, size: row.size } : undefined;
  }

  async findBlob(digest: Digest): Promise<BlobRecord | undefined> {
    const row = this.#prepare('SELECT size FROM blobs WHERE digest = ?').get(digest) as
      | { size: number }
      | undefined;
    return row ? { digest, size: row.size } : undefined;
  }

  async linkBlob(repository: string, blob: BlobRecord): Promise<void> {
    const now = Date.now();
    this.#write(() => {
      const id = this.#ensureRepository(repository, now);
      this.#prepare('INSERT OR IGNORE INTO blobs (digest, size, created_at) VALUES (?, ?, ?)').run(
        blob.digest,
        blob.size,
        now,
      );
      this.#prepare(
        'INSERT OR IGNORE INTO repository_blobs (repository_id, digest, created_at) VALUES (?, ?, ?)',
      ).run(id, blob.digest, now);
    });
  }

  async mountBlob(repository: string, digest: Digest): Promise<BlobRecord | undefined> {
    const now = Date.now();
    return this.#write(() => {
      const row = this.#prepare('SELECT size FROM blobs WHERE digest = ?').get(digest) as
        | { size: number }
        | undefined;
      if (!row) return undefined;
      const id = this.#ensureRepository(repository, now);
      this.#prepare(
        'INSERT OR IGNORE INTO repository_blobs (repository_id, digest, created_at) VALUES (?, ?, ?)',
      ).run(id, digest, now);
      return { digest, size: row.size };
    });
  }

  async unlinkBlob(repository: string, digest: Digest): Promise<DeleteResult> {
    return this.#write(() => {
      const id = this.#repositoryId(repository);
      if (id === undefined) return { deleted: false, orphaned: false };
      const result = this.#prepare('DELETE FROM repository_blobs WHERE repository_id = ? AND digest = ?').run(
        id,
        digest,
      );
      if (result.changes === 0) return { deleted: false, orphaned: false };
      return { deleted: true, orphaned: this.#dropIfOrphan(digest) };
    });
  }

  /** Inside a write transaction: deletes the blob row when nothing uses the digest any more. */
  #dropIfOrphan(digest: string): boolean {
    if (this.#referenced(digest)) return false;
    return this.#prepare('DELETE FROM blobs WHERE digest = ?').run(digest).changes > 0;
  }

  #referenced(digest: string): boolean {
    return (
      this.#prepare('SELECT 1 FROM repository_blobs WHERE digest = ? LIMIT 1').get(digest) !== undefined ||
      this.#prepare('SELECT 1 FROM manifests WHERE digest = ? LIMIT 1').get(digest) !== undefined ||
      this.#prepare('SELECT 1 FROM manifest_references WHERE child_digest = ? LIMIT 1').get(digest) !==
        undefined
    );
  }

  async isReferenced(digest: Digest): Promise<boolean> {
    return this.#referenced(digest);
  }

  // --- manifests -------------------------------------------------------------------------------

  async getManifest(
    repository: string,
    reference: { tag: string } | { digest: Digest },
  ): Promise<ManifestRecord | undefined> {
    const columns = 'm.digest, m.media_type, m.size, m.artifact_type, m.subject, m.annotations';
    const row = (
      'tag' in reference
        ? this.#prepare(
            `SELECT ${columns} FROM repositories r
               JOIN tags t ON t.repository_id = r.id AND t.name = ?
               JOIN manifests m ON m.repository_id = r.id AND m.digest = t.digest
             WHERE r.name = ?`,
          ).get(reference.tag, repository)
        : this.#prepare(
            `SELECT ${columns} FROM repositories r
               JOIN manifests m ON m.repository_id = r.id AND m.digest = ?
             WHERE r.name = ?`,
          ).get(reference.digest, repository)
    ) as ManifestRow | undefined;
    return row ? manifestFromRow(row) : undefined;
  }

  async putManifest(input: PutManifestInput): Promise<PutManifestResult> {
    const now = Date.now();
    const { manifest } = input;
    return this.#write((): PutManifestResult => {
      const existingId = this.#repositoryId(input.repository);
      const missing: MissingReference[] = [];
      const blobLinked = this.#prepare(
        'SELECT 1 FROM repository_blobs WHERE repository_id = ? AND digest = ?',
      );
      const manifestHeld = this.#prepare('SELECT 1 FROM manifests WHERE repository_id = ? AND digest = ?');
      for (const digest of input.blobs) {
        if (existingId === undefined || blobLinked.get(existingId, digest) === undefined) {
          missing.push({ digest, kind: 'blob' });
        }
      }
      for (const digest of input.manifests) {
        if (existingId === undefined || manifestHeld.get(existingId, digest) === undefined) {
          missing.push({ digest, kind: 'manifest' });
        }
      }
      if (missing.length > 0) return { ok: false, missing };
      const id = existingId ?? this.#ensureRepository(input.repository, now);
      this.#prepare('INSERT OR IGNORE INTO blobs (digest, size, created_at) VALUES (?, ?, ?)').run(
        manifest.digest,
        manifest.size,
        now,
      );
      this.#prepare(
        `INSERT INTO manifests (repository_id, digest, media_type, size, artifact_type, subject, annotations, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (repository_id, digest) DO UPDATE SET
           media_type = excluded.media_type, artifact_type = excluded.artifact_type,
           subject = excluded.subject, annotations = excluded.annotations`,
      ).run(
        id,
        manifest.digest,
        manifest.mediaType,
        manifest.size,
        manifest.artifactType ?? null,
        manifest.subject ?? null,
        manifest.annotations ? JSON.stringify(manifest.annotations) : null,
        now,
      );
      const addReference = this.#prepare(
        'INSERT OR IGNORE INTO manifest_references (repository_id, manifest_digest, child_digest, kind) VALUES (?, ?, ?, ?)',
      );
      for (const digest of input.blobs) addReference.run(id, manifest.digest, digest, 'blob');
      for (const digest of input.manifests) addReference.run(id, manifest.digest, digest, 'manifest');
      const setTag = this.#prepare(
        `INSERT INTO tags (repository_id, name, digest, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (repository_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`,
      );
      for (const tag of input.tags) setTag.run(id, tag, manifest.digest, now);
      return { ok: true };
    });
  }

  async deleteManifest(repository: string, digest: Digest): Promise<DeleteResult> {
    return this.#write(() => {
      const id = this.#repositoryId(repository);
      if (id === undefined) return { deleted: false, orphaned: false };
      const result = this.#prepare('DELETE FROM manifests WHERE repository_id = ? AND digest = ?').run(
        id,
        digest,
      );
      if (result.changes === 0) return { deleted: false, orphaned: false };
      this.#prepare('DELETE FROM tags WHERE repository_id = ? AND digest = ?').run(id, digest);
      this.#prepare('DELETE FROM manifest_references WHERE repository_id = ? AND manifest_digest = ?').run(
        id,
        digest,
      );
      return { deleted: true, orphaned: this.#dropIfOrphan(digest) };
    });
  }

  async deleteTag(repository: string, tag: string): Promise<boolean> {
    return this.#write(() => {
      const id = this.#repositoryId(repository);
      if (id === undefined) return false;
      return this.#prepare('DELETE FROM tags WHERE repository_id = ? AND name = ?').run(id, tag).changes > 0;
    });
  }

  // --- discovery -------------------------------------------------------------------------------

  async listTags(repository: string, page: Page = {}): Promise<string[] | undefined> {
    const id = this.#repositoryId(repository);
    if (id === undefined) return undefined;
    const rows = this.#prepare(
      'SELECT name FROM tags WHERE repository_id = ? AND name > ? ORDER BY name LIMIT ?',
    ).all(id, page.after ?? '', page.limit ?? -1) as Array<{ name: string }>;
    return rows.map((row) => row.name);
  }

  async listRepositories(page: Page = {}): Promise<string[]> {
    const rows = this.#prepare(
      `SELECT name FROM repositories r
       WHERE name > ?
         AND (EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id)
           OR EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.repository_id = r.id))
       ORDER BY name LIMIT ?`,
    ).all(page.after ?? '', page.limit ?? -1) as Array<{ name: string }>;
    return rows.map((row) => row.name);
  }

  async listReferrers(repository: string, subject: Digest, artifactType?: string): Promise<ManifestRecord[]> {
    const columns = 'm.digest, m.media_type, m.size, m.artifact_type, m.subject, m.annotations';
    const rows = (
      artifactType === undefined
        ? this.#prepare(
            `SELECT ${columns} FROM repositories r JOIN manifests m ON m.repository_id = r.id AND m.subject = ?
             WHERE r.name = ? ORDER BY m.created_at, m.digest`,
          ).all(subject, repository)
        : this.#prepare(
            `SELECT ${columns} FROM repositories r JOIN manifests m ON m.repository_id = r.id AND m.subject = ?
             WHERE r.name = ? AND m.artifact_type = ? ORDER BY m.created_at, m.digest`,
          ).all(subject, repository, artifactType)
    ) as ManifestRow[];
    return rows.map(manifestFromRow);
  }

  // --- uploads ---------------------------------------------------------------------------------

  async createUpload(upload: UploadRecord): Promise<void> {
    this.#write(() => {
      this.#prepare('INSERT INTO uploads (id, repository, algorithm, started_at) VALUES (?, ?, ?, ?)').run(
        upload.id,
        upload.repository,
        upload.algorithm ?? null,
        upload.startedAt.getTime(),
      );
    });
  }

  async getUpload(id: string): Promise<UploadRecord | undefined> {
    const row = this.#prepare('SELECT id, repository, algorithm, started_at FROM uploads WHERE id = ?').get(
      id,
    ) as UploadRow | undefined;
    return row ? uploadFromRow(row) : undefined;
  }

  async deleteUpload(id: string): Promise<void> {
    this.#write(() => {
      this.#prepare('DELETE FROM uploads WHERE id = ?').run(id);
    });
  }

  async listUploads(): Promise<UploadRecord[]> {
    const rows = this.#prepare(
      'SELECT id, repository, algorithm, started_at FROM uploads ORDER BY id',
    ).all() as UploadRow[];
    return rows.map(uploadFromRow);
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}

function manifestFromRow(row: ManifestRow): ManifestRecord {
  const record: ManifestRecord = { digest: row.digest as Digest, mediaType: row.media_type, size: row.size };
  if (row.artifact_type !== null) record.artifactType = row.artifact_type;
  if (row.subject !== null) record.subject = row.subject as Digest;
  if (row.annotations !== null) record.annotations = JSON.parse(row.annotations) as Record<string, string>;
  return record;
}

function uploadFromRow(row: UploadRow): UploadRecord {
  const record: UploadRecord = {
    id: row.id,
    repository: row.repository,
    startedAt: new Date(row.started_at),
  };
  if (row.algorithm !== null) record.algorithm = row.algorithm as DigestAlgorithm;
  return record;
}
