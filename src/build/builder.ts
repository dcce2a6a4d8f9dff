/**
 * The builder: a Dockerfile and a context become an image, with BuildKit's semantics and a
 * persistent cache (docs/build-cache.md).
 *
 * The pipeline: parse (src/dockerfile) -> typed stages -> a stage plan (stage-plan.ts: bases,
 * `--from` edges, what the target needs) -> each needed stage dispatched instruction by
 * instruction. Config-only instructions (ENV, LABEL, USER, CMD...) change the stage's image
 * config and history; ADD, COPY, RUN and WORKDIR are *layer steps*: each has a cache key, the
 * digest of its parent's key and everything that decides its layer (the instruction after
 * expansion, the environment and user it runs with, the content digest of the files it copies).
 * A step whose key is in the cache reuses the recorded layer blob, byte for byte, without
 * touching any filesystem. A step that runs needs its parent's filesystem: the parent's layers
 * are unpacked into snapshots named by chain ID (or found there: every layer a build makes gets
 * its chain ID name too), a fresh snapshot is prepared on top, the step writes into it (COPY
 * writes files, RUN runs a container), and its upper directory becomes the layer, diffed and
 * stored in the background while the next steps go on.
 *
 * Stages run concurrently (each awaits only the stages it uses), so independent stages build in
 * parallel. The result is stored through the image store and tagged, or written out by the
 * `local` and `tar` exporters.
 *
 * BuildKit's features beyond the classic builder (docs/build-run-mounts.md,
 * docs/build-reproducible.md): `RUN --mount` (bind, cache, tmpfs, secret; run-mounts.ts),
 * `--network` and `--security` with their entitlements, heredoc scripts, `ADD <url>`
 * (http-source.ts), `--no-cache-filter`, and SOURCE_DATE_EPOCH (source-date-epoch.ts), which
 * dates the history and clamps the mtimes of every layer made, for reproducible images.
 *
 * @example
 * const builder = new Builder({ root, db, leases, content, images, cache, hostPlatform, snapshotter, runtime });
 * const { imageId } = await builder.build({ contextDir: '.', dockerfile: { text, name: 'Dockerfile' }, ignore, progress });
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmdirSync, type Stats } from 'node:fs';
import { chmod as chmodAsync, copyFile, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { ContentStore } from '../content/content-store.ts';
import { DockerIgnore } from '../dockerfile/dockerignore.ts';
import { DockerfileError } from '../dockerfile/errors.ts';
import { mustParseHeredocWord } from '../dockerfile/heredoc.ts';
import {
  type AddCommand,
  type ArgScope,
  automaticArgs,
  BuildArgs,
  type CmdCommand,
  type Command,
  type CopyCommand,
  type EntrypointCommand,
  expandCommand,
  parseChmod,
  parseExposedPorts,
  parseInstruction,
  parseStages,
  type RunCommand,
  ScopeEnv,
  type WorkdirCommand,
} from '../dockerfile/instructions/index.ts';
import { parseDockerfile } from '../dockerfile/parser.ts';
import { ShellLexer } from '../dockerfile/shell-lexer.ts';
import { validateKnownInstructions } from '../dockerfile/validate-known-instructions.ts';
import { AlreadyExistsError, InvalidArgumentError, NotFoundError, WharfError } from '../errors/index.ts';
import { resolveInRoot } from '../image/layer/root-path.ts';
import type { MetadataDatabase } from '../metadata/database.ts';
import type { LeaseStore } from '../metadata/lease-store.ts';
import { chainId } from '../oci/chain-id.ts';
import { type Digest, digestBytes } from '../oci/digest.ts';
import type { ImageConfig } from '../oci/image-config.ts';
import type { Platform } from '../oci/platform.ts';
import { formatReference, parseNormalizedReference, withDefaultTag } from '../oci/reference.ts';
import type { HostFacts } from '../runtime/host-facts.ts';
import type { OciRuntimeDriver } from '../runtime/runtime-driver.ts';
import type { Snapshotter } from '../snapshot/snapshotter.ts';
import { BuildStepError, type DockerfileSource } from './build-error.ts';
import type { CacheMounts } from './cache-mounts.ts';
import type { BuildCacheStore } from './cache-store.ts';
import { BuildContext } from './context/build-context.ts';
import type { ContextIndex } from './context/context-index.ts';
import type { CopyManifest } from './fs/copy-reuse.ts';
import { containsWildcards } from './fs/go-match.ts';
import { ContextTree, type SourceTree } from './fs/source-tree.ts';
import { resolveWildcards } from './fs/wildcards.ts';
import { goList, goQuote, goQuoteList, healthcheckHistory } from './go-format.ts';
import type { HttpBody, HttpSources } from './http-source.ts';
import { DEFAULT_PATH, ImageState, type LayerRef } from './image-state.ts';
import type { BuildProgress, Vertex } from './progress.ts';
import type { MountHost, RunMounts } from './run-mounts.ts';
import { type PlannedStage, planStages, resolveCopySource, type StagePlan } from './stage-plan.ts';

/**
 * The absolute path of context file `src` when a COPY may hard-link it into its layer: a regular
 * file owned 0:0 (as the copy writes it) with no other name at all, in the context or in a layer
 * (fs/context-links.ts says why).
 */
function linkableContextFile(index: ContextIndex, src: string): string | undefined {
  const e = index.get(src);
  if (e?.type !== 'file' || e.uid !== 0 || e.gid !== 0 || e.nlink !== 1) return undefined;
  return index.absolute(src);
}

/** Bumped whenever a change to the builder could change what a cached step would produce. */
const CACHE_VERSION = 'wharf-build-cache-v1';

/** Build-args that reach RUN without an ARG and never touch the cache (BuildKit's proxy env). */
const PROXY_ARGS = ['HTTP_PROXY', 'HTTPS_PROXY', 'FTP_PROXY', 'NO_PROXY', 'ALL_PROXY'].flatMap((k) => [
  k,
  k.toLowerCase(),
]);

export interface BuildRequest {
  /** The context directory (a tar or stdin context is unpacked into one by the caller). */
  contextDir?: string;
  dockerfile: { text: string; name: string };
  /** The ignore rules for the context (`<Dockerfile>.dockerignore` or `.dockerignore`). */
  ignore: DockerIgnore;
  /**
   * Current lstat results of the context's entries by relative path, from a caller that has just
   * written the context directory (the daemon's context sync): its walk asks only for the rest.
   */
  contextStats?: ReadonlyMap<string, Stats>;
  /**
   * Content digests (`sha256:…`) of the context's regular files by relative path, from a caller
   * that has just had every byte of them in hand (the daemon's context sync hashes the upload as
   * it arrives): these files are not hashed, nor looked up in the file-digest cache.
   */
  contextDigests?: ReadonlyMap<string, string>;
  /**
   * The context directory is the caller's own and it never changes one of its files in place
   * once that file may have another name (the daemon's context slots, context-sync.ts): a COPY
   * may then hard-link the context's regular files (owner 0:0, one name in the context) into its
   * layer instead of copying their bytes (fs/context-links.ts). Never set for a user's directory.
   */
  linkContext?: boolean;
  buildArgs?: ReadonlyMap<string, string>;
  target?: string;
  noCache?: boolean;
  /** Look base images up in their registry even when present locally. */
  pull?: boolean;
  labels?: Readonly<Record<string, string>>;
  /** The target platform; default the host's. Only the host's architecture can run RUN steps. */
  platform?: Platform;
  tags?: readonly string[];
  /**
   * The network of RUN steps without `--network` (and `--network=default`): none (default) or
   * the host's. A caller that forces the host's network grants `network.host` with it.
   */
  network?: 'none' | 'host';
  /** Entitlements (`--allow`): `network.host`, `security.insecure`. */
  allow?: readonly string[];
  /** Secrets for `RUN --mount=type=secret`, by id (`--secret`). Never stored anywhere. */
  secrets?: ReadonlyMap<string, Buffer>;
  /** `--no-cache-filter`: the stages (by name) whose steps run without looking up the cache. */
  noCacheFilter?: readonly string[];
  /** The sandbox hostname of RUN steps (the `BUILDKIT_SANDBOX_HOSTNAME` build-arg wins). */
  hostname?: string;
  /**
   * The epoch `SOURCE_DATE_EPOCH=context` means (an HTTP context's), asked only then; absent for
   * a directory, which has none.
   */
  contextEpoch?: () => Promise<number | undefined>;
  /** Where the result goes; default the image store. */
  output?: BuildOutput;
  progress: BuildProgress;
  signal?: AbortSignal;
}

/**
 * The builder's exporters (BuildKit's `--output`): `image` stores the image (and is what the
 * engine writes `oci` and `docker` archives from); `local` writes the final stage's filesystem
 * into a directory and `tar` as one tar stream, storing no image.
 */
export type BuildOutput =
  | { type: 'image' }
  | { type: 'local'; dest: string }
  | { type: 'tar'; dest: Writable };

export interface BuildResult {
  /** The image's id (its config digest); with a `local` or `tar` output it is not stored. */
  imageId: Digest;
  /** Normalized references now pointing at the image. */
  tags: string[];
  /** Layer steps that came from the cache and that ran. */
  cached: number;
  executed: number;
}

/**
 * What the builder needs of the image store: lookups by normalized name, a base image's config
 * and layers, and recording the result. Narrow on purpose: a fully cached build finds its image
 * already stored and writes nothing (see engine/build-service.ts).
 */
export interface BuildImages {
  /** The id of the image a normalized reference (`docker.io/library/busybox:latest`, or `name@digest`) names. */
  find(reference: string): Promise<Digest | undefined>;
  config(id: Digest): Promise<ImageConfig>;
  layers(id: Digest): Promise<Array<{ digest: Digest; size: number }>>;
  /** Stores the image (layers held by `lease`) unless stored, points `tags` at it; returns its id. */
  commit(options: {
    config: Buffer;
    layers: ReadonlyArray<{ digest: Digest; size: number }>;
    lease: () => string;
    tags: readonly string[];
  }): Promise<Digest>;
  /** Starts loading what `commit` needs of a new image, when it will probably be needed. */
  warm?(): void;
}

