/**
 * BuildKit's `parseWords`: splits on Unicode whitespace outside quotes, keeping the quotes and the
 * escapes inside the words (ENV, LABEL and ARG are expanded later, by the shell lexer).
 *
 * @example
 * parseWords('a="x y" b', '\\'); // ['a="x y"', 'b']
 */
import { goIsSpace } from './go-text.ts';

enum Phase {
  Spaces,
  Word,
  Quote,
}

export function parseWords(rest: string, escapeToken: string): string[] {
  const words: string[] = [];
  const length = rest.length;
  let phase = Phase.Spaces;
  let quote = '';
  let blankOK = false;
  let word = '';
  let ch = '';

  // UTF-16 units stand in for Go's runes: no surrogate is a blank, a quote or an escape.
  for (let pos = 0; pos <= length; pos++) {
    if (pos !== length) ch = rest[pos]!;

    if (phase === Phase.Spaces) {
      if (pos === length) break;
      if (goIsSpace(ch.charCodeAt(0))) continue;
      phase = Phase.Word;
    }
    if (pos === length) {
      if (blankOK || word.length > 0) words.push(word);
      break;
    }
    if (phase === Phase.Word) {
      if (goIsSpace(ch.charCodeAt(0))) {
        phase = Phase.Spaces;
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = Phase.Quote;
      }
      if (ch === escapeToken) {
        if (pos + 1 === length) continue; // an escape at the end of the line is dropped
        // Unquoted, an escape and the character after it are both kept, even a quote.
        word += ch;
        pos++;
        ch = rest[pos]!;
      }
      word += ch;
      continue;
    }
    // Phase.Quote
    if (ch === quote) phase = Phase.Word;
    // Inside single quotes the escape is an ordinary character.
    if (ch === escapeToken && quote !== "'") {
      if (pos + 1 === length) {
        phase = Phase.Word;
        continue;
      }
      pos++;
      word += ch;
      ch = rest[pos]!;
    }
    word += ch;
  }
  return words;
}
