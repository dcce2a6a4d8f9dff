/**
 * Variable expansion of typed instructions, applied as each instruction runs, as BuildKit's
 * dispatcher applies it (the `Expand`/`ExpandRaw` methods of instructions/commands.go and
 * dispatchExpose):
 *
 * | instruction | expanded |
 * |---|---|
 * | ENV, LABEL | keys and values |
 * | ADD | sources, destination, `--chown`, `--chmod`, `--checksum`; unquoted heredoc bodies |
 * | COPY | sources, destination, `--chown`, `--chmod`; unquoted heredoc bodies (not `--from`, which may hold no variable) |
 * | EXPOSE | each word, then split into fields |
 * | USER, WORKDIR, VOLUME, STOPSIGNAL | their values |
 * | RUN | `--mount` options only (the command itself is left to the shell) |
 * | ARG | its default, when declared: see ArgScope |
 * | FROM | base name and `--platform`, with the global args: see {@link expandFrom} |
 * | CMD, ENTRYPOINT, HEALTHCHECK, SHELL, MAINTAINER, ONBUILD | nothing |
 */
import { DockerfileError } from '../errors.ts';
import { type EnvLookup, ShellLexer, ShellWordError } from '../shell-lexer.ts';
import { parseChmod } from './chmod.ts';
import type { Command, KeyValuePair, SourceContent, Stage } from './commands.ts';
import { PortError, parseExposedPorts } from './expose-ports.ts';
import { suggestCaseSensitive } from './flags.ts';
import { GoValueError } from './go-values.ts';
import { MountError, parseMount } from './run-mounts.ts';

export interface ExpandedCommand<T extends Command> {
  /** A copy of the command with its expandable words expanded. */
  command: T;
  /** Variables the expansion found set (for cache keys). */
  matched: Set<string>;
  /** Variables the expansion looked up and found unset (for the UndefinedVar lint). */
  unmatched: Set<string>;
}

/** A value that is invalid once expanded. */
class ExpandedValueError extends Error {}

/** Heredoc bodies are expanded without quote processing and always with `\` as the escape. */
const RAW_LEXER = new ShellLexer({ skipProcessQuotes: true });

/**
 * Expands the words of `command` that BuildKit expands, with `env` (the stage's ENV and ARG
 * values so far) and `lexer` (built with the Dockerfile's escape character). The input is left
 * untouched.
 *
 * @example
 * const lexer = new ShellLexer();
 * const { command } = expandCommand(copyCmd, new Map([['APP', '/srv/app']]), lexer);
 * command.destPath; // '/srv/app' for `COPY . $APP`
 * @throws DockerfileError naming the instruction's file and line (a bad `${...}`, a bad
 *   `--chmod` or `--mount` after expansion)
 */
