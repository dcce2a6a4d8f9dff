/**
 * Parser directives (`# syntax=`, `# escape=`, `# check=`), as BuildKit's DirectiveParser reads
 * them: only in the leading block of comment lines; the first line that is not a directive
 * (another comment, a blank line, an instruction) ends the block for good. A directive may appear
 * once; `escape` must be a backslash or a backtick.
 */
import type { ParserDirective } from '../ast.ts';
import { goTrimLeftSpace } from './go-text.ts';
import { ParseFailure } from './parse-failure.ts';

const VALID = new Set(['syntax', 'escape', 'check']);
/** `key = value`, Go's `\s` being [\t\n\f\r ] and `.` anything but \n. */
const DIRECTIVE = /^([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*([^\n]+?)[\t\n\f\r ]*$/;

export class DirectiveParser {
  readonly directives: ParserDirective[] = [];
  /** The escape character in effect: `\` unless `# escape=` said otherwise. */
  escape = '\\';
  #done = false;

  /**
   * Looks at the next line (left-trimmed, without its line ending), numbered from 1.
   *
   * @returns true when the line is a directive, which is then not a comment of the AST
   * @throws ParseFailure for a repeated directive or an escape that is not \ or `
   */
  parseLine(line: string, lineNumber: number): boolean {
    if (this.#done) return false;
    if (!line.startsWith('#')) {
      this.#done = true;
      return false;
    }
    const match = DIRECTIVE.exec(goTrimLeftSpace(line.slice(1)));
    const name = match?.[1]?.toLowerCase();
    if (!match || name === undefined || !VALID.has(name)) {
      this.#done = true;
      return false;
    }
    if (this.directives.some((directive) => directive.name === name)) {
      throw new ParseFailure(
        `only one ${name} parser directive can be used (remove the one on line ${lineNumber})`,
        lineNumber,
      );
    }
    const value = match[2]!;
    this.directives.push({ name, value, line: lineNumber });
    if (name === 'escape') {
      if (value !== '`' && value !== '\\') {
        throw new ParseFailure(
          `invalid escape token '${value}' does not match \` or \\ (write "# escape=\`" or "# escape=\\")`,
          lineNumber,
        );
      }
      this.escape = value;
    }
    return true;
  }
}
