/**
 * `RUN --mount`: what each mount adds to the step's cache key, and the mounts themselves while the
 * step runs, with BuildKit's rules (dockerfile2llb's dispatchRunMounts and dispatchSecret):
 *
 * | type | mounted | in the cache key |
 * |---|---|---|
 * | bind (default) | a path of the context (a copy without `.dockerignore`d files) or of a stage or image (`from`), read-only unless `rw`, whose writes are then discarded | the *content* digest of the source: a rebuilt stage with the same bytes, or an edit elsewhere in the context, keeps the step cached |
 * | cache | a persistent directory (cache-mounts.ts): `id` (default the target), `sharing`, `mode`/`uid`/`gid` when made, `from`/`source` to fill it, `ro` | the options, never the contents |
 * | tmpfs | a fresh tmpfs (`size`) | the options |
 * | secret | the secret's bytes as a read-only file (default `/run/secrets/<id>`, mode 0400, `uid`/`gid`) and/or an environment variable (`env=`); `required` fails when it was not given | the options, never the value |
 * | ssh | refused: SSH forwarding waits for a later issue | |
 *
 * A relative target is joined to WORKDIR; a target of `/` is refused. Mounts are made parents
 * first. Mount points the image lacks are removed after the step (run-step.ts), so nothing of a
 * mount reaches the layer; secret files live outside the image, in the host's /dev/shm.
 *
 * @example
 * const mounts = await RunMounts.plan(command.mounts, '/app', host, at);
 * key.push(mounts.key);
 * const held = await mounts.prepare();
 * try { await runStep({ ..., mounts: held.mounts, env: [...env, ...held.env] }); } finally { await held.release(); }
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { Mount } from '../dockerfile/instructions/index.ts';
import { NotFoundError } from '../errors/index.ts';
import { resolveInRoot } from '../image/layer/root-path.ts';
import { chainId } from '../oci/chain-id.ts';
import { digestBytes } from '../oci/digest.ts';
import type { MountRequest } from '../runtime/spec.ts';
import { type CacheMounts, cacheSubdir } from './cache-mounts.ts';
import type { BuildContext } from './context/build-context.ts';
import { Copier } from './fs/copy.ts';
import { rootPath } from './fs/root-path.ts';
import { DiskTree } from './fs/source-tree.ts';
import { treeDigest } from './fs/tree-digest.ts';
import type { LayerRef } from './image-state.ts';

/** What a RUN's mounts need of the build. */
export interface MountHost {
  /** Where temporary files go (copies of context sources). */
  scratch: string;
  /** The build context; throws when the build has none. */
  context(): BuildContext;
  /** The stage or image `from` names: its layers, and its image id when it is an image. */
  source(from: string): Promise<{ layers: LayerRef[]; imageId?: string }>;
  /** Mounts the filesystem of `layers`: a read-only view, or a writable throwaway. */
  open(layers: readonly LayerRef[], writable: boolean): Promise<{ dir: string; release(): Promise<void> }>;
  /** Remembered content digests (build_mount_digests). */
  memo: { get(key: string): string | undefined; set(key: string, digest: string): void };
  caches: CacheMounts;
  /** `BUILDKIT_CACHE_MOUNT_NS`. */
  cacheNamespace: string;
  secrets: ReadonlyMap<string, Buffer>;
  signal?: AbortSignal;
}

/** A mount with BuildKit's defaults applied and its target absolute. */
interface PlannedMount {
  mount: Mount;
  /** Absolute target ('' for an env-only secret). */
  target: string;
  /** Cache and secret id. */
  id: string;
  /** The context path (relative, resolved) of a context bind. */
  contextPath?: string;
  secret?: Buffer;
}

export interface PreparedMounts {
  mounts: MountRequest[];
  /** `NAME=value` of secrets exposed as environment variables. */
  env: string[];
  /** Values the step's output must not show. */
  masks: string[];
  release(): Promise<void>;
}

/** The error a bad mount gives, at the RUN's line. */
export type MountErrorAt = (message: string, cause?: unknown) => Error;

const depth = (p: string) => p.split('/').filter(Boolean).length;

export class RunMounts {
  readonly #planned: PlannedMount[];
  readonly #host: MountHost;
  readonly #at: MountErrorAt;
  /** What the mounts add to the step's cache key. */
  readonly key: unknown[];

  private constructor(planned: PlannedMount[], host: MountHost, at: MountErrorAt, key: unknown[]) {
    this.#planned = planned;
    this.#host = host;
    this.#at = at;
    this.key = key;
  }

