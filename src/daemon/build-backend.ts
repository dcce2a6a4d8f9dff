/**
 * `POST /build` (the classic builder endpoint, `version=1`) and `POST /build/prune` over the same
 * builder as `wharf build`: the context tar of the request body is synced, as it arrives, into a
 * context directory of the root (context-sync.ts: only what differs from the directory's previous
 * content is written), then built as a directory context; the builder's progress is turned into
 * the classic builder's `Step N/M : ...` output (classic-build-output.ts).
 *
 * The sync hands the builder the lstat of every entry it left (its walk of the context then only
 * lists directories) and the digest of every file (hashed as the bytes passed), so what follows
 * the last byte of the upload is the build itself. The slot being the daemon's own, a COPY
 * hard-links its files into the layer rather than creating them again (`linkContext`, see
 * src/build/fs/context-links.ts; the sync never changes a file in place once a layer may share it).
 *
 * Context directories are slots, `$root/build/tmp/api-context-N`, the lowest free one taken by
 * each build. A slot keeps the context of its last build (up to 1 GiB), so the next build from
 * the same client writes only the files that changed: a rebuild does not create 2,000 files
 * again, and the unchanged ones keep the inodes copy reuse knows. `build/prune` empties the slots
 * not in use.
 *
 * Parameters the builder has no use for are accepted and ignored, as the classic builder ignores
 * them without a daemon feature behind them: `rm`/`forcerm` (no intermediate containers are
 * kept), `cachefrom`, `extrahosts`, `shmsize` and the memory and CPU limits (RUN steps run
 * without cgroup limits). `networkmode` is `default` (Wharf's default: none), `none` or `host`.
 * Credentials of `X-Registry-Config` are not used yet: a base image is pulled with the daemon's.
 *
 * @example
 * const build = new DaemonBuildBackend(engine);
 * const { imageId } = await build.build({ context: body, dockerfile: 'Dockerfile', tags: ['x'], ... });
 */
import { readFileSync, statSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import {
  BuildProgress,
  type BuildService,
  openBuildService,
  QuietProgressPrinter,
} from '../engine/build-service.ts';
import { describeDockerfile } from '../engine/dockerfile-parse.ts';
import type { LocalEngine } from '../engine/local-engine.ts';
import type { BuildBackend, BuildRequest } from '../engine-api/routes/build-routes.ts';
import type { Filters, JsonObject } from '../engine-api/routes/json-types.ts';
import { InvalidArgumentError, isErrno, NotFoundError } from '../errors/index.ts';
import { familiarString, parseNormalizedReference } from '../oci/reference.ts';
import { ClassicBuildOutput } from './classic-build-output.ts';
import { type PreviousSync, syncContext } from './context-sync.ts';

/** A slot keeps the last context it received unless it was bigger than this (then it is emptied). */
const KEEP_CONTEXT_BYTES = 1024 * 1024 * 1024;

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return false;
    throw error;
  }
}

/** The Dockerfile inside the context, as the classic builder finds it. */
function locateDockerfile(contextDir: string, name: string): string {
  const path = resolve(contextDir, name);
  const inside = relative(contextDir, path);
  if (inside === '' || inside === '..' || inside.startsWith(`..${sep}`)) {
    throw new InvalidArgumentError(
      `Cannot locate specified Dockerfile: ${name}: the path is outside the build context`,
    );
  }
  if (exists(path)) return path;
  // the classic builder also takes a lowercase `dockerfile` when the default is absent
  if (name === 'Dockerfile' && exists(join(contextDir, 'dockerfile'))) return join(contextDir, 'dockerfile');
  throw new NotFoundError(`Cannot locate specified Dockerfile: ${name}`);
}

function buildNetwork(mode: string | undefined): 'none' | 'host' | undefined {
  if (mode === undefined || mode === '' || mode === 'default') return undefined;
  if (mode === 'none' || mode === 'host') return mode;
  throw new InvalidArgumentError(`Cannot build with network ${mode}: builds take default, none or host`);
}

