/**
 * Heredoc words (`<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`) as BuildKit's parser reads them
 * (parser.go: ParseHeredoc, heredocsFromLine). The parser uses these to find the heredocs of RUN,
 * COPY and ADD; the instruction layer uses them to tell heredoc sources from paths.
 */
import type { Heredoc } from './ast.ts';
import { ShellLexer, ShellWordError } from './shell-lexer.ts';

/** `[fd]<<[-][blanks]word`, Go's `\s` being [\t\n\f\r ]. */
const HEREDOC_WORD = /^(\d*)<<(-?)[\t\n\f\r ]*([^<]*)$/;
const NO_VARIABLES = new Map<string, string>();
/** Printable ASCII the shell lexer passes through unchanged: no blank, quote, escape or `$`. */
const PLAIN_DELIMITER = /^[!#%&(-;=-[\]-~]+$/;
/** A line whose heredoc words need no shell lexer: ASCII, no quote, escape or `$`. */
const PLAIN_LINE = /^[\t-\r -!#%&(-[\]-\x7f]*$/;
/** The largest value of Go's uint, where strconv.ParseUint saturates. */
const MAX_FD = 2 ** 64 - 1;

const countQuotes = (text: string): number => {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x22 || code === 0x27) count++;
  }
  return count;
};

/**
 * The heredoc a word starts, or undefined when it is not one. The body is not known here
 * (`content` is ""). A delimiter with any quoted part (`<<"EOF"`, `<<E'O'F`) turns expansion off.
 *
 * @example
 * parseHeredocWord('<<-"EOF"'); // { name: 'EOF', content: '', expand: false, chomp: true }
 * parseHeredocWord('3<<X');     // { name: 'X', content: '', expand: true, chomp: false, fileDescriptor: 3 }
 * @throws ShellWordError when the delimiter cannot be lexed (`<<${a:-'}`)
 */
export function parseHeredocWord(word: string): Heredoc | undefined {
  const match = HEREDOC_WORD.exec(word);
  if (!match) return undefined;
  const [, fd = '', chomp, rest = ''] = match;
  if (rest === '') return undefined;

  let name = rest;
  let expand = true;
  // A plain delimiter (the usual EOF) is its own single word; anything else goes to the lexer.
  if (!PLAIN_DELIMITER.test(rest)) {
    // Lex the delimiter with and without its quotes: when the two differ, part of it is quoted.
    const words = new ShellLexer({ skipUnsetEnv: true }).processWords(rest, NO_VARIABLES);
    if (words.length !== 1) return undefined;
    const rawWords = new ShellLexer({ skipUnsetEnv: true, rawQuotes: true }).processWords(rest, NO_VARIABLES);
    if (rawWords.length !== words.length) {
      throw new ShellWordError(`internal lexing of heredoc produced inconsistent results: ${rest}`);
    }
    name = words[0]!;
    expand = countQuotes(name) === countQuotes(rawWords[0]!);
  }
  const heredoc: Heredoc = { name, content: '', expand, chomp: chomp === '-' };
  if (fd !== '') heredoc.fileDescriptor = Math.min(Number(fd), MAX_FD);
  return heredoc;
}

/** {@link parseHeredocWord}, with undefined for a word that cannot be lexed (BuildKit's MustParseHeredoc). */
export function mustParseHeredocWord(word: string): Heredoc | undefined {
  try {
    return parseHeredocWord(word);
  } catch (error) {
    if (error instanceof ShellWordError) return undefined;
    throw error;
  }
}

/**
 * The heredocs a whole instruction line opens, in order (`COPY <<A <<B /dst` gives A then B).
 * A line the shell lexer cannot split has none, as in BuildKit.
 *
 * @throws ShellWordError when a heredoc delimiter cannot be lexed
 */
export function heredocsFromLine(line: string): Heredoc[] {
  let words: string[];
  if (PLAIN_LINE.test(line)) {
    words = plainWords(line);
  } else {
    try {
      words = new ShellLexer({ rawQuotes: true, rawEscapes: true, skipUnsetEnv: true }).processWords(
        line,
        NO_VARIABLES,
      );
    } catch (error) {
      if (error instanceof ShellWordError) return [];
      throw error;
    }
  }
  const heredocs: Heredoc[] = [];
  for (const word of words) {
    const heredoc = parseHeredocWord(word);
    if (heredoc) heredocs.push(heredoc);
  }
  return heredocs;
}

/**
 * The shell lexer's words of a plain line (see PLAIN_LINE), without running it: blanks split
 * words, except the tabs, CRs and spaces right after a `<<`, which stay in the heredoc's word.
 */
function plainWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  for (let pos = 0; pos < line.length; pos++) {
    const code = line.charCodeAt(pos);
    if (code === 0x20 || (code >= 0x09 && code <= 0x0d)) {
      if (word !== '') words.push(word);
      word = '';
      continue;
    }
    if (code === 0x3c && line.charCodeAt(pos + 1) === 0x3c) {
      let end = pos + 2;
      for (
        let next = line.charCodeAt(end);
        next === 0x20 || next === 0x09 || next === 0x0d;
        next = line.charCodeAt(end)
      )
        end++;
      word += line.slice(pos, end);
      pos = end - 1;
      continue;
    }
    word += line[pos];
  }
  if (word !== '') words.push(word);
  return words;
}

/**
 * Strips the leading tabs of every line, as `<<-` asks (BuildKit's ChompHeredocContent). Only
 * `\n` ends a line, as Go's `(?m)^`.
 *
 * @example
 * chompHeredocContent('\tbaz\n\t\tquux\n'); // 'baz\nquux\n'
 */
export function chompHeredocContent(content: string): string {
  return content
    .split('\n')
    .map((line) => (line.startsWith('\t') ? line.replace(/^\t+/, '') : line))
    .join('\n');
}
