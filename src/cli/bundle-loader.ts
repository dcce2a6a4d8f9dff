/**
 * Loads a CLI bundle (dist/wharf.cjs: the whole CLI as one CommonJS script, or
 * dist/verbs/NAME.cjs: one command module's, both built by scripts/build.mjs) through V8's code
 * cache, so a command compiles almost none of its code.
 *
 * Why not Node's own loaders: Node 20 has no compile cache for modules (module.enableCompileCache
 * came in 22), so ES modules are parsed and compiled anew at every start, and loading them one by
 * one (resolve, read, link, evaluate) costs a few ms per dozen. One script compiled through
 * `vm.Script` with `cachedData` skips parsing altogether: V8 deserializes the bytecode of the
 * cache and compiles the rest lazily, as usual. The modules inside the bundle stay lazy
 * (esbuild's init wrappers), so a verb still runs only its own modules' top level.
 *
 * Two kinds of cache, one format. The build's, dist/wharf.cjs.cache, holds what its warm-up ran
 * (every module's top level and every verb's registration, through `--help`); the build cannot
 * run an action (no root, no images), so an action's functions were compiled at every start. A
 * hot verb (HOT_VERBS) therefore learns: after its first successful run, the launcher writes
 * dist/wharf.cjs.<verb>.cache, V8's cache of everything this process had compiled (the build's
 * cache it deserialized plus the action it ran), and later runs of that verb load that file
 * instead. One file per verb, not one growing file: a verb deserializes only its own path (each
 * 100 KB of cache costs ~0.5 ms here), two verbs learning at once cannot undo each other, and
 * bytecode V8 flushes in a long command cannot drop another verb's learning.
 *
 * ```
 * dist/
 *   wharf.cjs                      the bundle; its last line is `//# wharf-bundle-id=<sha256>`
 *   wharf.cjs.cache                `<id> learned=\n` + V8 data (made by the build)
 *   wharf.cjs.run.cache            `<id> learned=run\n` + V8 data (learned by `wharf run`)
 *   wharf.cjs.container-cleanup.cache   ... (learned by conmon's exit command)
 * ```
 *
 * Every cache starts with the id of the bundle it was made from: V8 checks only the source's
 * length (and its own version and flags), so without the id a bundle and a cache from two builds
 * could meet. A cache that is missing, from another build, or rejected by V8 (another Node version
 * or V8 flags) is ignored: the bundle then compiles from source, slower but the same. A learned
 * cache is written only from a process whose cache V8 accepted (so it carries the build's V8
 * flags), atomically (temp file, fsync, rename, fsync of the directory: of two learners one wins
 * whole), only beside the bundle and only when that directory is writable by this user and not
 * by everyone (a code cache is code: it gets the bundle's own trust, never a shared place's). A
 * read-only dist/ (an installed package) silently keeps the build's cache.
 *
 * @example
 * const loaded = loadCliBundle('/opt/wharf/dist/wharf.cjs', { verb: hotVerb(argv) });
 * const result = await loaded.bundle.runCli(argv); // an exit code, or a line to run instead
 * if (process.exitCode === 0) process.once('beforeExit', () => loaded.learn?.());
 */
