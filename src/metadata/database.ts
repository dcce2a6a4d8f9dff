/**
 * The metadata database: one SQLite file per store root (`$root/wharf.db`), shared by every
 * `wharf` process, the daemon and conmon's exit command. WAL mode lets readers run beside one
 * writer; a busy timeout makes writers wait instead of failing; every write goes through
 * `BEGIN IMMEDIATE` (`write()`), so a transaction never upgrades from read to write half way
 * (the upgrade is what fails with SQLITE_BUSY without waiting).
 *
 * Schema (core migrations below; later areas add theirs with `migrate()`, keyed by name):
 *
 *   schema_migrations   name TEXT PK, applied_at INTEGER (ms)
 *   images              id TEXT PK                  config digest: the image id
 *                       manifest_digest TEXT        the manifest Wharf keeps for it (uncompressed layers)
 *                       manifest_media_type TEXT
 *                       index_digest TEXT NULL      the index it was selected from, when pulled
 *                       created TEXT NULL           config.created (RFC 3339)
 *                       size INTEGER                sum of its uncompressed layer sizes
 *                       architecture, os TEXT, variant TEXT NULL
 *                       parent TEXT NULL            local parent image id (classic builder)
 *                       added_at INTEGER            when this store got it (ms)
 *   tags                reference TEXT PK           normalized `docker.io/library/busybox:latest`
 *                       image_id TEXT -> images.id, tagged_at INTEGER (ms)
 *   repo_digests        reference TEXT              normalized `name@sha256:…` (pulled or pushed)
 *                       image_id TEXT -> images.id, PK (reference, image_id)
 *   image_content       image_id TEXT -> images.id, digest TEXT   every blob the image needs
 *                                                   (manifest, config, layers), PK (image_id, digest)
 *   leases              id TEXT PK, created_at INTEGER, expires_at INTEGER NULL,
 *                       pid INTEGER NULL (holder; a dead holder's lease is void), labels TEXT (JSON)
 *   lease_resources     lease_id TEXT -> leases.id ON DELETE CASCADE, kind TEXT ('content',
 *                       'snapshot'...), resource TEXT (digest, key...), PK (lease_id, kind, resource)
 *   content_labels      digest TEXT, key TEXT, value TEXT, PK (digest, key)
 *   containers          id TEXT PK, name TEXT UNIQUE, image_id TEXT, created_at INTEGER,
 *                       spec TEXT (JSON)            placeholder the container service extends
 *   container_events    the event log of every object type (event-log.ts)
 *
 * @example
 * const db = openMetadataDatabase('/var/lib/wharf');
 * db.write(() => db.sql.prepare('DELETE FROM tags WHERE reference = ?').run(ref));
 * db.close();
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { InternalError, UnavailableError } from '../errors/index.ts';
import { openSharedSqlite } from '../util/sqlite-wal.ts';

export const DATABASE_FILE = 'wharf.db';
/** How long a writer waits for another process's transaction before giving up. */
export const BUSY_TIMEOUT_MS = 60_000;

/** One schema change, applied once per database, identified by a unique name (`<area>-<n>-<what>`). */
export interface Migration {
  name: string;
  /** Runs inside the migration's write transaction: synchronous SQL only. */
  up(db: Database.Database): void;
}

/**
 * The event log's table (see event-log.ts), made by the core migrations so every area may record
 * events; the container migration, which made it first, runs the same `IF NOT EXISTS` statement.
 */
export const EVENT_LOG_SQL = `
  CREATE TABLE IF NOT EXISTS container_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time_nano INTEGER NOT NULL,
    type TEXT NOT NULL,
    action TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    attributes TEXT NOT NULL DEFAULT '{}'
  );
  CREATE INDEX IF NOT EXISTS container_events_time ON container_events(time_nano);
`;

export const CORE_MIGRATIONS: readonly Migration[] = [
  {
    name: 'metadata-1-images-tags-leases',
    up(db) {
      db.exec(`
        CREATE TABLE images (
          id TEXT PRIMARY KEY,
          manifest_digest TEXT NOT NULL,
          manifest_media_type TEXT NOT NULL,
          index_digest TEXT,
          created TEXT,
          size INTEGER NOT NULL,
          architecture TEXT NOT NULL,
          os TEXT NOT NULL,
          variant TEXT,
          parent TEXT,
          added_at INTEGER NOT NULL
        );
        CREATE INDEX images_parent ON images(parent);
        CREATE INDEX images_manifest ON images(manifest_digest);
        CREATE TABLE tags (
          reference TEXT PRIMARY KEY,
          image_id TEXT NOT NULL REFERENCES images(id),
          tagged_at INTEGER NOT NULL
        );
        CREATE INDEX tags_image ON tags(image_id);
        CREATE TABLE repo_digests (
          reference TEXT NOT NULL,
          image_id TEXT NOT NULL REFERENCES images(id),
          PRIMARY KEY (reference, image_id)
        );
        CREATE INDEX repo_digests_image ON repo_digests(image_id);
        CREATE TABLE image_content (
          image_id TEXT NOT NULL REFERENCES images(id),
          digest TEXT NOT NULL,
          PRIMARY KEY (image_id, digest)
        );
        CREATE INDEX image_content_digest ON image_content(digest);
        CREATE TABLE leases (
          id TEXT PRIMARY KEY,
          created_at INTEGER NOT NULL,
          expires_at INTEGER,
          pid INTEGER,
          labels TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE lease_resources (
          lease_id TEXT NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
          kind TEXT NOT NULL,
          resource TEXT NOT NULL,
          PRIMARY KEY (lease_id, kind, resource)
        );
        CREATE INDEX lease_resources_resource ON lease_resources(kind, resource);
        CREATE TABLE content_labels (
          digest TEXT NOT NULL,
          key TEXT NOT NULL,
          value TEXT NOT NULL,
          PRIMARY KEY (digest, key)
        );
        CREATE TABLE containers (
          id TEXT PRIMARY KEY,
          name TEXT UNIQUE,
          image_id TEXT,
          created_at INTEGER NOT NULL,
          spec TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX containers_image ON containers(image_id);
      `);
    },
  },
  {
    name: 'metadata-2-event-log',
    up(db) {
      db.exec(EVENT_LOG_SQL);
    },
  },
];

