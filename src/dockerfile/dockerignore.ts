/**
 * `.dockerignore` files with Docker's exact semantics: the file reader of moby/patternmatcher's
 * `ignorefile.ReadAll`, the pattern compiler of `patternmatcher.New`/`Pattern.compile`, and the
 * per-pattern parent tracking BuildKit's context walker (tonistiigi/fsutil) uses.
 *
 * Why not @balena/dockerignore: it ports moby 19.03, and differs from today's Docker on inputs
 * real projects have: `+`, `(`, `)`, `|`, `{`, `}` stay regexp operators (so Python wheel names
 * such as `pkg-1.0+g08.whl` never match themselves), `**name` does not suffix-match `xname`, a
 * bare `!` is silently dropped instead of failing, malformed classes (`[`) are accepted, and
 * exceptions are checked against only one parent directory. test/unit/dockerfile/dockerignore.test.ts
 * runs moby's patternmatcher cases against both and shows each difference.
 *
 * Matching is case-sensitive, paths are relative to the context root and `/`-separated.
 */
import { readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { isErrno } from '../errors/index.ts';
import { DockerfileError } from './errors.ts';

/** One cleaned pattern of an ignore file. */
export interface IgnorePattern {
  /** The pattern after cleaning, without its `!`. */
  readonly pattern: string;
  /** True for `!` lines: an exception that re-includes what earlier lines excluded. */
  readonly exclusion: boolean;
  /** 1-based line in the ignore file (0 for patterns given directly). */
  readonly line: number;
}

/**
 * Per-pattern results for a directory, passed down to its children while walking
 * (patternmatcher's `MatchInfo`).
 */
export type IgnoreMatchInfo = readonly boolean[];

/** Go's filepath.Clean for `/` paths. */
export function cleanPath(path: string): string {
  if (path === '') return '.';
  const normalized = posix.normalize(path);
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
}

/**
 * The rules of one ignore file.
 *
 * @example
 * const ignore = DockerIgnore.parse('*.md\n!README.md\nnode_modules\n');
 * ignore.matches('docs/x.md');         // false: `*` does not cross `/`
 * ignore.matches('CHANGES.md');        // true
 * ignore.matches('README.md');         // false
 * ignore.matches('node_modules/a/b');  // true: a parent directory matched
 */
export class DockerIgnore {
  /** The file the rules came from (for messages), or undefined when there was none. */
  readonly file: string | undefined;
  readonly patterns: readonly IgnorePattern[];
  /** True when some line is an exception (`!`). */
  readonly hasExclusions: boolean;
  /** True when every exception is a plain path (bar a trailing `/*` or `/**`): fsutil's fast path. */
  readonly #onlyPrefixExceptions: boolean;
  readonly #compiled: CompiledPattern[];

  private constructor(file: string | undefined, patterns: IgnorePattern[]) {
    this.file = file;
    this.patterns = patterns;
    this.#compiled = patterns.map((p) => compilePattern(p, file ?? '.dockerignore'));
    this.hasExclusions = patterns.some((p) => p.exclusion);
    this.#onlyPrefixExceptions = patterns.every(
      (p) => !p.exclusion || !/[*[\]?^\\]/.test(patternWithoutTrailingGlob(p.pattern)),
    );
  }

  /** No rules: nothing is excluded. */
  static empty(): DockerIgnore {
    return new DockerIgnore(undefined, []);
  }

  /**
   * Parses ignore-file text as Docker's `ignorefile.ReadAll` then `patternmatcher.New` do.
   * Errors (a bare `!`, a malformed pattern) name `file` and the line.
   */
  static parse(text: string, file = '.dockerignore'): DockerIgnore {
    const entries: { text: string; line: number }[] = [];
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    lines.forEach((raw, index) => {
      let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (index === 0 && line.startsWith('\uFEFF')) line = line.slice(1);
      if (Buffer.byteLength(line) > 64 * 1024) {
        throw new DockerfileError(file, index + 1, 'line too long: ignore-file lines are limited to 64 KiB');
      }
      // Only a `#` in column 1 starts a comment.
      if (line.startsWith('#')) return;
      let pattern = line.trim();
      if (pattern === '') return;
      // A leading `/` is dropped: the context root is both the working and the root directory.
      const invert = pattern.startsWith('!');
      if (invert) pattern = pattern.slice(1).trim();
      if (pattern.length > 0) {
        pattern = cleanPath(pattern);
        if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
      }
      entries.push({ text: invert ? `!${pattern}` : pattern, line: index + 1 });
    });
    return new DockerIgnore(file, newPatterns(entries, file));
  }

  /**
   * Rules from pattern strings (`!` for exceptions), as patternmatcher.New takes them
   * (COPY --exclude values, build options).
   */
  static fromPatterns(list: readonly string[], source = '--exclude'): DockerIgnore {
    return new DockerIgnore(
      source,
      newPatterns(
        list.map((text) => ({ text, line: 0 })),
        source,
      ),
    );
  }

  /**
   * Reads the ignore rules for a build: `<Dockerfile>.dockerignore` beside the Dockerfile when it
   * exists (it wins), else `.dockerignore` at the context root, else no rules.
   */
  static async load(contextDir: string, options: { dockerfile?: string } = {}): Promise<DockerIgnore> {
    const candidates: string[] = [];
    if (options.dockerfile !== undefined) {
      candidates.push(`${options.dockerfile}.dockerignore`);
    }
    candidates.push(join(contextDir, '.dockerignore'));
    for (const candidate of candidates) {
      let text: string;
      try {
        text = await readFile(candidate, 'utf8');
      } catch (error) {
        if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) continue;
        throw error;
      }
      return DockerIgnore.parse(text, candidate);
    }
    return DockerIgnore.empty();
  }

  /**
   * Whether `path` is excluded, checking each pattern against the path and its parent
   * directories (patternmatcher's `MatchesOrParentMatches`). For one-off questions; walkers use
   * {@link DockerIgnore.matchWithParent}.
   */
  matches(path: string): boolean {
    const file = cleanPath(path);
    if (file === '.') return false; // the context root itself is never excluded
    const parent = posix.dirname(file);
    const parentDirs = parent === '.' ? [] : parent.split('/');
    let matched = false;
    for (const pattern of this.#compiled) {
      if (pattern.exclusion !== matched) continue;
      let match = pattern.match(file);
      for (let i = 0; !match && i < parentDirs.length; i++) {
        match = pattern.match(parentDirs.slice(0, i + 1).join('/'));
      }
      if (match) matched = !pattern.exclusion;
    }
    return matched;
  }

  /**
   * Whether `path` is excluded, given the results of its parent directory (undefined at the top
   * level). Once a directory matched a pattern, everything below it matches that pattern too:
   * this is patternmatcher's `MatchesUsingParentResults`, which BuildKit's context walker uses.
   */
  matchWithParent(
    path: string,
    parent: IgnoreMatchInfo | undefined,
  ): { excluded: boolean; info: IgnoreMatchInfo } {
    const info: boolean[] = new Array(this.#compiled.length).fill(false);
    let matched = false;
    this.#compiled.forEach((pattern, i) => {
      let match = parent?.[i] ?? false;
      if (!match) {
        if (pattern.exclusion !== matched) return;
        match = pattern.match(path);
        if (!match && parent === undefined) {
          const dir = posix.dirname(path);
          const dirs = dir === '.' ? [] : dir.split('/');
          for (let k = 0; !match && k < dirs.length; k++)
            match = pattern.match(dirs.slice(0, k + 1).join('/'));
        }
      }
      info[i] = match;
      if (match) matched = !pattern.exclusion;
    });
    return { excluded: matched, info };
  }

  /**
   * Whether a walker may skip an excluded directory without looking inside: true unless an
   * exception could re-include something below it (fsutil's rule, so the same directories
   * are read).
   */
  canSkipExcludedDir(dirPath: string): boolean {
    if (!this.#onlyPrefixExceptions) return false;
    if (!this.hasExclusions) return true;
    const dirSlash = `${dirPath}/`;
    return !this.patterns.some(
      (p) => p.exclusion && `${patternWithoutTrailingGlob(p.pattern)}/`.startsWith(dirSlash),
    );
  }
}

