/**
 * Where ARG and ENV values live during a build, as BuildKit scopes them:
 *
 * - the global scope holds the automatic args (BUILDPLATFORM, TARGETOS, TARGETSTAGE, ...) and the
 *   meta ARGs (those before the first FROM), each default expanded with what precedes it and
 *   replaced by a `--build-arg` of the same name; only FROM lines see it (buildMetaArgs);
 * - a stage starts with its base image's ENV; `ARG name[=default]` adds the name: a build-arg
 *   wins, else the default (expanded with the stage's values so far), else, for a bare
 *   `ARG name`, the global value; ENV adds or replaces values (dispatchArg, dispatchEnv);
 * - a stage built FROM another stage inherits that stage's values and declared ARGs.
 *
 * Build-args that no ARG declares are not visible (proxy variables are the builder's business).
 */
import { DockerfileError } from '../errors.ts';
import { type EnvLookup, ShellLexer, ShellWordError } from '../shell-lexer.ts';
import type { ArgCommand, KeyValuePair, Stage } from './commands.ts';
import { type ExpandedFrom, expandFrom } from './expand-command.ts';

/** ARGs BuildKit keeps out of the RUN environment. */
const NON_ENV_ARGS = new Set(['BUILDKIT_SBOM_SCAN_CONTEXT', 'BUILDKIT_SBOM_SCAN_STAGE']);

type Pairs = Iterable<readonly [string, string]> | Readonly<Record<string, string>>;

function toMap(pairs: Pairs | undefined): Map<string, string> {
  if (pairs === undefined) return new Map();
  if (Symbol.iterator in pairs) return new Map(pairs as Iterable<readonly [string, string]>);
  return new Map(Object.entries(pairs));
}

/** An ordered environment: replacing a key keeps its place, as llb.EnvList does. */
export class ScopeEnv implements EnvLookup {
  readonly #values = new Map<string, string>();

  constructor(pairs?: Pairs) {
    for (const [k, v] of toMap(pairs)) this.#values.set(k, v);
  }

  get(name: string): string | undefined {
    return this.#values.get(name);
  }

  has(name: string): boolean {
    return this.#values.has(name);
  }

  set(name: string, value: string): void {
    this.#values.set(name, value);
  }

