/**
 * The MetadataStore on SQLite (better-sqlite3): WAL mode so readers never wait for the writer,
 * `synchronous = FULL` so an acknowledged push survives power loss as well as kill -9, a
 * `busy_timeout`, and `BEGIN IMMEDIATE` for every write so checks and inserts happen under the
 * write lock. Each method is one short transaction; no I/O happens inside one. Several processes
 * may open the same file (the server, `wharf registry gc`): everything that must not race is
 * decided inside one of these transactions (see GcIndex in metadata-store.ts).
 *
 * Schema (user_version 3):
 *
 *   repositories ─┬─< repository_blobs       links: which blobs a repository may serve
 *     id PK        │     (repository_id, digest) PK ──> blobs.digest
 *     name UNIQUE  │     created_at (refreshed by a new upload or mount: the grace counts from it)
 *     created_at   ├─< manifests              (repository_id, digest) PK
 *                  │     media_type, size, artifact_type, subject, annotations (JSON), created_at
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
 *   gc_queue                                   the review queue: candidates for garbage
 *     (kind, repository_id, digest) PK         kind 'manifest' | 'link' (repository-scoped) |
 *     queued_at                                'blob' (repository_id 0)
 *   blob_pins                                  bytes being placed at a blob path right now
 *     id PK, digest, upload_id NULL, owner, created_at      index (digest), index (upload_id)
 *   gc_tombstones                              rows deleted, bytes still to remove
 *     digest PK, owner, created_at
 *   gc_lease                                   the one running collector (id = 1)
 *     owner, token, started_at
 *   gc_runs                                    history: id PK, started_at, finished_at, dry_run, report (JSON)
 *   scan_reports                               vulnerability reports (since version 3)
 *     (digest, database) PK                    database: identity of the OSV directory used
 *     scanned_at, critical, high, medium, low, unknown (counts), report (JSON)
 *
 * Times are Unix milliseconds. Owners are process identities (`process-identity.ts`). Names and
 * tags compare in byte order (SQLite's BINARY collation), which is the "ASCIIbetical" order the
 * spec asks of tag lists.
 *
 * @example
 * const store = SqliteMetadataStore.open('/var/lib/wharf/registry/metadata.db');
 */
import type Database from 'better-sqlite3';
import type { Digest, DigestAlgorithm } from '../../oci/digest.ts';
import type { SeverityCounts } from '../../scan/scan-report.ts';
import { openSharedSqlite } from '../../util/sqlite-wal.ts';
import { currentProcessIdentity } from '../process-identity.ts';
import type {
  BlobRecord,
  DeleteResult,
  GcRunRecord,
  LinkOptions,
  ManifestRecord,
  MetadataStore,
  MissingReference,
  MountOptions,
  Page,
  PinResult,
  PutManifestInput,
  PutManifestResult,
  ReviewBatch,
  ReviewOptions,
  ReviewState,
  ScanReportRecord,
  Tombstone,
  UploadRecord,
} from './metadata-store.ts';

