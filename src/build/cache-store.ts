/**
 * The persistent build cache: what each layer-producing step made, keyed by the step's cache key
 * (see docs/build-cache.md), in the metadata database shared by every `wharf` process. A record
 * names an uncompressed layer blob of the content store; the blobs are held by one lease that
 * never expires (`wharf-build-cache`), so image removal and content GC leave them alone until
 * `builder prune` drops the records and releases the blobs no record needs any more.
 *
 * Schema (migration `build-1-cache`, in $root/wharf.db):
 *
 *   build_cache          one row per cached step
 *     key TEXT PK          sha256 of the step's cache key
 *     diff_id TEXT         the layer blob (uncompressed, so its digest is the diffID)
 *     size INTEGER         bytes of the blob
 *     created_at INTEGER   ms; when the layer was made: the time its history entry carries
 *     last_used INTEGER    ms; updated on every hit
 *     description TEXT     the step as progress shows it (`COPY . .`), for `builder prune`
 *   build_file_digests   the file-digest cache of build contexts (see file-digests.ts)
 *     root TEXT PK         real path of the context directory
 *     entries TEXT         one line per file: `path\tsize\tmtime\tctime\tino\tdev\tdigest`
 *                          (path relative to root; times are Node's millisecond numbers)
 *     updated_at INTEGER   ms
 *   build_http_cache     ADD <url> downloads (migration `build-2-sources`, see http-source.ts)
 *     url TEXT PK          the URL as written
 *     etag TEXT NULL       the response's ETag, for the conditional HEAD of a rebuild
 *     last_modified TEXT NULL  the response's Last-Modified (the file's mtime)
 *     digest TEXT          sha256 of the body; the file is $root/build/http/<hex>
 *     size INTEGER, fetched_at INTEGER (ms)
 *   build_mount_digests  content digests of `RUN --mount=from=stage` sources
 *     key TEXT PK          sha256 of (chain ID of the stage's layers, source path)
 *     digest TEXT          the content digest (fs/tree-digest.ts)
 *   build_copy_layers    the last snapshot each context COPY made (migration
 *                        `build-3-copy-reuse`, see fs/copy-reuse.ts): what the next run of that
 *                        COPY, with the same shape but changed files, hard-links files from
 *     family TEXT PK       sha256 of the instruction as written and its parent's key
 *     shape TEXT           sha256 of the step with file contents left out
 *     snapshot TEXT        the committed snapshot holding the layer (`build-layer-…`)
 *     parent_chain TEXT    chain ID of the layers it was made on ('' for none)
 *     diff_id TEXT         its layer (the row goes when no cache record names it any more)
 *     entries TEXT         one line per target: `path\tsource\tmtime\tdigest` (copy-reuse.ts)
 *     created_at INTEGER   ms
 *
 * @example
 * const cache = BuildCacheStore.open(engine.db, engine.leases, engine.content);
 * const hit = await cache.lookup(key);
 */
import { existsSync } from 'node:fs';
import type { ContentStore } from '../content/content-store.ts';
import type { MetadataDatabase, Migration } from '../metadata/database.ts';
import type { LeaseStore } from '../metadata/lease-store.ts';
import type { Digest } from '../oci/digest.ts';

export const BUILD_CACHE_LEASE = 'wharf-build-cache';

/** How stale `last_used` may get before a hit writes it again. */
const TOUCH_INTERVAL_MS = 60_000;

export const BUILD_MIGRATIONS: readonly Migration[] = [
  {
    name: 'build-1-cache',
    up(db) {
      db.exec(`
        CREATE TABLE build_cache (
          key TEXT PRIMARY KEY,
          diff_id TEXT NOT NULL,
          size INTEGER NOT NULL,
          created_at INTEGER NOT NULL,
          last_used INTEGER NOT NULL,
          description TEXT NOT NULL
        );
        CREATE INDEX build_cache_diff ON build_cache(diff_id);
        CREATE TABLE build_file_digests (
          root TEXT PRIMARY KEY,
          entries TEXT NOT NULL,
          updated_at INTEGER NOT NULL
        );
      `);
    },
  },
  {
    name: 'build-2-sources',
    up(db) {
      db.exec(`
        CREATE TABLE build_http_cache (
          url TEXT PRIMARY KEY,
          etag TEXT,
          last_modified TEXT,
          digest TEXT NOT NULL,
          size INTEGER NOT NULL,
          fetched_at INTEGER NOT NULL
        );
        CREATE TABLE build_mount_digests (
          key TEXT PRIMARY KEY,
          digest TEXT NOT NULL
        );
      `);
    },
  },
  {
    name: 'build-3-copy-reuse',
    up(db) {
      db.exec(`
        CREATE TABLE build_copy_layers (
          family TEXT PRIMARY KEY,
          shape TEXT NOT NULL,
          snapshot TEXT NOT NULL,
          parent_chain TEXT NOT NULL,
          diff_id TEXT NOT NULL,
          entries TEXT NOT NULL,
          created_at INTEGER NOT NULL
        );
      `);
    },
  },
];