  /** Environment variables a secret sets (their values masked in the step's name). */
  get secretEnvNames(): string[] {
    return this.#planned.flatMap((p) =>
      p.mount.type === 'secret' && p.mount.env && p.secret ? [p.mount.env] : [],
    );
  }

  get empty(): boolean {
    return this.#planned.length === 0;
  }

  /** Checks the mounts and computes their key parts (content digests of bind sources). */
  static async plan(
    mounts: readonly Mount[],
    workdir: string,
    host: MountHost,
    at: MountErrorAt,
  ): Promise<RunMounts> {
    const planned: PlannedMount[] = [];
    const key: unknown[] = [];
    for (const m of mounts) {
      if (m.type === 'ssh') throw at('RUN --mount=type=ssh is not supported yet (SSH forwarding)');
      let id = m.cacheId;
      let target = m.target;
      if (m.type === 'secret') {
        if (m.source !== '') id = m.source;
        if (id === '') id = posix.basename(m.target);
        if (m.env === undefined && target === '') target = `/run/secrets/${posix.basename(id)}`;
      }
      if (target !== '' || m.type !== 'secret') {
        target = posix.isAbsolute(target) ? posix.normalize(target) : posix.join('/', workdir || '/', target);
        if (target.length > 1 && target.endsWith('/')) target = target.slice(0, -1);
        if (target === '/') throw at(`invalid mount target ${JSON.stringify(target)}`);
      }
      const p: PlannedMount = { mount: m, target, id };
      switch (m.type) {
        case 'bind': {
          const source = posix.join('/', m.source);
          if (m.from === '') {
            let context: BuildContext;
            try {
              context = host.context();
            } catch (error) {
              throw at((error as Error).message, error);
            }
            const tree = context.tree();
            const rel = resolveInRoot(source, (r) => tree.kind(r));
            if (!tree.stat(rel))
              throw at(`failed to compute cache key: ${JSON.stringify(source)}: not found`);
            p.contextPath = rel;
            key.push(['bind', target, m.readOnly, 'context', context.selectionDigest(rel, {})]);
          } else {
            key.push([
              'bind',
              target,
              m.readOnly,
              'from',
              await RunMounts.#sourceDigest(host, m.from, source),
            ]);
          }
          break;
        }
        case 'cache':
          if (id === '') id = posix.normalize(m.target);
          p.id = `${host.cacheNamespace}/${id}`;
          key.push([
            'cache',
            target,
            p.id,
            m.cacheSharing || 'shared',
            m.readOnly,
            m.from,
            m.source,
            m.mode ?? null,
            m.uid ?? null,
            m.gid ?? null,
          ]);
          break;
        case 'tmpfs':
          key.push(['tmpfs', target, m.sizeLimit]);
          break;
        case 'secret': {
          const secret = host.secrets.get(id);
          if (!secret && m.required) throw at(`secret ${id}: not found`);
          if (secret) p.secret = secret;
          // never the value: a changed secret keeps the step cached, as in BuildKit
          key.push(['secret', id, target, m.env ?? null, m.mode ?? null, m.uid ?? null, m.gid ?? null]);
          break;
        }
      }
      planned.push(p);
    }
    return new RunMounts(planned, host, at, key);
  }

  /** The content digest of `source` in the stage or image `from` (an image's id says it all). */
  static async #sourceDigest(host: MountHost, from: string, source: string): Promise<string> {
    const resolved = await host.source(from);
    if (resolved.imageId) return digestBytes(JSON.stringify([resolved.imageId, source]));
    await Promise.all(resolved.layers.map((l) => l.ready));
    const chain = chainId(resolved.layers.map((l) => l.digest)) ?? 'scratch';
    const memoKey = digestBytes(JSON.stringify([chain, source]));
    const known = host.memo.get(memoKey);
    if (known) return known;
    const view = await host.open(resolved.layers, false);
    let digest: string;
    try {
      digest = treeDigest(new DiskTree(view.dir), source.replace(/^\/+/, ''));
    } finally {
      await view.release();
    }
    host.memo.set(memoKey, digest);
    return digest;
  }

  /** Makes the mounts (call in the step, after the parent is mounted); release them afterwards. */
  async prepare(): Promise<PreparedMounts> {
    const releases: Array<() => Promise<void>> = [];
    const release = async () => {
      for (const fn of releases.reverse()) await fn().catch(() => {});
      releases.length = 0;
    };
    const mounts: MountRequest[] = [];
    const env: string[] = [];
    const masks: string[] = [];
    const host = this.#host;
    try {
      for (const p of [...this.#planned].sort((a, b) => depth(a.target) - depth(b.target))) {
        const m = p.mount;
        switch (m.type) {
          case 'bind': {
            let source: string;
            if (p.contextPath !== undefined) {
              const dir = mkdtempSync(join(host.scratch, 'bind-'));
              releases.push(async () => rmSync(dir, { recursive: true, force: true }));
              new Copier(dir, {}).copy(host.context().tree(), p.contextPath, '/src');
              source = join(dir, 'src');
            } else {
              const from = await host.source(m.from);
              const view = await host.open(from.layers, !m.readOnly);
              releases.push(() => view.release());
              source = rootPath(view.dir, m.source);
              if (!new DiskTree(view.dir).stat(source.slice(view.dir.length + 1))) {
                throw this.#at(`failed to mount ${m.source || '/'} from ${m.from}: not found`);
              }
            }
            mounts.push({ type: 'bind', source, destination: p.target, readonly: m.readOnly });
            break;
          }
          case 'cache': {
            const seed =
              m.from === ''
                ? undefined
                : async (dir: string) => {
                    const from = await host.source(m.from);
                    const view = await host.open(from.layers, false);
                    try {
                      const tree = new DiskTree(view.dir);
                      const rel = resolveInRoot(m.source, (r) => tree.kind(r));
                      if (tree.stat(rel)) new Copier(dir, {}).copy(tree, rel, '/');
                    } finally {
                      await view.release();
                    }
                  };
            const held = await host.caches.acquire({
              id: p.id,
              sharing: m.cacheSharing || 'shared',
              mode: m.mode ?? 0o755,
              uid: m.uid ?? 0,
              gid: m.gid ?? 0,
              ...(seed ? { seed } : {}),
              ...(host.signal ? { signal: host.signal } : {}),
            });
            releases.push(() => held.release());
            const dir = m.from === '' && m.source !== '' ? cacheSubdir(held.dir, m.source, p.id) : held.dir;
            mounts.push({ type: 'bind', source: dir, destination: p.target, readonly: m.readOnly });
            break;
          }
          case 'tmpfs':
            mounts.push({
              type: 'tmpfs',
              destination: p.target,
              options: ['nosuid'],
              ...(m.sizeLimit > 0 ? { size: m.sizeLimit } : {}),
            });
            break;
          case 'secret': {
            if (!p.secret) break; // optional and not given: no mount, no variable
            masks.push(p.secret.toString('utf8'));
            if (m.env) env.push(`${m.env}=${p.secret.toString('utf8')}`);
            if (p.target === '') break;
            const dir = secretDir(host.scratch);
            releases.push(async () => rmSync(dir, { recursive: true, force: true }));
            const file = join(dir, 'secret');
            writeFileSync(file, p.secret, { mode: 0o400 });
            // set outright: the process umask would have cut bits of a wider mode
            chmodSync(file, m.mode ?? 0o400);
            if ((m.uid ?? 0) !== 0 || (m.gid ?? 0) !== 0) chownSync(file, m.uid ?? 0, m.gid ?? 0);
            mounts.push({ type: 'bind', source: file, destination: p.target, readonly: true });
            break;
          }
          default:
            break;
        }
      }
    } catch (error) {
      await release();
      if (error instanceof NotFoundError) throw this.#at(error.message, error);
      throw error;
    }
    return { mounts, env, masks, release };
  }
}