const SCHEMA_VERSION = 3;

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
CREATE INDEX IF NOT EXISTS manifest_references_repository_child ON manifest_references(repository_id, child_digest, kind);
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
CREATE TABLE IF NOT EXISTS gc_queue (
  kind TEXT NOT NULL CHECK (kind IN ('manifest', 'link', 'blob')),
  repository_id INTEGER NOT NULL,
  digest TEXT NOT NULL,
  queued_at INTEGER NOT NULL,
  PRIMARY KEY (kind, repository_id, digest)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blob_pins (
  id INTEGER PRIMARY KEY,
  digest TEXT NOT NULL,
  upload_id TEXT,
  owner TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS blob_pins_digest ON blob_pins(digest);
CREATE INDEX IF NOT EXISTS blob_pins_upload ON blob_pins(upload_id) WHERE upload_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS gc_tombstones (
  digest TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS gc_lease (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  owner TEXT NOT NULL,
  token TEXT NOT NULL,
  started_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS gc_runs (
  id INTEGER PRIMARY KEY,
  started_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL,
  dry_run INTEGER NOT NULL,
  report TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scan_reports (
  digest TEXT NOT NULL,
  database TEXT NOT NULL,
  scanned_at INTEGER NOT NULL,
  critical INTEGER NOT NULL,
  high INTEGER NOT NULL,
  medium INTEGER NOT NULL,
  low INTEGER NOT NULL,
  unknown INTEGER NOT NULL,
  report TEXT NOT NULL,
  PRIMARY KEY (digest, database)
) WITHOUT ROWID;
`;

/** The project (first path component) of `r.name`, in SQL. */
const PROJECT_OF_NAME =
  "CASE WHEN instr(r.name, '/') = 0 THEN r.name ELSE substr(r.name, 1, instr(r.name, '/') - 1) END";

/** Candidates the metadata can name by itself: unreferenced links and untagged manifests. */
const ENQUEUE_FROM_METADATA = [
  `INSERT OR IGNORE INTO gc_queue (kind, repository_id, digest, queued_at)
   SELECT 'link', rb.repository_id, rb.digest, @now FROM repository_blobs rb
   WHERE NOT EXISTS (SELECT 1 FROM manifest_references mr
                     WHERE mr.repository_id = rb.repository_id AND mr.child_digest = rb.digest AND mr.kind = 'blob')`,
  `INSERT OR IGNORE INTO gc_queue (kind, repository_id, digest, queued_at)
   SELECT 'manifest', m.repository_id, m.digest, @now FROM manifests m
   WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest)`,
];

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
type QueueKind = 'manifest' | 'link' | 'blob';
/** What the orphan check found: dropped (row deleted, tombstone left), or why not. */
type OrphanOutcome = 'dropped' | 'referenced' | 'held' | 'absent';

/** Thrown inside a transaction to roll it back on purpose (previews). */
const ROLLBACK = Symbol('rollback');

export interface SqliteMetadataStoreOptions {
  /** Identity of this process as owner of pins and tombstones (default: the current process). */
  owner?: string;
}

export class SqliteMetadataStore implements MetadataStore {
  readonly #db: Database.Database;
  readonly #owner: string;
  readonly #statements = new Map<string, Statement>();

  private constructor(db: Database.Database, owner: string) {
    this.#db = db;
    this.#owner = owner;
  }

  /** Opens (creating and migrating) the database file. */
  static open(path: string, options: SqliteMetadataStoreOptions = {}): SqliteMetadataStore {
    const db = openSharedSqlite(path, { busyTimeoutMs: 5000, synchronous: 'FULL' });
    try {
      migrate(db, path);
    } catch (error) {
      db.close();
      throw error;
    }
    return new SqliteMetadataStore(db, options.owner ?? currentProcessIdentity());
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

  // --- the review queue, pins, tombstones (inside write transactions) ------------------------

  #enqueue(kind: QueueKind, repositoryId: number, digest: string, now: number): void {
    this.#prepare(
      'INSERT OR IGNORE INTO gc_queue (kind, repository_id, digest, queued_at) VALUES (?, ?, ?, ?)',
    ).run(kind, repositoryId, digest, now);
  }

  #dequeue(kind: QueueKind, repositoryId: number, digest: string): void {
    this.#prepare('DELETE FROM gc_queue WHERE kind = ? AND repository_id = ? AND digest = ?').run(
      kind,
      repositoryId,
      digest,
    );
  }

  #pinned(digest: string): boolean {
    return this.#prepare('SELECT 1 FROM blob_pins WHERE digest = ? LIMIT 1').get(digest) !== undefined;
  }

  #tombstoned(digest: string): boolean {
    return this.#prepare('SELECT 1 FROM gc_tombstones WHERE digest = ?').get(digest) !== undefined;
  }

  /** Whether a manifest of the repository lists the blob (config or layer). */
  #referencedIn(repositoryId: number, digest: string): boolean {
    return (
      this.#prepare(
        "SELECT 1 FROM manifest_references WHERE repository_id = ? AND child_digest = ? AND kind = 'blob' LIMIT 1",
      ).get(repositoryId, digest) !== undefined
    );
  }

  /**
   * Deletes the blob row when nothing references, pins or is already deleting the digest, and
   * leaves a tombstone owned by this process for its bytes.
   */
  #dropIfOrphan(digest: string, now: number): OrphanOutcome {
    if (this.#referenced(digest)) return 'referenced';
    if (this.#pinned(digest) || this.#tombstoned(digest)) return 'held';
    if (this.#prepare('DELETE FROM blobs WHERE digest = ?').run(digest).changes === 0) return 'absent';
    this.#prepare('INSERT INTO gc_tombstones (digest, owner, created_at) VALUES (?, ?, ?)').run(
      digest,
      this.#owner,
      now,
    );
    this.#dequeue('blob', 0, digest);
    return 'dropped';
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

  /** Inside a write transaction: links (or refreshes the link of) a recorded blob. */
  #link(repositoryId: number, digest: string, now: number): void {
    this.#prepare(
      `INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (?, ?, ?)
       ON CONFLICT (repository_id, digest) DO UPDATE SET created_at = excluded.created_at`,
    ).run(repositoryId, digest, now);
    // Until a manifest of the repository lists it, a link is a candidate ("an upload ends").
    if (!this.#referencedIn(repositoryId, digest)) this.#enqueue('link', repositoryId, digest, now);
  }

  async linkBlob(repository: string, blob: BlobRecord, options: LinkOptions = {}): Promise<void> {
    const now = Date.now();
    this.#write(() => {
      const id = this.#ensureRepository(repository, now);
      this.#prepare('INSERT OR IGNORE INTO blobs (digest, size, created_at) VALUES (?, ?, ?)').run(
        blob.digest,
        blob.size,
        now,
      );
      this.#link(id, blob.digest, now);
      if (options.pin !== undefined) this.#prepare('DELETE FROM blob_pins WHERE id = ?').run(options.pin);
      if (options.upload !== undefined) this.#prepare('DELETE FROM uploads WHERE id = ?').run(options.upload);
    });
  }

  async linkRecorded(
    repository: string,
    digest: Digest,
    options: { upload?: string } = {},
  ): Promise<'linked' | 'unrecorded' | 'upload-unknown'> {
    const now = Date.now();
    return this.#write(() => {
      if (this.#prepare('SELECT 1 FROM blobs WHERE digest = ?').get(digest) === undefined)
        return 'unrecorded';
      if (options.upload !== undefined) {
        if (this.#prepare('DELETE FROM uploads WHERE id = ?').run(options.upload).changes === 0)
          return 'upload-unknown';
      }
      this.#link(this.#ensureRepository(repository, now), digest, now);
      return 'linked';
    });
  }

  async mountBlob(
    repository: string,
    digest: Digest,
    options: MountOptions = {},
  ): Promise<BlobRecord | undefined> {
    const now = Date.now();
    return this.#write(() => {
      const row = this.#prepare('SELECT size FROM blobs WHERE digest = ?').get(digest) as
        | { size: number }
        | undefined;
      if (!row) return undefined;
      if (options.visibleProjects !== undefined) {
        const visible = this.#prepare(
          `SELECT 1 FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
           WHERE rb.digest = ? AND ${PROJECT_OF_NAME} IN (SELECT value FROM json_each(?)) LIMIT 1`,
        ).get(digest, JSON.stringify(options.visibleProjects));
        if (visible === undefined) return undefined;
      }
      const id = this.#ensureRepository(repository, now);
      this.#link(id, digest, now);
      return { digest, size: row.size };
    });
  }

  async unlinkBlob(repository: string, digest: Digest): Promise<DeleteResult> {
    const now = Date.now();
    return this.#write(() => {
      const id = this.#repositoryId(repository);
      if (id === undefined) return { deleted: false, orphaned: false };
      const result = this.#prepare('DELETE FROM repository_blobs WHERE repository_id = ? AND digest = ?').run(
        id,
        digest,
      );
      if (result.changes === 0) return { deleted: false, orphaned: false };
      this.#dequeue('link', id, digest);
      const outcome = this.#dropIfOrphan(digest, now);
      if (outcome === 'held') this.#enqueue('blob', 0, digest, now);
      return { deleted: true, orphaned: outcome === 'dropped' };
    });
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
           subject = excluded.subject, annotations = excluded.annotations, created_at = excluded.created_at`,
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
      for (const digest of input.blobs) {
        addReference.run(id, manifest.digest, digest, 'blob');
        this.#dequeue('link', id, digest);
      }
      for (const digest of input.manifests) {
        addReference.run(id, manifest.digest, digest, 'manifest');
        this.#dequeue('manifest', id, digest);
      }
      const currentTag = this.#prepare('SELECT digest FROM tags WHERE repository_id = ? AND name = ?');
      const setTag = this.#prepare(
        `INSERT INTO tags (repository_id, name, digest, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (repository_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`,
      );
      for (const tag of input.tags) {
        const previous = currentTag.get(id, tag) as { digest: string } | undefined;
        // A tag that moves leaves its old manifest a candidate (if nothing else tags it).
        if (previous && previous.digest !== manifest.digest)
          this.#enqueue('manifest', id, previous.digest, now);
        setTag.run(id, tag, manifest.digest, now);
      }
      const tagged =
        input.tags.length > 0 ||
        this.#prepare('SELECT 1 FROM tags WHERE repository_id = ? AND digest = ? LIMIT 1').get(
          id,
          manifest.digest,
        ) !== undefined;
      if (tagged) this.#dequeue('manifest', id, manifest.digest);
      else this.#enqueue('manifest', id, manifest.digest, now);
      if (input.pin !== undefined) this.#prepare('DELETE FROM blob_pins WHERE id = ?').run(input.pin);
      return { ok: true };
    });
  }

  /**
   * Inside a write transaction: deletes a manifest with its tags and references, queues what it
   * leaves behind (its blob links, child manifests, referrers) and drops its payload if orphaned.
   */
  #removeManifest(id: number, digest: string, now: number): OrphanOutcome | undefined {
    const result = this.#prepare('DELETE FROM manifests WHERE repository_id = ? AND digest = ?').run(
      id,
      digest,
    );
    if (result.changes === 0) return undefined;
    this.#prepare('DELETE FROM tags WHERE repository_id = ? AND digest = ?').run(id, digest);
    const children = this.#prepare(
      'SELECT child_digest, kind FROM manifest_references WHERE repository_id = ? AND manifest_digest = ?',
    ).all(id, digest) as Array<{ child_digest: string; kind: 'blob' | 'manifest' }>;
    this.#prepare('DELETE FROM manifest_references WHERE repository_id = ? AND manifest_digest = ?').run(
      id,
      digest,
    );
    for (const child of children) {
      if (child.kind === 'manifest') this.#enqueue('manifest', id, child.child_digest, now);
      else if (!this.#referencedIn(id, child.child_digest))
        this.#enqueue('link', id, child.child_digest, now);
    }
    const referrers = this.#prepare(
      'SELECT digest FROM manifests WHERE repository_id = ? AND subject = ?',
    ).all(id, digest) as Array<{ digest: string }>;
    for (const referrer of referrers) this.#enqueue('manifest', id, referrer.digest, now);
    this.#dequeue('manifest', id, digest);
    const outcome = this.#dropIfOrphan(digest, now);
    if (outcome === 'held') this.#enqueue('blob', 0, digest, now);
    return outcome;
  }

  async deleteManifest(repository: string, digest: Digest): Promise<DeleteResult> {
    const now = Date.now();
    return this.#write(() => {
      const id = this.#repositoryId(repository);
      if (id === undefined) return { deleted: false, orphaned: false };
      const outcome = this.#removeManifest(id, digest, now);
      if (outcome === undefined) return { deleted: false, orphaned: false };
      return { deleted: true, orphaned: outcome === 'dropped' };
    });
  }

  async deleteTag(repository: string, tag: string): Promise<boolean> {
    const now = Date.now();
    return this.#write(() => {
      const id = this.#repositoryId(repository);
      if (id === undefined) return false;
      const row = this.#prepare('SELECT digest FROM tags WHERE repository_id = ? AND name = ?').get(
        id,
        tag,
      ) as { digest: string } | undefined;
      if (!row) return false;
      this.#prepare('DELETE FROM tags WHERE repository_id = ? AND name = ?').run(id, tag);
      this.#enqueue('manifest', id, row.digest, now);
      return true;
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

  async countTags(repository: string, cap: number): Promise<number> {
    const id = this.#repositoryId(repository);
    if (id === undefined) return 0;
    const row = this.#prepare(
      'SELECT COUNT(*) AS count FROM (SELECT 1 FROM tags WHERE repository_id = ? LIMIT ?)',
    ).get(id, cap) as { count: number };
    return row.count;
  }

  async listRepositories(page: Page & { projects?: readonly string[] } = {}): Promise<string[]> {
    const holding = `(EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id)
           OR EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.repository_id = r.id))`;
    const rows = (
      page.projects === undefined
        ? this.#prepare(
            `SELECT name FROM repositories r WHERE name > ? AND ${holding} ORDER BY name LIMIT ?`,
          ).all(page.after ?? '', page.limit ?? -1)
        : this.#prepare(
            `SELECT name FROM repositories r
             WHERE name > ? AND ${PROJECT_OF_NAME} IN (SELECT value FROM json_each(?)) AND ${holding}
             ORDER BY name LIMIT ?`,
          ).all(page.after ?? '', JSON.stringify(page.projects), page.limit ?? -1)
    ) as Array<{ name: string }>;
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

  async removeUploadIfIdle(id: string): Promise<boolean> {
    return this.#write(() => {
      if (this.#prepare('SELECT 1 FROM blob_pins WHERE upload_id = ? LIMIT 1').get(id) !== undefined)
        return false;
      return this.#prepare('DELETE FROM uploads WHERE id = ?').run(id).changes > 0;
    });
  }

  // --- pins and tombstones ---------------------------------------------------------------------

  async pinBlob(digest: Digest, options: { upload?: string } = {}): Promise<PinResult> {
    const now = Date.now();
    return this.#write((): PinResult => {
      const tombstone = this.#prepare('SELECT owner FROM gc_tombstones WHERE digest = ?').get(digest) as
        | { owner: string }
        | undefined;
      if (tombstone) return { status: 'busy', owner: tombstone.owner };
      if (
        options.upload !== undefined &&
        this.#prepare('SELECT 1 FROM uploads WHERE id = ?').get(options.upload) === undefined
      ) {
        return { status: 'upload-unknown' };
      }
      const known = this.#prepare('SELECT 1 FROM blobs WHERE digest = ?').get(digest) !== undefined;
      const result = this.#prepare(
        'INSERT INTO blob_pins (digest, upload_id, owner, created_at) VALUES (?, ?, ?, ?)',
      ).run(digest, options.upload ?? null, this.#owner, now);
      return { status: 'pinned', id: Number(result.lastInsertRowid), known };
    });
  }

  async releasePin(id: number, options: { discard: boolean }): Promise<boolean> {
    const now = Date.now();
    return this.#write(() => {
      const pin = this.#prepare('SELECT digest FROM blob_pins WHERE id = ?').get(id) as
        | { digest: string }
        | undefined;
      if (!pin) return false;
      this.#prepare('DELETE FROM blob_pins WHERE id = ?').run(id);
      if (!options.discard) return false;
      if (
        this.#prepare('SELECT 1 FROM blobs WHERE digest = ?').get(pin.digest) !== undefined ||
        this.#pinned(pin.digest) ||
        this.#tombstoned(pin.digest)
      ) {
        return false;
      }
      this.#prepare('INSERT INTO gc_tombstones (digest, owner, created_at) VALUES (?, ?, ?)').run(
        pin.digest,
        this.#owner,
        now,
      );
      return true;
    });
  }

  async recoverPins(isAlive: (owner: string) => boolean): Promise<number> {
    const owners = (this.#prepare('SELECT DISTINCT owner FROM blob_pins').all() as Array<{ owner: string }>)
      .map((row) => row.owner)
      .filter((owner) => !isAlive(owner));
    if (owners.length === 0) return 0;
    const now = Date.now();
    return this.#write(() => {
      let count = 0;
      for (const owner of owners) {
        this.#prepare(
          `INSERT OR IGNORE INTO gc_queue (kind, repository_id, digest, queued_at)
           SELECT 'blob', 0, digest, ? FROM blob_pins WHERE owner = ?`,
        ).run(now, owner);
        count += this.#prepare('DELETE FROM blob_pins WHERE owner = ?').run(owner).changes;
      }
      return count;
    });
  }

  async listTombstones(): Promise<Tombstone[]> {
    return this.#prepare('SELECT digest, owner FROM gc_tombstones ORDER BY digest').all() as Tombstone[];
  }

  async takeOverTombstone(digest: Digest, from: string): Promise<boolean> {
    return this.#write(
      () =>
        this.#prepare('UPDATE gc_tombstones SET owner = ? WHERE digest = ? AND owner = ?').run(
          this.#owner,
          digest,
          from,
        ).changes > 0,
    );
  }

  async clearTombstone(digest: Digest): Promise<void> {
    this.#write(() => {
      this.#prepare('DELETE FROM gc_tombstones WHERE digest = ? AND owner = ?').run(digest, this.#owner);
    });
  }

  async clearTombstones(digests: readonly Digest[]): Promise<void> {
    if (digests.length === 0) return;
    this.#write(() => {
      const clear = this.#prepare('DELETE FROM gc_tombstones WHERE digest = ? AND owner = ?');
      for (const digest of digests) clear.run(digest, this.#owner);
    });
  }

  // --- the review --------------------------------------------------------------------------------

  async reviewGarbage(state: ReviewState, options: ReviewOptions & { limit: number }): Promise<ReviewBatch> {
    return this.#write(() => this.#review(state, options, options.limit));
  }

  async previewGarbage(options: ReviewOptions): Promise<ReviewBatch> {
    let preview: ReviewBatch | undefined;
    try {
      this.#write(() => {
        preview = this.#review(
          { phase: options.deleteUntagged ? 'manifest' : 'link', progress: false },
          options,
          Number.POSITIVE_INFINITY,
        );
        throw ROLLBACK;
      });
    } catch (error) {
      if (error !== ROLLBACK) throw error;
    }
    return preview!;
  }

  /** Inside a write transaction: reviews up to `budget` candidates from `state` on. */
  #review(state: ReviewState, options: ReviewOptions, budget: number): ReviewBatch {
    const batch: ReviewBatch = {
      state: { ...state },
      tombstoned: [],
      reviewed: 0,
      manifestsDeleted: 0,
      linksRemoved: 0,
      blobsDeleted: 0,
    };
    const st = batch.state;
    // The clock is read under the write lock: a batch that waited for the lock must not take
    // what was linked while it waited for older than it is.
    const now = options.now ?? Date.now();
    const oldest = now - options.graceMs;
    const page = this.#prepare(
      `SELECT repository_id, digest FROM gc_queue
       WHERE kind = ? AND (repository_id > ? OR (repository_id = ? AND digest > ?))
       ORDER BY repository_id, digest LIMIT ?`,
    );
    while (budget > 0 && st.phase !== 'done') {
      const phase = st.phase;
      const after = st.cursor ?? { repositoryId: -1, digest: '' };
      const rows = page.all(
        phase,
        after.repositoryId,
        after.repositoryId,
        after.digest,
        Math.min(budget, 500),
      ) as Array<{ repository_id: number; digest: string }>;
      if (rows.length === 0) {
        delete st.cursor;
        if (phase === 'manifest' && st.progress) st.progress = false;
        else {
          st.phase = phase === 'manifest' ? 'link' : phase === 'link' ? 'blob' : 'done';
          st.progress = false;
        }
        continue;
      }
      for (const row of rows) {
        budget--;
        batch.reviewed++;
        const digest = row.digest as Digest;
        if (phase === 'manifest') {
          const outcome = this.#reviewManifest(row.repository_id, digest, oldest, now);
          if (outcome !== undefined) {
            st.progress = true;
            batch.manifestsDeleted++;
            if (outcome === 'dropped') {
              batch.blobsDeleted++;
              batch.tombstoned.push(digest);
            }
          }
        } else if (phase === 'link') {
          const outcome = this.#reviewLink(row.repository_id, digest, oldest, now);
          if (outcome !== undefined) {
            batch.linksRemoved++;
            if (outcome === 'dropped') {
              batch.blobsDeleted++;
              batch.tombstoned.push(digest);
            }
          }
        } else if (this.#reviewBlob(digest, oldest, now)) {
          batch.blobsDeleted++;
          batch.tombstoned.push(digest);
        }
      }
      const last = rows[rows.length - 1]!;
      st.cursor = { repositoryId: last.repository_id, digest: last.digest };
    }
    return batch;
  }

  /** An untagged manifest that no index lists and whose subject is gone: deleted once old enough. */
  #reviewManifest(id: number, digest: string, oldest: number, now: number): OrphanOutcome | undefined {
    const row = this.#prepare(
      'SELECT created_at, subject FROM manifests WHERE repository_id = ? AND digest = ?',
    ).get(id, digest) as { created_at: number; subject: string | null } | undefined;
    const keep =
      !row ||
      this.#prepare('SELECT 1 FROM tags WHERE repository_id = ? AND digest = ? LIMIT 1').get(id, digest) !==
        undefined ||
      // distribution #3004: an index's child is never collected while the index is there
      this.#prepare(
        "SELECT 1 FROM manifest_references WHERE repository_id = ? AND child_digest = ? AND kind = 'manifest' LIMIT 1",
      ).get(id, digest) !== undefined ||
      // a referrer (signature, SBOM) lives as long as its subject
      (row.subject !== null &&
        this.#prepare('SELECT 1 FROM manifests WHERE repository_id = ? AND digest = ?').get(
          id,
          row.subject,
        ) !== undefined);
    if (keep) {
      this.#dequeue('manifest', id, digest);
      return undefined;
    }
    if (row.created_at > oldest) return undefined; // young: stays queued
    return this.#removeManifest(id, digest, now);
  }

  /** A link no manifest of its repository lists: removed once old enough, the blob with it if orphaned. */
  #reviewLink(id: number, digest: string, oldest: number, now: number): OrphanOutcome | undefined {
    const link = this.#prepare(
      'SELECT created_at FROM repository_blobs WHERE repository_id = ? AND digest = ?',
    ).get(id, digest) as { created_at: number } | undefined;
    if (!link || this.#referencedIn(id, digest)) {
      this.#dequeue('link', id, digest);
      return undefined;
    }
    if (link.created_at > oldest) return undefined;
    this.#prepare('DELETE FROM repository_blobs WHERE repository_id = ? AND digest = ?').run(id, digest);
    this.#dequeue('link', id, digest);
    const outcome = this.#dropIfOrphan(digest, now);
    if (outcome === 'held') this.#enqueue('blob', 0, digest, now);
    return outcome;
  }

  /** A blob nothing references or pins: its row goes (or it never had one) and a tombstone stays. */
  #reviewBlob(digest: string, oldest: number, now: number): boolean {
    if (this.#tombstoned(digest) || this.#referenced(digest)) {
      this.#dequeue('blob', 0, digest);
      return false;
    }
    if (this.#pinned(digest)) return false;
    const row = this.#prepare('SELECT created_at FROM blobs WHERE digest = ?').get(digest) as
      | { created_at: number }
      | undefined;
    if (row && row.created_at > oldest) return false;
    if (row) this.#prepare('DELETE FROM blobs WHERE digest = ?').run(digest);
    this.#prepare('INSERT INTO gc_tombstones (digest, owner, created_at) VALUES (?, ?, ?)').run(
      digest,
      this.#owner,
      now,
    );
    this.#dequeue('blob', 0, digest);
    return true;
  }

  async enqueueEverything(files: readonly Digest[]): Promise<number> {
    const now = Date.now();
    return this.#write(() => {
      let count = 0;
      for (const sql of ENQUEUE_FROM_METADATA) count += this.#prepare(sql).run({ now }).changes;
      count += this.#prepare(
        `INSERT OR IGNORE INTO gc_queue (kind, repository_id, digest, queued_at)
         SELECT 'blob', 0, b.digest, ? FROM blobs b
         WHERE NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = b.digest)
           AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = b.digest)
           AND NOT EXISTS (SELECT 1 FROM manifest_references mr WHERE mr.child_digest = b.digest)`,
      ).run(now).changes;
      const recorded = this.#prepare('SELECT 1 FROM blobs WHERE digest = ?');
      for (const digest of files) {
        if (recorded.get(digest) !== undefined) continue;
        count += this.#prepare(
          "INSERT OR IGNORE INTO gc_queue (kind, repository_id, digest, queued_at) VALUES ('blob', 0, ?, ?)",
        ).run(digest, now).changes;
      }
      return count;
    });
  }

  async queueSize(): Promise<Record<QueueKind, number>> {
    const sizes: Record<QueueKind, number> = { manifest: 0, link: 0, blob: 0 };
    const rows = this.#prepare('SELECT kind, count(*) AS n FROM gc_queue GROUP BY kind').all() as Array<{
      kind: QueueKind;
      n: number;
    }>;
    for (const row of rows) sizes[row.kind] = row.n;
    return sizes;
  }

  // --- the collector's lease and history -----------------------------------------------------

  async acquireGcLease(token: string, isAlive: (owner: string) => boolean): Promise<boolean> {
    const now = Date.now();
    return this.#write(() => {
      const lease = this.#prepare('SELECT owner, token FROM gc_lease WHERE id = 1').get() as
        | { owner: string; token: string }
        | undefined;
      if (lease && lease.token !== token && isAlive(lease.owner)) return false;
      this.#prepare('INSERT OR REPLACE INTO gc_lease (id, owner, token, started_at) VALUES (1, ?, ?, ?)').run(
        this.#owner,
        token,
        now,
      );
      return true;
    });
  }

  async releaseGcLease(token: string): Promise<void> {
    this.#write(() => {
      this.#prepare('DELETE FROM gc_lease WHERE id = 1 AND token = ?').run(token);
    });
  }

  async recordGcRun(run: Omit<GcRunRecord, 'id'>): Promise<void> {
    this.#write(() => {
      this.#prepare('INSERT INTO gc_runs (started_at, finished_at, dry_run, report) VALUES (?, ?, ?, ?)').run(
        run.startedAt.getTime(),
        run.finishedAt.getTime(),
        run.dryRun ? 1 : 0,
        JSON.stringify(run.report),
      );
      // a bounded history
      this.#prepare('DELETE FROM gc_runs WHERE id <= (SELECT max(id) - 100 FROM gc_runs)').run();
    });
  }

  async listGcRuns(limit: number): Promise<GcRunRecord[]> {
    const rows = this.#prepare(
      'SELECT id, started_at, finished_at, dry_run, report FROM gc_runs ORDER BY id DESC LIMIT ?',
    ).all(limit) as Array<{
      id: number;
      started_at: number;
      finished_at: number;
      dry_run: number;
      report: string;
    }>;
    return rows.map((row) => ({
      id: row.id,
      startedAt: new Date(row.started_at),
      finishedAt: new Date(row.finished_at),
      dryRun: row.dry_run === 1,
      report: JSON.parse(row.report) as Record<string, unknown>,
    }));
  }

  // --- vulnerability reports -----------------------------------------------------------------

  async putScanReports(reports: readonly ScanReportRecord[]): Promise<void> {
    this.#write(() => {
      for (const report of reports) {
        // One report per digest: the newest database's replaces the others.
        this.#prepare('DELETE FROM scan_reports WHERE digest = ? AND database <> ?').run(
          report.digest,
          report.database,
        );
        const { CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN } = report.counts;
        this.#prepare(
          `INSERT OR REPLACE INTO scan_reports
             (digest, database, scanned_at, critical, high, medium, low, unknown, report)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          report.digest,
          report.database,
          report.scannedAt.getTime(),
          CRITICAL,
          HIGH,
          MEDIUM,
          LOW,
          UNKNOWN,
          report.report,
        );
      }
    });
  }

  async getScanReport(digest: Digest, database?: string): Promise<ScanReportRecord | undefined> {
    const row = (
      database === undefined
        ? this.#prepare(`${SCAN_REPORT_SELECT} WHERE digest = ? ORDER BY scanned_at DESC LIMIT 1`).get(digest)
        : this.#prepare(`${SCAN_REPORT_SELECT} WHERE digest = ? AND database = ?`).get(digest, database)
    ) as ScanReportRow | undefined;
    if (!row) return undefined;
    return {
      digest,
      database: row.database,
      scannedAt: new Date(row.scanned_at),
      counts: scanCountsOf(row),
      report: row.report,
    };
  }

  async getScanCounts(digest: Digest): Promise<SeverityCounts | undefined> {
    const row = this.#prepare(
      'SELECT critical, high, medium, low, unknown FROM scan_reports WHERE digest = ? ORDER BY scanned_at DESC LIMIT 1',
    ).get(digest) as ScanCountRow | undefined;
    return row ? scanCountsOf(row) : undefined;
  }

  async pruneScanReports(): Promise<number> {
    return this.#write(
      () =>
        this.#prepare(
          'DELETE FROM scan_reports WHERE NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = scan_reports.digest)',
        ).run().changes,
    );
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}

const SCAN_REPORT_SELECT =
  'SELECT database, scanned_at, critical, high, medium, low, unknown, report FROM scan_reports';

interface ScanCountRow {
  critical: number;
  high: number;
  medium: number;
  low: number;
  unknown: number;
}

interface ScanReportRow extends ScanCountRow {
  database: string;
  scanned_at: number;
  report: string;
}

function scanCountsOf(row: ScanCountRow): SeverityCounts {
  return { CRITICAL: row.critical, HIGH: row.high, MEDIUM: row.medium, LOW: row.low, UNKNOWN: row.unknown };
}

/**
 * Creates or upgrades the schema under the write lock (two processes may open a fresh file at
 * once); every table is `IF NOT EXISTS`, so running the schema adds what a version lacks. Version 1
 * had no review queue: upgrading from it queues what the metadata can name, so the first
 * collection after the upgrade sees the garbage made before it. Version 2 had no scan reports.
 */
function migrate(db: Database.Database, path: string): void {
  const check = () => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `Cannot open registry metadata ${path}: schema version ${version} is newer than this Wharf (${SCHEMA_VERSION})`,
      );
    }
    return version;
  };
  if (check() === SCHEMA_VERSION) return;
  db.transaction(() => {
    const version = check();
    if (version === SCHEMA_VERSION) return;
    db.exec(SCHEMA);
    const now = Date.now();
    if (version < 2) for (const sql of ENQUEUE_FROM_METADATA) db.prepare(sql).run({ now });
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
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
