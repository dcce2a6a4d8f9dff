/**
 * BuildKit's per-line helpers (parser.go): line endings, comments, empty continuation lines and
 * the line-continuation escape.
 */
import { goIsSpace } from './go-text.ts';

/** Go's `bytes.TrimRight(line, "\r\n")`: every trailing CR and LF goes. */
export function trimNewline(line: string): string {
  let end = line.length;
  while (end > 0) {
    const code = line.charCodeAt(end - 1);
    if (code !== 0x0a && code !== 0x0d) break;
    end--;
  }
  return end === line.length ? line : line.slice(0, end);
}

/** The index of the first character that is not Unicode whitespace. */
function firstNonSpace(line: string): number {
  let index = 0;
  while (index < line.length && goIsSpace(line.charCodeAt(index))) index++;
  return index;
}

/** A comment line: `#` is its first non-blank character. */
export function isComment(line: string): boolean {
  return line.charCodeAt(firstNonSpace(line)) === 0x23;
}

/** A line holding nothing but whitespace (BuildKit's `isEmptyContinuationLine`). */
export function isBlank(line: string): boolean {
  return firstNonSpace(line) === line.length;
}

/** Go's `bytes.TrimLeft(line, "\t")`. */
export function trimLeadingTabs(line: string): string {
  let start = 0;
  while (line.charCodeAt(start) === 0x09) start++;
  return start === 0 ? line : line.slice(start);
}

/**
 * Removes a trailing line-continuation escape (plus the blanks after it) and says whether the
 * instruction ends on this line. This is BuildKit's regexp `([^\\])\\[ \t]*$|^\\[ \t]*$`: an
 * escape preceded by another escape (`\\`) is an escaped escape, not a continuation.
 *
 * @returns the line without the continuation, and true when the instruction ends here
 */
export function trimContinuation(line: string, escapeToken: string): [string, boolean] {
  let end = line.length;
  while (end > 0) {
    const code = line.charCodeAt(end - 1);
    if (code !== 0x20 && code !== 0x09) break;
    end--;
  }
  if (end === 0 || line[end - 1] !== escapeToken) return [line, true];
  if (end === 1) return ['', false];
  if (line[end - 2] === escapeToken) return [line, true];
  return [line.slice(0, end - 1), false];
}
