/**
 * One line parser per instruction, as BuildKit's line_parsers.go: each turns the text after the
 * instruction word (and its flags) into the argument list `Node.Dump()` prints. See the table in
 * the BuildKit test data's README for the shapes.
 */

import { goQuote } from './go-quote.ts';
import { goIsSpace, goToLower, isAscii } from './go-text.ts';
import { parseJsonArray } from './json-array.ts';
import { ParseFailure } from './parse-failure.ts';
import { parseWords } from './parse-words.ts';
import { splitCommand, WHITESPACE } from './split-command.ts';

/** An instruction line parsed, before the parser adds lines, comments and heredocs. */
export interface ParsedLine {
  /** The instruction word as written. */
  cmd: string;
  /** The instruction word lowercased (Go's simple case mapping). */
  keyword: string;
  flags: string[];
  args: string[];
  json: boolean;
  /** The whole line (BuildKit's `Original`). */
  original: string;
  trigger?: ParsedLine;
}

interface LineArgs {
  args: string[];
  json?: boolean;
  trigger?: ParsedLine;
}

type LineParser = (rest: string, escapeToken: string) => LineArgs;

const NONE: LineArgs = { args: [] };

/** Unknown words keep one empty argument, so `FOO bar` dumps as `(foo "")`. */
const parseIgnore: LineParser = () => ({ args: [''] });

/** ONBUILD: the rest is an instruction of its own. */
const parseSubCommand: LineParser = (rest, escapeToken) =>
  rest === '' ? NONE : { args: [], trigger: parseInstructionLine(rest, escapeToken) };

/** Whitespace-separated words, quotes and escapes kept (FROM, EXPOSE). */
const parseStringsWhitespaceDelimited: LineParser = (rest) =>
  rest === '' ? NONE : { args: rest.split(WHITESPACE) };

/** The rest of the line as one argument (USER, WORKDIR, STOPSIGNAL, MAINTAINER). */
const parseString: LineParser = (rest) => (rest === '' ? NONE : { args: [rest] });

/** JSON array, else the whole rest as one shell-form argument (RUN, CMD, ENTRYPOINT, SHELL). */
const parseMaybeJSON: LineParser = (rest) => {
  if (rest === '') return NONE;
  const json = parseJsonArray(rest);
  return json ? { args: json, json: true } : { args: [rest] };
};

/** JSON array, else whitespace-separated words (ADD, COPY, VOLUME). */
const parseMaybeJSONToList: LineParser = (rest, escapeToken) => {
  const json = parseJsonArray(rest);
  return json ? { args: json, json: true } : parseStringsWhitespaceDelimited(rest, escapeToken);
};

/** ARG: quote-aware words, quotes kept (`abc="123 456"` stays one word). */
const parseNameOrNameVal: LineParser = (rest, escapeToken) => ({ args: parseWords(rest, escapeToken) });

/**
 * ENV and LABEL: (key, value, separator) triples. `KEY=value ...` splits each word at its first
 * `=`; the old `KEY value` form (first word without `=`) takes the rest of the line verbatim.
 */
function parseNameVal(rest: string, escapeToken: string, key: 'ENV' | 'LABEL'): LineArgs {
  const words = parseWords(rest, escapeToken);
  if (words.length === 0) return NONE;
  if (!words[0]!.includes('=')) {
    const blank = WHITESPACE.exec(rest);
    if (!blank) {
      throw new ParseFailure(
        `${key} must have two arguments (write ${key} ${words[0]}=<value>, or ${key} ${words[0]} <value>)`,
      );
    }
    return { args: [rest.slice(0, blank.index), rest.slice(blank.index + blank[0].length), ''] };
  }
  const args: string[] = [];
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq < 0) {
      throw new ParseFailure(
        `Syntax error - can't find = in ${goQuote(word)}. Must be of the form: name=value`,
      );
    }
    args.push(word.slice(0, eq), word.slice(eq + 1), '=');
  }
  return { args };
}

/**
 * HEALTHCHECK: the first word (CMD, NONE, ...) then a JSON array or a shell string. BuildKit finds
 * the first word's end byte by byte, so the bytes 0x85 and 0xA0 inside a UTF-8 character end it.
 */
const parseHealthConfig: LineParser = (rest, escapeToken) => {
  const ascii = isAscii(rest);
  const bytes = ascii ? undefined : Buffer.from(rest, 'utf8');
  const length = bytes ? bytes.length : rest.length;
  const at = (index: number): number => (bytes ? bytes[index]! : rest.charCodeAt(index));
  const isSpaceByte = (byte: number): boolean =>
    byte < 0x80 ? goIsSpace(byte) : byte === 0x85 || byte === 0xa0;
  let sep = 0;
  while (sep < length && !isSpaceByte(at(sep))) sep++;
  let next = sep;
  while (next < length && isSpaceByte(at(next))) next++;
  if (sep === 0) return NONE;
  const slice = (from: number, to: number): string =>
    bytes ? bytes.subarray(from, to).toString('utf8') : rest.slice(from, to);
  const command = parseMaybeJSON(slice(next, length), escapeToken);
  return { args: [slice(0, sep), ...command.args], json: command.json ?? false };
};

const LINE_PARSERS: Record<string, LineParser> = {
  add: parseMaybeJSONToList,
  arg: parseNameOrNameVal,
  cmd: parseMaybeJSON,
  copy: parseMaybeJSONToList,
  entrypoint: parseMaybeJSON,
  env: (rest, escapeToken) => parseNameVal(rest, escapeToken, 'ENV'),
  expose: parseStringsWhitespaceDelimited,
  from: parseStringsWhitespaceDelimited,
  healthcheck: parseHealthConfig,
  label: (rest, escapeToken) => parseNameVal(rest, escapeToken, 'LABEL'),
  maintainer: parseString,
  onbuild: parseSubCommand,
  run: parseMaybeJSON,
  shell: parseMaybeJSON,
  stopsignal: parseString,
  user: parseString,
  volume: parseMaybeJSONToList,
  workdir: parseString,
};

/** The instruction words BuildKit knows, lowercased. */
export const INSTRUCTION_KEYWORDS: readonly string[] = Object.keys(LINE_PARSERS);

/**
 * Parses one joined instruction line (BuildKit's `newNodeFromLine`). Unknown words parse too;
 * rejecting them is the instruction layer's job (see validateKnownInstructions).
 *
 * @throws ParseFailure for arguments no instruction form accepts
 */
export function parseInstructionLine(line: string, escapeToken: string): ParsedLine {
  const { cmd, flags, args } = splitCommand(line, escapeToken);
  const keyword = goToLower(cmd);
  const parse = Object.hasOwn(LINE_PARSERS, keyword) ? LINE_PARSERS[keyword]! : parseIgnore;
  const parsed = parse(args, escapeToken);
  const node: ParsedLine = {
    cmd,
    keyword,
    flags,
    args: parsed.args,
    json: parsed.json ?? false,
    original: line,
  };
  if (parsed.trigger) node.trigger = parsed.trigger;
  return node;
}
