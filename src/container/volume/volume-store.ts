/**
 * Volume records in the metadata database (`wharf.db`), and the volumes' place on disk.
 *
 *   volumes       name TEXT PK              `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, 64 hex for anonymous ones
 *                 driver TEXT               'local'
 *                 labels TEXT               JSON object (anonymous ones carry com.docker.volume.anonymous)
 *                 options TEXT              JSON object: the local driver's type, device, o
 *                 created_at TEXT           RFC 3339, seconds (Docker's CreatedAt)
 *                 anonymous INTEGER         1: made for one container (image VOLUME, `-v /path`)
 *
 * Which containers use a volume is not stored here: it is read from the containers' own records
 * (`definition.MountPoints` in `containers.spec`, see mount-points.ts), so a removed container
 * can never leave a stale reference behind.
 *
 *   $root/volumes/
 *   └── NAME/
 *       └── _data/        the volume's files; with `--opt type=…` the mount point of its device,
 *                         mounted while a container that uses it runs
 *
 * @example
 * const store = new VolumeStore(db, root);
 * store.insert({ name: 'data', driver: 'local', labels: {}, options: {}, createdAt: '…', anonymous: false });
 * store.users('data'); // container ids
 */
import { join } from 'node:path';
import { AlreadyExistsError, NotFoundError } from '../../errors/index.ts';
import type { MetadataDatabase, Migration } from '../../metadata/database.ts';

export const VOLUME_MIGRATIONS: readonly Migration[] = [
  {
    name: 'volume-1-volumes',
    up(db) {
      db.exec(`
        CREATE TABLE volumes (
          name TEXT PRIMARY KEY,
          driver TEXT NOT NULL,
          labels TEXT NOT NULL DEFAULT '{}',
          options TEXT NOT NULL DEFAULT '{}',
          created_at TEXT NOT NULL,
          anonymous INTEGER NOT NULL DEFAULT 0
        );
      `);
    },
  },
];

/** Docker 23's label on anonymous volumes (what `volume prune` removes without `--all`). */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

export interface VolumeRecord {
  name: string;
  driver: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  /** RFC 3339, seconds. */
  createdAt: string;
  anonymous: boolean;
}

interface Row {
  name: string;
  driver: string;
  labels: string;
  options: string;
  created_at: string;
  anonymous: number;
}

function fromRow(row: Row): VolumeRecord {
  return {
    name: row.name,
    driver: row.driver,
    labels: JSON.parse(row.labels) as Record<string, string>,
    options: JSON.parse(row.options) as Record<string, string>,
    createdAt: row.created_at,
    anonymous: row.anonymous === 1,
  };
}

/** `$root/volumes`. */
export function volumesDir(root: string): string {
  return join(root, 'volumes');
}

/** `$root/volumes/NAME/_data`: Docker's Mountpoint. */
export function volumeDataPath(root: string, name: string): string {
  return join(volumesDir(root), name, '_data');
}

/** The states in which a container's mounts are in place. */
const ACTIVE_STATES = "('running', 'paused', 'restarting')";

export class VolumeStore {
  readonly #db: MetadataDatabase;

  constructor(db: MetadataDatabase) {
    this.#db = db;
    db.migrate(VOLUME_MIGRATIONS);
  }

  get db(): MetadataDatabase {
    return this.#db;
  }

  get(name: string): VolumeRecord | undefined {
    const row = this.#db.sql.prepare('SELECT * FROM volumes WHERE name = ?').get(name) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** NotFoundError `get NAME: no such volume` (Docker's words). */
  find(name: string): VolumeRecord {
    const found = this.get(name);
    if (!found) throw new NotFoundError(`get ${name}: no such volume`);
    return found;
  }

  list(): VolumeRecord[] {
    return (this.#db.sql.prepare('SELECT * FROM volumes ORDER BY name').all() as Row[]).map(fromRow);
  }

  /** Inserts a record; AlreadyExistsError when the name is taken. */
  insert(record: VolumeRecord): void {
    this.#db.write(() => {
      if (this.get(record.name)) throw new AlreadyExistsError(`volume ${record.name} already exists`);
      this.#db.sql
        .prepare(
          'INSERT INTO volumes (name, driver, labels, options, created_at, anonymous) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(
          record.name,
          record.driver,
          JSON.stringify(record.labels),
          JSON.stringify(record.options),
          record.createdAt,
          record.anonymous ? 1 : 0,
        );
    });
  }

  delete(name: string): void {
    this.#db.write(() => this.#db.sql.prepare('DELETE FROM volumes WHERE name = ?').run(name));
  }

  /**
   * The containers whose records mount volume `name` (any state), from their definitions.
   * `except` leaves one container out (the one being removed).
   */
  users(name: string, options: { except?: string; activeOnly?: boolean } = {}): string[] {
    const rows = this.#db.sql
      .prepare(
        `SELECT DISTINCT c.id AS id FROM containers c, json_each(c.spec, '$.MountPoints') m
          WHERE json_extract(m.value, '$.Type') = 'volume' AND json_extract(m.value, '$.Name') = ?
          ${options.activeOnly ? `AND c.state IN ${ACTIVE_STATES}` : ''}
          ORDER BY c.id`,
      )
      .all(name) as { id: string }[];
    return rows.map((row) => row.id).filter((id) => id !== options.except);
  }

  /** How many containers use each volume (those used by none are absent). */
  usageCounts(): Map<string, number> {
    const rows = this.#db.sql
      .prepare(
        `SELECT json_extract(m.value, '$.Name') AS name, COUNT(DISTINCT c.id) AS n
           FROM containers c, json_each(c.spec, '$.MountPoints') m
          WHERE json_extract(m.value, '$.Type') = 'volume' GROUP BY 1`,
      )
      .all() as { name: string; n: number }[];
    return new Map(rows.map((row) => [row.name, row.n]));
  }
}
