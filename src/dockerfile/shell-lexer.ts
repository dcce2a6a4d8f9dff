/**
 * Dockerfile word expansion, behaving exactly as BuildKit's shell lexer
 * (moby/buildkit frontend/dockerfile/shell/lex.go): quotes, escapes, `$v`, `${v}` and the
 * `${v:-w}`, `${v-w}`, `${v:+w}`, `${v+w}`, `${v:?msg}`, `${v?msg}`, `${v#p}`, `${v##p}`,
 * `${v%p}`, `${v%%p}`, `${v/p/r}`, `${v//p/r}` forms, with BuildKit's error messages.
 *
 * Two BuildKit quirks are kept on purpose, because Docker users see them:
 * - the field-splitting buffer is shared between a word and the nested words of `${v:-w}`-style
 *   modifiers, so text before such a modifier is dropped from `processWords` output
 *   (`8${X:-0}` splits to `["0"]`, while `processWord` gives `80`);
 * - `${v//p/r}` expands Go regexp templates in `r` (`$0` is the match, `$$` a dollar), while
 *   `${v/p/r}` inserts `r` literally.
 */
import { InvalidArgumentError } from '../errors/index.ts';
import { goQuote } from './parser/go-quote.ts';

/** Where expansion looks variables up; a `Map<string, string>` is one. */
export interface EnvLookup {
  get(name: string): string | undefined;
}

export interface ShellLexerOptions {
  /** The Dockerfile escape character: `\` (default) or `` ` ``. */
  escapeToken?: string;
  /** Keep quote characters in the output (BuildKit's `RawQuotes`). */
  rawQuotes?: boolean;
  /** Keep escape characters in the output (BuildKit's `RawEscapes`). */
  rawEscapes?: boolean;
  /** Treat quotes as ordinary characters (BuildKit's `SkipProcessQuotes`). */
  skipProcessQuotes?: boolean;
  /** Leave references to unset variables as written (BuildKit's `SkipUnsetEnv`). */
  skipUnsetEnv?: boolean;
}

export interface ProcessWordResult {
  /** The expanded word. */
  result: string;
  /** The expanded word split into fields. */
  words: string[];
  /** Variables the word looked up and found set, in first-use order. */
  matched: Set<string>;
  /** Variables the word looked up and found unset, in first-use order. */
  unmatched: Set<string>;
}

/** A word that cannot be expanded; the message is BuildKit's (`failed to process "${x": ...`). */
export class ShellWordError extends InvalidArgumentError {}

/** Go's `string(rune(-1))`: what BuildKit prints for an end of input inside a message. */
const REPLACEMENT = '\uFFFD';
const isSpace = (ch: string): boolean => /^\p{White_Space}$/u.test(ch);
const isLetter = (ch: string): boolean => /^\p{L}$/u.test(ch);
const isDigit = (ch: string): boolean => /^\p{Nd}$/u.test(ch);
const isSpecialParam = (ch: string): boolean => '@*#?-$!0'.includes(ch);
const isHeredocSpace = (ch: string | undefined): boolean => ch === '\t' || ch === '\r' || ch === ' ';

/** Code points of `text`, with a leading byte-order mark dropped as Go's text/scanner does. */
function codePoints(text: string): string[] {
  const chars = Array.from(text);
  if (chars[0] === '\uFEFF') chars.shift();
  return chars;
}

/**
 * Expands Dockerfile words the way BuildKit does.
 *
 * @example
 * const lexer = new ShellLexer();
 * const env = new Map([['NAME', 'app'], ['DIR', '/srv/app/data']]);
 * lexer.processWord('${NAME:-x}.tar ${DIR%/*}', env); // 'app.tar /srv/app'
 * lexer.processWords('a "b c" $NAME', env);           // ['a', 'b c', 'app']
 */
export class ShellLexer {
  readonly escapeToken: string;
  rawQuotes: boolean;
  rawEscapes: boolean;
  skipProcessQuotes: boolean;
  skipUnsetEnv: boolean;

  constructor(options: ShellLexerOptions = {}) {
    const escapeToken = options.escapeToken ?? '\\';
    if (escapeToken !== '\\' && escapeToken !== '`') {
      throw new InvalidArgumentError(`Cannot create the shell lexer: invalid escape token '${escapeToken}'`);
    }
    this.escapeToken = escapeToken;
    this.rawQuotes = options.rawQuotes ?? false;
    this.rawEscapes = options.rawEscapes ?? false;
    this.skipProcessQuotes = options.skipProcessQuotes ?? false;
    this.skipUnsetEnv = options.skipUnsetEnv ?? false;
  }