export function expandCommand<T extends Command>(
  command: T,
  env: EnvLookup,
  lexer: ShellLexer,
): ExpandedCommand<T> {
  const matched = new Set<string>();
  const unmatched = new Set<string>();
  const word = (text: string, using: ShellLexer = lexer): string => {
    const r = using.processWordWithMatches(text, env);
    for (const k of r.matched) matched.add(k);
    for (const k of r.unmatched) unmatched.add(k);
    return r.result;
  };
  const words = (text: string): string[] => {
    // ProcessWords does not report variables: look them up with ProcessWordWithMatches first.
    word(text);
    return lexer.processWords(text, env);
  };
  const kvps = (pairs: KeyValuePair[]) =>
    pairs.map((p) => ({ key: word(p.key), value: word(p.value), noDelim: p.noDelim }));
  const contents = (list: SourceContent[]) =>
    list.map((c) => (c.expand ? { ...c, data: word(c.data, RAW_LEXER) } : { ...c }));

  try {
    const c = structuredClone(command) as Command;
    switch (c.kind) {
      case 'env':
        c.env = kvps(c.env);
        break;
      case 'label':
        c.labels = kvps(c.labels);
        break;
      case 'add':
        c.chown = word(c.chown);
        c.chmod = word(c.chmod);
        c.checksum = word(c.checksum);
        c.sourcePaths = c.sourcePaths.map((p) => word(p));
        c.destPath = word(c.destPath);
        c.sourceContents = contents(c.sourceContents);
        if (c.chmod !== '') parseChmod(c.chmod);
        break;
      case 'copy':
        c.chown = word(c.chown);
        c.chmod = word(c.chmod);
        c.sourcePaths = c.sourcePaths.map((p) => word(p));
        c.destPath = word(c.destPath);
        c.sourceContents = contents(c.sourceContents);
        if (c.chmod !== '') parseChmod(c.chmod);
        break;
      case 'expose':
        c.ports = c.ports.flatMap((p) => words(p));
        parseExposedPorts(c.ports);
        break;
      case 'user':
        c.user = word(c.user);
        break;
      case 'workdir':
        c.path = word(c.path);
        break;
      case 'volume':
        c.volumes = c.volumes.map((v) => word(v));
        if (c.volumes.includes(''))
          throw new ExpandedValueError('VOLUME specified can not be an empty string');
        break;
      case 'stopsignal':
        c.signal = word(c.signal);
        break;
      case 'run':
        c.mounts = c.mountSpecs.map((spec) => parseMount(spec, (w) => word(w)));
        break;
      default:
        break;
    }
    return { command: c as T, matched, unmatched };
  } catch (error) {
    if (
      error instanceof ShellWordError ||
      error instanceof GoValueError ||
      error instanceof MountError ||
      error instanceof PortError ||
      error instanceof ExpandedValueError
    ) {
      throw new DockerfileError(command.file, command.range.startLine, error.message, { cause: error });
    }
    throw error;
  }
}

export interface ExpandedFrom {
  baseName: string;
  platform: string;
  matched: Set<string>;
  unmatched: Set<string>;
}

/**
 * Expands a stage's base name and `--platform` with the global scope (automatic platform args
 * and meta ARGs), as BuildKit does before building: a blank result is an error.
 *
 * @example
 * expandFrom(stage, new Map([['TAG', '3.20']]), new ShellLexer()).baseName; // 'alpine:3.20' for `FROM alpine:$TAG`
 */
export function expandFrom(
  stage: Stage,
  globalArgs: EnvLookup & { keys(): Iterable<string> },
  lexer: ShellLexer,
): ExpandedFrom {
  const at = (message: string, cause?: unknown) =>
    new DockerfileError(
      stage.from.file,
      stage.range.startLine,
      message,
      cause === undefined ? undefined : { cause },
    );
  const matched = new Set<string>();
  const unmatched = new Set<string>();
  let baseName: string;
  try {
    const r = lexer.processWordWithMatches(stage.baseName, globalArgs);
    for (const k of r.matched) matched.add(k);
    for (const k of r.unmatched) unmatched.add(k);
    baseName = r.result;
  } catch (error) {
    if (error instanceof ShellWordError) throw at(error.message, error);
    throw error;
  }
  if (baseName === '') {
    throw at(`base name (${stage.baseName}) should not be blank (check the variables it uses are set)`);
  }
  let platform = '';
  if (stage.platform !== '') {
    let r: { result: string; matched: Set<string>; unmatched: Set<string> };
    try {
      r = lexer.processWordWithMatches(stage.platform, globalArgs);
    } catch (error) {
      if (error instanceof ShellWordError) {
        throw at(`failed to process arguments for platform : ${error.message}`, error);
      }
      throw error;
    }
    for (const k of r.matched) matched.add(k);
    for (const k of r.unmatched) unmatched.add(k);
    platform = r.result;
    if (platform === '') {
      let message = `empty platform value from expression ${stage.platform}`;
      for (const name of r.unmatched) {
        const match = suggestCaseSensitive(name, [...globalArgs.keys()]);
        if (match !== undefined) {
          message += ` (did you mean ${match}?)`;
          break;
        }
      }
      throw at(message);
    }
  }
  return { baseName, platform, matched, unmatched };
}
