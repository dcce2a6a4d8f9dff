/**
 * Splits an instruction line into its word, its leading `--flags` and the rest, as BuildKit's
 * split_command.go does.
 *
 * BuildKit's flag extractor walks the line byte by byte and treats each byte as a character, so
 * outside ASCII it sees Latin-1: `--chown=josé` comes out as `--chown=josÃ©`, and the bytes 0x85
 * and 0xA0 inside a UTF-8 character count as blanks. Those quirks are kept, since the flags then
 * mean the same as in Docker; the one loss is a rest of line that starts inside a character,
 * where Go keeps the broken bytes and this gives U+FFFD.
 */
import { goTrimSpace, isAscii } from './go-text.ts';

/** BuildKit's `reWhitespace`: the blanks that separate words (no \n, no Unicode spaces). */
export const WHITESPACE = /[\t\v\f\r ]+/;

export interface SplitCommand {
  /** The instruction word as written. */
  cmd: string;
  flags: string[];
  /** The rest of the line after the flags, trimmed. */
  args: string;
}

export function splitCommand(line: string, escapeToken: string): SplitCommand {
  const trimmed = goTrimSpace(line);
  const blank = WHITESPACE.exec(trimmed);
  if (!blank) return { cmd: trimmed, flags: [], args: '' };
  const rest = trimmed.slice(blank.index + blank[0].length);
  const [args, flags] = extractBuilderFlags(rest, escapeToken);
  return { cmd: trimmed.slice(0, blank.index), flags, args: goTrimSpace(args) };
}

function isAsciiSpace(code: number): boolean {
  return code === 0x20 || (code >= 0x09 && code <= 0x0d);
}

/** `unicode.IsSpace` of a byte taken as a rune: ASCII blanks plus 0x85 and 0xA0. */
function isSpaceByte(byte: number): boolean {
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d) || byte === 0x85 || byte === 0xa0;
}

enum Phase {
  Spaces,
  Word,
  Quote,
}

/** @returns the rest of the line after the flags, and the flags (quotes removed, escapes applied) */
export function extractBuilderFlags(line: string, escapeToken: string): [string, string[]] {
  // Most lines have no flags: answer them without encoding the line.
  // (0x85 and 0xA0 are never the first byte of a character, so only ASCII blanks count here.)
  let first = 0;
  while (first < line.length && isAsciiSpace(line.charCodeAt(first))) first++;
  if (line.charCodeAt(first) !== 0x2d || line.charCodeAt(first + 1) !== 0x2d) {
    return [first === 0 ? line : line.slice(first), []];
  }

  // ASCII text is its own bytes; anything else is walked as UTF-8.
  const bytes = isAscii(line) ? undefined : Buffer.from(line, 'utf8');
  const byteAt = (pos: number): number => (bytes ? bytes[pos]! : line.charCodeAt(pos));
  const restFrom = (pos: number): string => (bytes ? bytes.subarray(pos).toString('utf8') : line.slice(pos));
  const escapeByte = escapeToken.charCodeAt(0);
  const length = bytes ? bytes.length : line.length;

  const words: string[] = [];
  let phase = Phase.Spaces;
  let word = '';
  let quote = 0;
  let blankOK = false;
  let ch = 0;

  for (let pos = 0; pos <= length; pos++) {
    if (pos !== length) ch = byteAt(pos);

    if (phase === Phase.Spaces) {
      if (pos === length) break;
      if (isSpaceByte(ch)) continue;
      // Only keep going while the next word starts with --
      if (ch !== 0x2d || pos + 1 === length || byteAt(pos + 1) !== 0x2d) return [restFrom(pos), words];
      phase = Phase.Word;
    }
    if (pos === length) {
      if (word !== '--' && (blankOK || word.length > 0)) words.push(word);
      break;
    }
    if (phase === Phase.Word) {
      if (isSpaceByte(ch)) {
        phase = Phase.Spaces;
        // A bare -- ends the flags.
        if (word === '--') return [restFrom(pos), words];
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === 0x27 || ch === 0x22) {
        quote = ch;
        blankOK = true;
        phase = Phase.Quote;
        continue;
      }
      if (ch === escapeByte) {
        if (pos + 1 === length) continue; // an escape at the end of the line is dropped
        pos++;
        ch = byteAt(pos);
      }
      word += String.fromCharCode(ch);
      continue;
    }
    // Phase.Quote
    if (ch === quote) {
      phase = Phase.Word;
      continue;
    }
    if (ch === escapeByte) {
      if (pos + 1 === length) {
        phase = Phase.Word;
        continue;
      }
      pos++;
      ch = byteAt(pos);
    }
    word += String.fromCharCode(ch);
  }
  return ['', words];
}
