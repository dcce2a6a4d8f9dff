/**
 * The Dockerfile AST: one node per instruction, lossless enough for errors and the build cache
 * (every node keeps its source range and original text). Shapes follow BuildKit's parser.Node,
 * so the dumper can reproduce BuildKit's `result` files byte for byte.
 */

/** 1-based, inclusive line numbers in the Dockerfile. */
export interface SourceRange {
  startLine: number;
  endLine: number;
}

/** A heredoc attached to an instruction (`<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`). */
export interface Heredoc {
  /** The delimiter word, quotes removed. */
  name: string;
  /** The body, lines joined with "\n" and ending in "\n" (tabs already stripped for `<<-`). */
  content: string;
  /** False when the delimiter was quoted: the body is not variable-expanded. */
  expand: boolean;
  /** True for `<<-`: leading tabs were stripped. */
  chomp: boolean;
  /** The file descriptor given before `<<` (e.g. `3<<EOF`), when any. */
  fileDescriptor?: number;
}

export interface InstructionNode {
  /** The instruction word, lowercased (`from`, `run`, ...), as BuildKit's `Value`. */
  keyword: string;
  /** Leading `--flag[=value]` words as written, quotes removed and escapes applied. */
  flags: string[];
  /**
   * The arguments in BuildKit's per-instruction shape: JSON elements, split words, the rest of
   * the line, or for ENV/LABEL flattened (key, value, separator) triples.
   */
  args: string[];
  /** True when the arguments came from the JSON (exec) form. */
  json: boolean;
  /** The instruction's text as written, continuation lines joined (BuildKit's `Original`). */
  original: string;
  heredocs: Heredoc[];
  /** ONBUILD's trigger instruction. */
  trigger?: InstructionNode;
  range: SourceRange;
  /** Comment lines directly above the instruction, without the `#`. */
  comments: string[];
}

export interface ParserDirective {
  name: string;
  value: string;
  line: number;
}

export interface ParseWarning {
  message: string;
  line: number;
}

export interface DockerfileAst {
  /** The file name used in messages (`Dockerfile` when unknown). */
  file: string;
  directives: ParserDirective[];
  /** The escape character in effect (`\` or `` ` ``). */
  escapeChar: string;
  instructions: InstructionNode[];
  warnings: ParseWarning[];
}
