/**
 * Container records in the metadata database (`wharf.db`), shared by every `wharf` process and by
 * conmon's exit command. The core schema's `containers` table (id, name, image_id, created_at,
 * spec) is extended by this area's migration; `spec` holds the container's definition (Docker's
 * Config and HostConfig plus what Wharf decided at create) as JSON, the columns hold its state.
 *
 *   containers            (core)  id TEXT PK (64 hex), name TEXT UNIQUE (no slash), image_id TEXT,
 *                                 created_at INTEGER (ms), spec TEXT (JSON ContainerDefinition)
 *     + state TEXT                created|running|paused|restarting|exited|dead|removing
 *     + generation INTEGER        bumped at each start: names one run of the process
 *     + cleaned_generation        the last run whose exit was handled (cleanup is idempotent)
 *     + pid, conmon_pid INTEGER   host pids of the init and of its conmon (0 when not running)
 *     + exit_code, oom_killed     of the last run
 *     + error TEXT                why the last start failed
 *     + started_at, finished_at   RFC 3339 with nanoseconds ('' for never)
 *     + restart_count INTEGER     restarts by the restart policy since the last user start
 *     + manually_stopped INTEGER  1 after `stop`/`kill`: restart policies leave it stopped
 *     + health TEXT NULL          JSON State.Health
 *     + health_pid INTEGER        the health-check loop process (0: none)
 *     + runtime TEXT              crun or runc: the runtime of the current run
 *     + lock_owner TEXT NULL      `pid:starttime` of the process changing it (see `lock`)
 *   container_events      the event log of every object type: see metadata/event-log.ts
 *
 * Every change is a compare-and-set inside `BEGIN IMMEDIATE` (`db.write`), so two processes
 * never both win a state transition.
 *
 * @example
 * const records = new ContainerRecords(db);
 * const record = records.find('web');
 * records.update(record.id, (r) => ({ state: transition(r.state, 'pause', r.name) }));
 */
import type Database from 'better-sqlite3';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../errors/index.ts';
import type { MetadataDatabase, Migration } from '../metadata/database.ts';
import { EVENT_LOG_SQL, EventLog, type StoredEvent } from '../metadata/event-log.ts';
import type { ContainerState } from './container-state.ts';
import type { ContainerConfig, HealthState, HostConfig } from './docker-types.ts';
import { isTokenAlive, ownToken } from './process-token.ts';
import type { StoredMountPoint } from './volume/mount-points.ts';

export const CONTAINER_MIGRATIONS: readonly Migration[] = [
  {
    name: 'container-1-state-events',
    up(db) {
      const columns = [
        "state TEXT NOT NULL DEFAULT 'created'",
        'generation INTEGER NOT NULL DEFAULT 0',
        'cleaned_generation INTEGER NOT NULL DEFAULT 0',
        'pid INTEGER NOT NULL DEFAULT 0',
        'conmon_pid INTEGER NOT NULL DEFAULT 0',
        'exit_code INTEGER NOT NULL DEFAULT 0',
        'oom_killed INTEGER NOT NULL DEFAULT 0',
        "error TEXT NOT NULL DEFAULT ''",
        "started_at TEXT NOT NULL DEFAULT ''",
        "finished_at TEXT NOT NULL DEFAULT ''",
        'restart_count INTEGER NOT NULL DEFAULT 0',
        'manually_stopped INTEGER NOT NULL DEFAULT 0',
        'health TEXT',
        'health_pid INTEGER NOT NULL DEFAULT 0',
        "runtime TEXT NOT NULL DEFAULT ''",
        'lock_owner TEXT',
      ];
      for (const column of columns) db.exec(`ALTER TABLE containers ADD COLUMN ${column}`);
      // the event log's table (metadata/event-log.ts), if the core migration has not made it
      db.exec(EVENT_LOG_SQL);
    },
  },
];

/** What Wharf stores about a container beyond its state: Docker's definition, and its own choices. */
export interface ContainerDefinition {
  Config: ContainerConfig;
  HostConfig: HostConfig;
  /** The process: entrypoint and command merged (Docker's `Path` and `Args`). */
  Path: string;
  Args: string[];
  /** RFC 3339 with nanoseconds. */
  Created: string;
  /** The image's id (`sha256:…`). */
  ImageId: string;
  /** The active snapshot holding the container's writable layer. */
  SnapshotKey: string;
  /** Absolute cgroup of the container (cgroupfs). */
  CgroupsPath: string;
  /** Its mounts as resolved at create (volumes, binds, tmpfs): see volume/mount-points.ts. */
  MountPoints?: StoredMountPoint[];
  /** The create request's `NetworkingConfig.EndpointsConfig`: aliases and `--ip` per network. */
  EndpointsConfig?: Record<string, EndpointConfig>;
}

