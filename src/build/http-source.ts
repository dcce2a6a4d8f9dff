/**
 * `ADD <http(s) url>` sources, fetched the way BuildKit's http source fetches them: a GET with
 * BuildKit's User-Agent the first time; on a rebuild, a HEAD with `If-None-Match` carrying the
 * ETag remembered, and the remembered body when the server says it has not changed (a 304, or a
 * 200 with the same ETag); a GET otherwise. The body's sha256 is the content digest that goes into
 * the ADD's cache key; `--checksum` is checked against it (sha256, sha384 or sha512).
 *
 * Bodies are kept by digest and their metadata in `build_http_cache` (schema in cache-store.ts):
 *
 *   $root/build/http/
 *   ├── <sha256 hex>      a body, written to a temp name and renamed (so never half there)
 *   └── tmp-*             a download in progress
 *
 * @example
 * const http = new HttpSources(db, root);
 * const body = await http.fetch('https://example.com/app.tar.gz', { checksum: 'sha256:...' });
 * body.path; body.lastModified;
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidArgumentError, UnavailableError } from '../errors/index.ts';
import type { MetadataDatabase } from '../metadata/database.ts';

/** What BuildKit's http source sends; servers and tests look for `buildkit/v`. */
export const BUILD_USER_AGENT = 'buildkit/v0.0.0-wharf';

const ALGORITHMS: Readonly<Record<string, { hash: string; hexLength: number }>> = {
  sha256: { hash: 'sha256', hexLength: 64 },
  sha384: { hash: 'sha384', hexLength: 96 },
  sha512: { hash: 'sha512', hexLength: 128 },
};

/** go-digest's Parse, with its messages (what `ADD --checksum` reports). */
export function parseChecksum(value: string): { algorithm: string; hex: string } {
  const colon = value.indexOf(':');
  if (colon <= 0 || colon + 1 === value.length)
    throw new InvalidArgumentError('invalid checksum digest format');
  const algorithm = value.slice(0, colon);
  const hex = value.slice(colon + 1);
  const known = ALGORITHMS[algorithm];
  if (!known) {
    if (!/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(value))
      throw new InvalidArgumentError('invalid checksum digest format');
    throw new InvalidArgumentError('unsupported digest algorithm');
  }
  if (hex.length !== known.hexLength) throw new InvalidArgumentError('invalid checksum digest length');
  if (!/^[a-f0-9]+$/.test(hex)) throw new InvalidArgumentError('invalid checksum digest format');
  return { algorithm, hex };
}

/** The file name BuildKit's Dockerfile frontend gives a URL source: the last path element. */
export function urlFileName(url: string): string {
  try {
    const path = new URL(url).pathname;
    const parts = path.split('/').filter((p) => p !== '');
    const base = parts.at(-1);
    if (base !== undefined && base !== '.' && base !== '..') return decodeURIComponent(base);
  } catch {
    // not parseable: unnamed
  }
  return '__unnamed__';
}

export interface HttpBody {
  url: string;
  /** The name the file gets in the image: the URL's last path element ({@link urlFileName}). */
  fileName: string;
  /** `sha256:<hex>` of the body. */
  digest: string;
  /** The body on disk. */
  path: string;
  size: number;
  /** From `Last-Modified` (ms), when the server sent one. */
  lastModified?: number;
  /** Whether this build downloaded it (false: the remembered copy, checked with a HEAD). */
  downloaded: boolean;
}

interface Row {
  url: string;
  etag: string | null;
  last_modified: string | null;
  digest: string;
  size: number;
}

export class HttpSources {
  readonly #db: MetadataDatabase;
  readonly #dir: string;
  /** Fetches of this build, by URL: one request per URL per build. */
  readonly #inflight = new Map<string, Promise<HttpBody>>();

  constructor(db: MetadataDatabase, root: string) {
    this.#db = db;
    this.#dir = join(root, 'build', 'http');
  }

  /** The body of `url`, fetched or revalidated; checked against `checksum` when given. */
  fetch(url: string, options: { checksum?: string; signal?: AbortSignal } = {}): Promise<HttpBody> {
    let job = this.#inflight.get(url);
    if (!job) {
      job = this.#fetch(url, options.signal);
      this.#inflight.set(url, job);
      job.catch(() => this.#inflight.delete(url));
    }
    return job.then(async (body) => {
      if (options.checksum) await this.#check(body, options.checksum);
      return body;
    });
  }

  async #check(body: HttpBody, checksum: string): Promise<void> {
    const { algorithm } = parseChecksum(checksum);
    let got = body.digest;
    if (algorithm !== 'sha256') {
      const hash = createHash(ALGORITHMS[algorithm]!.hash);
      const { createReadStream } = await import('node:fs');
      for await (const chunk of createReadStream(body.path)) hash.update(chunk as Buffer);
      got = `${algorithm}:${hash.digest('hex')}`;
    }
    if (got !== checksum)
      throw new InvalidArgumentError(`digest mismatch for ${body.url}: ${got} (expected: ${checksum})`);
  }

