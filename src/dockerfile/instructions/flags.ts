/**
 * Instruction flags (`--from=x`, `--link`, `--mount=...`) as BuildKit's BFlags parses them
 * (frontend/dockerfile/instructions/bflag.go): each instruction declares its flags, then the
 * written flags are checked in order with BuildKit's messages and suggestions.
 */
import { levenshtein } from '../parser/suggest.ts';

export type FlagType = 'bool' | 'string' | 'strings';

interface FlagState {
  type: FlagType;
  value: string;
  values: string[];
  used: boolean;
}

/** A flag value BuildKit would refuse; the message is BuildKit's. */
export class FlagError extends Error {}

/**
 * BuildKit's case-sensitive suggestion (util/suggest with caseSensitive): the option closest
 * to `value` by edit distance, below 3; none when `value` is itself an option.
 */
export function suggestCaseSensitive(value: string, options: readonly string[]): string | undefined {
  let best = 3;
  let match: string | undefined;
  for (const option of options) {
    if (option === value) return undefined;
    const distance = levenshtein(value, option);
    if (distance < best) {
      best = distance;
      match = option;
    }
  }
  return match;
}

/** Appends BuildKit's ` (did you mean x?)` when a close option exists. */
export function withSuggestion(message: string, value: string, options: readonly string[]): string {
  const match = suggestCaseSensitive(value, options);
  return match === undefined ? message : `${message} (did you mean ${match}?)`;
}

/**
 * The flags one instruction accepts, then {@link InstructionFlags.parse} of what was written.
 *
 * @example
 * const flags = new InstructionFlags(['--from=build', '--link']);
 * flags.addString('from', '');
 * flags.addBool('link', false);
 * flags.parse();
 * flags.string('from'); // 'build'
 * flags.bool('link');   // true
 */
export class InstructionFlags {
  readonly args: readonly string[];
  readonly #flags = new Map<string, FlagState>();

  constructor(args: readonly string[]) {
    this.args = args;
  }

  addBool(name: string, defaultValue: boolean): void {
    this.#add(name, 'bool', defaultValue ? 'true' : 'false');
  }

  addString(name: string, defaultValue: string): void {
    this.#add(name, 'string', defaultValue);
  }

  addStrings(name: string): void {
    this.#add(name, 'strings', '');
  }

  #add(name: string, type: FlagType, value: string): void {
    if (this.#flags.has(name)) throw new Error(`Duplicate flag defined: ${name}`);
    this.#flags.set(name, { type, value, values: [], used: false });
  }

  /** Checks the written flags; throws {@link FlagError} with BuildKit's message for the first bad one. */
  parse(): void {
    for (const arg of this.args) {
      // A bare `--` ends the flags (POSIX utility syntax).
      if (arg === '--') return;
      if (!arg.startsWith('--')) throw new FlagError(`arg should start with -- : ${arg}`);
      const eq = arg.indexOf('=');
      const flagName = eq >= 0 ? arg.slice(0, eq) : arg;
      const value = eq >= 0 ? arg.slice(eq + 1) : '';
      const hasValue = eq >= 0;
      const name = flagName.slice(2);
      const flag = this.#flags.get(name);
      if (!flag) {
        throw new FlagError(withSuggestion(`unknown flag: ${flagName}`, name, [...this.#flags.keys()]));
      }
      if (flag.used && flag.type !== 'strings') throw new FlagError(`duplicate flag specified: ${flagName}`);
      flag.used = true;
      switch (flag.type) {
        case 'bool':
          if (hasValue && value === '') throw new FlagError(`missing a value on flag: ${flagName}`);
          switch (value.toLowerCase()) {
            case 'true':
            case '':
              flag.value = 'true';
              break;
            case 'false':
              flag.value = 'false';
              break;
            default:
              throw new FlagError(`expecting boolean value for flag ${flagName}, not: ${value}`);
          }
          break;
        case 'string':
          if (!hasValue) throw new FlagError(`missing a value on flag: ${flagName}`);
          flag.value = value;
          break;
        case 'strings':
          if (!hasValue) throw new FlagError(`missing a value on flag: ${flagName}`);
          flag.values.push(value);
          break;
      }
    }
  }

  #get(name: string): FlagState {
    const flag = this.#flags.get(name);
    if (!flag) throw new Error(`flag ${name} was not declared`);
    return flag;
  }

  bool(name: string): boolean {
    return this.#get(name).value === 'true';
  }

  string(name: string): string {
    return this.#get(name).value;
  }

  strings(name: string): string[] {
    return [...this.#get(name).values];
  }

  isUsed(name: string): boolean {
    return this.#get(name).used;
  }

  /** The declared flags that were written, in declaration order. */
  used(): string[] {
    return [...this.#flags].filter(([, flag]) => flag.used).map(([name]) => name);
  }
}
