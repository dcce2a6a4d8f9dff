/**
 * The event log (`docker events`): one table, `container_events`, in the metadata database,
 * written by every area that changes an object Docker reports on (containers, networks, volumes,
 * images) and read by `wharf events` and the daemon's `/events`. It lives here, below the
 * services, so the image, network and volume code can record events without importing the
 * container records; the table keeps its first name (it held container events only) so existing
 * roots need no data migration.
 *
 *   container_events  seq INTEGER PK AUTOINCREMENT, time_nano INTEGER, type TEXT, action TEXT,
 *                     actor_id TEXT, attributes TEXT (JSON); the newest 10,000 are kept
 *
 * @example
 * new EventLog(db).add({ type: 'network', action: 'create', actorId: id, attributes: { name, type: 'bridge' } });
 */
import type { MetadataDatabase } from './database.ts';

export { EVENT_LOG_SQL } from './database.ts';

/** One recorded event (Docker's `events.Message` without its derived fields). */
export interface StoredEvent {
  seq: number;
  timeNano: bigint;
  /** container, network, volume, image. */
  type: string;
  action: string;
  actorId: string;
  attributes: Record<string, string>;
}

/** How many events the log keeps (Docker keeps 256 in memory; a file can afford more). */
export const EVENTS_KEPT = 10_000;

const origin = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/** Now in nanoseconds since the epoch, monotonic within a process (wall clock at start + hrtime). */
export function eventNanos(): bigint {
  return origin + process.hrtime.bigint();
}

export class EventLog {
  readonly #db: MetadataDatabase;

  constructor(db: MetadataDatabase) {
    this.#db = db;
  }

  /** Records an event (now, unless `timeNano` is given). */
  add(event: Omit<StoredEvent, 'seq' | 'timeNano'> & { timeNano?: bigint }): void {
    this.#db.write(() => {
      const info = this.#db
        .statement(
          'INSERT INTO container_events (time_nano, type, action, actor_id, attributes) VALUES (?, ?, ?, ?, ?)',
        )
        .run(
          event.timeNano ?? eventNanos(),
          event.type,
          event.action,
          event.actorId,
          JSON.stringify(event.attributes),
        );
      const seq = Number(info.lastInsertRowid);
      if (seq % 500 === 0) {
        this.#db.statement('DELETE FROM container_events WHERE seq <= ?').run(seq - EVENTS_KEPT);
      }
    });
  }

  /**
   * Records an event, never failing the operation it reports: the operation has happened, and
   * Docker does not undo an operation because its event could not be logged.
   */
  tryAdd(event: Omit<StoredEvent, 'seq' | 'timeNano'> & { timeNano?: bigint }): void {
    try {
      this.add(event);
    } catch {
      // a read-only or busy database: the event is lost, the operation stands
    }
  }

  /** Events after sequence number `afterSeq` (and at or after `sinceNano`), oldest first. */
  events(options: { afterSeq?: number; sinceNano?: bigint; untilNano?: bigint } = {}): StoredEvent[] {
    const statement = this.#db
      .statement(
        `SELECT seq, time_nano, type, action, actor_id, attributes FROM container_events
         WHERE seq > ? AND time_nano >= ? AND time_nano <= ? ORDER BY seq`,
      )
      .safeIntegers(true);
    const rows = statement.all(
      BigInt(options.afterSeq ?? 0),
      options.sinceNano ?? 0n,
      options.untilNano ?? 9_223_372_036_854_775_807n,
    ) as {
      seq: bigint;
      time_nano: bigint;
      type: string;
      action: string;
      actor_id: string;
      attributes: string;
    }[];
    return rows.map((row) => ({
      seq: Number(row.seq),
      timeNano: row.time_nano,
      type: row.type,
      action: row.action,
      actorId: row.actor_id,
      attributes: JSON.parse(row.attributes) as Record<string, string>,
    }));
  }

  /** The newest event's sequence number (0 when there is none). */
  lastSeq(): number {
    const seq = this.#db.statement('SELECT MAX(seq) FROM container_events').pluck().get() as number | null;
    return seq ?? 0;
  }
}