/** The parts of Docker's `EndpointSettings` a create request sets and Wharf honours. */
export interface EndpointConfig {
  Aliases?: string[] | null;
  IPAMConfig?: { IPv4Address?: string } | null;
}

export interface ContainerRecord {
  id: string;
  name: string;
  imageId: string;
  definition: ContainerDefinition;
  state: ContainerState;
  generation: number;
  cleanedGeneration: number;
  pid: number;
  conmonPid: number;
  exitCode: number;
  oomKilled: boolean;
  error: string;
  startedAt: string;
  finishedAt: string;
  restartCount: number;
  manuallyStopped: boolean;
  health: HealthState | undefined;
  healthPid: number;
  runtime: string;
}

/** The columns an update may change. */
export type ContainerPatch = Partial<Omit<ContainerRecord, 'id' | 'imageId'>>;

interface Row {
  id: string;
  name: string;
  image_id: string;
  created_at: number;
  spec: string;
  state: ContainerState;
  generation: number;
  cleaned_generation: number;
  pid: number;
  conmon_pid: number;
  exit_code: number;
  oom_killed: number;
  error: string;
  started_at: string;
  finished_at: string;
  restart_count: number;
  manually_stopped: number;
  health: string | null;
  health_pid: number;
  runtime: string;
  lock_owner: string | null;
}

function fromRow(row: Row): ContainerRecord {
  return {
    id: row.id,
    name: row.name,
    imageId: row.image_id,
    definition: JSON.parse(row.spec) as ContainerDefinition,
    state: row.state,
    generation: row.generation,
    cleanedGeneration: row.cleaned_generation,
    pid: row.pid,
    conmonPid: row.conmon_pid,
    exitCode: row.exit_code,
    oomKilled: row.oom_killed !== 0,
    error: row.error,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    restartCount: row.restart_count,
    manuallyStopped: row.manually_stopped !== 0,
    health: row.health ? (JSON.parse(row.health) as HealthState) : undefined,
    healthPid: row.health_pid,
    runtime: row.runtime,
  };
}

const COLUMN_OF: Record<keyof ContainerPatch, string> = {
  name: 'name',
  definition: 'spec',
  state: 'state',
  generation: 'generation',
  cleanedGeneration: 'cleaned_generation',
  pid: 'pid',
  conmonPid: 'conmon_pid',
  exitCode: 'exit_code',
  oomKilled: 'oom_killed',
  error: 'error',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
  restartCount: 'restart_count',
  manuallyStopped: 'manually_stopped',
  health: 'health',
  healthPid: 'health_pid',
  runtime: 'runtime',
};