  /** The word with variables expanded and quotes removed (BuildKit's `ProcessWord`). */
  processWord(word: string, env: EnvLookup): string {
    return this.#process(word, env, true).result;
  }

  /** The word expanded and split into fields on unquoted whitespace (BuildKit's `ProcessWords`). */
  processWords(word: string, env: EnvLookup): string[] {
    return this.#process(word, env, false).words;
  }

  /** The expansion plus the variables it used, set or unset (BuildKit's `ProcessWordWithMatches`). */
  processWordWithMatches(word: string, env: EnvLookup): ProcessWordResult {
    return this.#process(word, env, true);
  }

  #process(word: string, env: EnvLookup, capture: boolean): ProcessWordResult {
    const processor = new WordProcessor(this, word, env, capture);
    try {
      const { result, words } = processor.processStopOn(undefined, this.rawEscapes);
      return { result, words, matched: processor.matched, unmatched: processor.unmatched };
    } catch (error) {
      if (error instanceof ExpansionFailure) {
        throw new ShellWordError(`failed to process ${goQuote(word)}: ${error.message}`);
      }
      throw error;
    }
  }
}

/** Expands one word with a fresh lexer; see {@link ShellLexer.processWord}. */
export function processWord(word: string, env: EnvLookup, options: ShellLexerOptions = {}): string {
  return new ShellLexer(options).processWord(word, env);
}

/** Expands and splits one word with a fresh lexer; see {@link ShellLexer.processWords}. */
export function processWords(word: string, env: EnvLookup, options: ShellLexerOptions = {}): string[] {
  return new ShellLexer(options).processWords(word, env);
}

/** Expands one word and reports the variables it used; see {@link ShellLexer.processWordWithMatches}. */
export function processWordWithMatches(
  word: string,
  env: EnvLookup,
  options: ShellLexerOptions = {},
): ProcessWordResult {
  return new ShellLexer(options).processWordWithMatches(word, env);
}

/**
 * Environment from `KEY=value` strings, as BuildKit's `EnvsFromSlice`: the last entry of a key
 * wins and an entry without `=` sets the key to "".
 */
export function envFromList(entries: readonly string[]): Map<string, string> {
  const env = new Map<string, string>();
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq < 0) env.set(entry, '');
    else env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return env;
}

/** An internal failure, wrapped with the source word by {@link ShellLexer}. */
class ExpansionFailure extends Error {}

/** Accumulates fields; the character buffer belongs to the processor (see the file comment). */
interface WordsState {
  words: string[];
  inWord: boolean;
}

/** One expansion: a scanner over the word plus BuildKit's shellWord state. */
class WordProcessor {
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();
  readonly #lexer: ShellLexer;
  readonly #chars: string[];
  readonly #env: EnvLookup;
  readonly #capture: boolean;
  #pos = 0;
  #rawEscapes: boolean;
  /** Shared by every nested processStopOn call, as BuildKit's shellWord.wordsBuffer is. */
  #wordsBuffer = '';

  constructor(lexer: ShellLexer, word: string, env: EnvLookup, capture: boolean) {
    this.#lexer = lexer;
    this.#chars = codePoints(word);
    this.#env = env;
    this.#capture = capture;
    this.#rawEscapes = lexer.rawEscapes;
  }

