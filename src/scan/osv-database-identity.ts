/**
 * The identity of an OSV database directory, so results computed against it can be keyed by it
 * and recomputed when it changes: a digest of every `*.json` file's relative path, size and
 * modification time (what `loadOsvDatabase` would read), plus the matcher's version. Replacing,
 * adding or removing a record file changes it; it costs a stat per file, never a read.
 *
 * @example
 * const id = await osvDatabaseIdentity('/var/lib/wharf/vulndb'); // 'osv1:3f2a…' (16 hex digits)
 */
import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { relative } from 'node:path';
import { NotFoundError } from '../errors/index.ts';
import { jsonFiles } from './osv-database.ts';

/** Bumped when matching changes in a way that changes results for the same database. */
export const OSV_MATCHER_VERSION = 1;

/** Throws NotFoundError when `dir` holds no JSON file (as loading it would). */
export async function osvDatabaseIdentity(dir: string): Promise<string> {
  const hash = createHash('sha256');
  let files = 0;
  for await (const path of jsonFiles(dir)) {
    let info: BigIntStats;
    try {
      info = await stat(path, { bigint: true });
    } catch {
      continue; // removed while listed: it is not part of the database any more
    }
    files++;
    hash.update(`${relative(dir, path)}\0${info.size}\0${info.mtimeNs}\n`);
  }
  if (files === 0) {
    throw new NotFoundError(
      `Cannot scan: no vulnerability database at ${dir}: put OSV JSON files there (e.g. osv.dev's Debian exports)`,
    );
  }
  return `osv${OSV_MATCHER_VERSION}:${hash.digest('hex').slice(0, 16)}`;
}
