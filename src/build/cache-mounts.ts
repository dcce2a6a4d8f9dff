/**
 * `RUN --mount=type=cache` directories: persistent across steps, builds and processes, outside
 * every layer and every cache key (a step that uses one is cached by its instruction as usual, and
 * `--no-cache` reruns it on the same cache contents), as BuildKit's persistent cache mounts are.
 *
 * One directory per cache id (`id`, default the target; prefixed by the `BUILDKIT_CACHE_MOUNT_NS`
 * build-arg when given):
 *
 *   $root/build/cache-mounts/
 *   └── <sha256 of the id>/
 *       ├── id            the id as written
 *       ├── data/         the cache contents (made on first use with the mount's mode, uid and gid,
 *       │                 or filled from its `from` source; renamed into place, so never half-made)
 *       ├── lock/         exists while a `locked` or `private` user holds the cache; `pid` inside
 *       └── private-*     a throwaway instance for a `private` user that found the cache held
 *
 * Sharing, as BuildKit's: `shared` (default) users use the directory together; `locked` users
 * take turns (a lock directory made with mkdir, which is atomic; a lock left by a dead process is
 * broken); a `private` user takes the lock when free, else gets an instance of its own (BuildKit
 * keeps such instances; Wharf drops them after the step).
 *
 * @example
 * const caches = new CacheMounts('/var/lib/wharf');
 * const held = await caches.acquire({ id: '/root/.cache', sharing: 'locked', mode: 0o755, uid: 0, gid: 0 });
 * try { ... mount held.dir ... } finally { await held.release(); }
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError, isErrno } from '../errors/index.ts';

export type CacheSharing = 'shared' | 'private' | 'locked';

export interface CacheMountRequest {
  id: string;
  sharing: CacheSharing;
  /** For a fresh cache directory. */
  mode: number;
  uid: number;
  gid: number;
  /** Fills a fresh cache directory (a `from` source). */
  seed?: (dir: string) => Promise<void>;
  signal?: AbortSignal;
}

export interface HeldCacheMount {
  /** The directory to mount. */
  dir: string;
  release(): Promise<void>;
}

export interface CacheMountInfo {
  id: string;
  /** The directory name (hex). */
  key: string;
  size: number;
  lastUsed: number;
  inUse: boolean;
}

const POLL_MS = 50;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return false;
    throw error;
  }
}

/** Bytes used below `path` (files counted once per inode). */
function usage(path: string, seen = new Set<string>()): number {
  let total = 0;
  let names: string[];
  try {
    names = readdirSync(path);
  } catch {
    return 0;
  }
  for (const name of names) {
    const p = join(path, name);
    try {
      const st = lstatSync(p);
      const inode = `${st.dev}:${st.ino}`;
      if (seen.has(inode)) continue;
      seen.add(inode);
      total += st.blocks * 512;
      if (st.isDirectory()) total += usage(p, seen);
    } catch {
      // removed meanwhile
    }
  }
  return total;
}

export class CacheMounts {
  readonly #dir: string;
  /** Locks this process holds, by cache key: in-process waiters queue on them. */
  readonly #held = new Map<string, Promise<void>>();

  constructor(root: string) {
    this.#dir = join(root, 'build', 'cache-mounts');
  }

  static keyOf(id: string): string {
    return createHash('sha256').update(id).digest('hex');
  }

  /** Takes the cache `id` as its sharing mode says; release it after the step. */
  async acquire(request: CacheMountRequest): Promise<HeldCacheMount> {
    const key = CacheMounts.keyOf(request.id);
    const base = join(this.#dir, key);
    mkdirSync(base, { recursive: true });
    if (!exists(join(base, 'id'))) writeFileSync(join(base, 'id'), request.id);
    let unlock: (() => void) | undefined;
    if (request.sharing === 'locked') unlock = await this.#lock(key, base, true, request.signal);
    else if (request.sharing === 'private') {
      unlock = await this.#lock(key, base, false, request.signal);
      if (!unlock) {
        // held by another user: an instance of our own, dropped afterwards
        const dir = join(base, `private-${randomBytes(6).toString('hex')}`);
        await this.#create(dir, request);
        return { dir, release: async () => rmSync(dir, { recursive: true, force: true }) };
      }
    }
    try {
      const data = join(base, 'data');
      if (!exists(data)) await this.#create(data, request);
      // a touch, so that prune can tell what was used last
      writeFileSync(join(base, 'id'), request.id);
      return { dir: data, release: async () => unlock?.() };
    } catch (error) {
      unlock?.();
      throw error;
    }
  }

  /** Makes `dir` with the mode and owner asked, filled by `seed`, renamed into place at once. */
  async #create(dir: string, request: CacheMountRequest): Promise<void> {
    const tmp = `${dir}.tmp-${randomBytes(6).toString('hex')}`;
    mkdirSync(tmp);
    try {
      if (request.seed) await request.seed(tmp);
      chmodSync(tmp, request.mode & 0o7777);
      if (request.uid !== 0 || request.gid !== 0) chownSync(tmp, request.uid, request.gid);
      try {
        renameSync(tmp, dir);
      } catch (error) {
        // made meanwhile by another build: theirs wins
        if (!isErrno(error, 'EEXIST') && !isErrno(error, 'ENOTEMPTY')) throw error;
        rmSync(tmp, { recursive: true, force: true });
      }
    } catch (error) {
      rmSync(tmp, { recursive: true, force: true });
      throw error;
    }
  }