/** `WHARF_BUILD_TRACE=1` prints the phases of each API build to the daemon's stderr (benchmarks). */
function trace(what: string): void {
  if (process.env.WHARF_BUILD_TRACE === '1') process.stderr.write(`[trace api build] ${what}\n`);
}

/** The body as it passes, with the times of its first and last bytes traced (WHARF_BUILD_TRACE). */
async function* tracedUpload(body: AsyncIterable<Buffer>, started: number): AsyncGenerator<Buffer> {
  let bytes = 0;
  for await (const chunk of body) {
    if (bytes === 0) trace(`first byte after ${(performance.now() - started).toFixed(0)} ms`);
    bytes += chunk.byteLength;
    yield chunk;
  }
  trace(`last byte after ${(performance.now() - started).toFixed(0)} ms: ${bytes} bytes`);
}

export class DaemonBuildBackend implements BuildBackend {
  readonly #engine: LocalEngine;
  readonly #service: BuildService;
  readonly #slots = new Set<number>();
  /**
   * What the last sync of each slot left (context-sync.ts `previous`): the next sync keeps the
   * files still as it left them without reading them back. Dropped whenever a slot is emptied.
   */
  readonly #lastSyncs = new Map<number, PreviousSync>();

  constructor(engine: LocalEngine) {
    this.#engine = engine;
    this.#service = openBuildService(engine);
  }

  /**
   * The lowest free context slot. A slot keeps the files of its last build: the next build that
   * takes it writes only what changed (context-sync.ts). Left by a killed daemon, it is reused as
   * it is.
   */
  async #takeSlot(): Promise<{ slot: number; dir: string; release: (keep: boolean) => void }> {
    let slot = 0;
    while (this.#slots.has(slot)) slot++;
    this.#slots.add(slot);
    const dir = join(this.#engine.root, 'build', 'tmp', `api-context-${slot}`);
    const release = (keep: boolean) => {
      if (keep) {
        this.#slots.delete(slot);
        return;
      }
      this.#lastSyncs.delete(slot);
      // emptied after the answer, the slot staying taken meanwhile
      rm(dir, { recursive: true, force: true })
        .catch(() => {})
        .finally(() => this.#slots.delete(slot));
    };
    try {
      await mkdir(dir, { recursive: true });
    } catch (error) {
      release(false);
      throw error;
    }
    return { slot, dir, release };
  }

  async build(request: BuildRequest): Promise<{ imageId: string; tags: string[] }> {
    if (request.remote !== undefined) {
      throw new InvalidArgumentError(
        `Cannot build from ${request.remote}: remote contexts are not supported, send the context as the request body`,
      );
    }
    const network = buildNetwork(request.networkMode);
    const buildArgs = new Map<string, string>();
    // a null value declares the argument without one: the Dockerfile's default applies
    for (const [key, value] of Object.entries(request.buildArgs))
      if (value !== null) buildArgs.set(key, value);
    const slot = await this.#takeSlot();
    let output: ClassicBuildOutput | undefined;
    let keep = false;
    try {
      const started = performance.now();
      const previous = this.#lastSyncs.get(slot.slot);
      // until this sync is done, the slot holds neither the last context nor the new one
      this.#lastSyncs.delete(slot.slot);
      const body =
        process.env.WHARF_BUILD_TRACE === '1' ? tracedUpload(request.context, started) : request.context;
      const synced = await syncContext(body, slot.dir, {
        signal: request.signal,
        ...(previous ? { previous } : {}),
      });
      if (synced.entries && synced.digests) {
        this.#lastSyncs.set(slot.slot, { entries: synced.entries, digests: synced.digests });
      }
      trace(
        `context synced in ${(performance.now() - started).toFixed(0)} ms: ${synced.files} files, ${synced.kept} kept, ${synced.written} written, ${synced.removed} removed`,
      );
      // kept for the next build unless big; a context only partly received (the sync threw)
      // leaves `keep` false and its slot is emptied
      keep = synced.bytes <= KEEP_CONTEXT_BYTES;
      const path = locateDockerfile(slot.dir, request.dockerfile);
      if (!request.quiet) {
        const description = await describeDockerfile({
          source: readFileSync(path, 'utf8'),
          file: request.dockerfile,
        });
        output = new ClassicBuildOutput(description, {
          ...(request.target ? { target: request.target } : {}),
          write: (text) => request.output({ stream: text }),
          imageId: (name) => {
            try {
              return this.#engine.images.resolve(name).id;
            } catch {
              return undefined;
            }
          },
        });
      }
      const result = await this.#service.buildFrom({
        context: { directory: slot.dir },
        // what the sync just wrote or checked: the builder's walk of the context stats nothing again,
        // and hashes no file (the sync hashed the bytes as they came)
        ...(synced.entries ? { contextStats: synced.entries } : {}),
        ...(synced.digests ? { contextDigests: synced.digests } : {}),
        // the slot is ours and its sync never changes a file in place once it may have another
        // name: COPY hard-links its files into layers instead of creating them a second time
        linkContext: true,
        dockerfile: { path },
        buildArgs,
        ...(request.target ? { target: request.target } : {}),
        noCache: request.noCache,
        pull: request.pull,
        labels: request.labels,
        ...(request.platform ? { platform: request.platform } : {}),
        tags: request.tags,
        ...(network ? { network } : {}),
        progress: new BuildProgress(output ?? new QuietProgressPrinter()),
        signal: request.signal,
      });
      trace(`built in ${(performance.now() - started).toFixed(0)} ms`);
      output?.finish(result.imageId);
      return {
        imageId: result.imageId,
        tags: result.tags.map((tag) => familiarString(parseNormalizedReference(tag))),
      };
    } catch (error) {
      output?.fail();
      throw error;
    } finally {
      slot.release(keep);
    }
  }

