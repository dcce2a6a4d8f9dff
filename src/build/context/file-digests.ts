/**
 * The file-digest cache: the sha256 of each context file's bytes, remembered across builds and
 * processes in `build_file_digests` (schema in cache-store.ts) with the stat data it was computed
 * from. A digest is reused only when size, mtime, ctime, inode and device all still match, so a
 * cached rebuild reads no file, it only stats them. ctime is in the key because `touch -d` or a
 * tool that restores mtimes cannot set it: any write moves it.
 *
 * One row per context directory, its files as lines of text: a rebuild reads one row and splits
 * it, where a row per file cost a query returning thousands of rows.
 *
 * The racy case (git's "racily clean" entries): a file changed in the same clock tick as it was
 * hashed would keep its stat data. Timestamps come from the kernel's coarse clock (one tick, at
 * most 10 ms), so a digest is stored only when the file's ctime and mtime are at least 100 ms
 * older than the moment it was read: any later write then shows a different ctime. A younger
 * file is simply hashed again next time.
 *
 * @example
 * const digests = new FileDigests(db, index.root);
 * const d = digests.digest(index.get('package.json')!);
 * digests.save(index);
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import type { MetadataDatabase } from '../../metadata/database.ts';
import type { ContextFile, ContextIndex } from './context-index.ts';

const RACY_MS = 100;
const BUFFER = Buffer.allocUnsafe(1 << 20);

/** sha256 of a file's bytes, read synchronously (small files dominate contexts). */
export function hashFile(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const n = readSync(fd, BUFFER, 0, BUFFER.length, null);
      if (n === 0) break;
      hash.update(BUFFER.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return `sha256:${hash.digest('hex')}`;
}

/** The stat part of a line: what must match for the digest to be reused. */
const statKey = (e: ContextFile): string => `${e.size}\t${e.mtimeMs}\t${e.ctimeMs}\t${e.ino}\t${e.dev}`;

export class FileDigests {
  readonly #db: MetadataDatabase;
  readonly #root: string;
  /** Stored lines by relative path (`stat\tdigest` after the path). */
  #known: Map<string, string> | undefined;
  /** Stored digests already checked against an entry's stat data (a COPY asks again). */
  readonly #checked = new WeakMap<ContextFile, string>();
  /** Digests computed in this build, by relative path, with their stat key. */
  readonly #fresh = new Map<string, { stat: string; digest: string; racy: boolean }>();
  /** Files hashed now, for the progress line. */
  hashed = 0;
  hashedBytes = 0;

  constructor(db: MetadataDatabase, root: string) {
    this.#db = db;
    this.#root = root;
  }

  #load(): Map<string, string> {
    if (this.#known) return this.#known;
    const text = this.#db.sql
      .prepare('SELECT entries FROM build_file_digests WHERE root = ?')
      .pluck()
      .get(this.#root) as string | undefined;
    const known = new Map<string, string>();
    if (text) {
      for (const line of text.split('\n')) {
        const tab = line.indexOf('\t');
        if (tab > 0) known.set(line.slice(0, tab), line.slice(tab + 1));
      }
    }
    this.#known = known;
    return known;
  }

  /** The digest of a regular file of the context. */
  digest(entry: ContextFile): string {
    const fresh = this.#fresh.get(entry.path);
    if (fresh) return fresh.digest;
    const known = this.#checked.get(entry);
    if (known !== undefined) return known;
    const stat = statKey(entry);
    const line = this.#load().get(entry.path);
    if (
      line !== undefined &&
      line.length === stat.length + 72 &&
      line.startsWith(stat) &&
      line[stat.length] === '\t'
    ) {
      const digest = line.slice(stat.length + 1);
      this.#checked.set(entry, digest);
      return digest;
    }
    const readAt = Date.now();
    const digest = hashFile(`${this.#root}/${entry.path}`);
    this.hashed++;
    this.hashedBytes += entry.size;
    // Racily clean: use it for this build, but do not remember it.
    const racy = entry.ctimeMs + RACY_MS > readAt || entry.mtimeMs + RACY_MS > readAt;
    this.#fresh.set(entry.path, { stat, digest, racy });
    return digest;
  }

  /** Stores the digests computed in this build and forgets files `index` no longer has. */
  save(index: ContextIndex): void {
    const known = this.#load();
    let changed = false;
    for (const path of known.keys()) {
      const e = index.get(path);
      if (e?.type !== 'file') {
        known.delete(path);
        changed = true;
      }
    }
    for (const [path, f] of this.#fresh) {
      // A name holding a tab or a newline cannot be a line: such files are hashed every time.
      if (f.racy || /[\t\n]/.test(path)) {
        if (known.delete(path)) changed = true;
        continue;
      }
      known.set(path, `${f.stat}\t${f.digest}`);
      changed = true;
    }
    if (!changed) return;
    let text = '';
    for (const [path, rest] of known) text += `${path}\t${rest}\n`;
    this.#db.write(() =>
      this.#db.sql
        .prepare('INSERT OR REPLACE INTO build_file_digests (root, entries, updated_at) VALUES (?, ?, ?)')
        .run(this.#root, text, Date.now()),
    );
  }
}
