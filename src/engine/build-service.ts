/**
 * The build part of the engine: wires the builder (src/build) to a root's stores.
 *
 * Start-up is the cost of a cached rebuild, so this service opens only what a build needs: the
 * metadata database, the content store and the image records. The image store is loaded only
 * to record a new image; a rebuild that
 * gives an image already stored, with its tags already in place, writes nothing at all. The
 * snapshotter (`$root/snapshots/overlay`, shared with containers and pulls) and the OCI runtime
 * are opened only when a step has to run. A base image missing locally is pulled with the
 * registry client.
 *
 *   $root/
 *   ├── wharf.db                build_cache, build_file_digests (src/build/cache-store.ts)
 *   ├── snapshots/overlay/      every built layer committed by chain ID
 *   └── build/tmp/              mount points, RUN bundles, unpacked tar contexts while building
 *
 * @example
 * const builds = await openBuildEngine('/var/lib/wharf');
 * try { await builds.buildFrom(input); } finally { await builds.close(); }
 */
import { createWriteStream, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BuildImages, BuildOutput, BuildRequest, BuildResult } from '../build/builder.ts';
import { Builder } from '../build/builder.ts';
import { CacheMounts } from '../build/cache-mounts.ts';
import { BuildCacheStore, type BuildCacheUsage, type PruneResult } from '../build/cache-store.ts';
import type { BuildProgress } from '../build/progress.ts';
import type { ContentStore } from '../content/content-store.ts';
import { LocalContentStore } from '../content/local-content-store.ts';
import { DockerIgnore } from '../dockerfile/dockerignore.ts';
import { InvalidArgumentError, isErrno, NotFoundError } from '../errors/index.ts';
import type { ImageStore } from '../image/image-store.ts';
import { SqliteContentReferences } from '../metadata/content-references.ts';
import { type MetadataDatabase, openMetadataDatabase } from '../metadata/database.ts';
import { ImageRecords } from '../metadata/image-records.ts';
import { LeaseStore } from '../metadata/lease-store.ts';
import { type Digest, digestBytes } from '../oci/digest.ts';
import type { ImageConfig } from '../oci/image-config.ts';
import type { Platform } from '../oci/platform.ts';
import { hostPlatform } from '../oci/platform.ts';
import type { HostFacts } from '../runtime/host-facts.ts';
import type { OciRuntimeDriver } from '../runtime/runtime-driver.ts';
import type { Snapshotter } from '../snapshot/snapshotter.ts';
import { tempPathFor } from '../util/atomic-write.ts';
import type { LocalEngine } from './local-engine.ts';

export { BuildStepError } from '../build/build-error.ts';
export {
  BuildProgress,
  PlainProgressPrinter,
  type ProgressPrinter,
  QuietProgressPrinter,
} from '../build/progress.ts';
export type { BuildCacheUsage, BuildRequest, BuildResult, PruneResult };

/**
 * `--output`: the image store (default), a directory (`local`), one tar of the filesystem (`tar`),
 * or an image archive (`oci`: an OCI image layout; `docker`: what `docker load` reads) written
 * with image-save's writers. A `dest` string is a path, made atomically; a stream is written as is.
 */
export type BuildInputOutput =
  | { type: 'image' }
  | { type: 'local'; dest: string }
  | { type: 'tar' | 'oci' | 'docker'; dest: string | Writable };

/** What `wharf build` was given, before the Dockerfile and context are read. */
export interface BuildInput
  extends Omit<
    BuildRequest,
    'contextDir' | 'dockerfile' | 'ignore' | 'progress' | 'output' | 'contextEpoch'
  > {
  /**
   * A context directory, a context tar file (plain or compressed), an http(s) URL serving a tar
   * context or a Dockerfile, or none (Dockerfile on stdin).
   */
  context: { directory: string } | { tarFile: string } | { url: string } | undefined;
  /** `-f`: a path (relative to the working directory; inside the tar for a tar context), or the text itself. */
  dockerfile?: { path: string } | { text: string };
  output?: BuildInputOutput;
  progress: BuildProgress;
}