/** The snapshot a context COPY made last, with what each of its targets came from. */
export interface CopyLayerRecord {
  family: string;
  shape: string;
  snapshot: string;
  parentChain: string;
  diffId: Digest;
  /** The encoded manifest (copy-reuse.ts). */
  entries: string;
}

export interface CacheRecord {
  key: string;
  diffId: Digest;
  size: number;
  createdAt: number;
  lastUsed: number;
  description: string;
}

interface CacheRow {
  key: string;
  diff_id: string;
  size: number;
  created_at: number;
  last_used: number;
  description: string;
}

const toRecord = (row: CacheRow): CacheRecord => ({
  key: row.key,
  diffId: row.diff_id as Digest,
  size: row.size,
  createdAt: row.created_at,
  lastUsed: row.last_used,
  description: row.description,
});

/** One entry of `system df`'s build cache list (Docker's BuildCache shape, trimmed). */
export interface BuildCacheUsage {
  ID: string;
  Description: string;
  Size: number;
  /** Some image uses the layer too (its bytes are counted with the images). */
  Shared: boolean;
  InUse: boolean;
  CreatedAt: string;
  LastUsedAt: string;
  UsageCount: number;
  Type: string;
}

export interface PruneResult {
  /** Keys of the records removed. */
  removed: string[];
  /** Bytes of blobs actually deleted from the content store. */
  reclaimed: number;
}

export class BuildCacheStore {
  readonly #db: MetadataDatabase;
  readonly #leases: LeaseStore;
  readonly #content: ContentStore;
  #lookup: ReturnType<MetadataDatabase['sql']['prepare']> | undefined;

  private constructor(db: MetadataDatabase, leases: LeaseStore, content: ContentStore) {
    this.#db = db;
    this.#leases = leases;
    this.#content = content;
  }

  /** Applies the build migrations (once per database) and makes sure the cache lease exists. */
  static open(db: MetadataDatabase, leases: LeaseStore, content: ContentStore): BuildCacheStore {
    db.migrate(BUILD_MIGRATIONS);
    const exists = db.sql.prepare('SELECT 1 FROM leases WHERE id = ?').pluck().get(BUILD_CACHE_LEASE);
    if (!exists) {
      try {
        leases.create({ id: BUILD_CACHE_LEASE, pid: null, expiresInMs: Number.POSITIVE_INFINITY });
      } catch (error) {
        // another process created it between the check and the insert
        if (!db.sql.prepare('SELECT 1 FROM leases WHERE id = ?').pluck().get(BUILD_CACHE_LEASE)) throw error;
      }
    }
    return new BuildCacheStore(db, leases, content);
  }

  get lease(): string {
    return BUILD_CACHE_LEASE;
  }

  get db(): MetadataDatabase {
    return this.#db;
  }