let swept = false;

/** Secret directories left by builds that died mid-step (named by their pid), removed once per process. */
function sweepSecretDirs(bases: readonly string[]): void {
  if (swept) return;
  swept = true;
  for (const base of bases) {
    let names: string[];
    try {
      names = readdirSync(base);
    } catch {
      continue;
    }
    for (const name of names) {
      const pid = Number(/^wharf-secret-(\d+)-/.exec(name)?.[1]);
      if (!Number.isInteger(pid) || pid === process.pid) continue;
      try {
        process.kill(pid, 0);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ESRCH')
          rmSync(join(base, name), { recursive: true, force: true });
      }
    }
  }
}

/**
 * A private directory (0700) for a secret file: on the host's tmpfs (/dev/shm) when there is one,
 * so the secret never reaches a disk; else in the build's scratch directory. Named after this
 * process, so that one left by a build that died is swept by the next.
 */
function secretDir(scratch: string): string {
  const bases = ['/dev/shm', scratch];
  sweepSecretDirs(bases);
  for (const base of bases) {
    try {
      mkdirSync(base, { recursive: true });
      return mkdtempSync(join(base, `wharf-secret-${process.pid}-`));
    } catch {
      // not writable: next
    }
  }
  throw new NotFoundError('Cannot make a directory for a secret');
}
