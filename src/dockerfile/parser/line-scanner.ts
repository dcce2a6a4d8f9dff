/**
 * Splits a Dockerfile into lines as BuildKit's `bufio.Scanner` with its `scanLines` split does:
 * each line keeps its `\n`, a last line without one still counts, and a line longer than the
 * scanner's 64 KiB buffer stops the parse.
 */
import { ParseFailure } from './parse-failure.ts';

/** bufio.MaxScanTokenSize - 1: the longest line (in UTF-8 bytes, without its `\n`) Go accepts. */
export const MAX_LINE_BYTES = 65535;

export class LineScanner {
  readonly #text: string;
  #pos = 0;
  #line = 0;

  constructor(text: string) {
    this.#text = text;
  }

  /** The 1-based number of the line `next()` returned last (0 before the first). */
  get line(): number {
    return this.#line;
  }

  /** The next line with its line ending, or undefined at the end of the text. */
  next(): string | undefined {
    const text = this.#text;
    const start = this.#pos;
    if (start >= text.length) return undefined;
    const newline = text.indexOf('\n', start);
    const contentEnd = newline < 0 ? text.length : newline;
    // Go counts bytes: a UTF-16 unit is at most 3 of them, so short lines need no measuring.
    if ((contentEnd - start) * 3 > MAX_LINE_BYTES) {
      const bytes = Buffer.byteLength(text.slice(start, contentEnd), 'utf8');
      if (bytes > MAX_LINE_BYTES) {
        throw new ParseFailure(
          `dockerfile line greater than max allowed size of ${MAX_LINE_BYTES} (this line has ${bytes} bytes; split it with line continuations)`,
          this.#line + 1,
        );
      }
    }
    this.#pos = newline < 0 ? text.length : newline + 1;
    this.#line++;
    return text.slice(start, this.#pos);
  }
}