  #pathOf(digest: string): string {
    return join(this.#dir, digest.slice('sha256:'.length));
  }

  #known(url: string): Row | undefined {
    const row = this.#db.sql.prepare('SELECT * FROM build_http_cache WHERE url = ?').get(url) as
      | Row
      | undefined;
    return row && existsSync(this.#pathOf(row.digest)) ? row : undefined;
  }

  #body(url: string, row: Row, downloaded: boolean): HttpBody {
    const body: HttpBody = {
      url,
      fileName: urlFileName(url),
      digest: row.digest,
      path: this.#pathOf(row.digest),
      size: row.size,
      downloaded,
    };
    const lastModified = row.last_modified ? Date.parse(row.last_modified) : Number.NaN;
    if (!Number.isNaN(lastModified)) body.lastModified = lastModified;
    return body;
  }

  async #fetch(url: string, signal: AbortSignal | undefined): Promise<HttpBody> {
    const known = this.#known(url);
    const headers: Record<string, string> = { 'user-agent': BUILD_USER_AGENT };
    if (known?.etag) {
      headers['if-none-match'] = known.etag;
      // Some servers mishandle If-None-Match on GET: ask with a HEAD first, comparing the ETag.
      try {
        const head = await fetch(url, {
          method: 'HEAD',
          headers: { ...headers, 'accept-encoding': 'gzip' },
          ...(signal ? { signal } : {}),
        });
        const etag = head.headers.get('etag') ?? (head.status === 304 ? known.etag : null);
        if ((head.status === 200 || head.status === 304) && etag === known.etag)
          return this.#body(url, known, false);
      } catch (error) {
        if (signal?.aborted) throw error;
        // the GET below says what is wrong
      }
    }
    let response: Response;
    try {
      response = await fetch(url, { headers, ...(signal ? { signal } : {}) });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new UnavailableError(`Cannot fetch ${url}: ${(error as Error).message}`, { cause: error });
    }
    if (response.status === 304 && known) {
      await response.body?.cancel();
      return this.#body(url, known, false);
    }
    if (response.status < 200 || response.status >= 400) {
      await response.body?.cancel();
      throw new UnavailableError(`Cannot fetch ${url}: invalid response status ${response.status}`);
    }
    mkdirSync(this.#dir, { recursive: true });
    const tmp = join(this.#dir, `tmp-${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    try {
      const body = response.body
        ? Readable.fromWeb(response.body as import('node:stream/web').ReadableStream)
        : Readable.from([]);
      await pipeline(
        body,
        new Transform({
          transform(chunk: Buffer, _encoding, done) {
            hash.update(chunk);
            size += chunk.length;
            done(null, chunk);
          },
        }),
        createWriteStream(tmp, { mode: 0o600 }),
      );
    } catch (error) {
      rmSync(tmp, { force: true });
      if (signal?.aborted) throw error;
      throw new UnavailableError(`Cannot fetch ${url}: ${(error as Error).message}`, { cause: error });
    }
    const digest = `sha256:${hash.digest('hex')}`;
    renameSync(tmp, this.#pathOf(digest));
    const row: Row = {
      url,
      etag: response.headers.get('etag'),
      last_modified: response.headers.get('last-modified'),
      digest,
      size,
    };
    this.#db.write(() =>
      this.#db.sql
        .prepare(
          `INSERT INTO build_http_cache (url, etag, last_modified, digest, size, fetched_at)
           VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT(url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified,
             digest = excluded.digest, size = excluded.size, fetched_at = excluded.fetched_at`,
        )
        .run(row.url, row.etag, row.last_modified, row.digest, row.size, Date.now()),
    );
    return this.#body(url, row, true);
  }

  /** Drops every remembered body (`builder prune`); returns the bytes freed. */
  prune(): number {
    const rows = this.#db.sql.prepare('SELECT digest, size FROM build_http_cache').all() as Row[];
    this.#db.write(() => this.#db.sql.prepare('DELETE FROM build_http_cache').run());
    let freed = 0;
    for (const row of rows) {
      const path = this.#pathOf(row.digest);
      if (existsSync(path)) {
        freed += row.size;
        rmSync(path, { force: true });
      }
    }
    return freed;
  }
}
