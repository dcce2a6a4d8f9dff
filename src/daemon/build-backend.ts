/**
 * `POST /build` (the classic builder endpoint, `version=1`) and `POST /build/prune` over the same
 * builder as `wharf build`: the context tar of the request body is unpacked as it arrives (GNU
 * tar reading the body from its stdin, no copy of the tar on disk) into a context directory of
 * the root, then built as a directory context; the builder's progress is turned into the classic
 * builder's `Step N/M : ...` output (classic-build-output.ts).
 *
 * Context directories are slots, `$root/build/tmp/api-context-N`, the lowest free one taken by
 * each build and emptied after it: the builder keeps one file-digest row per context directory,
 * so reusing a few names keeps that table as small as the number of builds run at once.
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
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  BuildProgress,
  type BuildService,
  openBuildService,
  QuietProgressPrinter,
} from '../engine/build-service.ts';
import { describeDockerfile } from '../engine/dockerfile-parse.ts';
import type { LocalEngine } from '../engine/local-engine.ts';
import type { BuildBackend, BuildRequest } from '../engine-api/routes/build-routes.ts';
import type { Filters } from '../engine-api/routes/json-types.ts';
import { InvalidArgumentError, isErrno, NotFoundError } from '../errors/index.ts';
import { familiarString, parseNormalizedReference } from '../oci/reference.ts';
import { ClassicBuildOutput } from './classic-build-output.ts';

/** GNU tar reads a compressed archive from a pipe only when told which compression it is. */
function compressionFlag(head: Buffer): string | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return '--gzip';
  if (head.subarray(0, 3).toString('latin1') === 'BZh') return '--bzip2';
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return '--xz';
  if (head.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return '--zstd';
  return undefined;
}

/**
 * Unpacks a context tar (plain, gzip, bzip2, xz or zstd) from a stream into `dir`. GNU tar keeps
 * members inside the directory (leading `/` and `..` removed, symlinks made last).
 */
export async function unpackContext(source: Readable, dir: string, signal: AbortSignal): Promise<void> {
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const head: Buffer[] = [];
  let size = 0;
  let ended = false;
  while (size < 6) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    head.push(next.value);
    size += next.value.byteLength;
  }
  if (size === 0) return; // no context at all: the Dockerfile will be missing
  const first = Buffer.concat(head);
  const flag = compressionFlag(first);
  const child = spawn(
    'tar',
    ['-x', '--no-same-owner', '--warning=no-timestamp', ...(flag ? [flag] : []), '-f', '-', '-C', dir],
    {
      stdio: ['pipe', 'ignore', 'pipe'],
      signal,
    },
  );
  const errors: Buffer[] = [];
  child.stderr.on('data', (chunk: Buffer) => errors.push(chunk));
  const exited = new Promise<number | null>((resolvePromise, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolvePromise(code));
  });
  exited.catch(() => {});
  async function* body(): AsyncGenerator<Buffer> {
    let total = first.byteLength;
    yield first;
    while (!ended) {
      const next = await iterator.next();
      if (next.done) break;
      total += next.value.byteLength;
      yield next.value;
    }
    // The docker CLI ends the tar it makes for a Dockerfile outside the context right after the
    // last file's bytes, without padding or end blocks (Go's reader does not mind, GNU tar does):
    // complete it. After a complete archive these zeros are past its end and never read.
    if (!flag) yield Buffer.alloc(((512 - (total % 512)) % 512) + 1024);
  }
  try {
    await pipeline(body(), child.stdin, { signal });
  } catch (error) {
    // tar stopping early closes its stdin: its own message says why
    if (child.exitCode === null) child.kill('SIGKILL');
    const code = await exited.catch(() => null);
    if (signal.aborted) throw error;
    if (code !== 0) throw tarError(errors);
    throw error;
  }
  if ((await exited) !== 0) throw tarError(errors);
}

function tarError(errors: Buffer[]): InvalidArgumentError {
  const message = Buffer.concat(errors).toString().trim() || 'tar failed';
  return new InvalidArgumentError(`Cannot read the build context: ${message}`);
}

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

export class DaemonBuildBackend implements BuildBackend {
  readonly #engine: LocalEngine;
  readonly #service: BuildService;
  readonly #slots = new Set<number>();

  constructor(engine: LocalEngine) {
    this.#engine = engine;
    this.#service = openBuildService(engine);
  }

  async #takeSlot(): Promise<{ dir: string; release: () => Promise<void> }> {
    let slot = 0;
    while (this.#slots.has(slot)) slot++;
    this.#slots.add(slot);
    const dir = join(this.#engine.root, 'build', 'tmp', `api-context-${slot}`);
    const release = async () => {
      await rm(dir, { recursive: true, force: true }).catch(() => {});
      this.#slots.delete(slot);
    };
    try {
      // left by a daemon that was killed during a build
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
    } catch (error) {
      await release();
      throw error;
    }
    return { dir, release };
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
    try {
      await unpackContext(request.context, slot.dir, request.signal);
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
      output?.finish(result.imageId);
      return {
        imageId: result.imageId,
        tags: result.tags.map((tag) => familiarString(parseNormalizedReference(tag))),
      };
    } catch (error) {
      output?.fail();
      throw error;
    } finally {
      await slot.release();
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
    return {
      CachesDeleted: result.removed.length > 0 ? result.removed : null,
      SpaceReclaimed: result.reclaimed,
    };
  }

  async close(): Promise<void> {
    await this.#service.close();
  }
}