/** The stores a build uses, opened without the image store. */
interface BuildStores {
  root: string;
  db: MetadataDatabase;
  leases: LeaseStore;
  content: ContentStore;
  /** Closes what was opened for the service (nothing when borrowed from an engine). */
  close(): void;
}

export class BuildService {
  readonly #stores: BuildStores;
  readonly #cache: BuildCacheStore;
  readonly #records: ImageRecords;
  #imageStore: Promise<ImageStore> | undefined;
  #snapshotter: Promise<Snapshotter> | undefined;
  #runtime: Promise<{ driver: OciRuntimeDriver; host: HostFacts }> | undefined;

  constructor(stores: BuildStores, imageStore?: ImageStore) {
    this.#stores = stores;
    this.#cache = BuildCacheStore.open(stores.db, stores.leases, stores.content);
    this.#records = new ImageRecords(stores.db);
    if (imageStore) this.#imageStore = Promise.resolve(imageStore);
  }

  get cache(): BuildCacheStore {
    return this.#cache;
  }

  #images(): Promise<ImageStore> {
    this.#imageStore ??= (async () => {
      const { ImageStore } = await import('../image/image-store.ts');
      return new ImageStore({
        db: this.#stores.db,
        content: this.#stores.content,
        leases: this.#stores.leases,
      });
    })();
    return this.#imageStore;
  }

  #openSnapshotter(): Promise<Snapshotter> {
    this.#snapshotter ??= (async () => {
      const { openRootSnapshotter } = await import('./containers-service.ts');
      const snapshotter = await openRootSnapshotter(this.#stores.root);
      await sweepBuildSnapshots(snapshotter);
      return snapshotter;
    })();
    return this.#snapshotter;
  }

  #openRuntime(): Promise<{ driver: OciRuntimeDriver; host: HostFacts }> {
    this.#runtime ??= (async () => {
      const [{ selectRuntime }, { readHostFacts }] = await Promise.all([
        import('../runtime/runtime-probe.ts'),
        import('../runtime/host-facts.ts'),
      ]);
      const [selection, host] = await Promise.all([
        selectRuntime({ root: this.#stores.root }),
        readHostFacts(),
      ]);
      return { driver: selection.driver, host };
    })();
    return this.#runtime;
  }

  async #pull(reference: string, options: { platform: Platform; signal?: AbortSignal }): Promise<void> {
    const [{ openLocalEngine }, { openImageTransferService }] = await Promise.all([
      import('./local-engine.ts'),
      import('./image-transfer-service.ts'),
    ]);
    const engine = await openLocalEngine({ root: this.#stores.root });
    try {
      const transfer = await openImageTransferService(
        { root: engine.root, content: engine.content, leases: engine.leases, images: engine.images },
        { snapshotter: await this.#openSnapshotter() },
      );
      try {
        await transfer.pull(reference, {
          platform: options.platform,
          ...(options.signal ? { signal: options.signal } : {}),
        });
      } finally {
        await transfer.close();
      }
    } finally {
      engine.close();
    }
  }

  /** The builder's view of the images: records and blobs read directly, the store only to write. */
  #buildImages(): BuildImages {
    const records = this.#records;
    const content = this.#stores.content;
    return {
      find: async (reference) => {
        // by digest: the image store knows repo digests and manifests
        if (reference.includes('@')) return (await this.#images()).find(reference)?.id as Digest | undefined;
        const tag = records.tag(reference);
        return tag && records.get(tag.imageId) ? (tag.imageId as Digest) : undefined;
      },
      // Small blobs read synchronously: a thread-pool round trip costs more than the read.
      config: async (id) => JSON.parse(readFileSync(content.blobPath(id), 'utf8')) as ImageConfig,
      layers: async (id) => {
        const record = records.get(id);
        if (!record) throw new NotFoundError(`No such image: ${id}`);
        const manifest = JSON.parse(
          readFileSync(content.blobPath(record.manifestDigest as Digest), 'utf8'),
        ) as {
          layers: Array<{ digest: Digest; size: number }>;
        };
        return manifest.layers.map((l) => ({ digest: l.digest, size: l.size }));
      },
      warm: () => {
        this.#images().catch(() => {});
        import('../oci/reference.ts').catch(() => {});
      },
      commit: async ({ config, layers, lease, tags }) => {
        const id = digestBytes(config);
        const { formatReference, parseNormalizedReference, withDefaultTag } = await import(
          '../oci/reference.ts'
        );
        const wanted = tags.map((t) => formatReference(withDefaultTag(parseNormalizedReference(t))));
        if (records.get(id) && wanted.every((ref) => records.tag(ref)?.imageId === id)) return id;
        const store = await this.#images();
        const result = await store.createImage({ config, layers, lease: lease(), tags });
        return result.image.id as Digest;
      },
    };
  }

  /**
   * `wharf build`: reads the Dockerfile and `.dockerignore`, unpacks a tar context (or fetches an
   * HTTP one), builds, and exports as `output` says.
   */
  async buildFrom(input: BuildInput): Promise<BuildResult> {
    const { context, dockerfile: given, output, ...rest } = input;
    let dockerfile = given;
    let cleanup: string | undefined;
    let contextEpoch: (() => Promise<number | undefined>) | undefined;
    try {
      let contextDir: string | undefined;
      if (context && 'url' in context) {
        // BuildKit's HTTP context: a tar is the context, anything else the Dockerfile
        const { HttpSources } = await import('../build/http-source.ts');
        const { archiveMaxTime } = await import('../build/source-date-epoch.ts');
        const body = await new HttpSources(this.#stores.db, this.#stores.root).fetch(context.url, {
          ...(rest.signal ? { signal: rest.signal } : {}),
        });
        // its Last-Modified, else the newest file of its archive (read only when asked)
        contextEpoch = async () =>
          body.lastModified !== undefined ? Math.floor(body.lastModified / 1000) : archiveMaxTime(body.path);
        if (await isTarArchive(body.path)) {
          const tmp = join(this.#stores.root, 'build', 'tmp');
          await mkdir(tmp, { recursive: true });
          cleanup = await mkdtemp(join(tmp, 'context-'));
          await untar(body.path, cleanup);
          contextDir = cleanup;
        } else if (!dockerfile) dockerfile = { text: readFileSync(body.path, 'utf8') };
      } else if (context && 'tarFile' in context) {
        const tmp = join(this.#stores.root, 'build', 'tmp');
        await mkdir(tmp, { recursive: true });
        cleanup = await mkdtemp(join(tmp, 'context-'));
        await untar(context.tarFile, cleanup);
        contextDir = cleanup;
      } else if (context) {
        contextDir = resolve(context.directory);
        const st = statOrUndefined(contextDir);
        if (!st)
          throw new NotFoundError(
            `unable to prepare context: path ${JSON.stringify(context.directory)} not found`,
          );
        if (!st.isDirectory())
          throw new InvalidArgumentError(
            `unable to prepare context: ${context.directory} is not a directory`,
          );
      }
      // Small files read synchronously: a cached rebuild should not wait on the thread pool.
      let text: string;
      let name = 'Dockerfile';
      let path: string | undefined;
      if (dockerfile && 'text' in dockerfile) text = dockerfile.text;
      else {
        if (dockerfile) path = cleanup ? join(cleanup, dockerfile.path) : resolve(dockerfile.path);
        else if (contextDir) {
          path = join(contextDir, 'Dockerfile');
          // BuildKit also takes a lowercase `dockerfile`
          if (!statOrUndefined(path) && statOrUndefined(join(contextDir, 'dockerfile')))
            path = join(contextDir, 'dockerfile');
        } else throw new InvalidArgumentError('Cannot build: no Dockerfile and no context');
        try {
          text = readFileSync(path, 'utf8');
        } catch (error) {
          if (isErrno(error, 'ENOENT')) {
            throw new NotFoundError(`failed to read dockerfile: open ${path}: no such file or directory`, {
              cause: error,
            });
          }
          throw error;
        }
        name = basename(path);
      }
      const ignore = contextDir ? loadIgnore(contextDir, path) : DockerIgnore.empty();
      const request: BuildRequest = {
        ...rest,
        ...(contextDir ? { contextDir } : {}),
        ...(contextEpoch ? { contextEpoch } : {}),
        dockerfile: { text, name },
        ignore,
      };
      return await this.#buildAndExport(request, output);
    } finally {
      if (cleanup) await rm(cleanup, { recursive: true, force: true });
    }
  }

  /** Builds, sending the result where `output` says (a path is written to a temp name, then renamed). */
  async #buildAndExport(request: BuildRequest, output: BuildInputOutput | undefined): Promise<BuildResult> {
    if (!output || output.type === 'image') return this.build(request);
    if (output.type === 'local')
      return this.build({ ...request, output: { type: 'local', dest: resolve(output.dest) } });
    const target = typeof output.dest === 'string' ? resolve(output.dest) : undefined;
    const temp = target ? tempPathFor(target) : undefined;
    const stream = temp ? createWriteStream(temp, { flags: 'wx', mode: 0o644 }) : (output.dest as Writable);
    try {
      let result: BuildResult;
      if (output.type === 'tar') {
        const builderOutput: BuildOutput = { type: 'tar', dest: stream };
        result = await this.build({ ...request, output: builderOutput });
      } else {
        // oci and docker: the image is stored, then written with `docker save`'s writers
        result = await this.build(request);
        const vertex = request.progress.start(`exporting to ${output.type} image format`);
        const [{ saveImages }, store] = await Promise.all([import('../image/image-save.ts'), this.#images()]);
        const archive = await saveImages(store, result.tags.length > 0 ? result.tags : [result.imageId], {
          format: output.type,
        });
        await pipeline(archive, stream, { end: temp !== undefined });
        vertex.status('sending tarball done');
        vertex.done();
      }
      if (temp && target) {
        if (!stream.writableFinished) await new Promise<void>((done) => stream.end(done));
        await rename(temp, target);
      }
      return result;
    } catch (error) {
      if (temp) {
        stream.destroy();
        await rm(temp, { force: true });
      }
      throw error;
    }
  }

  /** Builds from a request whose Dockerfile and ignore rules are already read. */
  async build(request: BuildRequest): Promise<BuildResult> {
    const builder = new Builder({
      root: this.#stores.root,
      db: this.#stores.db,
      leases: this.#stores.leases,
      content: this.#stores.content,
      images: this.#buildImages(),
      cache: this.#cache,
      hostPlatform: hostPlatform(),
      snapshotter: () => this.#openSnapshotter(),
      runtime: () => this.#openRuntime(),
      pull: (reference, options) => this.#pull(reference, options),
    });
    return builder.build(request);
  }

  /**
   * `wharf builder prune [-a]`: the layer cache (see cache-store.ts), and with it, as BuildKit's
   * prune does, the cache mounts no build holds and the remembered `ADD <url>` bodies.
   */
  async prune(options: { all?: boolean } = {}): Promise<PruneResult> {
    const result = await this.#cache.prune(options);
    const [{ CacheMounts }, { HttpSources }] = await Promise.all([
      import('../build/cache-mounts.ts'),
      import('../build/http-source.ts'),
    ]);
    for (const mount of new CacheMounts(this.#stores.root).prune()) {
      result.removed.push(`cachemount:${mount.key.slice(0, 25)}`);
      result.reclaimed += mount.size;
    }
    result.reclaimed += new HttpSources(this.#stores.db, this.#stores.root).prune();
    return result;
  }

  /** The build cache entries of `system df`: cached layers, then cache mounts. */
  diskUsage(): BuildCacheUsage[] {
    return [...this.#cache.diskUsage(), ...cacheMountUsage(this.#stores.root)];
  }

  async close(): Promise<void> {
    if (this.#snapshotter) (await this.#snapshotter.catch(() => undefined))?.close();
    this.#stores.close();
  }
}

/** The build service of an open engine (the daemon's); closing it leaves the engine open. */
export function openBuildService(engine: LocalEngine): BuildService {
  return new BuildService(
    { root: engine.root, db: engine.db, leases: engine.leases, content: engine.content, close() {} },
    engine.images.store,
  );
}

/**
 * A build service on its own stores, for the CLI: the lightest way to build in-process.
 *
 * @example
 * const builds = await openBuildEngine(root);
 */
export async function openBuildEngine(root: string): Promise<BuildService> {
  const db = openMetadataDatabase(root);
  try {
    const leases = new LeaseStore(db);
    const content = await LocalContentStore.open(root, new SqliteContentReferences(db, leases));
    return new BuildService({ root, db, leases, content, close: () => db.close() });
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * The build cache's share of `system df`, for `wharf system df`.
 *
 * @example
 * const buildCache = buildCacheDiskUsage(engine); // [{ ID, Size, Shared, InUse, ... }]
 */
export function buildCacheDiskUsage(
  engine: Pick<LocalEngine, 'db' | 'leases' | 'content'> & { root?: string },
): BuildCacheUsage[] {
  const layers = BuildCacheStore.open(engine.db, engine.leases, engine.content).diskUsage();
  return engine.root === undefined ? layers : [...layers, ...cacheMountUsage(engine.root)];
}

/** `RUN --mount=type=cache` directories as `system df` lists them (BuildKit's exec.cachemount). */
function cacheMountUsage(root: string): BuildCacheUsage[] {
  return new CacheMounts(root).list().map((m) => ({
    ID: m.key.slice(0, 25),
    Description: `mount / from exec ${m.id}`,
    Size: m.size,
    Shared: false,
    InUse: m.inUse,
    CreatedAt: new Date(m.lastUsed).toISOString(),
    LastUsedAt: new Date(m.lastUsed).toISOString(),
    UsageCount: 1,
    Type: 'exec.cachemount',
  }));
}

function statOrUndefined(path: string) {
  try {
    return statSync(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return undefined;
    throw error;
  }
}

/**
 * The context's ignore rules, as `DockerIgnore.load` picks them (`<Dockerfile>.dockerignore`
 * beside the Dockerfile first, else `.dockerignore` at the root), read synchronously.
 */
function loadIgnore(contextDir: string, dockerfile: string | undefined): DockerIgnore {
  const candidates = [
    ...(dockerfile ? [`${dockerfile}.dockerignore`] : []),
    join(contextDir, '.dockerignore'),
  ];
  for (const candidate of candidates) {
    let text: string;
    try {
      text = readFileSync(candidate, 'utf8');
    } catch (error) {
      if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) continue;
      throw error;
    }
    return DockerIgnore.parse(text, candidate);
  }
  return DockerIgnore.empty();
}

/** Removes build snapshots (active steps and views) left by build processes that died. */
async function sweepBuildSnapshots(snapshotter: Snapshotter): Promise<void> {
  const stale: string[] = [];
  await snapshotter.walk((info) => {
    const pid = Number(info.labels['wharf.build/pid']);
    // committed ones (a step's layer, named later by chain ID) are parents of images: GC's business
    if (info.kind === 'committed') return;
    if (!info.name.startsWith('build-') || !Number.isInteger(pid) || pid === process.pid) return;
    try {
      process.kill(pid, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') stale.push(info.name);
    }
  });
  for (const key of stale) await snapshotter.remove(key).catch(() => {});
}

/** True when `file` starts like a tar archive, plain or compressed (an HTTP context's body). */
async function isTarArchive(file: string): Promise<boolean> {
  const { isArchive } = await import('../build/fs/extract-archive.ts');
  return isArchive(file);
}

/** Unpacks a context tar (GNU tar detects gzip, bzip2, xz and zstd by itself). */
async function untar(file: string, dir: string): Promise<void> {
  const { spawn } = await import('node:child_process');
  return new Promise((resolvePromise, reject) => {
    const child = spawn('tar', ['-x', '--no-same-owner', '-f', file, '-C', dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const err: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolvePromise()
        : reject(
            new InvalidArgumentError(
              `Cannot read the build context tar: ${Buffer.concat(err).toString().trim()}`,
            ),
          ),
    );
  });
}