/** patternmatcher.New: trim, skip blanks, clean, split off `!` (a bare `!` is an error). */
function newPatterns(entries: readonly { text: string; line: number }[], file: string): IgnorePattern[] {
  const patterns: IgnorePattern[] = [];
  for (const entry of entries) {
    let pattern = entry.text.trim();
    if (pattern === '') continue;
    pattern = cleanPath(pattern);
    const exclusion = pattern.startsWith('!');
    if (exclusion) {
      if (pattern.length === 1) throw new DockerfileError(file, entry.line, 'illegal exclusion pattern: "!"');
      pattern = pattern.slice(1);
    }
    patterns.push({ pattern, exclusion, line: entry.line });
  }
  return patterns;
}

function patternWithoutTrailingGlob(pattern: string): string {
  let p = pattern;
  if (p.endsWith('/**')) p = p.slice(0, -3);
  if (p.endsWith('/*')) p = p.slice(0, -2);
  return p;
}

interface CompiledPattern {
  exclusion: boolean;
  match(path: string): boolean;
}

/** Characters patternmatcher escapes: regexp operators with no meaning in filepath.Match. */
const ESCAPED = new Set(['.', '+', '(', ')', '|', '{', '}', '$']);
/** JS (`u` mode) escapes equal to Go's for the letter escapes a pattern may use. */
const LETTER_ESCAPES = new Set(['d', 'D', 'w', 'W', 't', 'n', 'r', 'f', 'v']);
const SYNTAX_CHARS = /[\^$\\.*+?()[\]{}|/]/;

