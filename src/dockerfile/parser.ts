/**
 * The Dockerfile parser: text to AST with BuildKit's exact semantics (moby/buildkit
 * frontend/dockerfile/parser/parser.go `Parse`). It is lossless where later stages need it: every
 * instruction keeps its source lines, its text and the comments above it.
 *
 * The steps per line, as BuildKit's: strip the BOM (first line) and the line ending; read parser
 * directives while in the leading comment block; skip comments and blank lines; join continuation
 * lines (skipping comments and blank lines inside, with a warning for blank ones); parse the
 * instruction (see parser/line-parsers.ts); then read the bodies of its heredocs.
 */
import type { DockerfileAst, Heredoc, InstructionNode, ParseWarning, SourceRange } from './ast.ts';
import { DockerfileError } from './errors.ts';
import { chompHeredocContent, heredocsFromLine } from './heredoc.ts';
import { DirectiveParser } from './parser/directives.ts';
import { goTrimLeftSpace, goTrimSpace } from './parser/go-text.ts';
import { type ParsedLine, parseInstructionLine } from './parser/line-parsers.ts';
import { LineScanner } from './parser/line-scanner.ts';
import { isBlank, isComment, trimContinuation, trimLeadingTabs, trimNewline } from './parser/line-text.ts';
import { ParseFailure } from './parser/parse-failure.ts';
import { ShellWordError } from './shell-lexer.ts';

export interface ParseOptions {
  /** The file name used in messages; `Dockerfile` when not given. */
  file?: string;
}

/** Instructions whose lines may open heredocs (ONBUILD counts when its trigger is one). */
const HEREDOC_KEYWORDS = new Set(['add', 'copy', 'run']);

/**
 * Parses a Dockerfile. Unknown instruction words are kept (as BuildKit's parser does); call
 * {@link validateKnownInstructions} to reject them.
 *
 * @example
 * const ast = parseDockerfile('FROM alpine\nRUN echo hi\n');
 * ast.instructions.map((node) => node.keyword); // ['from', 'run']
 * ast.instructions[1]!.range;                    // { startLine: 2, endLine: 2 }
 * @throws DockerfileError naming the file and line: a bad parser directive, a line over 64 KiB,
 *   an unterminated heredoc, a JSON array of non-strings, ENV/LABEL without a value, or a file
 *   with no instructions
 */
export function parseDockerfile(source: string, options: ParseOptions = {}): DockerfileAst {
  const file = options.file ?? 'Dockerfile';
  const scanner = new LineScanner(source);
  const directives = new DirectiveParser();
  const instructions: InstructionNode[] = [];
  const warnings: ParseWarning[] = [];
  let comments: string[] = [];
  let startLine = 0;

  try {
    for (let raw = scanner.next(); raw !== undefined; raw = scanner.next()) {
      startLine = scanner.line;
      if (startLine === 1 && raw.startsWith('\ufeff')) raw = raw.slice(1);
      if (isComment(raw)) {
        // BuildKit drops the line's first byte, not its `#`: "  # x" gives the comment "# x".
        const comment = goTrimSpace(dropFirstByte(raw));
        comments = comment === '' ? [] : [...comments, comment];
      }
      const first = goTrimLeftSpace(trimNewline(raw));
      if (directives.parseLine(first, startLine)) comments = comments.slice(0, -1);
      const [text, ends] = trimContinuation(isComment(first) ? '' : first, directives.escape);
      if (ends && text === '') continue; // a comment or a blank line

      const { line, hasEmptyContinuation } = ends
        ? { line: text, hasEmptyContinuation: false }
        : joinContinuation(scanner, text, directives.escape);
      if (hasEmptyContinuation) {
        warnings.push({ message: `Empty continuation line found in: ${line}`, line: scanner.line });
      }
      const parsed = parseInstructionLine(line, directives.escape);
      const heredocs = canContainHeredoc(parsed) && line.includes('<<') ? heredocsFromLine(line) : [];
      for (const heredoc of heredocs) readHeredocBody(scanner, heredoc, startLine);
      instructions.push(toNode(parsed, { startLine, endLine: scanner.line }, comments, heredocs));
      comments = [];
    }
  } catch (error) {
    // Helpers know neither the file nor, mostly, the line: the instruction's first line it is.
    if (error instanceof ParseFailure) {
      throw new DockerfileError(file, error.line ?? startLine, error.reason, { cause: error });
    }
    if (error instanceof ShellWordError)
      throw new DockerfileError(file, startLine, error.message, { cause: error });
    throw error;
  }

  if (instructions.length === 0) {
    throw new DockerfileError(
      file,
      0,
      'file with no instructions (a Dockerfile needs at least a FROM instruction)',
    );
  }
  return { file, directives: directives.directives, escapeChar: directives.escape, instructions, warnings };
}

/**
 * Reads the continuation lines of an instruction: comment lines and blank lines in between are
 * skipped (blank ones earn a warning); a continuation at the end of the file is fine.
 */
function joinContinuation(
  scanner: LineScanner,
  first: string,
  escapeToken: string,
): { line: string; hasEmptyContinuation: boolean } {
  const parts = [first];
  let hasEmptyContinuation = false;
  for (let raw = scanner.next(); raw !== undefined; raw = scanner.next()) {
    if (isComment(raw)) continue;
    const line = trimNewline(raw);
    if (isBlank(line)) {
      hasEmptyContinuation = true;
      continue;
    }
    const [text, ends] = trimContinuation(line, escapeToken);
    parts.push(text);
    if (ends) break;
  }
  return { line: parts.join(''), hasEmptyContinuation };
}

function canContainHeredoc(parsed: ParsedLine): boolean {
  const node = parsed.keyword === 'onbuild' && parsed.trigger ? parsed.trigger : parsed;
  return HEREDOC_KEYWORDS.has(node.keyword) && !node.json;
}

/** Reads lines up to the delimiter into `heredoc.content` (raw lines, their endings kept). */
function readHeredocBody(scanner: LineScanner, heredoc: Heredoc, startLine: number): void {
  let content = '';
  for (let raw = scanner.next(); raw !== undefined; raw = scanner.next()) {
    let candidate = trimNewline(raw);
    if (heredoc.chomp) candidate = trimLeadingTabs(candidate);
    if (candidate === heredoc.name) {
      // The AST promises bodies with `<<-` tabs already stripped; stripping twice changes nothing.
      heredoc.content = heredoc.chomp ? chompHeredocContent(content) : content;
      return;
    }
    content += raw;
  }
  throw new ParseFailure(
    `unterminated heredoc: no line holding only ${JSON.stringify(heredoc.name)} ends the heredoc <<${heredoc.chomp ? '-' : ''}${heredoc.name} opened here`,
    startLine,
  );
}

function toNode(
  parsed: ParsedLine,
  range: SourceRange,
  comments: string[],
  heredocs: Heredoc[],
): InstructionNode {
  const node: InstructionNode = {
    keyword: parsed.keyword,
    flags: parsed.flags,
    args: parsed.args,
    json: parsed.json,
    original: parsed.original,
    heredocs,
    range,
    comments,
  };
  // ONBUILD's trigger shares the ONBUILD's lines; its heredocs stay on the ONBUILD, as in BuildKit.
  if (parsed.trigger) node.trigger = toNode(parsed.trigger, { ...range }, [], []);
  return node;
}

/** Go's `line[1:]` on UTF-8 bytes: a multibyte first character leaves broken bytes (U+FFFD). */
function dropFirstByte(line: string): string {
  return line.charCodeAt(0) < 0x80 ? line.slice(1) : Buffer.from(line, 'utf8').subarray(1).toString('utf8');
}