import { isAscii } from 'node:buffer';
import {
  accessSync,
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { Script } from 'node:vm';
import { FailedPreconditionError } from '../errors/index.ts';
import type { CliResult } from './run-cli.ts';
import { GLOBAL_VALUE_FLAGS } from './verb-modules.ts';

/** What dist/wharf.cjs exports (src/cli/cli-bundle.ts). */
export interface CliBundle {
  runCli(argv: string[]): Promise<CliResult>;
  /** Runs the code every command runs, so the build's code cache holds it compiled. */
  warmUp(): Promise<void>;
}

/** How the code cache was used: the status shows in tests and in start-up measurements. */
export type CodeCacheStatus = 'accepted' | 'rejected' | 'missing' | 'other-build';

export interface LoadedBundle {
  bundle: CliBundle;
  codeCache: CodeCacheStatus;
  /** The verbs the cache in use learned (its header): empty for the build's cache. */
  learned: string[];
  /**
   * Set when the verb asked for has no learned cache yet and this one can make it: writes
   * `<bundle>.<verb>.cache` from what this process compiled, and says whether it did. Call it
   * after the command succeeded and its output is out (it takes ~20 ms); it never throws.
   */
  learn?: () => boolean;
}

export interface LoadOptions {
  /** The hot verb being run (hotVerb(argv)): its learned cache is loaded, or learned. */
  verb?: string | undefined;
}

/**
 * The verbs whose cache is learned, by what the command line says (a management group's
 * subcommand after its group), each mapped to the name of its cache: aliases that run the same
 * action share one. These are the commands run often or whose latency shows: the container and
 * image verbs scripts loop over, a cached `build`, and conmon's exit command `container cleanup`,
 * which runs at every container exit. Long-lived commands (`system service`, `registry serve`,
 * `events`, `stats`, `attach`) are left out: their start is not what they cost, and they end by a
 * signal, so they would not learn anyway. Any other verb keeps the build's cache.
 */
const HOT_VERBS: Readonly<Record<string, string>> = {
  run: 'run',
  create: 'create',
  start: 'start',
  stop: 'stop',
  restart: 'restart',
  kill: 'kill',
  rm: 'rm',
  ps: 'ps',
  exec: 'exec',
  logs: 'logs',
  wait: 'wait',
  port: 'port',
  cp: 'cp',
  inspect: 'inspect',
  images: 'images',
  rmi: 'rmi',
  tag: 'tag',
  pull: 'pull',
  build: 'build',
  version: 'version',
  info: 'info',
  'container run': 'run',
  'container create': 'create',
  'container start': 'start',
  'container stop': 'stop',
  'container restart': 'restart',
  'container kill': 'kill',
  'container rm': 'rm',
  'container remove': 'rm',
  'container ls': 'ps',
  'container ps': 'ps',
  'container list': 'ps',
  'container exec': 'exec',
  'container logs': 'logs',
  'container wait': 'wait',
  'container cp': 'cp',
  'container inspect': 'container inspect',
  'container cleanup': 'container cleanup',
  'container healthcheck': 'container healthcheck',
  'image ls': 'images',
  'image list': 'images',
  'image rm': 'rmi',
  'image remove': 'rmi',
  'image rmi': 'rmi',
  'image inspect': 'image inspect',
  'image pull': 'pull',
  'image tag': 'tag',
  'image build': 'build',
  'network ls': 'network ls',
  'network list': 'network ls',
  'network inspect': 'network inspect',
  'volume ls': 'volume ls',
  'volume list': 'volume ls',
  'volume inspect': 'volume inspect',
};

/** The management groups whose subcommand names the verb (`container cleanup`). */
const GROUPS = new Set(['container', 'image', 'network', 'volume']);

/** Verbs whose `-h` is `--hostname`, not help. */
const DASH_H_IS_HOSTNAME = new Set(['run', 'create']);

/**
 * The hot verb of a command line (the name of its learned cache), or undefined when the command
 * does not learn: not a hot verb, or help asked for, `--help` (or `-h` but for `run` and
 * `create` after the verb) anywhere on the line: `run --help` ends well without running the
 * action, and a `--help` meant for the container only skips learning, which is harmless.
 *
 * @example
 * hotVerb(['--root', '/r', 'container', 'cleanup', 'abc']); // 'container cleanup'
 * hotVerb(['container', 'ls', '-a']); // 'ps'
 */
export function hotVerb(argv: readonly string[]): string | undefined {
  const words: string[] = [];
  let dashH = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || (arg === '-h' && words.length === 0)) return undefined;
    if (arg === '-h') dashH = true;
    if (words.length === 0 && GLOBAL_VALUE_FLAGS.has(arg)) {
      i++;
      continue;
    }
    if (arg.startsWith('-')) continue;
    if (words.length === 0 || (words.length === 1 && GROUPS.has(words[0]!))) words.push(arg);
  }
  const verb = words.length === 0 ? undefined : HOT_VERBS[words.join(' ')];
  if (dashH && !DASH_H_IS_HOSTNAME.has(verb ?? '')) return undefined;
  // a detached run never reaches the attach, exit and removal code of a foreground one: were
  // they to share one cache, whichever came first would decide what the other compiles anew
  // (a benchmark's `run -d` sleeper made every later `run --rm` ~7 ms slower). A `-d` meant for
  // the container's command only picks the other cache, which is harmless.
  if (verb === 'run' && argv.some((arg) => arg === '--detach' || /^-[itP]*d[itP]*$/.test(arg))) {
    return 'run detached';
  }
  return verb;
}