export interface BuilderServices {
  root: string;
  images: BuildImages;
  content: ContentStore;
  leases: LeaseStore;
  db: MetadataDatabase;
  cache: BuildCacheStore;
  hostPlatform: Platform;
  /** Opened on first use: a fully cached build never touches snapshots. */
  snapshotter: () => Promise<Snapshotter>;
  runtime: () => Promise<{ driver: OciRuntimeDriver; host: HostFacts }>;
  /** Fetches an image into the local store (the registry client); absent when there is none. */
  pull?: (reference: string, options: { platform: Platform; signal?: AbortSignal }) => Promise<void>;
}

interface StageResult {
  image: ImageState;
  scope: ArgScope;
  /** The cache key of the stage's filesystem. */
  key: string;
}

interface ResolvedImage {
  id: Digest;
  /** The normalized name (`docker.io/library/busybox:latest`). */
  name: string;
  state: ImageState;
}

/** `WHARF_BUILD_TRACE=1` prints the time of each phase to stderr (for benchmarks). */
const TRACE = process.env.WHARF_BUILD_TRACE === '1';
const traceStart = performance.now();
function trace(what: string): void {
  if (TRACE) process.stderr.write(`[trace ${(performance.now() - traceStart).toFixed(1)}ms] ${what}\n`);
}

type ExecTools = typeof import('./exec-tools.ts');
let execTools: Promise<ExecTools> | undefined;
/** The step-running machinery, loaded on first need (see exec-tools.ts). */
const tools = (): Promise<ExecTools> => {
  execTools ??= import('./exec-tools.ts');
  return execTools;
};

const hashKey = (...parts: unknown[]): string => digestBytes(JSON.stringify([CACHE_VERSION, ...parts]));

/** BuildKit's uppercaseCmd: the instruction word in capitals. */
function uppercaseCmd(text: string): string {
  const space = text.indexOf(' ');
  return space < 0 ? text.toUpperCase() : text.slice(0, space).toUpperCase() + text.slice(space);
}

/** BuildKit's withShell: the SHELL (or `/bin/sh -c`) then the command line as one word. */
function withShell(image: ImageState, args: readonly string[]): string[] {
  const shell =
    image.config.Shell && image.config.Shell.length > 0 ? [...image.config.Shell] : ['/bin/sh', '-c'];
  return [...shell, args.join(' ')];
}

/** system.NormalizePath: `path` joined to `parent` when relative; the trailing slash kept when asked. */
function normalizePath(parent: string, path: string, keepSlash: boolean): string {
  const base = parent === '' ? '/' : parent.startsWith('/') ? parent : posix.join('/', parent);
  const orig = path;
  let p = path === '' ? base : path;
  if (!p.startsWith('/')) p = posix.join(base, p);
  else p = posix.normalize(p);
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  if (keepSlash) {
    if (orig.endsWith('/') && !p.endsWith('/')) p += '/';
    else if (orig.endsWith('/.')) {
      if (p !== '/') p += '/';
      p += '.';
    }
  }
  return p;
}

/** A stop signal as Docker's `signal.ParseSignal` accepts it. */
function checkSignal(signal: string): void {
  if (/^\d+$/.test(signal)) {
    if (Number(signal) === 0) throw new InvalidArgumentError(`Invalid signal: ${signal}`);
    return;
  }
  const name = signal.toUpperCase().replace(/^SIG/, '');
  const known = new Set([
    'ABRT',
    'ALRM',
    'BUS',
    'CHLD',
    'CLD',
    'CONT',
    'FPE',
    'HUP',
    'ILL',
    'INT',
    'IO',
    'IOT',
    'KILL',
    'PIPE',
    'POLL',
    'PROF',
    'PWR',
    'QUIT',
    'SEGV',
    'STKFLT',
    'STOP',
    'SYS',
    'TERM',
    'TRAP',
    'TSTP',
    'TTIN',
    'TTOU',
    'UNUSED',
    'URG',
    'USR1',
    'USR2',
    'VTALRM',
    'WINCH',
    'XCPU',
    'XFSZ',
  ]);
  if (known.has(name) || /^RTMIN(\+\d+)?$|^RTMAX(-\d+)?$/.test(name)) return;
  throw new InvalidArgumentError(`Invalid signal: ${signal}`);
}

export class Builder {
  readonly #services: BuilderServices;

  constructor(services: BuilderServices) {
    this.#services = services;
  }

  /**
   * Builds the target stage of `request.dockerfile` and stores the image.
   * @throws DockerfileError (parse and dispatch errors, with file and line), BuildStepError (a
   *   step that failed, with its output and Dockerfile lines), NotFoundError (a base image)
   */
  async build(request: BuildRequest): Promise<BuildResult> {
    const session = new BuildSession(this.#services, request);
    try {
      return await session.run();
    } finally {
      await session.close();
    }
  }
}

class BuildSession {
  readonly #s: BuilderServices;
  readonly #req: BuildRequest;
  readonly #progress: BuildProgress;
  readonly #source: string;
  readonly #file: string;
  readonly #abort = new AbortController();
  #leaseId: string | undefined;
  readonly #platform: Platform;
  #context: BuildContext | undefined;
  /** Context files a COPY of this build planned as hard links (fs/context-links.ts): once each. */
  readonly #linkedSources = new Set<string>();
  #contextVertexDone = false;
  readonly #images = new Map<string, Promise<ResolvedImage>>();
  readonly #stageResults = new Map<PlannedStage, Promise<StageResult>>();
  readonly #hits: Array<{ key: string; lastUsed: number }> = [];
  /** Commands that came from ONBUILD triggers (progress says so). */
  readonly #triggers = new WeakSet<Command>();
  #plan: StagePlan | undefined;
  /** Layers being diffed and stored in the background. */
  readonly #pending: Promise<void>[] = [];
  /** Set when the build has a RUN to run: the runtime is then loaded at the first miss. */
  #hasRun = false;
  #warmed = false;
  #executed = 0;
  #lexer = new ShellLexer();
  #rawLexer = new ShellLexer({ rawQuotes: true, skipUnsetEnv: true });
  #args!: BuildArgs;
  #scratch: string;
  /** SOURCE_DATE_EPOCH resolved (seconds), when the build has one. */
  #epoch: number | undefined;
  readonly #allow: Set<string>;
  readonly #noCacheStages: Set<string>;
  #hostname = 'buildkitsandbox';
  #cacheNamespace = '';
  #http: HttpSources | undefined;
  #caches: CacheMounts | undefined;

  constructor(services: BuilderServices, request: BuildRequest) {
    this.#s = services;
    this.#req = request;
    this.#progress = request.progress;
    this.#source = request.dockerfile.text;
    this.#file = request.dockerfile.name;
    this.#platform = request.platform ?? services.hostPlatform;
    this.#scratch = join(services.root, 'build', 'tmp');
    this.#allow = new Set(request.allow ?? []);
    this.#noCacheStages = new Set((request.noCacheFilter ?? []).map((n) => n.toLowerCase()));
    request.signal?.addEventListener('abort', () => this.#abort.abort(request.signal?.reason), {
      once: true,
    });
  }

  /** The build's lease (made on first need: a fully cached build holds nothing). */
  get #lease(): string {
    this.#leaseId ??= this.#s.leases.create({ labels: { 'wharf.build': 'true' } }).id;
    return this.#leaseId;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#pending);
    if (this.#leaseId !== undefined) this.#s.leases.delete(this.#leaseId);
    this.#context?.save();
    trace('closed');
  }

  #where(line: { startLine: number; endLine: number }): DockerfileSource {
    return { file: this.#file, text: this.#source, startLine: line.startLine, endLine: line.endLine };
  }

