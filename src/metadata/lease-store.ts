/**
 * Leases: records that say "this process still needs these resources", so garbage collection
 * keeps them. An import, a pull or a build takes a lease, adds each blob (or snapshot) to it
 * *before* the blob becomes visible, records the finished image, then drops the lease. A lease
 * dies with its expiry or its holder process, so a killed `wharf` does not pin content forever.
 *
 * @example
 * await leases.withLease(async (lease) => {
 *   leases.addResource(lease.id, 'content', digest);
 *   // … ingest, then record the image …
 * });
 */
import { NotFoundError } from '../errors/index.ts';
import { isProcessAlive } from '../util/process-alive.ts';
import { randomHex } from '../util/random-hex.ts';
import type { MetadataDatabase } from './database.ts';

export type LeaseResourceKind = 'content' | 'snapshot' | (string & {});

export interface Lease {
  id: string;
  createdAt: number;
  /** ms since the epoch; undefined: until deleted or its holder dies. */
  expiresAt?: number;
  /** The process holding it; when that process is gone, the lease no longer protects anything. */
  pid?: number;
  labels: Record<string, string>;
}

export interface CreateLeaseOptions {
  id?: string;
  /** Lifetime in ms (default: 24 h, containerd's default for pulls). */
  expiresInMs?: number;
  /** Tie the lease to this process (default: the current one); `null` for none (a build cache). */
  pid?: number | null;
  labels?: Record<string, string>;
}

export const DEFAULT_LEASE_MS = 24 * 60 * 60 * 1000;

interface LeaseRow {
  id: string;
  created_at: number;
  expires_at: number | null;
  pid: number | null;
  labels: string;
}

export class LeaseStore {
  readonly #db: MetadataDatabase;

  constructor(db: MetadataDatabase) {
    this.#db = db;
  }

  create(options: CreateLeaseOptions = {}): Lease {
    const now = Date.now();
    const lease: Lease = {
      id: options.id ?? `lease-${now.toString(36)}-${randomHex(6)}`,
      createdAt: now,
      labels: options.labels ?? {},
    };
    const expiresIn = options.expiresInMs ?? DEFAULT_LEASE_MS;
    if (Number.isFinite(expiresIn)) lease.expiresAt = now + expiresIn;
    const pid = options.pid === undefined ? process.pid : options.pid;
    if (pid !== null) lease.pid = pid;
    this.#db.write(() =>
      this.#db.sql
        .prepare('INSERT INTO leases (id, created_at, expires_at, pid, labels) VALUES (?, ?, ?, ?, ?)')
        .run(
          lease.id,
          lease.createdAt,
          lease.expiresAt ?? null,
          lease.pid ?? null,
          JSON.stringify(lease.labels),
        ),
    );
    return lease;
  }

  /** Adds a resource to a lease (idempotent). Throws NotFoundError when the lease is gone. */
  addResource(leaseId: string, kind: LeaseResourceKind, resource: string): void {
    this.#db.write(() => {
      const exists = this.#db.sql.prepare('SELECT 1 FROM leases WHERE id = ?').pluck().get(leaseId);
      if (!exists) throw new NotFoundError(`Cannot add to lease ${leaseId}: no such lease`);
      this.#db.sql
        .prepare('INSERT OR IGNORE INTO lease_resources (lease_id, kind, resource) VALUES (?, ?, ?)')
        .run(leaseId, kind, resource);
    });
  }

  removeResource(leaseId: string, kind: LeaseResourceKind, resource: string): void {
    this.#db.write(() =>
      this.#db.sql
        .prepare('DELETE FROM lease_resources WHERE lease_id = ? AND kind = ? AND resource = ?')
        .run(leaseId, kind, resource),
    );
  }

  resources(leaseId: string): Array<{ kind: string; resource: string }> {
    return this.#db.sql
      .prepare('SELECT kind, resource FROM lease_resources WHERE lease_id = ? ORDER BY kind, resource')
      .all(leaseId) as Array<{ kind: string; resource: string }>;
  }

  /** Deletes a lease and its resource list (idempotent). The resources become collectable. */
  delete(leaseId: string): void {
    this.#db.write(() => this.#db.sql.prepare('DELETE FROM leases WHERE id = ?').run(leaseId));
  }

  list(): Lease[] {
    const rows = this.#db.sql.prepare('SELECT * FROM leases ORDER BY created_at').all() as LeaseRow[];
    return rows.map(toLease);
  }

  /**
   * Runs `fn` holding a fresh lease, and deletes the lease afterwards whatever happens. Record
   * what must outlive the lease (an image row) before `fn` returns.
   */
  async withLease<T>(fn: (lease: Lease) => Promise<T>, options: CreateLeaseOptions = {}): Promise<T> {
    const lease = this.create(options);
    try {
      return await fn(lease);
    } finally {
      this.delete(lease.id);
    }
  }

  /**
   * Deletes leases that expired or whose holder died. Call inside a write transaction (GC does).
   * Returns how many were removed.
   */
  expire(now = Date.now()): number {
    return this.#db.write(() => {
      const rows = this.#db.sql.prepare('SELECT id, expires_at, pid FROM leases').all() as LeaseRow[];
      let removed = 0;
      const del = this.#db.sql.prepare('DELETE FROM leases WHERE id = ?');
      for (const row of rows) {
        const expired = row.expires_at !== null && row.expires_at <= now;
        const orphaned = row.pid !== null && row.pid !== process.pid && !isProcessAlive(row.pid);
        if (expired || orphaned) {
          del.run(row.id);
          removed++;
        }
      }
      return removed;
    });
  }

  /** Every resource of the given kind held by a live lease. */
  heldResources(kind: LeaseResourceKind): Set<string> {
    const rows = this.#db.sql
      .prepare(
        `SELECT r.resource AS resource, l.expires_at AS expires_at, l.pid AS pid
           FROM lease_resources r JOIN leases l ON l.id = r.lease_id WHERE r.kind = ?`,
      )
      .all(kind) as Array<{ resource: string; expires_at: number | null; pid: number | null }>;
    const now = Date.now();
    const held = new Set<string>();
    const alive = new Map<number, boolean>();
    for (const row of rows) {
      if (row.expires_at !== null && row.expires_at <= now) continue;
      if (row.pid !== null) {
        let ok = alive.get(row.pid);
        if (ok === undefined) alive.set(row.pid, (ok = row.pid === process.pid || isProcessAlive(row.pid)));
        if (!ok) continue;
      }
      held.add(row.resource);
    }
    return held;
  }
}

function toLease(row: LeaseRow): Lease {
  const lease: Lease = { id: row.id, createdAt: row.created_at, labels: JSON.parse(row.labels) };
  if (row.expires_at !== null) lease.expiresAt = row.expires_at;
  if (row.pid !== null) lease.pid = row.pid;
  return lease;
}