/**
 * The line scripts/build.mjs appends to a bundle: `//# wharf-bundle-id=<sha256 of the bundle>`,
 * then a newline. Every cache file starts with the same 64 hex digits.
 */
const ID_PREFIX = '\n//# wharf-bundle-id=';
const ID_LENGTH = 64;
/** After the id, a cache's header says what it learned: ` learned=run\n` (nothing for the build's). */
const LEARNED_PREFIX = ' learned=';
const MAX_HEADER = 256;

/** The id at the end of a bundle's source, or undefined when it has none. */
function bundleId(source: string): string | undefined {
  const end = source.endsWith('\n') ? source.length - 1 : source.length;
  const start = end - ID_LENGTH - ID_PREFIX.length;
  if (start < 0 || source.slice(start, start + ID_PREFIX.length) !== ID_PREFIX) return undefined;
  return source.slice(start + ID_PREFIX.length, end);
}

/** The cache learned by `verb` for the bundle `file`: `wharf.cjs.container-cleanup.cache`. */
export function learnedCachePath(file: string, verb: string): string {
  return `${file}.${verb.replaceAll(' ', '-')}.cache`;
}

/** A cache file's header: the bundle's id and the verbs it learned. */
function cacheHeader(id: string, learned: readonly string[]): Buffer {
  return Buffer.from(`${id}${LEARNED_PREFIX}${learned.join(',')}\n`, 'latin1');
}

interface ParsedCache {
  learned: string[];
  data: Buffer;
}

/** Splits a cache file made for the bundle `id` into its header and V8's data; undefined if not. */
function parseCache(cache: Buffer, id: string): ParsedCache | undefined {
  if (cache.toString('latin1', 0, ID_LENGTH) !== id) return undefined;
  const end = cache.indexOf(10, ID_LENGTH);
  if (end < 0 || end > MAX_HEADER) return undefined;
  const rest = cache.toString('latin1', ID_LENGTH, end);
  if (!rest.startsWith(LEARNED_PREFIX)) return undefined;
  const list = rest.slice(LEARNED_PREFIX.length);
  const data = cache.subarray(end + 1);
  return data.length === 0 ? undefined : { learned: list === '' ? [] : list.split(','), data };
}

function readIfPresent(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return undefined;
  }
}

/**
 * Compiles the bundle as Node compiles a CommonJS file (the same wrapper parameters), with the
 * code cache when one is given.
 */
function compile(file: string, source: string, cachedData: Buffer | undefined): Script {
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  return new Script(wrapped, { filename: file, ...(cachedData ? { cachedData } : {}) });
}

function run(script: Script, file: string): CliBundle {
  const module = { exports: {} as CliBundle };
  const fn = script.runInThisContext() as (...args: unknown[]) => void;
  fn(module.exports, createRequire(file), module, file, dirname(file));
  return module.exports;
}

/**
 * The bundle's source. It is ASCII unless a regular expression in the code holds a non-ASCII
 * character (esbuild escapes them everywhere else; the build warns): latin1 decodes ASCII ten
 * times faster than UTF-8 (0.5 ms against 5 for 2 MB here) and makes V8 one-byte text.
 */
function readSource(file: string): string {
  const bytes = readFileSync(file);
  return bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8');
}

/**
 * Loads `file` (dist/wharf.cjs) with the best usable code cache: the one `options.verb` learned,
 * else the build's `<file>.cache`.
 */
export function loadCliBundle(file: string, options: LoadOptions = {}): LoadedBundle {
  const source = readSource(file);
  const id = bundleId(source);
  const verb = options.verb;
  let status: CodeCacheStatus = 'missing';
  let chosen: ParsedCache | undefined;
  for (const path of verb === undefined
    ? [`${file}.cache`]
    : [learnedCachePath(file, verb), `${file}.cache`]) {
    const cache = readIfPresent(path);
    if (!cache) continue;
    const parsed = id === undefined ? undefined : parseCache(cache, id);
    // a learned file must hold its own verb (a file renamed by hand would mislead the learning)
    if (parsed && (path === `${file}.cache` || (verb !== undefined && parsed.learned.includes(verb)))) {
      chosen = parsed;
      break;
    }
    status = 'other-build';
  }
  const script = compile(file, source, chosen?.data);
  if (chosen) status = script.cachedDataRejected === true ? 'rejected' : 'accepted';
  const learned = chosen?.learned ?? [];
  const loaded: LoadedBundle = { bundle: run(script, file), codeCache: status, learned };
  // Learn only over an accepted cache: V8's flags hash is in the data, and a cache learned by a
  // process with other flags (NODE_OPTIONS) would be rejected by every later run.
  if (verb !== undefined && id !== undefined && status === 'accepted' && !learned.includes(verb)) {
    loaded.learn = () => learnCodeCache(script, file, id, verb, [...learned, verb]);
  }
  return loaded;
}

