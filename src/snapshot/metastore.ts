/**
 * Snapshot metadata in a SQLite file of its own (one per snapshotter root), shared by every Wharf
 * process on the machine: WAL so readers never wait, a busy timeout so writers queue instead of
 * failing, `BEGIN IMMEDIATE` so a write transaction takes the lock before it reads what it checks.
 * Transactions are synchronous and short; the only filesystem work inside them is a rename or a
 * symlink, which is what makes a snapshot's directory and its row appear (or vanish) together.
 *
 * Durability: `synchronous = FULL`, so a commit waits for the WAL to reach the disk and a
 * committed layer's row survives power loss along with the rename it describes. A transaction
 * for a throwaway snapshot (an `--rm` container's writable layer: `durable: false`) runs at
 * NORMAL instead: its commit survives a crash of the process but not a power loss, when it is
 * either lost or kept by the next checkpoint. Losing it leaves a directory no row names (made
 * by `create`: `open`'s sweep removes it) or a row whose directory is gone (after `remove`:
 * `remove` again deletes it), the states a killed process leaves; the container record it
 * belongs to (wharf.db, NORMAL) is no more durable than that.
 *
 * Schema:
 *
 *     snapshots                         one row per snapshot, any kind
 *       id         INTEGER PK AUTOINCREMENT   names the directory (never reused)
 *       name       TEXT UNIQUE          key (active, view) or name (committed)
 *       kind       TEXT                 'active' | 'view' | 'committed'
 *       parent_id  INTEGER -> snapshots.id    committed parent, NULL for a base
 *       created_ms INTEGER, updated_ms INTEGER
 *       size, inodes INTEGER            disk use, recorded at commit
 *     labels                            (snapshot_id, key) -> value, deleted with the snapshot
 *
 * @example
 * const store = new SnapshotMetaStore('/var/lib/wharf/snapshots/overlay/metadata.db');
 * const row = store.transaction(() => store.create('k', 'active', undefined, {}));
 */
import type Database from 'better-sqlite3';
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
} from '../errors/index.ts';
import { openSharedSqlite } from '../util/sqlite-wal.ts';
import type { SnapshotInfo, SnapshotKind } from './snapshotter.ts';

