/**
 * Opens a SQLite file that several processes share (the CLI, the daemon, conmon's exit command,
 * two `wharf` commands started at once): WAL mode, a busy timeout, foreign keys.
 *
 * Why not just `PRAGMA journal_mode = WAL`: on a fresh file two processes may switch it at the
 * same moment. Each holds a SHARED lock and asks for EXCLUSIVE; SQLite sees the deadlock and fails
 * one of them with SQLITE_BUSY at once, without calling the busy handler. So the switch is retried
 * here until the timeout. WAL is persistent, so once a file is in WAL mode no lock is taken again.
 */
import Database from 'better-sqlite3';

export interface SharedSqliteOptions {
  /** How long a statement waits for another process's lock before SQLITE_BUSY. */
  readonly busyTimeoutMs: number;
  /** FULL where a committed row must survive power loss with the file operation it records. */
  readonly synchronous: 'NORMAL' | 'FULL';
}

/** Opens `path` (creating it) in WAL mode. Closes the handle again if a pragma fails. */
export function openSharedSqlite(path: string, options: SharedSqliteOptions): Database.Database {
  const db = new Database(path, { timeout: options.busyTimeoutMs });
  try {
    switchToWal(db, options.busyTimeoutMs);
    db.pragma(`synchronous = ${options.synchronous}`);
    db.pragma('foreign_keys = ON');
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

function switchToWal(db: Database.Database, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  for (let pauseMs = 2; ; pauseMs = Math.min(pauseMs * 2, 50)) {
    try {
      if (db.pragma('journal_mode', { simple: true }) !== 'wal') db.pragma('journal_mode = WAL');
      return;
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw error;
      sleepSync(pauseMs);
    }
  }
}

/** Blocks the thread: the callers open their database synchronously, in constructors. */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