  async prune(options: {
    all: boolean;
    filters: Filters;
    keepStorage?: number;
  }): Promise<{ CachesDeleted: string[] | null; SpaceReclaimed: number }> {
    const filters = Object.entries(options.filters).filter(([, values]) => values.length > 0);
    if (filters.length > 0) {
      throw new InvalidArgumentError(
        `Cannot prune the build cache: filter ${filters.map(([key]) => key).join(', ')} is not supported`,
      );
    }
    if (options.keepStorage !== undefined && options.keepStorage > 0) {
      throw new InvalidArgumentError('Cannot prune the build cache: keep-storage is not supported');
    }
    const result = await this.#service.prune({ all: options.all });
    await this.#emptyIdleSlots();
    return {
      CachesDeleted: result.removed.length > 0 ? result.removed : null,
      SpaceReclaimed: result.reclaimed,
    };
  }

  /** The build cache entries of `/system/df` (Docker's `BuildCache` shape). */
  async diskUsage(): Promise<JsonObject[]> {
    return this.#service.diskUsage() as unknown as JsonObject[];
  }

  /** Removes the contexts kept by slots no build is using. */
  async #emptyIdleSlots(): Promise<void> {
    const tmp = join(this.#engine.root, 'build', 'tmp');
    let names: string[];
    try {
      names = await readdir(tmp);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return;
      throw error;
    }
    for (const name of names) {
      const match = /^api-context-(\d+)$/.exec(name);
      const slot = Number(match?.[1]);
      if (!match || this.#slots.has(slot)) continue;
      // taken while it is removed, so a build starting meanwhile takes another one
      this.#slots.add(slot);
      this.#lastSyncs.delete(slot);
      try {
        await rm(join(tmp, name), { recursive: true, force: true });
      } finally {
        this.#slots.delete(slot);
      }
    }
  }

  async close(): Promise<void> {
    await this.#service.close();
  }
}