export interface SnapshotRow {
  id: number;
  name: string;
  kind: SnapshotKind;
  parent_id: number | null;
  created_ms: number;
  updated_ms: number;
  size: number | null;
  inodes: number | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS snapshots (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL CHECK (kind IN ('active', 'view', 'committed')),
  parent_id INTEGER REFERENCES snapshots(id) ON DELETE RESTRICT,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  size INTEGER,
  inodes INTEGER
);
CREATE INDEX IF NOT EXISTS snapshots_parent ON snapshots(parent_id);
CREATE TABLE IF NOT EXISTS labels (
  snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (snapshot_id, key)
) WITHOUT ROWID;
`;

export class SnapshotMetaStore {
  readonly #db: Database.Database;

  constructor(path: string) {
    // FULL: a committed snapshot row survives power loss along with the rename it describes
    // (see the module comment for the transactions that do not need it).
    this.#db = openSharedSqlite(path, { busyTimeoutMs: 10_000, synchronous: 'FULL' });
    this.transaction(() => {
      if ((this.#db.pragma('user_version', { simple: true }) as number) === 0) {
        this.#db.exec(SCHEMA);
        this.#db.pragma('user_version = 1');
      }
    });
  }

  /**
   * Runs `fn` in a write transaction (BEGIN IMMEDIATE). `fn` must be synchronous. With
   * `durable: false` the commit does not wait for the disk (see the module comment).
   */
  transaction<T>(fn: () => T, options: { durable?: boolean } = {}): T {
    if (options.durable !== false) return this.#db.transaction(fn).immediate();
    this.#db.pragma('synchronous = NORMAL');
    try {
      return this.#db.transaction(fn).immediate();
    } finally {
      this.#db.pragma('synchronous = FULL');
    }
  }

  get(name: string): SnapshotRow | undefined {
    return this.#db.prepare('SELECT * FROM snapshots WHERE name = ?').get(name) as SnapshotRow | undefined;
  }

  /** The row of `name`, or NotFoundError. */
  require(name: string): SnapshotRow {
    const row = this.get(name);
    if (!row) throw new NotFoundError(`Cannot find snapshot ${name}`);
    return row;
  }

  byId(id: number): SnapshotRow | undefined {
    return this.#db.prepare('SELECT * FROM snapshots WHERE id = ?').get(id) as SnapshotRow | undefined;
  }

  /** Ids of `row`'s ancestors, nearest first. */
  parentIds(row: SnapshotRow): number[] {
    const rows = this.#db
      .prepare(
        `WITH RECURSIVE chain(id, parent_id, depth) AS (
           SELECT id, parent_id, 0 FROM snapshots WHERE id = ?
           UNION ALL
           SELECT s.id, s.parent_id, c.depth + 1 FROM snapshots s JOIN chain c ON s.id = c.parent_id
         ) SELECT id FROM chain WHERE depth > 0 ORDER BY depth`,
      )
      .all(row.id) as { id: number }[];
    return rows.map((r) => r.id);
  }

  /** Inserts a snapshot; the parent must exist and be committed. Call inside `transaction`. */
  create(
    name: string,
    kind: SnapshotKind,
    parent: string | undefined,
    labels: Record<string, string>,
  ): SnapshotRow {
    const parentRow = this.checkCreate(name, parent);
    const now = Date.now();
    const { lastInsertRowid } = this.#db
      .prepare('INSERT INTO snapshots (name, kind, parent_id, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?)')
      .run(name, kind, parentRow?.id ?? null, now, now);
    this.#setLabels(Number(lastInsertRowid), labels);
    return this.byId(Number(lastInsertRowid))!;
  }

  /** Throws what `create` would throw for these arguments; returns the parent's row. */
  checkCreate(name: string, parent: string | undefined): SnapshotRow | undefined {
    validateName(name);
    if (this.get(name)) throw new AlreadyExistsError(`Cannot create snapshot ${name}: it already exists`);
    if (parent === undefined) return undefined;
    const parentRow = this.get(parent);
    if (!parentRow)
      throw new NotFoundError(`Cannot create snapshot ${name}: parent ${parent} does not exist`);
    if (parentRow.kind !== 'committed')
      throw new InvalidArgumentError(`Cannot create snapshot ${name}: parent ${parent} is not committed`);
    return parentRow;
  }

  /** Turns active `key` into committed `name`. Call inside `transaction`. */
  commit(
    key: string,
    name: string,
    usage: { size: number; inodes: number },
    labels?: Record<string, string>,
  ): SnapshotRow {
    validateName(name);
    const row = this.require(key);
    if (row.kind !== 'active')
      throw new FailedPreconditionError(`Cannot commit snapshot ${key}: it is ${row.kind}, not active`);
    if (this.get(name))
      throw new AlreadyExistsError(`Cannot commit snapshot ${key} as ${name}: ${name} already exists`);
    this.#db
      .prepare(
        "UPDATE snapshots SET name = ?, kind = 'committed', updated_ms = ?, size = ?, inodes = ? WHERE id = ?",
      )
      .run(name, Date.now(), usage.size, usage.inodes, row.id);
    if (labels) this.#setLabels(row.id, { ...this.labels(row.id), ...labels });
    return this.byId(row.id)!;
  }

  /** Deletes `name`'s row (labels go with it); FailedPrecondition while it has children. */
  remove(name: string): SnapshotRow {
    const row = this.require(name);
    const child = this.#db.prepare('SELECT name FROM snapshots WHERE parent_id = ? LIMIT 1').get(row.id) as
      | { name: string }
      | undefined;
    if (child)
      throw new FailedPreconditionError(
        `Cannot remove snapshot ${name}: snapshot ${child.name} is based on it`,
      );
    this.#db.prepare('DELETE FROM snapshots WHERE id = ?').run(row.id);
    return row;
  }

  /** Replaces the labels of `name`. */
  updateLabels(name: string, labels: Record<string, string>): SnapshotRow {
    const row = this.require(name);
    this.#setLabels(row.id, labels);
    this.#db.prepare('UPDATE snapshots SET updated_ms = ? WHERE id = ?').run(Date.now(), row.id);
    return this.byId(row.id)!;
  }

  labels(id: number): Record<string, string> {
    const rows = this.#db
      .prepare('SELECT key, value FROM labels WHERE snapshot_id = ? ORDER BY key')
      .all(id) as {
      key: string;
      value: string;
    }[];
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }

  all(): SnapshotRow[] {
    return this.#db.prepare('SELECT * FROM snapshots ORDER BY id').all() as SnapshotRow[];
  }

  /** Everything `stat` reports about a row. */
  info(row: SnapshotRow): SnapshotInfo {
    const info: SnapshotInfo = {
      kind: row.kind,
      name: row.name,
      labels: this.labels(row.id),
      created: new Date(row.created_ms),
      updated: new Date(row.updated_ms),
    };
    if (row.parent_id !== null) info.parent = this.byId(row.parent_id)!.name;
    return info;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  #setLabels(id: number, labels: Record<string, string>): void {
    this.#db.prepare('DELETE FROM labels WHERE snapshot_id = ?').run(id);
    const insert = this.#db.prepare('INSERT INTO labels (snapshot_id, key, value) VALUES (?, ?, ?)');
    for (const [key, value] of Object.entries(labels)) insert.run(id, key, value);
  }
}

function validateName(name: string): void {
  if (name === '' || name.length > 4096 || name.includes('\0'))
    throw new InvalidArgumentError(
      `Cannot use snapshot name "${name.slice(0, 64)}": empty, too long or has a NUL byte`,
    );
}