/** Compiles one pattern as patternmatcher does: exact, prefix (`a**`), suffix (`**a`) or regexp. */
function compilePattern(p: IgnorePattern, file: string): CompiledPattern {
  const bad = (why: string) =>
    new DockerfileError(file, p.line, `syntax error in pattern ${JSON.stringify(p.pattern)}: ${why}`);
  const problem = checkGoMatchSyntax(p.pattern);
  if (problem) throw bad(problem);

  const chars = Array.from(p.pattern);
  if (chars[0] === '\uFEFF') chars.shift(); // Go's text/scanner drops a leading BOM
  let type: 'exact' | 'prefix' | 'suffix' | 'regexp' = 'exact';
  let source = '^';
  let inClass = false;
  for (let pos = 0, i = 0; pos < chars.length; i++) {
    const ch = chars[pos++]!;
    if (ch === '*') {
      if (chars[pos] === '*') {
        pos++;
        if (chars[pos] === '/') pos++; // `**/` is `**`
        if (pos >= chars.length) {
          if (type === 'exact') type = 'prefix';
          else {
            source += '[^\\n]*';
            type = 'regexp';
          }
        } else {
          source += '(?:[^\\n]*/)?';
          type = 'regexp';
        }
        if (i === 0) type = 'suffix';
      } else {
        source += '[^/]*';
        type = 'regexp';
      }
    } else if (ch === '?') {
      source += '[^/]';
      type = 'regexp';
    } else if (ESCAPED.has(ch)) {
      source += '\\' + ch;
    } else if (ch === '\\') {
      const next = chars[pos++];
      if (next === undefined) throw bad('trailing backslash');
      type = 'regexp';
      if (/^[!-/:-@[-`{-~]$/.test(next)) {
        source += SYNTAX_CHARS.test(next)
          ? '\\' + next
          : `\\x${next.charCodeAt(0).toString(16).padStart(2, '0')}`;
      } else if (LETTER_ESCAPES.has(next)) {
        source += '\\' + next;
      } else {
        throw bad(`unsupported escape '\\${next}'`);
      }
    } else if (ch === '[') {
      source += inClass ? '\\[' : '[';
      inClass = true;
      type = 'regexp';
    } else if (ch === ']') {
      source += inClass ? ']' : '\\]';
      inClass = false;
      type = 'regexp';
    } else {
      source += ch; // `^` stays an anchor, as in Go
    }
  }

  const text = p.pattern;
  switch (type) {
    case 'exact':
      return { exclusion: p.exclusion, match: (path) => path === text };
    case 'prefix': {
      const prefix = text.slice(0, -2);
      return { exclusion: p.exclusion, match: (path) => path.startsWith(prefix) };
    }
    case 'suffix': {
      const suffix = text.slice(2);
      return {
        exclusion: p.exclusion,
        match: (path) => path.endsWith(suffix) || (suffix.startsWith('/') && path === suffix.slice(1)),
      };
    }
    case 'regexp': {
      let re: RegExp;
      try {
        re = new RegExp(source + '$', 'u');
      } catch (error) {
        throw bad((error as Error).message);
      }
      return { exclusion: p.exclusion, match: (path) => re.test(path) };
    }
  }
}

/**
 * The syntax check Go's filepath.Match applies (patternmatcher calls it on every pattern):
 * character classes must be closed and well formed, and `\` must escape something.
 * Returns the problem, or undefined when the pattern is valid.
 */
function checkGoMatchSyntax(pattern: string): string | undefined {
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; ) {
    const ch = chars[i++]!;
    if (ch === '\\') {
      if (i >= chars.length) return 'trailing backslash';
      i++;
    } else if (ch === '[') {
      if (chars[i] === '^') i++;
      let ranges = 0;
      for (;;) {
        if (chars[i] === ']' && ranges > 0) {
          i++;
          break;
        }
        // One class atom, then an optional `-atom`.
        const atom = (): string | undefined => {
          const c = chars[i];
          if (c === undefined || c === '-' || c === ']') return 'malformed character class';
          if (c === '\\') {
            i++;
            if (chars[i] === undefined) return 'malformed character class';
          }
          i++;
          if (i >= chars.length) return 'unterminated character class';
          return undefined;
        };
        const lo = atom();
        if (lo) return lo;
        if (chars[i] === '-') {
          i++;
          const hi = atom();
          if (hi) return hi;
        }
        ranges++;
      }
    }
  }
  return undefined;
}