/** Temp files of learners that died before their rename are removed after this long. */
const STALE_TEMP_MS = 60_000;

/**
 * Writes the cache `verb` learned: V8's data for everything `script` has compiled so far, behind
 * the header, into a temp file beside the bundle that is fsynced and renamed over
 * `<file>.<verb>.cache`. Sync on purpose: it runs once, at the end of the command, with nothing
 * else to wait for (and the launcher stays free of the async helpers' imports).
 */
function learnCodeCache(script: Script, file: string, id: string, verb: string, learned: string[]): boolean {
  const dir = dirname(file);
  const target = learnedCachePath(file, verb);
  const temp = join(dir, `.${basename(target)}.${process.pid}-${Date.now()}.tmp`);
  let made = false;
  try {
    if (!trustedWritable(dir)) return false;
    sweepStaleTemps(dir, `.${basename(file)}.`);
    const data = script.createCachedData();
    const fd = openSync(temp, 'wx', 0o644);
    made = true;
    try {
      writeFileSync(fd, cacheHeader(id, learned));
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // dist/ replaced by a build meanwhile: this cache belongs to the bundle that went away
    if (bundleIdOnDisk(file) !== id) {
      unlinkSync(temp);
      return false;
    }
    renameSync(temp, target);
    made = false;
    const dirFd = openSync(dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
    return true;
  } catch {
    // Learning is an optimisation: any failure (disk full, a read-only or vanished dist/) leaves
    // the command as it was.
    if (made) {
      try {
        unlinkSync(temp);
      } catch {}
    }
    return false;
  }
}

/**
 * Whether this user may put code beside the bundle: the directory is writable by it (not a
 * read-only installed package) and not by everyone (a shared place where anyone could plant a
 * cache that the next user's wharf would run).
 */
function trustedWritable(dir: string): boolean {
  if ((statSync(dir).mode & 0o002) !== 0) return false;
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Removes learners' temp files left by a kill between their open and their rename. */
function sweepStaleTemps(dir: string, prefix: string): void {
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    try {
      const path = join(dir, name);
      if (Date.now() - statSync(path).mtimeMs > STALE_TEMP_MS) unlinkSync(path);
    } catch {}
  }
}

/** The id at the end of the bundle file as it is on disk now (its last bytes only). */
function bundleIdOnDisk(file: string): string | undefined {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const tail = Buffer.alloc(Math.min(size, ID_LENGTH + ID_PREFIX.length + 2));
    readSync(fd, tail, 0, tail.length, size - tail.length);
    return bundleId(tail.toString('latin1'));
  } finally {
    closeSync(fd);
  }
}

/**
 * Makes `<file>.cache` for the bundle `file`: compiles it without a cache, runs its warm-up, and
 * writes the bytecode of everything compiled so far. Run by scripts/build.mjs in a process of its
 * own, in the build's temp directory (renamed over dist/ whole, so no reader sees a partial file).
 *
 * `filename` is the path the bundle will have once installed (dist/wharf.cjs rather than the temp
 * directory's): V8 (11.3, Node 20) keeps the script name it finds in a code cache, whatever name
 * the loading process gives, so that name is what `--debug` stack traces and every learned cache
 * show.
 */
export async function writeCodeCache(file: string, filename: string = file): Promise<number> {
  file = resolve(file);
  const source = readSource(file);
  const id = bundleId(source);
  if (id === undefined) {
    throw new FailedPreconditionError(`Cannot make a code cache for ${file}: the bundle has no id`);
  }
  const script = compile(resolve(filename), source, undefined);
  await run(script, file).warmUp();
  const data = Buffer.concat([cacheHeader(id, []), script.createCachedData()]);
  writeFileSync(`${file}.cache`, data);
  return data.length;
}
