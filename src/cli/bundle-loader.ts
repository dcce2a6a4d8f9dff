/**
 * Loads the CLI bundle (dist/wharf.cjs: the whole CLI as one CommonJS script, built by
 * scripts/build.mjs) through V8's code cache, so a command compiles almost none of its code.
 *
 * Why not Node's own loaders: Node 20 has no compile cache for modules (module.enableCompileCache
 * came in 22), so ES modules are parsed and compiled anew at every start, and loading them one by
 * one (resolve, read, link, evaluate) costs a few ms per dozen. One script compiled through
 * `vm.Script` with `cachedData` skips parsing altogether: V8 deserializes the bytecode the build
 * left in dist/wharf.cjs.cache (functions the build's warm-up ran: every module's top level and
 * the registration of every verb), and compiles the rest lazily, as usual. The modules inside the
 * bundle stay lazy (esbuild's init wrappers), so a verb still runs only its own modules' top level.
 *
 * The cache file starts with the id of the bundle it was made from (the id also ends the bundle,
 * as a comment): V8 checks only the source's length, so without the id a bundle and a cache from
 * two builds (dist/ replaced between the two reads) could meet. A cache that is missing, from
 * another build, or rejected by V8 (another Node version or V8 flags) is ignored: the bundle then
 * compiles from source, slower but the same.
 *
 * @example
 * const loaded = loadCliBundle('/opt/wharf/dist/wharf.cjs');
 * process.exitCode = await loaded.bundle.runCli(process.argv.slice(2));
 */
import { isAscii } from 'node:buffer';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { Script } from 'node:vm';
import { FailedPreconditionError } from '../errors/index.ts';

/** What dist/wharf.cjs exports (src/cli/cli-bundle.ts). */
export interface CliBundle {
  runCli(argv: string[]): Promise<number>;
  /** Runs the code every command runs, so the build's code cache holds it compiled. */
  warmUp(): Promise<void>;
}

/** How the code cache was used: the status shows in tests and in start-up measurements. */
export type CodeCacheStatus = 'accepted' | 'rejected' | 'missing' | 'other-build';

export interface LoadedBundle {
  bundle: CliBundle;
  codeCache: CodeCacheStatus;
}

/**
 * The line scripts/build.mjs appends to a bundle: `//# wharf-bundle-id=<sha256 of the bundle>`,
 * then a newline. The cache file starts with the same 64 hex digits.
 */
const ID_PREFIX = '\n//# wharf-bundle-id=';
const ID_LENGTH = 64;

/** The id at the end of a bundle's source, or undefined when it has none. */
function bundleId(source: string): string | undefined {
  const end = source.endsWith('\n') ? source.length - 1 : source.length;
  const start = end - ID_LENGTH - ID_PREFIX.length;
  if (start < 0 || source.slice(start, start + ID_PREFIX.length) !== ID_PREFIX) return undefined;
  return source.slice(start + ID_PREFIX.length, end);
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

/** Loads `file` (dist/wharf.cjs) with its code cache `<file>.cache` when that is usable. */
export function loadCliBundle(file: string): LoadedBundle {
  const source = readSource(file);
  let cache: Buffer | undefined;
  try {
    cache = readFileSync(`${file}.cache`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  let status: CodeCacheStatus = 'missing';
  let cachedData: Buffer | undefined;
  if (cache) {
    const id = bundleId(source);
    if (id !== undefined && cache.length > ID_LENGTH && cache.toString('latin1', 0, ID_LENGTH) === id) {
      cachedData = cache.subarray(ID_LENGTH);
    } else {
      status = 'other-build';
    }
  }
  const script = compile(file, source, cachedData);
  if (cachedData) status = script.cachedDataRejected === true ? 'rejected' : 'accepted';
  return { bundle: run(script, file), codeCache: status };
}

/**
 * Makes `<file>.cache` for the bundle `file`: compiles it without a cache, runs its warm-up, and
 * writes the bytecode of everything compiled so far. Run by scripts/build.mjs in a process of its
 * own, in the build's temp directory (renamed over dist/ whole, so no reader sees a partial file).
 */
export async function writeCodeCache(file: string): Promise<number> {
  file = resolve(file);
  const source = readSource(file);
  const id = bundleId(source);
  if (id === undefined) {
    throw new FailedPreconditionError(`Cannot make a code cache for ${file}: the bundle has no id`);
  }
  const script = compile(file, source, undefined);
  await run(script, file).warmUp();
  const data = Buffer.concat([Buffer.from(id, 'latin1'), script.createCachedData()]);
  writeFileSync(`${file}.cache`, data);
  return data.length;
}