  /**
   * The cache's lock: waits for it when `wait`, else returns undefined when it is held. A lock
   * whose process is gone is broken.
   */
  async #lock(
    key: string,
    base: string,
    wait: boolean,
    signal: AbortSignal | undefined,
  ): Promise<(() => void) | undefined> {
    const lockDir = join(base, 'lock');
    for (;;) {
      signal?.throwIfAborted();
      const mine = this.#held.get(key);
      if (mine) {
        if (!wait) return undefined;
        await mine;
        continue;
      }
      try {
        mkdirSync(lockDir);
      } catch (error) {
        if (!isErrno(error, 'EEXIST')) throw error;
        let pid = Number.NaN;
        try {
          pid = Number(readFileSync(join(lockDir, 'pid'), 'utf8'));
        } catch {
          // being written: look again
        }
        if (Number.isInteger(pid) && pid !== process.pid && !pidAlive(pid)) {
          rmSync(lockDir, { recursive: true, force: true });
          continue;
        }
        if (!wait) return undefined;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        continue;
      }
      writeFileSync(join(lockDir, 'pid'), String(process.pid));
      let done!: () => void;
      this.#held.set(
        key,
        new Promise<void>((resolve) => {
          done = resolve;
        }),
      );
      return () => {
        rmSync(lockDir, { recursive: true, force: true });
        this.#held.delete(key);
        done();
      };
    }
  }

  /** Every cache directory, for `builder du` and `system df`. */
  list(): CacheMountInfo[] {
    let keys: string[];
    try {
      keys = readdirSync(this.#dir);
    } catch {
      return [];
    }
    const out: CacheMountInfo[] = [];
    for (const key of keys) {
      const base = join(this.#dir, key);
      let id = '';
      let lastUsed = 0;
      try {
        id = readFileSync(join(base, 'id'), 'utf8');
        lastUsed = lstatSync(join(base, 'id')).mtimeMs;
      } catch {
        // half-made: listed with what is known
      }
      out.push({ id, key, size: usage(base), lastUsed, inUse: this.#inUse(base) });
    }
    return out;
  }

  #inUse(base: string): boolean {
    try {
      const pid = Number(readFileSync(join(base, 'lock', 'pid'), 'utf8'));
      return Number.isInteger(pid) && pidAlive(pid);
    } catch {
      return false;
    }
  }

  /** Removes the cache directories no live process holds; returns what was removed. */
  prune(): CacheMountInfo[] {
    const removed: CacheMountInfo[] = [];
    for (const info of this.list()) {
      if (info.inUse) continue;
      rmSync(join(this.#dir, info.key), { recursive: true, force: true });
      removed.push(info);
    }
    return removed;
  }
}

/**
 * The directory a cache mount's `source=` names inside the cache: made when missing; a component
 * that is a symlink is refused, so the mount can never show anything outside the cache.
 */
export function cacheSubdir(cacheDir: string, source: string, id: string): string {
  const parts = source.split('/').filter((p) => p !== '' && p !== '.');
  let path = cacheDir;
  for (const part of parts) {
    if (part === '..') {
      throw new InvalidArgumentError(
        `Cannot mount cache ${JSON.stringify(id)}: source ${JSON.stringify(source)} leads out of the cache`,
      );
    }
    path = join(path, part);
    let st: ReturnType<typeof lstatSync> | undefined;
    try {
      st = lstatSync(path);
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw error;
    }
    if (!st) mkdirSync(path, { mode: 0o755 });
    else if (st.isSymbolicLink()) {
      throw new InvalidArgumentError(
        `Cannot mount cache ${JSON.stringify(id)}: source ${JSON.stringify(source)} resolves through a symlink`,
      );
    } else if (!st.isDirectory()) {
      throw new InvalidArgumentError(
        `Cannot mount cache ${JSON.stringify(id)}: source ${JSON.stringify(source)} is not a directory`,
      );
    }
  }
  return path;
}