function toColumn(key: keyof ContainerPatch, value: unknown): unknown {
  if (key === 'definition') return JSON.stringify(value);
  if (key === 'health') return value === undefined ? null : JSON.stringify(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value;
}

export type { StoredEvent } from '../metadata/event-log.ts';

type Statement = Database.Statement<unknown[]>;

export class ContainerRecords {
  readonly #db: MetadataDatabase;
  readonly #events: EventLog;

  constructor(db: MetadataDatabase) {
    this.#db = db;
    this.#events = new EventLog(db);
  }

  #prepare(sql: string): Statement {
    return this.#db.statement(sql);
  }

  get db(): MetadataDatabase {
    return this.#db;
  }

  /** Inserts a new container; ConflictError when its name is taken (Docker's words). */
  insert(record: ContainerRecord, createdAtMs: number): void {
    this.#db.write(() => {
      const holder = this.#prepare('SELECT id FROM containers WHERE name = ?').pluck().get(record.name) as
        | string
        | undefined;
      if (holder !== undefined) throw nameConflict(record.name, holder);
      this.#prepare(
        `INSERT INTO containers (id, name, image_id, created_at, spec, state, runtime)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        record.id,
        record.name,
        record.imageId,
        createdAtMs,
        JSON.stringify(record.definition),
        record.state,
        record.runtime,
      );
    });
  }

  /** True when a container has this name. */
  nameTaken(name: string): boolean {
    return this.#prepare('SELECT 1 FROM containers WHERE name = ?').pluck().get(name) !== undefined;
  }

  /** The record of `id`, or undefined. */
  get(id: string): ContainerRecord | undefined {
    const row = this.#prepare('SELECT * FROM containers WHERE id = ?').get(id) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  /**
   * Finds a container as Docker does: full id, then exact name (with or without its slash),
   * then a unique id prefix. NotFoundError `No such container: X`.
   */
  find(idOrName: string): ContainerRecord {
    const input = idOrName.trim();
    if (input === '') throw new NotFoundError('No such container: ');
    const byId = this.get(input);
    if (byId) return byId;
    const name = input.startsWith('/') ? input.slice(1) : input;
    const byName = this.#prepare('SELECT * FROM containers WHERE name = ?').get(name) as Row | undefined;
    if (byName) return fromRow(byName);
    if (/^[0-9a-f]+$/.test(input)) {
      const rows = this.#prepare("SELECT * FROM containers WHERE id >= ? AND id < ? || 'g' LIMIT 2").all(
        input,
        input,
      ) as Row[];
      if (rows.length > 1) {
        throw new InvalidArgumentError(`Multiple IDs found with provided prefix: ${input}`);
      }
      if (rows[0]) return fromRow(rows[0]);
    }
    throw new NotFoundError(`No such container: ${input}`);
  }

  /** Every container, newest first (as `ps` lists them). */
  list(): ContainerRecord[] {
    const rows = this.#prepare(
      'SELECT * FROM containers ORDER BY created_at DESC, rowid DESC',
    ).all() as Row[];
    return rows.map(fromRow);
  }

  /**
   * Read-modify-write in one write transaction: `fn` sees the current record and returns the
   * changes (or undefined for none). Returns the record after the change; NotFoundError when the
   * container is gone. Exceptions from `fn` roll back.
   */
  update(id: string, fn: (current: ContainerRecord) => ContainerPatch | undefined): ContainerRecord {
    return this.#db.write(() => {
      const current = this.get(id);
      if (!current) throw new NotFoundError(`No such container: ${id}`);
      const patch = fn(current);
      if (!patch || Object.keys(patch).length === 0) return current;
      if (patch.name !== undefined && patch.name !== current.name) {
        const holder = this.#prepare('SELECT id FROM containers WHERE name = ?').pluck().get(patch.name) as
          | string
          | undefined;
        if (holder !== undefined) throw nameConflict(patch.name, holder);
      }
      const keys = Object.keys(patch) as (keyof ContainerPatch)[];
      const assignments = keys.map((key) => `${COLUMN_OF[key]} = ?`).join(', ');
      this.#prepare(`UPDATE containers SET ${assignments} WHERE id = ?`).run(
        ...keys.map((key) => toColumn(key, patch[key])),
        id,
      );
      return { ...current, ...patch } as ContainerRecord;
    });
  }

  /** Deletes the row (the caller has removed everything else). */
  delete(id: string): void {
    this.#db.write(() => {
      this.#prepare('DELETE FROM containers WHERE id = ?').run(id);
    });
  }

  /**
   * Takes the container's lock for this process: true when taken (or already held by this
   * process), false while another live process holds it. A lock whose holder died is free.
   */
  tryLock(id: string): boolean {
    const me = ownToken();
    return this.#db.write(() => {
      const owner = this.#prepare('SELECT lock_owner FROM containers WHERE id = ?').pluck().get(id) as
        | string
        | null
        | undefined;
      if (owner === undefined) throw new NotFoundError(`No such container: ${id}`);
      if (owner !== null && owner !== me && isTokenAlive(owner)) return false;
      this.#prepare('UPDATE containers SET lock_owner = ? WHERE id = ?').run(me, id);
      return true;
    });
  }

  /** Releases this process's lock (no-op when another process holds it or the row is gone). */
  unlock(id: string): void {
    this.#db.write(() => {
      this.#prepare('UPDATE containers SET lock_owner = NULL WHERE id = ? AND lock_owner = ?').run(
        id,
        ownToken(),
      );
    });
  }

  /** The ids of containers using an image, with whether they run (for `rmi`'s conflict rules). */
  usingImage(imageId: string): { id: string; running: boolean }[] {
    const rows = this.#prepare('SELECT id, state FROM containers WHERE image_id = ?').all(imageId) as {
      id: string;
      state: string | undefined;
    }[];
    return rows.map((row) => ({
      id: row.id,
      running: row.state === 'running' || row.state === 'paused' || row.state === 'restarting',
    }));
  }

  // ---- events ----

  addEvent(event: Omit<StoredEvent, 'seq'>): void {
    this.#events.add(event);
  }

  /** Events after sequence number `afterSeq` (and at or after `sinceNano`), oldest first. */
  events(options: { afterSeq?: number; sinceNano?: bigint; untilNano?: bigint } = {}): StoredEvent[] {
    return this.#events.events(options);
  }

  /** The newest event's sequence number (0 when there is none). */
  lastEventSeq(): number {
    return this.#events.lastSeq();
  }
}

function nameConflict(name: string, holder: string): ConflictError {
  return new ConflictError(
    `Conflict. The container name "/${name}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`,
  );
}