  #peek(): string | undefined {
    return this.#chars[this.#pos];
  }

  #next(): string | undefined {
    const ch = this.#chars[this.#pos];
    if (ch !== undefined) this.#pos++;
    return ch;
  }

  #addChar(w: WordsState, ch: string): void {
    if (isSpace(ch)) {
      if (w.inWord && this.#wordsBuffer.length !== 0) {
        w.words.push(this.#wordsBuffer);
        this.#wordsBuffer = '';
        w.inWord = false;
      }
    } else {
      this.#addRawString(w, ch);
    }
  }

  #addRawString(w: WordsState, text: string): void {
    this.#wordsBuffer += text;
    w.inWord = true;
  }

  #getWords(w: WordsState): string[] {
    if (this.#wordsBuffer.length > 0) {
      w.words.push(this.#wordsBuffer);
      this.#wordsBuffer = '';
      w.inWord = false;
    }
    return w.words;
  }

  /** Processes up to `stopChar` (consumed) or the end of the word when it is undefined. */
  processStopOn(stopChar: string | undefined, rawEscapes: boolean): { result: string; words: string[] } {
    const saved = this.#rawEscapes;
    this.#rawEscapes = rawEscapes;
    try {
      return this.#processStopOn(stopChar);
    } finally {
      this.#rawEscapes = saved;
    }
  }

  #processStopOn(stopChar: string | undefined): { result: string; words: string[] } {
    let result = '';
    this.#wordsBuffer = '';
    const words: WordsState = { words: [], inWord: false };
    const processQuotes = !this.#lexer.skipProcessQuotes;
    const escapeToken = this.#lexer.escapeToken;

    for (let ch = this.#peek(); ch !== undefined; ch = this.#peek()) {
      if (stopChar !== undefined && ch === stopChar) {
        this.#next();
        return { result, words: this.#getWords(words) };
      }
      let special: string | undefined;
      if (ch === '$') special = this.#processDollar();
      else if (ch === '<') special = this.#processPossibleHeredoc();
      else if (processQuotes && ch === "'") special = this.#processSingleQuote();
      else if (processQuotes && ch === '"') special = this.#processDoubleQuote();
      if (special !== undefined) {
        result += special;
        if (ch === '$') for (const c of special) this.#addChar(words, c);
        else this.#addRawString(words, special);
        continue;
      }
      let c = this.#next()!;
      if (c === escapeToken) {
        if (this.#rawEscapes) {
          this.#addRawString(words, c);
          result += c;
        }
        // The escape character escapes the next one; at the end of the word it vanishes.
        const escaped = this.#next();
        if (escaped === undefined) break;
        c = escaped;
        this.#addRawString(words, c);
      } else {
        this.#addChar(words, c);
      }
      result += c;
    }
    if (stopChar !== undefined) {
      throw new ExpansionFailure(`unexpected end of statement while looking for matching ${stopChar}`);
    }
    return { result, words: this.#getWords(words) };
  }

  #processSingleQuote(): string {
    // Everything up to the next single quote is literal; a single quote cannot be escaped.
    let result = '';
    const open = this.#next()!;
    if (this.#lexer.rawQuotes) result += open;
    for (;;) {
      const ch = this.#next();
      if (ch === undefined) {
        throw new ExpansionFailure('unexpected end of statement while looking for matching single-quote');
      }
      if (ch === "'") {
        if (this.#lexer.rawQuotes) result += ch;
        return result;
      }
      result += ch;
    }
  }

  #processDoubleQuote(): string {
    // Literal except `$`; the escape character escapes only `"`, `$` and itself.
    let result = '';
    const escapeToken = this.#lexer.escapeToken;
    const open = this.#next()!;
    if (this.#lexer.rawQuotes) result += open;
    for (;;) {
      const peeked = this.#peek();
      if (peeked === undefined) {
        throw new ExpansionFailure('unexpected end of statement while looking for matching double-quote');
      }
      if (peeked === '"') {
        this.#next();
        if (this.#lexer.rawQuotes) result += peeked;
        return result;
      }
      if (peeked === '$') {
        result += this.#processDollar();
        continue;
      }
      let ch = this.#next()!;
      if (ch === escapeToken) {
        if (this.#rawEscapes) result += ch;
        const after = this.#peek();
        if (after === undefined) continue; // the loop then reports the missing quote
        if (after === '"' || after === '$' || after === escapeToken) ch = this.#next()!;
      }
      result += ch;
    }
  }

  #processDollar(): string {
    this.#next();
    if (this.#peek() !== '{') {
      const name = this.#processName();
      if (name === '') return '$';
      const value = this.#getEnv(name);
      if (value === undefined && this.#lexer.skipUnsetEnv) return '$' + name;
      return value ?? '';
    }

    this.#next();
    const first = this.#peek();
    if (first === undefined) throw new ExpansionFailure("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') {
      throw new ExpansionFailure('syntax error: bad substitution');
    }
    const name = this.#processName();
    let ch = this.#next();
    let chs = ch ?? REPLACEMENT;

    if (ch === '}') {
      const value = this.#getEnv(name);
      if (value === undefined && this.#lexer.skipUnsetEnv) return '${' + name + '}';
      return value ?? '';
    }
    if (ch === '/') return this.#processReplace(name);

    let nullIsUnset = false;
    if (ch === ':') {
      nullIsUnset = true;
      ch = this.#next();
      chs += ch ?? REPLACEMENT;
    } else if (ch !== '+' && ch !== '-' && ch !== '?' && ch !== '#' && ch !== '%') {
      throw new ExpansionFailure(`unsupported modifier (${chs}) in substitution`);
    }

    const trims = ch === '#' || ch === '%';
    if (nullIsUnset && trims) throw new ExpansionFailure(`unsupported modifier (${chs}) in substitution`);
    let word = this.#nestedStopOn('}', trims, "syntax error: missing '}'");

    const value = this.#getEnv(name);
    if (this.#lexer.skipUnsetEnv && value === undefined) return '${' + name + chs + word + '}';
    const unset = value === undefined || (nullIsUnset && value === '');
    switch (ch) {
      case '-':
        return unset ? word : value!;
      case '+':
        return unset ? '' : word;
      case '?':
        if (value === undefined) {
          throw new ExpansionFailure(`${name}: ${word !== '' ? word : 'is not allowed to be unset'}`);
        }
        if (nullIsUnset && value === '') {
          throw new ExpansionFailure(`${name}: ${word !== '' ? word : 'is not allowed to be empty'}`);
        }
        return value;
      case '#':
      case '%': {
        // One `#`/`%` removes the shortest match, two the longest.
        const greedy = word.startsWith(ch);
        if (greedy) word = word.slice(1);
        return ch === '%' ? trimSuffix(word, value ?? '', greedy) : trimPrefix(word, value ?? '', greedy);
      }
      default:
        throw new ExpansionFailure(`unsupported modifier (${chs}) in substitution`);
    }
  }

  /** `${name/pattern/replacement}` and `${name//pattern/replacement}`, after the first `/`. */
  #processReplace(name: string): string {
    const replaceAll = this.#peek() === '/';
    if (replaceAll) this.#next();
    // biome-ignore lint/suspicious/noTemplateCurlyInString: BuildKit's message names the ${} syntax
    const pattern = this.#nestedStopOn('/', true, "syntax error: missing '/' in ${}");
    const replacement = this.#nestedStopOn('}', true, "syntax error: missing '}'");

    const value = this.#getEnv(name);
    if (this.#lexer.skipUnsetEnv && value === undefined)
      return '${' + name + '/' + pattern + '/' + replacement + '}';
    const re = patternToRegExp(pattern, true, false);
    const subject = value ?? '';
    if (replaceAll) return goReplaceAll(re, subject, replacement);
    re.lastIndex = 0;
    const match = re.exec(subject);
    if (!match) return subject;
    return subject.slice(0, match.index) + replacement + subject.slice(match.index + match[0].length);
  }

  /** A nested word up to `stopChar`; a failure at the end of input becomes `eofMessage`. */
  #nestedStopOn(stopChar: string, rawEscapes: boolean, eofMessage: string): string {
    try {
      return this.processStopOn(stopChar, rawEscapes).result;
    } catch (error) {
      if (error instanceof ExpansionFailure && this.#peek() === undefined)
        throw new ExpansionFailure(eofMessage);
      throw error;
    }
  }

  /** A variable name: letters, digits and `_`; or all the digits of a positional parameter; or one special parameter. */
  #processName(): string {
    let name = '';
    for (let ch = this.#peek(); ch !== undefined; ch = this.#peek()) {
      if (name === '' && isDigit(ch)) {
        while (this.#peek() !== undefined && isDigit(this.#peek()!)) name += this.#next();
        return name;
      }
      if (name === '' && isSpecialParam(ch)) return this.#next()!;
      if (!isLetter(ch) && !isDigit(ch) && ch !== '_') break;
      name += this.#next();
    }
    return name;
  }

  /** `<` is literal; `<<` swallows the blanks after it so a heredoc word stays one field. */
  #processPossibleHeredoc(): string {
    this.#next();
    if (this.#peek() !== '<') return '<';
    this.#next();
    let space = '';
    while (isHeredocSpace(this.#peek())) space += this.#next();
    return '<<' + space;
  }

  #getEnv(name: string): string | undefined {
    const value = this.#env.get(name);
    if (this.#capture) (value !== undefined ? this.matched : this.unmatched).add(name);
    return value;
  }
}

/**
 * A shell pattern (`*` any string, `?` one character, `\` quoting `*`, `?` and `\`; no bracket
 * expressions) as a regular expression, with BuildKit's rules and errors. `\}` and `\/` stand
 * for `}` and `/`. `.` never matches a newline, as in Go.
 */
function patternToRegExp(pattern: string, greedy: boolean, anchored: boolean): RegExp {
  const chars = codePoints(pattern);
  let source = anchored ? '^' : '';
  const star = greedy ? '[^\\n]*' : '[^\\n]*?';
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '*') {
      source += star;
    } else if (ch === '?') {
      source += '[^\\n]';
    } else if (ch === '\\') {
      const after = chars[i + 1];
      if (after === '}' || after === '/') continue;
      i++;
      if (after !== '*' && after !== '?' && after !== '\\') {
        throw new ExpansionFailure(
          `invalid pattern (${pattern}) in substitution: invalid escape '\\${after ?? REPLACEMENT}'`,
        );
      }
      source += '\\' + after;
    } else {
      source += /[\^$\\.*+?()[\]{}|/]/.test(ch) ? '\\' + ch : ch;
    }
  }
  return new RegExp(source, 'gu');
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const re = patternToRegExp(pattern, greedy, true);
  re.lastIndex = 0;
  const match = re.exec(value);
  return match ? value.slice(match.index + match[0].length) : value;
}

/** Reverses a pattern keeping `\x` pairs in order (`a\*c` -> `c\*a`). */
function reversePattern(pattern: string): string {
  const chars = Array.from(pattern);
  const out: string[] = new Array(chars.length);
  const last = chars.length - 1;
  for (let i = 0; i <= last; ) {
    const ch = chars[i]!;
    if (ch === '\\' && i !== last) {
      out[last - i - 1] = ch;
      out[last - i] = chars[i + 1]!;
      i += 2;
    } else {
      out[last - i] = ch;
      i++;
    }
  }
  return out.join('');
}

const reverseString = (text: string): string => Array.from(text).reverse().join('');

/** A regexp cannot find the shortest rightmost match, so both sides are reversed (as BuildKit). */
function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverseString(trimPrefix(reversePattern(pattern), reverseString(value), greedy));
}

/** Go's Regexp.ReplaceAllString: empty matches right after a match are skipped; `repl` is a template. */
function goReplaceAll(re: RegExp, subject: string, template: string): string {
  let out = '';
  let lastMatchEnd = 0;
  let searchPos = 0;
  while (searchPos <= subject.length) {
    re.lastIndex = searchPos;
    const match = re.exec(subject);
    if (!match) break;
    const start = match.index;
    const end = start + match[0].length;
    out += subject.slice(lastMatchEnd, start);
    if (end > lastMatchEnd || start === 0) out += expandGoTemplate(template, match[0]);
    lastMatchEnd = end;
    const width =
      searchPos < subject.length ? String.fromCodePoint(subject.codePointAt(searchPos)!).length : 0;
    if (searchPos + width > end) searchPos += width;
    else if (searchPos + 1 > end) searchPos++;
    else searchPos = end;
  }
  return out + subject.slice(lastMatchEnd);
}

/** Go's Regexp.Expand for a pattern without groups: `$$` is `$`, `$0`/`${0}` the match, other names "". */
function expandGoTemplate(template: string, matched: string): string {
  let out = '';
  let rest = template;
  for (;;) {
    const dollar = rest.indexOf('$');
    if (dollar < 0) break;
    out += rest.slice(0, dollar);
    rest = rest.slice(dollar + 1);
    if (rest.startsWith('$')) {
      out += '$';
      rest = rest.slice(1);
      continue;
    }
    const ref = /^(?:\{([\p{L}\p{Nd}_]+)\}|([\p{L}\p{Nd}_]+))/u.exec(rest);
    if (!ref) {
      out += '$'; // malformed: the dollar stays as text
      continue;
    }
    rest = rest.slice(ref[0].length);
    if ((ref[1] ?? ref[2]) === '0') out += matched;
  }
  return out + rest;
}