  async run(): Promise<BuildResult> {
    trace(`build start (process up ${process.uptime().toFixed(3)}s)`);
    const defVertex = this.#progress.start(`[internal] load build definition from ${this.#file}`);
    defVertex.status(`transferring dockerfile: ${Buffer.byteLength(this.#source)}B done`);
    const ast = parseDockerfile(this.#source, { file: this.#file });
    validateKnownInstructions(ast);
    const { metaArgs, stages } = parseStages(ast);
    defVertex.done();
    this.#lexer = new ShellLexer({ escapeToken: ast.escapeChar });
    this.#rawLexer = new ShellLexer({ escapeToken: ast.escapeChar, rawQuotes: true, skipUnsetEnv: true });

    const targetName = this.#req.target || stages.at(-1)?.name || '';
    const buildArgs = new Map(this.#req.buildArgs ?? []);
    const host = this.#s.hostPlatform;
    const automatic = automaticArgs(argPlatform(host), argPlatform(this.#platform), targetName);
    this.#args = new BuildArgs(metaArgs, { buildArgs, automatic, lexer: this.#lexer });
    const epochValue = buildArgs.get('SOURCE_DATE_EPOCH') ?? this.#args.global.get('SOURCE_DATE_EPOCH');
    if (epochValue !== undefined) {
      // Resolved once (a number, `context` or a source stage), then seen as that number by every ARG.
      const { resolveSourceDateEpoch } = await import('./source-date-epoch.ts');
      this.#epoch = await resolveSourceDateEpoch(epochValue, {
        ...(this.#req.contextEpoch ? { context: this.#req.contextEpoch } : {}),
        stages,
        globalArgs: new ScopeEnv(this.#args.global.entries().filter(([k]) => k !== 'SOURCE_DATE_EPOCH')),
        buildArgs,
        lexer: this.#lexer,
        http: () => this.#httpSources(),
        signal: this.#abort.signal,
      });
      buildArgs.set('SOURCE_DATE_EPOCH', this.#epoch === undefined ? '' : String(this.#epoch));
      this.#args = new BuildArgs(metaArgs, { buildArgs, automatic, lexer: this.#lexer });
    }
    this.#hostname = buildArgs.get('BUILDKIT_SANDBOX_HOSTNAME') || this.#req.hostname || this.#hostname;
    this.#cacheNamespace = buildArgs.get('BUILDKIT_CACHE_MOUNT_NS') ?? '';
    const plan = planStages(stages, this.#args, this.#req.target ? { target: this.#req.target } : {});
    this.#plan = plan;
    this.#hasRun = plan.reachable.some((p) => p.stage.commands.some((c) => c.kind === 'run'));

    // Base images are resolved up front, in parallel (BuildKit's "load metadata" vertices).
    const bases = new Set<string>();
    for (const p of plan.reachable) {
      if (p.base.kind === 'image') bases.add(p.base.reference);
      for (const source of p.copySources.values()) if (source.kind === 'image') bases.add(source.reference);
    }
    const ignoreVertex = this.#progress.start('[internal] load .dockerignore');
    ignoreVertex.status(`transferring context: ${this.#req.ignore.patterns.length > 0 ? 'done' : '2B done'}`);
    ignoreVertex.done();
    await Promise.all(
      [...bases].map((ref) => {
        const line = plan.reachable.find((p) => p.base.kind === 'image' && p.base.reference === ref)?.stage
          .range;
        return this.#resolveImage(ref, line);
      }),
    );

    trace('planned, bases resolved');
    for (const p of plan.reachable) this.#stageResult(p).catch(() => {});
    // The walk of the context (one lstat per file) is synchronous: done while the first steps
    // wait for their mounts, it is ready when the first COPY needs it.
    const readsContext = plan.reachable.some((p) =>
      p.stage.commands.some(
        (c) =>
          (c.kind === 'copy' && c.from === '' && c.sourcePaths.length > 0) ||
          (c.kind === 'add' && c.sourcePaths.some((src) => !isHttpSource(src))),
      ),
    );
    if (this.#req.contextDir && readsContext) {
      this.#context ??= this.#newContext(this.#req.contextDir);
      const context = this.#context;
      setImmediate(() => {
        try {
          context.index();
        } catch {
          // the COPY that needs it walks again and reports
        }
      });
    }
    let final: StageResult;
    try {
      final = await this.#stageResult(plan.target);
    } catch (error) {
      this.#abort.abort(error);
      // Let the other stages stop (their containers killed) before reporting.
      await Promise.allSettled([...this.#stageResults.values()]);
      throw error;
    }
    trace('stages done');
    this.#s.cache.touch(this.#hits);
    const result = await this.#export(final);
    trace('exported');
    return result;
  }

  // ---- images ----

  #resolveImage(reference: string, line?: { startLine: number; endLine: number }): Promise<ResolvedImage> {
    let normalized: string;
    try {
      normalized = formatReference(withDefaultTag(parseNormalizedReference(reference)));
    } catch (error) {
      const message = `failed to parse stage name ${JSON.stringify(reference)}: ${(error as Error).message}`;
      throw line
        ? new DockerfileError(this.#file, line.startLine, message, { cause: error })
        : new InvalidArgumentError(message);
    }
    let job = this.#images.get(normalized);
    if (!job) {
      job = this.#loadImage(reference, normalized, line);
      job.catch(() => {});
      this.#images.set(normalized, job);
    }
    return job;
  }

  async #loadImage(
    reference: string,
    normalized: string,
    line?: { startLine: number; endLine: number },
  ): Promise<ResolvedImage> {
    const vertex = this.#progress.start(`[internal] load metadata for ${normalized}`);
    try {
      const store = this.#s.images;
      let id = this.#req.pull ? undefined : await store.find(normalized);
      if (!id) {
        if (!this.#s.pull) {
          throw new NotFoundError(
            `${reference}: image ${normalized} is not in the local store and no registry client is available to pull it`,
          );
        }
        await this.#s.pull(normalized, { platform: this.#platform, signal: this.#abort.signal });
        id = await store.find(normalized);
        if (!id) throw new NotFoundError(`${reference}: image ${normalized} not found after pulling it`);
      }
      const [config, layers] = await Promise.all([store.config(id), store.layers(id)]);
      vertex.done();
      return {
        id,
        name: normalized,
        state: ImageState.fromImage(
          config,
          layers.map((l) => ({ digest: l.digest, size: l.size })),
        ),
      };
    } catch (error) {
      vertex.error((error as Error).message);
      if (line && !(error instanceof DockerfileError)) {
        throw new DockerfileError(this.#file, line.startLine, (error as Error).message, { cause: error });
      }
      throw error;
    }
  }

  // ---- stages ----

  #stageResult(p: PlannedStage): Promise<StageResult> {
    let job = this.#stageResults.get(p);
    if (!job) {
      job = this.#buildStage(p);
      this.#stageResults.set(p, job);
    }
    return job;
  }

  #prefix(p: PlannedStage, counter: { index: number; total: number }): string {
    if (counter.total === 0) return '';
    counter.index++;
    const width = Math.floor(1 + Math.log10(counter.total));
    return `[${p.displayName ? `${p.displayName} ` : ''}${String(counter.index).padStart(width)}/${counter.total}] `;
  }

  /**
   * ONBUILD triggers, parsed as BuildKit's initOnBuildTriggers does: each is one instruction,
   * located at the stage's FROM line; they run before the stage's own instructions, once (the
   * child image does not keep them).
   */
  #parseTriggers(p: PlannedStage, triggers: readonly string[]): Command[] {
    const out: Command[] = [];
    for (const trigger of triggers) {
      const at = (message: string, cause?: unknown) =>
        new DockerfileError(
          this.#file,
          p.stage.range.startLine,
          message,
          cause === undefined ? undefined : { cause },
        );
      let ast: ReturnType<typeof parseDockerfile>;
      try {
        ast = parseDockerfile(trigger, { file: this.#file });
      } catch (error) {
        throw at(`ONBUILD ${trigger}: ${(error as Error).message}`, error);
      }
      if (ast.instructions.length !== 1) throw at('onbuild trigger should be a single expression');
      const node = { ...ast.instructions[0]!, range: { ...p.stage.range } };
      const parsed = parseInstruction(node, { file: this.#file, escapeChar: ast.escapeChar });
      if (parsed.kind === 'from') throw at("FROM isn't allowed as an ONBUILD trigger");
      if (parsed.kind === 'onbuild') throw at("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      this.#triggers.add(parsed);
      out.push(parsed);
    }
    return out;
  }

  async #buildStage(p: PlannedStage): Promise<StageResult> {
    const counter = { index: 0, total: p.total };
    let image: ImageState;
    let scope: ArgScope;
    let key: string;
    let triggers: Command[];
    if (p.base.kind === 'stage') {
      const base = await this.#stageResult(p.base.stage);
      image = base.image.clone();
      scope = base.scope.fork();
      key = base.key;
      // the triggers of a base stage are its own ONBUILD instructions
      triggers = this.#parseTriggers(
        p,
        p.base.stage.stage.commands.flatMap((c) => (c.kind === 'onbuild' ? [c.expression] : [])),
      );
    } else if (p.base.kind === 'scratch') {
      image = ImageState.scratch(this.#platform);
      scope = this.#args.newStage(envPairs(image.env));
      key = hashKey('scratch', this.#platform);
      triggers = [];
    } else {
      const resolved = await this.#resolveImage(p.base.reference, p.stage.range);
      image = resolved.state.clone();
      triggers = this.#parseTriggers(p, image.config.OnBuild ?? []);
      counter.total += triggers.length;
      const vertex = this.#progress.start(`${this.#prefix(p, counter)}FROM ${resolved.name}`);
      vertex.done();
      if (!image.env.some((e) => e.startsWith('PATH=')))
        image.config.Env = [...image.env, `PATH=${DEFAULT_PATH}`];
      scope = this.#args.newStage(envPairs(image.env));
      key = hashKey('image', resolved.id);
    }
    if (p.base.kind === 'stage') counter.total += triggers.length;
    // triggers run once: the image built here does not pass them on
    delete image.config.OnBuild;
    const state: StageState = { planned: p, image, scope, key, counter, cmdSet: false };
    for (const cmd of [...triggers, ...p.stage.commands]) {
      this.#abort.signal.throwIfAborted();
      await this.#dispatch(state, cmd);
    }
    return { image: state.image, scope: state.scope, key: state.key };
  }

  async #dispatch(st: StageState, cmd: Command): Promise<void> {
    const { image, scope } = st;
    if (cmd.kind === 'arg') {
      const before = scope.declared.length;
      scope.declare(cmd);
      const added = scope.declared.slice(before);
      image.addHistory(
        `ARG ${added.map((d) => (d.value === undefined ? d.key : `${d.key}=${d.value}`)).join(' ')}`,
        false,
      );
      return;
    }
    if (cmd.kind === 'onbuild') {
      image.config.OnBuild = [...(image.config.OnBuild ?? []), cmd.expression];
      return;
    }
    const c = expandCommand(cmd, scope.env, this.#lexer).command;
    const at = (message: string, error?: unknown) =>
      new DockerfileError(
        cmd.file,
        cmd.range.startLine,
        message,
        error === undefined ? undefined : { cause: error },
      );
    switch (c.kind) {
      case 'env':
        for (const { key, value } of c.env) image.setEnv(key, value);
        scope.setEnv(c.env);
        image.addHistory(`ENV ${c.env.map((e) => `${e.key}=${e.value}`).join(' ')}`, false);
        return;
      case 'label':
        image.config.Labels = { ...(image.config.Labels ?? {}) };
        for (const { key, value } of c.labels) image.config.Labels[key] = value;
        image.addHistory(`LABEL ${c.labels.map((e) => `${e.key}=${e.value}`).join(' ')}`, false);
        return;
      case 'maintainer':
        image.author = c.maintainer;
        image.addHistory(`MAINTAINER ${c.maintainer}`, false);
        return;
      case 'expose': {
        const ports = parseExposedPorts(c.ports);
        image.config.ExposedPorts = { ...(image.config.ExposedPorts ?? {}) };
        for (const port of ports) image.config.ExposedPorts[port] = {};
        image.addHistory(`EXPOSE ${goList(ports)}`, false);
        return;
      }
      case 'user':
        image.config.User = c.user;
        image.addHistory(`USER ${c.user}`, false);
        return;
      case 'volume':
        image.config.Volumes = { ...(image.config.Volumes ?? {}) };
        for (const v of c.volumes) image.config.Volumes[v] = {};
        image.addHistory(`VOLUME ${goList(c.volumes)}`, false);
        return;
      case 'stopsignal':
        try {
          checkSignal(c.signal);
        } catch (error) {
          throw at((error as Error).message, error);
        }
        image.config.StopSignal = c.signal;
        image.addHistory(`STOPSIGNAL ${c.signal}`, false);
        return;
      case 'shell':
        image.config.Shell = [...c.shell];
        image.addHistory(`SHELL ${goList(c.shell)}`, false);
        return;
      case 'cmd': {
        const args = (c as CmdCommand).prependShell ? withShell(image, c.cmdLine) : [...c.cmdLine];
        image.config.Cmd = args;
        image.config.ArgsEscaped = true;
        st.cmdSet = true;
        image.addHistory(`CMD ${goQuoteList(args)}`, false);
        return;
      }
      case 'entrypoint': {
        const e = c as EntrypointCommand;
        const args = e.cmdLine === null ? [] : e.prependShell ? withShell(image, e.cmdLine) : [...e.cmdLine];
        if (args.length > 0) image.config.Entrypoint = args;
        else delete image.config.Entrypoint;
        if (!st.cmdSet) delete image.config.Cmd;
        image.addHistory(`ENTRYPOINT ${goQuoteList(args)}`, false);
        return;
      }
      case 'healthcheck': {
        const h = c.health;
        const hc: Record<string, unknown> = {};
        if (h.test.length > 0) hc.Test = [...h.test];
        if (h.interval) hc.Interval = h.interval;
        if (h.timeout) hc.Timeout = h.timeout;
        if (h.startPeriod) hc.StartPeriod = h.startPeriod;
        if (h.startInterval) hc.StartInterval = h.startInterval;
        if (h.retries) hc.Retries = h.retries;
        image.config.Healthcheck = hc;
        image.addHistory(healthcheckHistory(h), false);
        return;
      }
      case 'workdir':
        return this.#workdir(st, c as WorkdirCommand, cmd);
      case 'run':
        return this.#run(st, c as RunCommand, cmd);
      case 'copy':
      case 'add':
        return this.#copy(st, c as CopyCommand | AddCommand, cmd);
      default:
        return;
    }
  }

  /** The progress name of an instruction: its text with variables expanded. */
  #stepName(st: StageState, cmd: Command, raw = false, env: ScopeEnv = st.scope.env): string {
    let text = cmd.code;
    try {
      text = (raw ? this.#rawLexer : this.#lexer).processWord(cmd.code, env);
    } catch {
      // BuildKit prints the instruction as written when it cannot expand it
    }
    const onbuild = this.#triggers.has(cmd) ? 'ONBUILD ' : '';
    return `${this.#prefix(st.planned, st.counter)}${onbuild}${uppercaseCmd(text)}`;
  }

  // ---- layer steps ----

  /**
   * Runs (or takes from the cache) one layer step on top of `st`. `work` writes into the mounted
   * snapshot. With `independent`, the layer is made on an empty snapshot (COPY --link).
   */
  async #layerStep(
    st: StageState,
    vertex: Vertex,
    cmd: Command,
    instructionKey: string,
    description: string,
    work: (rootfs: string, upperDir: string | undefined) => Promise<void | (() => Promise<void>)>,
    options: { independent?: boolean; reuse?: LayerReuse } = {},
  ): Promise<void> {
    // Layer mtimes are clamped to SOURCE_DATE_EPOCH: a layer made with another epoch is another layer.
    const stepKey =
      this.#epoch === undefined ? instructionKey : hashKey(instructionKey, 'epoch', this.#epoch);
    const chainKey = options.independent ? hashKey('link', st.key, stepKey) : stepKey;
    const noCache = this.#req.noCache === true || this.#noCacheStages.has(st.planned.stage.name);
    if (!noCache) {
      const hit = await this.#s.cache.lookup(stepKey);
      if (hit) {
        vertex.cached();
        this.#hits.push({ key: stepKey, lastUsed: hit.lastUsed });
        st.image.layers.push({ digest: hit.diffId, size: hit.size, createdAt: hit.createdAt });
        st.key = chainKey;
        return;
      }
    }
    if (!this.#warmed) {
      // A miss: the image will be new, and a RUN may well run. Load both while this step works.
      this.#warmed = true;
      this.#s.images.warm?.();
      if (this.#hasRun) this.#s.runtime().catch(() => {});
    }
    const [snapshotter, { mountAt, unmount, diffSnapshot }] = await Promise.all([
      this.#s.snapshotter(),
      tools(),
    ]);
    trace(`${description}: snapshotter open`);
    const parentLayers = options.independent ? [] : [...st.image.layers];
    const parent = await this.#materialize(parentLayers);
    trace(`${description}: parent materialized`);
    const prepare = async () => {
      const key = `build-${process.pid}-${randomBytes(6).toString('hex')}`;
      this.#s.leases.addResource(this.#lease, 'snapshot', key);
      const mounts = await snapshotter.prepare(key, parent, {
        labels: { 'wharf.build/pid': String(process.pid) },
      });
      // The upper directory of an overlay snapshot is the layer; other mounts are diffed as trees.
      const only = mounts.length === 1 ? mounts[0] : undefined;
      const upperDir =
        only?.type === 'overlay'
          ? only.options.find((o) => o.startsWith('upperdir='))?.slice('upperdir='.length)
          : undefined;
      return { key, mounts, upperDir };
    };
    let { key: active, mounts, upperDir: upper } = await prepare();
    trace(`${description}: prepared`);
    let committed = false;
    try {
      let filled = false;
      if (options.reuse && upper !== undefined && !options.independent) {
        try {
          filled = await options.reuse.fill(upper, parentLayers);
          trace(`${description}: ${filled ? 'reused' : 'nothing to reuse'}`);
        } catch (error) {
          // Whatever stopped the clone (CannotReuseError, or a file system error the copy will
          // meet again and report), the copy itself decides: on a fresh, empty snapshot.
          this.#abort.signal.throwIfAborted();
          trace(`${description}: not reused (${(error as Error).message})`);
          await snapshotter.remove(active);
          this.#s.leases.removeResource(this.#lease, 'snapshot', active);
          ({ key: active, mounts, upperDir: upper } = await prepare());
        }
      }
      if (!filled) {
        mkdirSync(this.#scratch, { recursive: true });
        const dir = mkdtempSync(join(this.#scratch, 'rootfs-'));
        try {
          await mountAt(mounts, dir);
          trace(`${description}: mounted`);
          let after: void | (() => Promise<void>);
          try {
            after = await work(dir, upper);
            trace(`${description}: work done`);
          } finally {
            await unmount(dir);
            trace(`${description}: unmounted`);
          }
          if (after) await after();
        } finally {
          rmdirQuietly(dir);
        }
      }
      if (upper !== undefined && !options.independent) {
        // Commit now under a name of our own and let the next steps build on it while the layer
        // is diffed and stored in the background; the chain ID is named once the diffID is known.
        const alias = `build-layer-${process.pid}-${randomBytes(6).toString('hex')}`;
        this.#s.leases.addResource(this.#lease, 'snapshot', alias);
        await snapshotter.commit(alias, active, { labels: { 'wharf.build/pid': String(process.pid) } });
        trace(`${description}: committed`);
        committed = true;
        const layer: LayerRef = { digest: '' as Digest, size: 0, snapshot: alias };
        const job = this.#storeLayer(upper, layer, parentLayers, alias, stepKey, description, options.reuse);
        layer.ready = job;
        job.catch(() => {});
        this.#pending.push(job);
        st.image.layers.push(layer);
      } else {
        await Promise.all(parentLayers.map((l) => l.ready));
        const diff = await diffSnapshot(snapshotter, active, { sourceDateEpoch: this.#diffEpoch });
        const ingested = await this.#ingestDiff(diff, description);
        const createdAt = Date.now();
        const layer: LayerRef = { digest: ingested.digest, size: ingested.size, createdAt };
        const name = chainId([...parentLayers.map((l) => l.digest), layer.digest])!;
        if (!options.independent) {
          try {
            await snapshotter.commit(name, active);
            committed = true;
          } catch (error) {
            if (!(error instanceof AlreadyExistsError)) throw error;
          }
        }
        this.#s.cache.record({
          key: stepKey,
          diffId: layer.digest,
          size: layer.size,
          createdAt,
          description,
        });
        st.image.layers.push(layer);
      }
      st.key = chainKey;
      this.#executed++;
      vertex.done();
    } catch (error) {
      if (!(error instanceof BuildStepError)) {
        vertex.error((error as Error).message);
        if (error instanceof WharfError && !(error instanceof DockerfileError)) {
          throw new BuildStepError((error as Error).message, {
            step: vertex.name,
            tail: vertex.tail,
            source: this.#where(cmd.range),
            cause: error,
          });
        }
      }
      throw error;
    } finally {
      if (!committed) await snapshotter.remove(active).catch(() => {});
      this.#s.leases.removeResource(this.#lease, 'snapshot', active);
    }
  }

  /**
   * Stores a layer diff in the content store and checks that the digest the store computed is
   * the diffID the diff computed while writing it (they hash the same bytes twice over).
   */
  async #ingestDiff(
    diff: { stream: Readable; result: Promise<{ diffID: Digest }> },
    description: string,
  ): Promise<{ digest: Digest; size: number }> {
    const ingested = await this.#s.content.ingest(diff.stream, { lease: this.#s.cache.lease });
    const result = await diff.result;
    trace(`${description}: diffed and stored (${ingested.size} bytes)`);
    if (ingested.digest !== result.diffID) {
      throw new InvalidArgumentError(
        `Cannot store the layer of ${description}: it hashed differently while stored`,
      );
    }
    return ingested;
  }

  /**
   * Diffs a committed step's upper directory into its layer blob, then names the chain: the
   * snapshot `alias` gets an empty child named by the chain ID, which unpacking and containers
   * look up (a snapshotter cannot rename). Runs in the background while later steps go on.
   */
  async #storeLayer(
    upper: string,
    layer: LayerRef,
    parents: readonly LayerRef[],
    alias: string,
    stepKey: string,
    description: string,
    reuse?: LayerReuse,
  ): Promise<void> {
    const [snapshotter, { diffUpperDir, spliceCopyLayer }] = await Promise.all([
      this.#s.snapshotter(),
      tools(),
    ]);
    let stored: { digest: Digest; size: number } | undefined;
    const splice = reuse?.splice();
    if (splice) {
      // A reused copy's layer: its hard-linked files' entries come from the old layer blob
      // (fs/layer-splice.ts), held by the build's lease while it is read.
      this.#s.leases.addResource(this.#lease, 'content', splice.diffId);
      try {
        const blob = this.#s.content.blobPath(splice.diffId);
        stored = await this.#s.content.ingest(
          spliceCopyLayer(blob, upper, splice.linked, splice.entries, this.#epoch),
          { lease: this.#s.cache.lease },
        );
        trace(`${description}: spliced and stored (${stored.size} bytes)`);
      } catch (error) {
        trace(`${description}: not spliced (${(error as Error).message})`);
      }
    }
    stored ??= await this.#ingestDiff(diffUpperDir(upper, { sourceDateEpoch: this.#diffEpoch }), description);
    layer.digest = stored.digest;
    layer.size = stored.size;
    layer.createdAt = Date.now();
    this.#s.cache.record({
      key: stepKey,
      diffId: layer.digest,
      size: layer.size,
      createdAt: layer.createdAt,
      description,
    });
    await Promise.all(parents.map((l) => l.ready));
    const name = chainId([...parents.map((l) => l.digest), layer.digest])!;
    await reuse?.stored({
      snapshot: alias,
      parentChain: chainId(parents.map((l) => l.digest)) ?? '',
      diffId: layer.digest,
    });
    const key = `build-name-${process.pid}-${randomBytes(6).toString('hex')}`;
    this.#s.leases.addResource(this.#lease, 'snapshot', key);
    try {
      await snapshotter.prepare(key, alias, { labels: { 'wharf.build/pid': String(process.pid) } });
      try {
        await snapshotter.commit(name, key);
      } catch (error) {
        if (!(error instanceof AlreadyExistsError)) throw error;
        await snapshotter.remove(key);
      }
    } finally {
      this.#s.leases.removeResource(this.#lease, 'snapshot', key);
    }
  }

  /** The committed snapshot showing `layers` (unpacked from the content store when missing). */
  async #materialize(layers: readonly LayerRef[]): Promise<string | undefined> {
    if (layers.length === 0) return undefined;
    // made by this build: no need to wait for its diff
    const made = layers.at(-1)?.snapshot;
    if (made !== undefined) return made;
    await Promise.all(layers.map((l) => l.ready));
    const [snapshotter, { unpackLayers }] = await Promise.all([this.#s.snapshotter(), tools()]);
    const content = this.#s.content;
    const top = chainId(layers.map((l) => l.digest))!;
    this.#s.leases.addResource(this.#lease, 'snapshot', top);
    const { chainID } = await unpackLayers(
      snapshotter,
      layers.map((l) => ({ diffID: l.digest, open: () => content.read(l.digest) })),
      { signal: this.#abort.signal },
    );
    return chainID;
  }

  /** Mounts a read-only view of `layers` for `fn` (COPY --from). */
  async #withView<T>(layers: readonly LayerRef[], fn: (dir: string) => Promise<T>): Promise<T> {
    const view = await this.#open(layers, false);
    try {
      return await fn(view.dir);
    } finally {
      await view.release();
    }
  }

  /**
   * Mounts the filesystem of `layers` until `release`: a read-only view, or with `writable` a
   * throwaway snapshot whose writes are dropped (`RUN --mount=from=...,rw`).
   */
  async #open(
    layers: readonly LayerRef[],
    writable: boolean,
  ): Promise<{ dir: string; release: () => Promise<void> }> {
    const [snapshotter, { mountAt, unmount }] = await Promise.all([this.#s.snapshotter(), tools()]);
    const parent = await this.#materialize(layers);
    const key = `build-view-${process.pid}-${randomBytes(6).toString('hex')}`;
    this.#s.leases.addResource(this.#lease, 'snapshot', key);
    const labels = { labels: { 'wharf.build/pid': String(process.pid) } };
    const forget = async () => {
      await snapshotter.remove(key).catch(() => {});
      this.#s.leases.removeResource(this.#lease, 'snapshot', key);
    };
    let dir: string | undefined;
    try {
      const mounts = writable
        ? await snapshotter.prepare(key, parent, labels)
        : await snapshotter.view(key, parent, labels);
      mkdirSync(this.#scratch, { recursive: true });
      dir = mkdtempSync(join(this.#scratch, 'view-'));
      await mountAt(mounts, dir);
    } catch (error) {
      if (dir) rmdirQuietly(dir);
      await forget();
      throw error;
    }
    const mounted = dir;
    return {
      dir: mounted,
      release: async () => {
        try {
          await unmount(mounted);
        } finally {
          rmdirQuietly(mounted);
          await forget();
        }
      },
    };
  }

  /** What `diff` clamps mtimes to: the epoch, or nothing (never the process's own environment). */
  get #diffEpoch(): number {
    return this.#epoch ?? Number.POSITIVE_INFINITY;
  }

  /** The `ADD <url>` fetcher (loaded on first need: most builds have no URL). */
  async #httpSources(): Promise<HttpSources> {
    if (!this.#http) {
      const { HttpSources } = await import('./http-source.ts');
      this.#http ??= new HttpSources(this.#s.db, this.#s.root);
    }
    return this.#http;
  }

  /** What RUN --mount needs of this build, for a step of stage `st`. */
  async #mountHost(st: StageState, cmd: Command): Promise<MountHost> {
    if (!this.#caches) {
      const { CacheMounts } = await import('./cache-mounts.ts');
      this.#caches ??= new CacheMounts(this.#s.root);
    }
    const memo = this.#s.db.sql;
    return {
      scratch: this.#scratch,
      context: () => this.#buildContext(),
      source: async (from) => {
        const source =
          st.planned.copySources.get(from) ?? resolveCopySource(this.#plan!, st.planned, from, cmd);
        if (source.kind === 'stage') return { layers: (await this.#stageResult(source.stage)).image.layers };
        const image = await this.#resolveImage(source.reference, cmd.range);
        return { layers: image.state.layers, imageId: image.id };
      },
      open: (layers, writable) => this.#open(layers, writable),
      memo: {
        get: (key) =>
          memo.prepare('SELECT digest FROM build_mount_digests WHERE key = ?').pluck().get(key) as
            | string
            | undefined,
        set: (key, digest) =>
          this.#s.db.write(() =>
            memo
              .prepare('INSERT OR REPLACE INTO build_mount_digests (key, digest) VALUES (?, ?)')
              .run(key, digest),
          ),
      },
      caches: this.#caches,
      cacheNamespace: this.#cacheNamespace,
      secrets: this.#req.secrets ?? new Map(),
      signal: this.#abort.signal,
    };
  }

  async #workdir(st: StageState, c: WorkdirCommand, cmd: Command): Promise<void> {
    const { image } = st;
    const wd = normalizePath(image.config.WorkingDir ?? '/', c.path, false);
    image.config.WorkingDir = wd;
    if (wd === '/') {
      image.addHistory(`WORKDIR ${wd}`, false);
      return;
    }
    const vertex = this.#progress.start(this.#stepName(st, cmd));
    const user = image.config.User ?? '';
    const key = hashKey(st.key, 'workdir', wd, user);
    await this.#layerStep(st, vertex, cmd, key, `WORKDIR ${wd}`, async (rootfs) => {
      const { chownUser, mkdirAll, rootPath } = await tools();
      const owner = user === '' ? undefined : chownUser(rootfs, user);
      mkdirAll(rootPath(rootfs, wd), 0o755, owner);
    });
    image.addHistory(`WORKDIR ${wd}`, true);
  }

  async #run(st: StageState, c: RunCommand, cmd: Command): Promise<void> {
    const { image, scope } = st;
    const at = (message: string, cause?: unknown) =>
      new DockerfileError(
        cmd.file,
        cmd.range.startLine,
        message,
        cause === undefined ? undefined : { cause },
      );
    if (c.devices.length > 0) throw at('RUN --device is not supported yet (CDI devices)');
    const privileged = c.security === 'insecure';
    if (privileged && !this.#allow.has('security.insecure')) {
      throw at(
        'entitlement security.insecure is not allowed (RUN --security=insecure needs --allow security.insecure)',
      );
    }
    let network: 'none' | 'host' = this.#req.network ?? 'none';
    if (c.network === 'none') network = 'none';
    else if (c.network === 'host') {
      // a build whose caller forced the host's network has granted it
      if (!this.#allow.has('network.host') && this.#req.network !== 'host') {
        throw at('entitlement network.host is not allowed (RUN --network=host needs --allow network.host)');
      }
      network = 'host';
    }
    const cwd = image.config.WorkingDir || '/';
    let mounts: RunMounts | undefined;
    if (c.mounts.length > 0) {
      try {
        const { RunMounts } = await import('./run-mounts.ts');
        mounts = await RunMounts.plan(c.mounts, cwd, await this.#mountHost(st, cmd), at);
      } catch (error) {
        if (error instanceof DockerfileError) throw error;
        throw at((error as Error).message, error);
      }
    }
    // Secrets exposed as variables show as **** in the step's name, as in BuildKit.
    const masked = scope.env.clone();
    for (const name of mounts?.secretEnvNames ?? []) masked.set(name, '****');
    let args = [...c.cmdLine];
    let name = this.#stepName(st, cmd, true, masked);
    /** A `#!` heredoc: written to a file the interpreter runs, mounted at /dev/pipes. */
    let script: { name: string; data: string } | undefined;
    if (c.files.length > 0) {
      if (args.length !== 1 || !c.prependShell)
        throw at(`parsing produced an invalid run command: ${goList(args)}`);
      const first = c.files[0]!;
      if (mustParseHeredocWord(args[0]!) !== undefined) {
        if (image.os !== 'windows' && first.data.startsWith('#!')) {
          script = { name: first.name, data: first.data };
          args = [posix.join('/dev/pipes', first.name)];
        } else {
          // the body is the script, given to the SHELL as one argument
          args = [first.data];
        }
        const doc = first.data.trim().split('\n');
        name += ` (${doc[0]}${doc.length > 1 ? '...' : ''})`;
      } else {
        // several heredocs, or one inside a command line: the shell reads them itself
        args = [`${args[0]}${c.files.map((f) => `\n${f.data}${f.name}`).join('')}`];
      }
    }
    if (c.prependShell) args = withShell(image, args);
    const env = scope.env.toList();
    const runEnv = [...env];
    for (const key of PROXY_ARGS) {
      const value = this.#req.buildArgs?.get(key);
      if (value !== undefined && !scope.env.has(key)) runEnv.push(`${key}=${value}`);
    }
    const user = image.config.User ?? '';
    const vertex = this.#progress.start(name);
    const key = hashKey(st.key, 'run', {
      args,
      env,
      cwd,
      user,
      network,
      ...(mounts ? { mounts: mounts.key } : {}),
      ...(script ? { script } : {}),
      ...(privileged ? { security: 'insecure' } : {}),
      ...(this.#hostname !== 'buildkitsandbox' ? { hostname: this.#hostname } : {}),
    });
    const history = `RUN ${runCommandString(args, scope)}`;
    await this.#layerStep(
      st,
      vertex,
      cmd,
      key,
      name.replace(/^\[[^\]]*\] /, ''),
      async (rootfs, upperDir) => {
        const { execUser, runStep, pruneCopiedUpDirs, listHostDevices } = await tools();
        let execAs: ReturnType<typeof execUser>;
        try {
          execAs = execUser(rootfs, user);
        } catch (error) {
          throw new BuildStepError((error as Error).message, {
            step: name,
            source: this.#where(cmd.range),
            cause: error,
          });
        }
        const { driver, host } = await this.#s.runtime();
        await mkdir(this.#scratch, { recursive: true });
        let held: Awaited<ReturnType<RunMounts['prepare']>>;
        try {
          held = mounts
            ? await mounts.prepare()
            : { mounts: [], env: [], masks: [], release: async () => {} };
        } catch (error) {
          vertex.error((error as Error).message);
          throw error instanceof DockerfileError
            ? error
            : new BuildStepError((error as Error).message, {
                step: name,
                source: this.#where(cmd.range),
                cause: error,
              });
        }
        let scriptDir: string | undefined;
        let result: Awaited<ReturnType<typeof runStep>>;
        try {
          vertex.mask(held.masks);
          const stepMounts = [...held.mounts];
          if (script) {
            scriptDir = await mkdtemp(join(this.#scratch, 'heredoc-'));
            await writeFile(join(scriptDir, script.name), script.data, { mode: 0o755 });
            stepMounts.push({ type: 'bind', source: scriptDir, destination: '/dev/pipes', readonly: true });
          }
          // a secret exposed as a variable replaces a variable of that name
          const secretNames = new Set(held.env.map((e) => e.slice(0, e.indexOf('='))));
          const stepEnv = [
            ...runEnv.filter((e) => !secretNames.has(e.slice(0, e.indexOf('=')))),
            ...held.env,
          ];
          result = await runStep({
            runtime: driver,
            host,
            rootfs,
            args,
            env: stepEnv,
            cwd,
            user: execAs,
            network,
            hostname: this.#hostname,
            mounts: stepMounts,
            ...(privileged ? { privileged: true, hostDevices: await listHostDevices() } : {}),
            scratchDir: this.#scratch,
            ...(upperDir !== undefined ? { upperDir } : {}),
            onOutput: (chunk) => vertex.output(chunk),
            signal: this.#abort.signal,
          });
        } finally {
          await held.release();
          if (scriptDir) await rm(scriptDir, { recursive: true, force: true });
        }
        if (result.exitCode !== 0) {
          const message = result.runtimeError
            ? `process ${goQuote(args.join(' '))} could not start: ${result.runtimeError}`
            : `process ${goQuote(args.join(' '))} did not complete successfully: exit code: ${result.exitCode}`;
          vertex.error(message);
          throw new BuildStepError(message, {
            step: name,
            tail: vertex.tail,
            source: this.#where(cmd.range),
            exitCode: result.exitCode,
          });
        }
        if (upperDir !== undefined && result.copiedUp.length > 0)
          return () => pruneCopiedUpDirs(upperDir, result.copiedUp, result.transparent);
      },
    );
    image.addHistory(history, true, true);
  }

  // ---- COPY / ADD ----

  #newContext(dir: string): BuildContext {
    return new BuildContext(dir, this.#req.ignore, this.#s.db, {
      ...(this.#req.contextStats ? { stats: this.#req.contextStats } : {}),
      ...(this.#req.contextDigests ? { digests: this.#req.contextDigests } : {}),
    });
  }

  #buildContext(): BuildContext {
    if (!this.#req.contextDir) {
      throw new InvalidArgumentError(
        'Cannot copy from the build context: this build has none (the Dockerfile came from stdin)',
      );
    }
    this.#context ??= this.#newContext(this.#req.contextDir);
    if (!this.#contextVertexDone) {
      this.#contextVertexDone = true;
      const vertex = this.#progress.start('[internal] load build context');
      const index = this.#context.index();
      trace(`context walked: ${index.size} entries`);
      vertex.status(`transferring context: ${index.size} files done`);
      vertex.done();
    }
    return this.#context;
  }

  async #copy(st: StageState, c: CopyCommand | AddCommand, cmd: Command): Promise<void> {
    const { image } = st;
    const isAdd = c.kind === 'add';
    const at = (message: string, error?: unknown) =>
      new DockerfileError(
        cmd.file,
        cmd.range.startLine,
        message,
        error === undefined ? undefined : { cause: error },
      );
    const dest = normalizePath(
      image.config.WorkingDir || '/',
      c.destPath === '' || c.destPath === '.' ? './' : c.destPath,
      true,
    );
    const chmod = c.chmod === '' ? undefined : parseChmod(c.chmod);
    const checksum = isAdd ? (c as AddCommand).checksum : '';
    if (checksum !== '') {
      if (c.sourcePaths.length !== 1) throw at("checksum can't be specified for multiple sources");
      if (!isHttpSource(c.sourcePaths[0]!) && !isGitSource(c.sourcePaths[0]!))
        throw at('checksum requires HTTP(S) or Git sources');
      try {
        (await import('./http-source.ts')).parseChecksum(checksum);
      } catch (error) {
        throw at((error as Error).message, error);
      }
    }
    const from = c.kind === 'copy' ? c.from : '';
    const parents = c.kind === 'copy' && c.parents;
    for (const src of c.sourcePaths) {
      if (isGitSource(src)) {
        if (!isAdd) throw at("source can't be a git ref for COPY");
        throw at(`ADD ${src}: git sources are not supported yet`);
      }
      if (isHttpSource(src) && !isAdd) throw at("source can't be a URL for COPY");
    }
    const exclude = c.excludePatterns.length > 0 ? DockerIgnore.fromPatterns(c.excludePatterns) : undefined;

    // Commit message, as dispatchCopy writes it.
    let message = isAdd ? 'ADD' : 'COPY';
    if (parents) message += ' --parents';
    if (c.chown !== '') message += ` --chown=${c.chown}`;
    if (c.chmod !== '') message += ` --chmod=${c.chmod}`;
    for (const src of c.sourcePaths) message += ` ${src}`;
    for (const doc of c.sourceContents) message += ` <<${doc.path}`;
    message += ` ${c.destPath}`;

    // The sources: each a tree and the paths to copy from it (relative, wildcards resolved).
    interface Selection {
      src: string;
      /** Relative path of the source root in the tree for --parents ('' otherwise). */
      root: string;
      include?: DockerIgnore;
      matches: string[];
      /** An `ADD <url>` source: the body fetched. */
      url?: HttpBody;
    }
    const selections: Selection[] = [];
    const link = c.link && chmod === undefined && (c.chown === '' || /^\d+(:\d+)?$/.test(c.chown));
    if (from === '' && c.sourcePaths.some((src) => !isHttpSource(src))) {
      try {
        this.#buildContext();
      } catch (error) {
        throw error instanceof DockerfileError ? error : at((error as Error).message, error);
      }
    }
    const vertex = this.#progress.start(this.#stepName(st, cmd));
    let keyParts: unknown;
    let tree: SourceTree | undefined;
    let fromLayers: LayerRef[] | undefined;
    /** The context selections with file contents left out, for copy reuse. */
    const shapes: unknown[] = [];
    let plain = true;
    try {
      if (from !== '') {
        // a trigger's --from is resolved against this Dockerfile's stages when it runs
        const source =
          st.planned.copySources.get(from) ?? resolveCopySource(this.#plan!, st.planned, from, cmd);
        let sourceKey: string;
        if (source.kind === 'stage') {
          const r = await this.#stageResult(source.stage);
          fromLayers = r.image.layers;
          sourceKey = r.key;
        } else {
          const r = await this.#resolveImage(source.reference, cmd.range);
          fromLayers = r.state.layers;
          sourceKey = hashKey('image', r.id);
        }
        for (const src of c.sourcePaths) selections.push(this.#selection(src, parents));
        keyParts = { from: sourceKey, sources: selections.map((s) => ({ src: s.src, root: s.root })) };
      } else if (c.sourcePaths.length > 0) {
        const local = c.sourcePaths.some((src) => !isHttpSource(src));
        const context = local ? this.#buildContext() : undefined;
        tree = context?.tree();
        const digests: unknown[] = [];
        for (const src of c.sourcePaths) {
          if (isHttpSource(src)) {
            const http = await this.#httpSources();
            const body = await http.fetch(src, {
              ...(checksum !== '' ? { checksum } : {}),
              signal: this.#abort.signal,
            });
            selections.push({ src, root: '', matches: [], url: body });
            digests.push(['url', src, body.fileName, body.digest, body.lastModified ?? 0]);
            continue;
          }
          if (!context || !tree) throw at('Cannot copy from the build context: this build has none');
          const sel = this.#selection(src, parents);
          if (posix.normalize(src.replace(/^\.\//, '')).startsWith('../') || posix.normalize(src) === '..') {
            throw at(`${uppercaseCmd(cmd.name)} ${src}: the source is outside the build context`);
          }
          sel.matches = this.#resolveContextSources(tree, sel, cmd);
          for (const m of sel.matches) {
            const selected = context.selection(m, {
              ...(sel.include ? { include: sel.include } : {}),
              ...(exclude ? { exclude } : {}),
            });
            digests.push([sel.src, m, selected.digest]);
            shapes.push([sel.src, m, selected.shape]);
            if (!selected.plain) plain = false;
          }
          selections.push(sel);
        }
        keyParts = { context: digests };
      }
    } catch (error) {
      vertex.error((error as Error).message);
      if (error instanceof DockerfileError) throw error;
      throw at((error as Error).message, error);
    }
    if (TRACE)
      trace(
        `copy sources digested (${this.#context?.loaded ? this.#context.digests().hashed : 0} files hashed)`,
      );
    const stepKey = hashKey(link ? 'link' : st.key, c.kind, {
      keyParts,
      docs: c.sourceContents.map((d) => [d.path, d.data]),
      dest,
      chown: c.chown,
      chmod: c.chmod,
      parents,
      exclude: c.excludePatterns,
      unpack: isAdd ? ((c as AddCommand).unpack ?? true) : false,
    });
    // A plain COPY from the context can be made from the last layer of its shape (copy-reuse.ts).
    const reusable =
      c.kind === 'copy' &&
      from === '' &&
      !link &&
      plain &&
      c.sourceContents.length === 0 &&
      selections.length > 0 &&
      selections.every((sel) => sel.url === undefined);
    let manifest: CopyManifest | undefined;
    // A COPY from a context its owner lets us link from (BuildRequest.linkContext), with nothing
    // that gives the files another owner or mode and no here-documents beside them.
    const linkable =
      this.#req.linkContext === true &&
      c.kind === 'copy' &&
      from === '' &&
      c.chown === '' &&
      chmod === undefined &&
      c.sourceContents.length === 0;
    // The instruction on its parent (one record each: the last layer it made) and its shape.
    const instruction = {
      sources: c.sourcePaths,
      dest,
      chown: c.chown,
      chmod: c.chmod,
      parents,
      exclude: c.excludePatterns,
      ...(this.#epoch !== undefined ? { epoch: this.#epoch } : {}),
    };
    const reuse = reusable
      ? this.#copyReuse(
          hashKey(st.key, 'copy-family', instruction),
          hashKey(st.key, 'copy-shape', { shapes, ...instruction }),
          this.#req.noCache === true || this.#noCacheStages.has(st.planned.stage.name),
          () => manifest,
          (made) => {
            manifest = made;
          },
        )
      : undefined;
    await this.#layerStep(
      st,
      vertex,
      cmd,
      stepKey,
      message,
      async (rootfs, upperDir) => {
        const { chownUser, ContextLinks, Copier, DiskTree, extractArchive, isArchive } = await tools();
        const owner = c.chown === '' ? undefined : chownUser(rootfs, c.chown);
        // The context's files hard-linked into the layer rather than copied, when its owner
        // allows it (fs/context-links.ts): made after the unmount.
        const links =
          linkable && upperDir !== undefined && tree instanceof ContextTree
            ? new ContextLinks(rootfs, (src) => linkableContextFile(tree.index, src), this.#linkedSources)
            : undefined;
        // With copy reuse, what each target came from: the manifest of this layer.
        let made: CopyManifest | undefined = reuse ? new Map() : undefined;
        const context = reuse ? this.#buildContext() : undefined;
        const record = (target: string, source: string) => {
          const file = context?.file(source);
          if (!made || !file || (target !== rootfs && !target.startsWith(`${rootfs}/`))) {
            made = undefined; // cannot tell: this layer is not reused
            return;
          }
          const rel = target === rootfs ? '' : target.slice(rootfs.length + 1);
          made.set(rel, { source, mtimeMs: file.entry.mtimeMs, digest: file.digest });
        };
        const options = {
          ...(owner ? { owner } : {}),
          ...(chmod ? { mode: chmod } : {}),
          ...(exclude ? { exclude } : {}),
          ...(made ? { record } : {}),
        };
        const contextOptions = links ? { ...options, links } : options;
        const copyFrom = async (source: SourceTree | undefined) => {
          for (const sel of selections) {
            if (sel.url) {
              await this.#copyUrl(sel.url, rootfs, dest, options, (c as AddCommand).unpack === true);
              continue;
            }
            if (!source) continue;
            const matches = from !== '' ? this.#resolveTreeSources(source, sel, cmd) : sel.matches;
            for (const match of matches) {
              const copier = new Copier(rootfs, {
                ...(source === tree ? contextOptions : options),
                ...(sel.include ? { include: sel.include } : {}),
              });
              const unpack = isAdd && ((c as AddCommand).unpack ?? true);
              if (unpack) {
                const followed = resolveInRoot(match, (rel) => source.kind(rel));
                const file = source.absolute(followed);
                if (source.stat(followed)?.type === 'file' && (await isArchive(file))) {
                  await extractArchive(file, rootfs, dest, owner);
                  continue;
                }
              }
              copier.copy(source, match, dest);
            }
          }
        };
        if (fromLayers) await this.#withView(fromLayers, (dir) => copyFrom(new DiskTree(dir)));
        else await copyFrom(tree);
        if (made) manifest = made;
        if (c.sourceContents.length > 0) {
          const docDir = await mkdtemp(join(this.#scratch, 'heredoc-'));
          try {
            for (const doc of c.sourceContents) {
              const path = join(docDir, doc.path.replace(/^\/+/, ''));
              await mkdir(posix.dirname(path), { recursive: true });
              await writeFile(path, doc.data, { mode: 0o644 });
            }
            const docs = new DiskTree(docDir);
            for (const doc of c.sourceContents) {
              new Copier(rootfs, options).copy(docs, doc.path.replace(/^\/+/, ''), dest);
            }
          } finally {
            await rm(docDir, { recursive: true, force: true });
          }
        }
        if (links && upperDir !== undefined && links.size > 0) {
          links.prepare(upperDir);
          trace(`${message}: ${links.size} context files to link`);
          return async () => {
            links.apply(upperDir);
            trace(`${message}: context files linked`);
          };
        }
      },
      { independent: link, ...(reuse ? { reuse } : {}) },
    );
    image.addHistory(message, true, true);
  }

  /**
   * Copy reuse for a context COPY (fs/copy-reuse.ts): fills a step's snapshot from the last one
   * its instruction (`family`: the COPY on its parent) made, when that one had the same `shape`
   * and the same parent layers, and records each new one. `manifest` is the manifest of the
   * layer this step makes (the copy's or the clone's).
   */
  #copyReuse(
    family: string,
    shape: string,
    noCache: boolean,
    manifest: () => CopyManifest | undefined,
    setManifest: (made: CopyManifest) => void,
  ): LayerReuse {
    let splice: ReturnType<LayerReuse['splice']>;
    return {
      splice: () => splice,
      fill: async (upper, parents) => {
        // --no-cache asks for the copy itself: what it makes is recorded, nothing is reused
        if (noCache) return false;
        const prior = this.#s.cache.copyLayer(family);
        if (prior?.shape !== shape) return false;
        await Promise.all(parents.map((l) => l.ready));
        if ((chainId(parents.map((l) => l.digest)) ?? '') !== prior.parentChain) return false;
        const old = await this.#committedDir(prior.snapshot);
        if (!old) {
          this.#s.cache.forgetCopyLayer(family, prior.snapshot);
          return false;
        }
        try {
          const { cloneCopyLayer, decodeManifest } = await tools();
          const context = this.#buildContext();
          const index = context.index();
          const result = await cloneCopyLayer(old.dir, upper, decodeManifest(prior.entries), (source) => {
            const file = context.file(source);
            if (!file) return undefined;
            const e = file.entry;
            return {
              type: e.type,
              mtimeMs: e.mtimeMs,
              atimeMs: e.mtimeMs,
              digest: file.digest,
              absolute: index.absolute(source),
            };
          });
          trace(`copy reuse: ${result.linked} linked, ${result.copied} copied`);
          setManifest(result.manifest);
          splice = { diffId: prior.diffId, linked: result.linkedPaths, entries: result.entries };
          return true;
        } finally {
          await old.release();
        }
      },
      stored: async (layer) => {
        const { encodeManifest } = await tools();
        const made = manifest();
        const entries = made && encodeManifest(made);
        if (entries === undefined) return;
        this.#s.cache.recordCopyLayer({ family, shape, ...layer, entries });
      },
    };
  }

  /**
   * The directory holding committed snapshot `name`'s own files (its layer), found through a
   * view, whose first lower directory it is; held by the build's lease from now on. Undefined
   * when the snapshot is gone.
   */
  async #committedDir(name: string): Promise<{ dir: string; release: () => Promise<void> } | undefined> {
    const snapshotter = await this.#s.snapshotter();
    this.#s.leases.addResource(this.#lease, 'snapshot', name);
    const key = `build-view-${process.pid}-${randomBytes(6).toString('hex')}`;
    this.#s.leases.addResource(this.#lease, 'snapshot', key);
    const release = async () => {
      await snapshotter.remove(key).catch(() => {});
      this.#s.leases.removeResource(this.#lease, 'snapshot', key);
    };
    let mounts: Awaited<ReturnType<Snapshotter['view']>>;
    try {
      mounts = await snapshotter.view(key, name, { labels: { 'wharf.build/pid': String(process.pid) } });
    } catch (error) {
      this.#s.leases.removeResource(this.#lease, 'snapshot', key);
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
    const only = mounts.length === 1 ? mounts[0] : undefined;
    const dir =
      only?.type === 'bind'
        ? only.source
        : only?.type === 'overlay'
          ? only.options
              .find((o) => o.startsWith('lowerdir='))
              ?.slice('lowerdir='.length)
              .split(':')[0]
          : undefined;
    if (dir === undefined) {
      await release();
      return undefined;
    }
    return { dir, release };
  }

  /**
   * Copies an `ADD <url>` body to `dest` as BuildKit's http source makes it: named after the
   * URL's last path element, mode 0600 unless `--chmod`, owner 0:0 unless `--chown`, mtime the
   * `Last-Modified` time (else 1970); extracted only with `--unpack=true` and an archive.
   */
  async #copyUrl(
    body: HttpBody,
    rootfs: string,
    dest: string,
    options: import('./fs/copy.ts').CopyOptions,
    unpack: boolean,
  ): Promise<void> {
    const { Copier, DiskTree, extractArchive, isArchive } = await tools();
    if (unpack && (await isArchive(body.path))) {
      await extractArchive(body.path, rootfs, dest, options.owner);
      return;
    }
    await mkdir(this.#scratch, { recursive: true });
    const dir = await mkdtemp(join(this.#scratch, 'url-'));
    try {
      const name = body.fileName;
      const file = join(dir, name);
      await copyFile(body.path, file);
      await chmodAsync(file, 0o600);
      const mtime = (body.lastModified ?? 0) / 1000;
      await utimes(file, mtime, mtime);
      new Copier(rootfs, options).copy(new DiskTree(dir), name, dest);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** A source as dispatchCopy splits it: `--parents` copies from the root (or the `/./` pivot). */
  #selection(
    src: string,
    parents: boolean,
  ): { src: string; root: string; include?: DockerIgnore; matches: string[] } {
    if (!parents) return { src, root: '', matches: [] };
    const pivot = src.indexOf('/./');
    const root = pivot < 0 ? '/' : src.slice(0, pivot);
    const pattern = normalizePath('/', pivot < 0 ? src : src.slice(pivot + 3), false).replace(/^\//, '');
    return {
      src,
      root: normalizePath('/', root, false),
      include: DockerIgnore.fromPatterns([pattern]),
      matches: [],
    };
  }

  /** Resolves a context source (wildcards, symlinks inside the context) to the paths to copy. */
  #resolveContextSources(
    tree: SourceTree,
    sel: { src: string; root: string; include?: DockerIgnore },
    cmd: Command,
  ): string[] {
    const path = sel.include ? sel.root : sel.src;
    this.#checkInside(tree, path, cmd);
    const matches = this.#resolveTreeSources(tree, sel, cmd);
    for (const m of matches) this.#checkInside(tree, m, cmd);
    return matches;
  }

  #resolveTreeSources(
    tree: SourceTree,
    sel: { src: string; root: string; include?: DockerIgnore },
    cmd: Command,
  ): string[] {
    const path = normalizePath('/', sel.include ? sel.root : sel.src, false);
    if (containsWildcards(path)) return resolveWildcards(tree, path);
    const rel = path.replace(/^\/+/, '');
    const followed = resolveInRoot(rel, (r) => tree.kind(r));
    if (!tree.stat(followed)) {
      if (sel.include && containsWildcards(sel.src)) return [];
      throw new DockerfileError(
        cmd.file,
        cmd.range.startLine,
        `failed to compute cache key: ${goQuote(path)}: not found`,
      );
    }
    if (sel.include && !containsWildcards(sel.src)) {
      // --parents without wildcards: the path itself must exist (RequiredPaths).
      const pivot = sel.src.indexOf('/./');
      const required = normalizePath(sel.root, pivot < 0 ? sel.src : sel.src.slice(pivot + 3), false).replace(
        /^\//,
        '',
      );
      if (!tree.stat(resolveInRoot(required, (r) => tree.kind(r)))) {
        throw new DockerfileError(
          cmd.file,
          cmd.range.startLine,
          `failed to compute cache key: ${goQuote(`/${required}`)}: not found`,
        );
      }
    }
    return [rel];
  }

  /** A context source must not lead out of the context through a symlink. */
  #checkInside(tree: SourceTree, path: string, cmd: Command): void {
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    const resolved: string[] = [];
    let links = 0;
    while (parts.length > 0) {
      const part = parts.shift()!;
      if (part === '..') {
        if (resolved.length === 0) {
          throw new DockerfileError(
            cmd.file,
            cmd.range.startLine,
            `${path}: the source is outside the build context`,
          );
        }
        resolved.pop();
        continue;
      }
      resolved.push(part);
      if (containsWildcards(part)) return;
      const kind = tree.kind(resolved.join('/'));
      if (kind.kind !== 'symlink') continue;
      if (++links > 255) return;
      resolved.pop();
      if (kind.target.startsWith('/')) {
        throw new DockerfileError(
          cmd.file,
          cmd.range.startLine,
          `${path}: the source is reached through a symlink out of the build context (${resolved.concat(part).join('/')} -> ${kind.target})`,
        );
      }
      parts.unshift(...kind.target.split('/').filter((p) => p !== '' && p !== '.'));
    }
  }

  // ---- export ----

  async #export(final: StageResult): Promise<BuildResult> {
    const output = this.#req.output ?? { type: 'image' };
    if (output.type === 'local' || output.type === 'tar') return this.#exportFilesystem(final, output);
    const vertex = this.#progress.start('exporting to image');
    const image = final.image.clone();
    if (this.#req.labels && Object.keys(this.#req.labels).length > 0) {
      image.config.Labels = { ...(image.config.Labels ?? {}), ...this.#req.labels };
    }
    if (this.#req.platform) {
      image.os = this.#req.platform.os;
      image.architecture = this.#req.platform.architecture;
      if (this.#req.platform.variant) image.variant = this.#req.platform.variant;
    }
    await Promise.all(image.layers.map((l) => l.ready));
    vertex.status('exporting layers done');
    const config = image.serialize(this.#epoch !== undefined ? { epoch: this.#epoch } : {});
    const id = await this.#s.images.commit({
      config,
      layers: image.layers.map((l) => ({ digest: l.digest, size: l.size })),
      lease: () => {
        for (const layer of image.layers) this.#s.leases.addResource(this.#lease, 'content', layer.digest);
        return this.#lease;
      },
      tags: this.#req.tags ?? [],
    });
    vertex.status(`writing image ${id} done`);
    const tags = [
      ...new Set(
        (this.#req.tags ?? []).map((t) => formatReference(withDefaultTag(parseNormalizedReference(t)))),
      ),
    ];
    for (const tag of tags) vertex.status(`naming to ${tag} done`);
    vertex.done();
    return { imageId: id, tags, cached: this.#hits.length, executed: this.#executed };
  }

  /**
   * `--output type=local|tar`: the final stage's filesystem, from a mounted view, into a
   * directory or a tar stream. No image is stored; the id is the one it would have.
   */
  async #exportFilesystem(
    final: StageResult,
    output: { type: 'local'; dest: string } | { type: 'tar'; dest: Writable },
  ): Promise<BuildResult> {
    const vertex = this.#progress.start(
      output.type === 'local' ? 'exporting to client directory' : 'exporting to client tarball',
    );
    try {
      const { exportLocal, exportTar } = await tools();
      await this.#withView(final.image.layers, (dir) =>
        output.type === 'local'
          ? exportLocal(dir, output.dest)
          : exportTar(dir, output.dest, { sourceDateEpoch: this.#diffEpoch }),
      );
      vertex.status(output.type === 'local' ? 'copying files done' : 'sending tarball done');
      await Promise.all(final.image.layers.map((l) => l.ready));
      const image = final.image.clone();
      const config = image.serialize(this.#epoch !== undefined ? { epoch: this.#epoch } : {});
      vertex.done();
      return { imageId: digestBytes(config), tags: [], cached: this.#hits.length, executed: this.#executed };
    } catch (error) {
      vertex.error((error as Error).message);
      throw error;
    }
  }
}

/**
 * How a layer step can fill its snapshot without running (copy reuse, fs/copy-reuse.ts).
 */
interface LayerReuse {
  /**
   * Fills the empty upper directory of the step's snapshot; false when there is nothing to reuse.
   * Throws when it gave up half way (the snapshot is then discarded and the step runs).
   */
  fill(upper: string, parents: readonly LayerRef[]): Promise<boolean>;
  /** The layer is stored (committed as `snapshot`): remember what made it. */
  stored(layer: { snapshot: string; parentChain: string; diffId: Digest }): Promise<void>;
  /**
   * After a fill: the old layer blob and which of its entries the new tree shares (hard links),
   * for making the new blob from it (fs/layer-splice.ts).
   */
  splice(): { diffId: Digest; linked: ReadonlySet<string>; entries: number } | undefined;
}

interface StageState {
  planned: PlannedStage;
  image: ImageState;
  scope: ArgScope;
  key: string;
  counter: { index: number; total: number };
  /** A CMD was set in this stage (ENTRYPOINT then keeps it). */
  cmdSet: boolean;
}

function rmdirQuietly(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // left for the next sweep of build/tmp
  }
}

function argPlatform(p: Platform): { os: string; architecture: string; variant?: string } {
  return { os: p.os, architecture: p.architecture, ...(p.variant ? { variant: p.variant } : {}) };
}

function envPairs(env: readonly string[]): [string, string][] {
  return env.map((e) => {
    const i = e.indexOf('=');
    return i < 0 ? [e, ''] : [e.slice(0, i), e.slice(i + 1)];
  });
}

/** BuildKit's runCommandString: `|N k=v ... args`, with the values the RUN sees. */
function runCommandString(args: readonly string[], scope: ArgScope): string {
  const order: string[] = [];
  const values = new Map<string, string>();
  for (const arg of scope.declared) {
    const v = scope.env.get(arg.key) ?? arg.value ?? '';
    if (!values.has(arg.key)) order.push(arg.key);
    values.set(arg.key, v);
  }
  const env = order.map((k) => `${k}=${values.get(k)}`);
  const prefix = env.length > 0 ? [`|${env.length}`, ...env] : [];
  return [...prefix, ...args].join(' ');
}

/** An `http://` or `https://` source that is not a git repository (BuildKit's isHTTPSource). */
function isHttpSource(src: string): boolean {
  return /^https?:\/\//.test(src) && !isGitSource(src);
}

/** A git source: `git@...`, `git://...`, or a URL whose path ends in `.git` (with a `#ref`). */
function isGitSource(src: string): boolean {
  return /^git@|^git:\/\/|^ssh:\/\//.test(src) || /^https?:\/\/[^#]*\.git(#|$)/.test(src);
}