/** An open metadata database. Close it when done (`close()` or `using`). */
export class MetadataDatabase implements Disposable {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement<unknown[]>>();
  readonly path: string;

  constructor(db: Database.Database, path: string) {
    this.#db = db;
    this.path = path;
  }

  /** The better-sqlite3 handle, for the stores built on this database. */
  get sql(): Database.Database {
    return this.#db;
  }

  /**
   * The statement for `sql`, compiled once per open database and shared by every store on it
   * (compiling costs more than running most statements: the container records and the event
   * log run theirs at every step of a container).
   */
  statement(sql: string): Database.Statement<unknown[]> {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /**
   * Runs `fn` in a `BEGIN IMMEDIATE` transaction (waiting up to the busy timeout for other
   * writers) and commits, or rolls back when it throws. `fn` must be synchronous: do file I/O
   * before, then a short commit. Nested calls join the outer transaction.
   */
  write<T>(fn: () => T): T {
    if (this.#db.inTransaction) return fn();
    try {
      return this.#db.transaction(fn).immediate();
    } catch (error) {
      throw translateSqliteError(error);
    }
  }

  /** Runs `fn` in a read transaction: a consistent snapshot across several queries. */
  read<T>(fn: () => T): T {
    if (this.#db.inTransaction) return fn();
    try {
      return this.#db.transaction(fn).deferred();
    } catch (error) {
      throw translateSqliteError(error);
    }
  }

  /** Applies the migrations not yet applied, in order, each in its own write transaction. */
  migrate(migrations: readonly Migration[]): void {
    // Every process opening the database comes through here: one query tells whether there is
    // anything to do, and the statements that apply migrations are prepared only when there is.
    const done = new Set(this.#db.prepare('SELECT name FROM schema_migrations').pluck().all() as string[]);
    const pending = migrations.filter((migration) => !done.has(migration.name));
    if (pending.length === 0) return;
    const applied = this.#db.prepare('SELECT 1 FROM schema_migrations WHERE name = ?').pluck();
    const record = this.#db.prepare('INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)');
    for (const migration of pending) {
      this.write(() => {
        // checked again under the write lock: another process may have just applied it
        if (applied.get(migration.name)) return;
        migration.up(this.#db);
        record.run(migration.name, Date.now());
      });
    }
  }

  /**
   * Closes the connection. The last connection to close checkpoints the WAL into the database
   * and removes it (two fsyncs, about 2 ms on this machine's disk, little CPU). Leaving the
   * connection open at exit would not save that: better-sqlite3 closes every open database in
   * its exit hook (measured: same CPU and wall time either way).
   */
  close(): void {
    if (this.#db.open) this.#db.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Opens (creating if needed) `$root/wharf.db` and applies the core migrations.
 *
 * @example
 * using db = openMetadataDatabase(root);
 */
export function openMetadataDatabase(
  root: string,
  options: { migrations?: readonly Migration[] } = {},
): MetadataDatabase {
  mkdirSync(root, { recursive: true, mode: 0o711 });
  const path = join(root, DATABASE_FILE);
  let db: Database.Database;
  try {
    db = openSharedSqlite(path, { busyTimeoutMs: BUSY_TIMEOUT_MS, synchronous: 'NORMAL' });
  } catch (error) {
    if ((error as { code?: unknown }).code === 'SQLITE_BUSY') throw translateSqliteError(error);
    throw new UnavailableError(`Cannot open metadata database ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)',
    );
    const metadata = new MetadataDatabase(db, path);
    metadata.migrate([...CORE_MIGRATIONS, ...(options.migrations ?? [])]);
    return metadata;
  } catch (error) {
    db.close();
    throw translateSqliteError(error);
  }
}

/** SQLITE_BUSY after the timeout becomes Unavailable; other SQLite errors are Internal. */
function translateSqliteError(error: unknown): unknown {
  if (typeof error !== 'object' || error === null) return error;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return error;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new UnavailableError(`Cannot write metadata: the database stayed locked (${code})`, {
      cause: error,
    });
  }
  return new InternalError(`Cannot use metadata database: ${(error as Error).message}`, { cause: error });
}