  keys(): string[] {
    return [...this.#values.keys()];
  }

  /** `KEY=value` strings, in definition order. */
  toList(): string[] {
    return [...this.#values].map(([k, v]) => `${k}=${v}`);
  }

  entries(): [string, string][] {
    return [...this.#values];
  }

  clone(): ScopeEnv {
    return new ScopeEnv(this.#values);
  }
}

/** A platform as the automatic args describe it. */
export interface ArgPlatform {
  os: string;
  architecture: string;
  variant?: string;
  osVersion?: string;
}

const formatPlatform = (p: ArgPlatform) => [p.os, p.architecture, p.variant].filter((s) => s).join('/');
const formatPlatformAll = (p: ArgPlatform) =>
  [p.osVersion ? `${p.os}(${p.osVersion})` : p.os, p.architecture, p.variant].filter((s) => s).join('/');

/**
 * BuildKit's automatic global args (defaultArgs): BUILD* for the build platform, TARGET* for
 * the target platform, TARGETSTAGE for the target stage name ("default" when unnamed).
 *
 * @example
 * automaticArgs({ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }, 'build').get('TARGETARCH'); // 'arm64'
 */
export function automaticArgs(
  build: ArgPlatform,
  target: ArgPlatform,
  targetStage: string,
): Map<string, string> {
  return new Map([
    ['BUILDPLATFORM', formatPlatform(build)],
    ['BUILDOS', build.os],
    ['BUILDOSVERSION', build.osVersion ?? ''],
    ['BUILDARCH', build.architecture],
    ['BUILDVARIANT', build.variant ?? ''],
    ['TARGETPLATFORM', formatPlatformAll(target)],
    ['TARGETOS', target.os],
    ['TARGETOSVERSION', target.osVersion ?? ''],
    ['TARGETARCH', target.architecture],
    ['TARGETVARIANT', target.variant ?? ''],
    ['TARGETSTAGE', targetStage === '' ? 'default' : targetStage],
  ]);
}

export interface BuildArgsOptions {
  /** `--build-arg` values. */
  buildArgs?: Pairs;
  /** The automatic args of the global scope (see {@link automaticArgs}); build-args override them. */
  automatic?: Pairs;
  /** A lexer with the Dockerfile's escape character. */
  lexer?: ShellLexer;
}

/**
 * The build's arguments: the global scope, and a fresh {@link ArgScope} per stage.
 *
 * @example
 * const { metaArgs, stages } = parseStages(parseDockerfile('ARG V=1\nFROM alpine:$V\nARG V\nRUN echo $V\n'));
 * const args = new BuildArgs(metaArgs, { buildArgs: { V: '2' } });
 * args.expandFrom(stages[0]!).baseName; // 'alpine:2'
 * const scope = args.newStage();
 * scope.declare(stages[0]!.commands[0] as ArgCommand);
 * scope.env.get('V');                   // '2'
 */
export class BuildArgs {
  readonly buildArgs: ReadonlyMap<string, string>;
  /** The global scope after the meta ARGs. */
  readonly global: ScopeEnv;
  readonly lexer: ShellLexer;

  constructor(metaArgs: readonly ArgCommand[], options: BuildArgsOptions = {}) {
    this.buildArgs = toMap(options.buildArgs);
    this.lexer = options.lexer ?? new ShellLexer();
    this.global = new ScopeEnv();
    for (const [k, v] of toMap(options.automatic)) this.global.set(k, this.buildArgs.get(k) ?? v);
    for (const cmd of metaArgs) {
      for (const arg of cmd.args) {
        let value = this.buildArgs.get(arg.key);
        if (value === undefined && arg.value !== undefined) {
          value = expandArgDefault(this.lexer, arg.value, this.global, cmd);
        }
        if (value !== undefined) this.global.set(arg.key, value);
      }
    }
  }

  /** The stage's base name and platform, expanded with the global scope. */
  expandFrom(stage: Stage): ExpandedFrom {
    return expandFrom(stage, this.global, this.lexer);
  }

  /** The scope of a stage whose base is an image (its config ENV given), or scratch. */
  newStage(imageEnv?: Pairs): ArgScope {
    return new ArgScope(this, new ScopeEnv(imageEnv), []);
  }
}

/** One declared ARG of a stage, with the value in effect (undefined: declared but unset). */
export interface DeclaredArg {
  key: string;
  value?: string;
}

function expandArgDefault(lexer: ShellLexer, word: string, env: EnvLookup, cmd: ArgCommand): string {
  try {
    return lexer.processWord(word, env);
  } catch (error) {
    if (error instanceof ShellWordError) {
      throw new DockerfileError(cmd.file, cmd.range.startLine, error.message, { cause: error });
    }
    throw error;
  }
}

/** The ARG and ENV values of one stage while it is built. */
export class ArgScope {
  readonly #build: BuildArgs;
  /** What variable expansion and RUN see: base ENV, then ARG and ENV values in order. */
  readonly env: ScopeEnv;
  /** The ARGs declared so far (a base stage's first), for history lines and cache keys. */
  readonly declared: DeclaredArg[];

  constructor(build: BuildArgs, env: ScopeEnv, declared: DeclaredArg[]) {
    this.#build = build;
    this.env = env;
    this.declared = declared;
  }

  /** Applies an ARG instruction. */
  declare(cmd: ArgCommand): void {
    for (const arg of cmd.args) {
      const buildValue = this.#build.buildArgs.get(arg.key);
      let value: string | undefined;
      if (buildValue !== undefined) value = buildValue;
      else if (arg.value !== undefined) value = expandArgDefault(this.#build.lexer, arg.value, this.env, cmd);
      else value = this.#build.global.get(arg.key);
      if (value !== undefined && !NON_ENV_ARGS.has(arg.key)) this.env.set(arg.key, value);
      const declared: DeclaredArg = { key: arg.key };
      if (value !== undefined) declared.value = value;
      this.declared.push(declared);
    }
  }

  /** Applies an ENV instruction (already expanded with `expandCommand`). */
  setEnv(pairs: readonly KeyValuePair[]): void {
    for (const { key, value } of pairs) this.env.set(key, value);
  }

  /** The scope a stage built `FROM` this one starts with. */
  fork(): ArgScope {
    return new ArgScope(
      this.#build,
      this.env.clone(),
      this.declared.map((d) => ({ ...d })),
    );
  }
}
