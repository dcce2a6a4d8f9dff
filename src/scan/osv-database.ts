/**
 * An OSV database on disk: a directory tree of `*.json` files, one OSV record each (osv.dev's
 * per-ecosystem exports, unzipped). Records are indexed by (ecosystem, package name); files that
 * are not readable OSV are skipped and counted, withdrawn records are left out. Loading can be
 * limited to some ecosystems, so a Debian image does not hold npm's records in memory.
 *
 * osv.dev names Ubuntu LTS releases `Ubuntu:22.04:LTS`: the index files them under `Ubuntu:22.04`
 * too (the ecosystem os-release gives). A record for an unversioned ecosystem (`Debian`) is
 * filed under it and looked up for every release of it.
 *
 * @example
 * const db = await loadOsvDatabase('/var/lib/wharf/vulndb', { ecosystems: ['Debian:12'] });
 * db.recordsFor('Debian:12', 'openssl'); // [{ record, affected }, ...]
 */
import type { Dirent } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError } from '../errors/index.ts';
import { type OsvAffected, type OsvRecord, parseOsvRecord } from './osv-record.ts';

export interface OsvEntry {
  record: OsvRecord;
  /** The `affected[]` entry naming the package. */
  affected: OsvAffected;
}

export interface LoadOsvOptions {
  /** Keep only records affecting these ecosystems (and their unversioned base names). */
  ecosystems?: readonly string[];
}

/** The ecosystem a record's name is filed under: `Ubuntu:22.04:LTS` -> `Ubuntu:22.04`. */
export function normalizeEcosystem(ecosystem: string): string {
  return ecosystem.startsWith('Ubuntu:') ? ecosystem.replace(/:LTS$/, '') : ecosystem;
}

export class OsvDatabase {
  #index = new Map<string, OsvEntry[]>();
  /** Files read as records (whatever their ecosystem). */
  recordCount = 0;
  /** Files skipped: unreadable, not JSON, or not an OSV record. */
  skippedCount = 0;
  /** The first few skipped files with their reason, for a warning. */
  readonly skipped: Array<{ path: string; reason: string }> = [];

  /** Files one record under every package it affects. */
  add(record: OsvRecord, ecosystems?: ReadonlySet<string>): void {
    if (record.withdrawn) return;
    for (const affected of record.affected ?? []) {
      if (!affected.package) continue;
      const ecosystem = normalizeEcosystem(affected.package.ecosystem);
      if (ecosystems && !ecosystems.has(ecosystem)) continue;
      const key = `${ecosystem}\0${affected.package.name}`;
      let list = this.#index.get(key);
      if (!list) {
        list = [];
        this.#index.set(key, list);
      }
      list.push({ record, affected });
    }
  }

  /** The records about `name` in `ecosystem` (and in its unversioned base ecosystem). */
  recordsFor(ecosystem: string, name: string): OsvEntry[] {
    const base = ecosystem.split(':')[0]!;
    const exact = this.#index.get(`${ecosystem}\0${name}`) ?? [];
    if (base === ecosystem) return exact;
    return [...exact, ...(this.#index.get(`${base}\0${name}`) ?? [])];
  }
}

/** The `*.json` files under `dir`, at any depth, in name order (nothing when `dir` is missing). */
export async function* jsonFiles(dir: string): AsyncGenerator<string> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* jsonFiles(path);
    else if (entry.name.endsWith('.json') && (entry.isFile() || entry.isSymbolicLink())) yield path;
  }
}

/**
 * Loads every `*.json` under `dir`. Throws NotFoundError when the directory is missing or holds
 * no JSON file at all (scanning against nothing would report a clean image).
 */
export async function loadOsvDatabase(dir: string, options: LoadOsvOptions = {}): Promise<OsvDatabase> {
  const wanted = options.ecosystems
    ? new Set(options.ecosystems.flatMap((e) => [normalizeEcosystem(e), e.split(':')[0]!]))
    : undefined;
  const db = new OsvDatabase();
  let files = 0;
  for await (const path of jsonFiles(dir)) {
    files++;
    try {
      const record = parseOsvRecord(JSON.parse(await readFile(path, 'utf8')));
      db.recordCount++;
      db.add(record, wanted);
    } catch (error) {
      db.skippedCount++;
      if (db.skipped.length < 5) db.skipped.push({ path, reason: (error as Error).message.split('\n')[0]! });
    }
  }
  if (files === 0) {
    throw new NotFoundError(
      `Cannot scan: no vulnerability database at ${dir}: put OSV JSON files there (e.g. osv.dev's Debian exports)`,
    );
  }
  return db;
}