  /**
   * The record for `key` whose blob is still in the content store, or undefined. A record whose
   * blob is gone (deleted behind the cache's back) is dropped: a miss, never a broken layer.
   */
  async lookup(key: string): Promise<CacheRecord | undefined> {
    // one statement for every step of the build
    this.#lookup ??= this.#db.sql.prepare('SELECT * FROM build_cache WHERE key = ?');
    const row = this.#lookup.get(key) as CacheRow | undefined;
    if (!row) return undefined;
    // A stat, synchronously: a thread-pool round trip per step showed in cached rebuilds.
    if (!existsSync(this.#content.blobPath(row.diff_id as Digest))) {
      this.#db.write(() => this.#db.sql.prepare('DELETE FROM build_cache WHERE key = ?').run(key));
      return undefined;
    }
    return toRecord(row);
  }

  /**
   * Marks records as used now (one transaction for the whole build). Records used in the last
   * minute are left alone, so rebuilds in a loop write nothing.
   */
  touch(records: ReadonlyArray<Pick<CacheRecord, 'key' | 'lastUsed'>>): void {
    const now = Date.now();
    const keys = records.filter((r) => now - r.lastUsed > TOUCH_INTERVAL_MS).map((r) => r.key);
    if (keys.length === 0) return;
    const update = this.#db.sql.prepare('UPDATE build_cache SET last_used = ? WHERE key = ?');
    this.#db.write(() => {
      for (const key of keys) update.run(now, key);
    });
  }

  /** Records a step's layer; the blob must already be held by the cache lease. */
  record(record: Omit<CacheRecord, 'lastUsed'>): void {
    this.#db.write(() => {
      this.#db.sql
        .prepare(
          `INSERT INTO build_cache (key, diff_id, size, created_at, last_used, description)
           VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT(key) DO UPDATE SET diff_id = excluded.diff_id, size = excluded.size,
             created_at = excluded.created_at, last_used = excluded.last_used, description = excluded.description`,
        )
        .run(record.key, record.diffId, record.size, record.createdAt, Date.now(), record.description);
      this.#leases.addResource(BUILD_CACHE_LEASE, 'content', record.diffId);
    });
  }

  /** The last layer the context COPY `family` made, if recorded. */
  copyLayer(family: string): CopyLayerRecord | undefined {
    const row = this.#db.sql
      .prepare(
        'SELECT shape, snapshot, parent_chain, diff_id, entries FROM build_copy_layers WHERE family = ?',
      )
      .get(family) as
      | { shape: string; snapshot: string; parent_chain: string; diff_id: string; entries: string }
      | undefined;
    if (!row) return undefined;
    return {
      family,
      shape: row.shape,
      snapshot: row.snapshot,
      parentChain: row.parent_chain,
      diffId: row.diff_id as Digest,
      entries: row.entries,
    };
  }

  /** Remembers the layer a context COPY made (replacing the one it made before). */
  recordCopyLayer(record: CopyLayerRecord): void {
    this.#db.write(() =>
      this.#db.sql
        .prepare(
          `INSERT OR REPLACE INTO build_copy_layers
             (family, shape, snapshot, parent_chain, diff_id, entries, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          record.family,
          record.shape,
          record.snapshot,
          record.parentChain,
          record.diffId,
          record.entries,
          Date.now(),
        ),
    );
  }

  /** Forgets a COPY layer whose snapshot is gone. */
  forgetCopyLayer(family: string, snapshot: string): void {
    this.#db.write(() =>
      this.#db.sql
        .prepare('DELETE FROM build_copy_layers WHERE family = ? AND snapshot = ?')
        .run(family, snapshot),
    );
  }

  list(): CacheRecord[] {
    const rows = this.#db.sql
      .prepare('SELECT * FROM build_cache ORDER BY last_used DESC')
      .all() as CacheRow[];
    return rows.map(toRecord);
  }

  /** Layer digests some image references (their bytes count with the images). */
  #imageDigests(): Set<string> {
    const rows = this.#db.sql
      .prepare(
        `SELECT DISTINCT c.diff_id AS digest FROM build_cache c
           JOIN image_content i ON i.digest = c.diff_id`,
      )
      .pluck()
      .all() as string[];
    return new Set(rows);
  }

  /** The build cache part of `system df` (each blob once). */
  diskUsage(): BuildCacheUsage[] {
    const shared = this.#imageDigests();
    const seen = new Set<string>();
    const out: BuildCacheUsage[] = [];
    for (const r of this.list()) {
      const duplicate = seen.has(r.diffId);
      seen.add(r.diffId);
      out.push({
        ID: r.key.slice('sha256:'.length, 'sha256:'.length + 25),
        Description: r.description,
        Size: duplicate ? 0 : r.size,
        Shared: shared.has(r.diffId),
        InUse: false,
        CreatedAt: new Date(r.createdAt).toISOString(),
        LastUsedAt: new Date(r.lastUsed).toISOString(),
        UsageCount: 1,
        Type: 'regular',
      });
    }
    return out;
  }

  /**
   * `builder prune`: drops the records whose layer no image uses (all records with `all`), then
   * releases the blobs no remaining record needs and lets content GC delete those no image or
   * other lease holds.
   */
  async prune(options: { all?: boolean } = {}): Promise<PruneResult> {
    const { removed, released } = this.#db.write(() => {
      const shared = options.all ? new Set<string>() : this.#imageDigests();
      const victims = this.list().filter((r) => !shared.has(r.diffId));
      const del = this.#db.sql.prepare('DELETE FROM build_cache WHERE key = ?');
      for (const r of victims) del.run(r.key);
      // copy reuse is build cache too: it goes with the records of its layer
      this.#db.sql
        .prepare('DELETE FROM build_copy_layers WHERE diff_id NOT IN (SELECT diff_id FROM build_cache)')
        .run();
      const still = new Set(
        this.#db.sql.prepare('SELECT DISTINCT diff_id FROM build_cache').pluck().all() as string[],
      );
      // Blobs stored by builds that died before recording them are released too.
      const held = this.#leases
        .resources(BUILD_CACHE_LEASE)
        .filter((r) => r.kind === 'content')
        .map((r) => r.resource);
      const released = [...new Set([...victims.map((r) => r.diffId as string), ...held])].filter(
        (d) => !still.has(d),
      );
      for (const digest of released) this.#leases.removeResource(BUILD_CACHE_LEASE, 'content', digest);
      return { removed: victims.map((r) => r.key), released };
    });
    let reclaimed = 0;
    if (released.length > 0) {
      const gc = await this.#content.garbageCollect({ candidates: released as Digest[] });
      reclaimed = gc.bytes;
    }
    return { removed, reclaimed };
  }
}
