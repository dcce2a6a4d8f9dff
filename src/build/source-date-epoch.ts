/**
 * `SOURCE_DATE_EPOCH`, resolved as BuildKit's Dockerfile frontend resolves it (dockerfile2llb's
 * epoch.go). The value comes from the build-arg, else from a global `ARG SOURCE_DATE_EPOCH=...`
 * default, and is:
 *
 * - empty: no epoch;
 * - an integer: seconds since 1970;
 * - `context`: the epoch the main context supplies (an HTTP context's Last-Modified, else the
 *   newest regular file in its archive); none for a local directory;
 * - the name of a *source-only stage* (`FROM scratch`, ARGs, exactly one `ADD <http url>`): the
 *   Last-Modified of that URL, else the newest regular file in the archive it serves;
 * - anything else fails: `invalid SOURCE_DATE_EPOCH: <value>`.
 *
 * The resolved number then replaces the build-arg, so `ARG SOURCE_DATE_EPOCH` in a stage sees it.
 * What it changes in the image (history and `created` times, layer mtimes clamped) is the
 * builder's business: see docs/build-reproducible.md.
 *
 * @example
 * const epoch = await resolveSourceDateEpoch('1700000000', sources); // 1700000000
 */
import { createReadStream } from 'node:fs';
import { DockerfileError } from '../dockerfile/errors.ts';
import type { AddCommand, ScopeEnv, Stage } from '../dockerfile/instructions/index.ts';
import type { ShellLexer } from '../dockerfile/shell-lexer.ts';
import { InvalidArgumentError } from '../errors/index.ts';
import { openDecompressed } from '../image/layer/compression.ts';
import { TarReader } from '../image/layer/tar-reader.ts';
import type { HttpSources } from './http-source.ts';

export interface EpochSources {
  /** The epoch `context` means: an HTTP context's; absent for a local one. */
  context?: () => Promise<number | undefined>;
  stages: readonly Stage[];
  /** The global scope (meta ARGs, automatic args), SOURCE_DATE_EPOCH left out. */
  globalArgs: ScopeEnv;
  buildArgs: ReadonlyMap<string, string>;
  lexer: ShellLexer;
  http: () => Promise<HttpSources>;
  signal?: AbortSignal;
}

const isHttp = (src: string) => /^https?:\/\//.test(src) && !/\.git(#|$)/.test(src);

/** The epoch in seconds, or undefined for none. */
export async function resolveSourceDateEpoch(
  value: string,
  sources: EpochSources,
): Promise<number | undefined> {
  if (value === '') return undefined;
  if (/^[+-]?\d+$/.test(value)) {
    const seconds = Number(value);
    if (Number.isSafeInteger(seconds)) return seconds;
  }
  if (value === 'context') return sources.context?.();
  const stage = sources.stages.find((s) => s.name !== '' && s.name === value.toLowerCase());
  if (!stage) throw new InvalidArgumentError(`invalid SOURCE_DATE_EPOCH: ${value}`);
  const at = (message: string) => new DockerfileError(stage.from.file, stage.range.startLine, message);
  const base = sources.lexer.processWord(stage.baseName, sources.globalArgs);
  if (base !== 'scratch') throw at('SOURCE_DATE_EPOCH stage must use FROM scratch');
  const env = sources.globalArgs.clone();
  let add: AddCommand | undefined;
  for (const cmd of stage.commands) {
    if (cmd.kind === 'arg') {
      for (const arg of cmd.args) {
        const given = sources.buildArgs.get(arg.key);
        if (given !== undefined) env.set(arg.key, given);
        else if (arg.value !== undefined) env.set(arg.key, sources.lexer.processWord(arg.value, env));
      }
    } else if (cmd.kind === 'add') {
      if (add) throw at('SOURCE_DATE_EPOCH stage must contain exactly one remote ADD');
      add = cmd;
    } else {
      throw at(
        `SOURCE_DATE_EPOCH stage does not meet source-only requirements: unsupported ${cmd.name.toLowerCase()} instruction`,
      );
    }
  }
  if (!add) throw at('SOURCE_DATE_EPOCH stage must contain exactly one remote ADD');
  if (add.sourceContents.length !== 0 || add.sourcePaths.length !== 1)
    throw at('SOURCE_DATE_EPOCH stage must contain exactly one remote ADD source');
  const src = sources.lexer.processWord(add.sourcePaths[0]!, env);
  if (!isHttp(src)) throw at('SOURCE_DATE_EPOCH stage source must be a single HTTP(S) or Git ADD');
  const checksum = add.checksum === '' ? undefined : sources.lexer.processWord(add.checksum, env);
  const http = await sources.http();
  const body = await http.fetch(src, {
    ...(checksum ? { checksum } : {}),
    ...(sources.signal ? { signal: sources.signal } : {}),
  });
  if (body.lastModified !== undefined) return Math.floor(body.lastModified / 1000);
  return archiveMaxTime(body.path);
}

/**
 * The newest mtime (seconds) of a regular file in the archive at `path` (plain or compressed tar),
 * or undefined when it is no archive.
 */
export async function archiveMaxTime(path: string): Promise<number | undefined> {
  try {
    const { chunks } = await openDecompressed(createReadStream(path, { highWaterMark: 256 * 1024 }));
    const reader = new TarReader(chunks);
    let max: number | undefined;
    for (let h = await reader.next(); h; h = await reader.next()) {
      if (h.type !== 'file') continue;
      if (max === undefined || h.mtime > max) max = h.mtime;
    }
    return max;
  } catch {
    return undefined;
  }
}
