/**
 * Users from an Apache htpasswd file (`wharf registry serve --htpasswd FILE`), as distribution's
 * htpasswd auth reads it: `name:hash` lines, `#` comments, bcrypt hashes only (`htpasswd -B`;
 * the file's other formats are MD5 or SHA-1 and are refused with the line number). The file is
 * re-read when it changes (checked at most once a second), so users can be added without a restart.
 *
 * @example
 * const file = await HtpasswdFile.load('/etc/wharf/htpasswd');
 * const hash = await file.lookup('alice');
 */
import { readFileSync, statSync } from 'node:fs';
import { InvalidArgumentError } from '../../errors/index.ts';
import { isBcryptHash } from './credentials.ts';

const RECHECK_MS = 1000;

export class HtpasswdFile {
  readonly path: string;
  #users = new Map<string, string>();
  #mtimeMs = -1;
  #checkedAt = 0;

  private constructor(path: string) {
    this.path = path;
  }

  /** Reads the file; throws InvalidArgumentError on a line it cannot use. */
  static async load(path: string): Promise<HtpasswdFile> {
    const file = new HtpasswdFile(path);
    file.#reload();
    return file;
  }

  /** The bcrypt hash of `name`, or undefined. */
  async lookup(name: string): Promise<string | undefined> {
    this.#refresh();
    return this.#users.get(name);
  }

  async size(): Promise<number> {
    this.#refresh();
    return this.#users.size;
  }

  #refresh(): void {
    const now = Date.now();
    if (now - this.#checkedAt < RECHECK_MS) return;
    this.#checkedAt = now;
    try {
      if (statSync(this.path).mtimeMs !== this.#mtimeMs) this.#reload();
    } catch {
      // Vanished or unreadable mid-run: keep the users we had rather than lock everyone out.
    }
  }

  #reload(): void {
    const mtimeMs = statSync(this.path).mtimeMs;
    this.#users = parseHtpasswd(readFileSync(this.path, 'utf8'), this.path);
    this.#mtimeMs = mtimeMs;
  }
}

/** Parses an htpasswd file's text into user -> bcrypt hash. */
export function parseHtpasswd(text: string, source: string): Map<string, string> {
  const users = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const name = colon < 0 ? '' : line.slice(0, colon);
    const hash = colon < 0 ? '' : line.slice(colon + 1);
    if (name === '' || !isBcryptHash(hash)) {
      throw new InvalidArgumentError(
        `Cannot read htpasswd file ${source}: line ${index + 1}: expected "name:bcrypt-hash" (make it with htpasswd -B)`,
      );
    }
    users.set(name, hash);
  }
  return users;
}
