/**
 * The engine's side of `wharf dockerfile parse`: reads a Dockerfile, parses it with BuildKit's
 * semantics, rejects unknown instructions, and groups the instructions into build stages (a stage
 * starts at each FROM; instructions before the first FROM form the global scope).
 */
import { readFile } from 'node:fs/promises';
import type { DockerfileAst, InstructionNode, ParserDirective, ParseWarning } from '../dockerfile/ast.ts';
import { DockerfileError } from '../dockerfile/errors.ts';
import { parseDockerfile } from '../dockerfile/parser.ts';
import { validateKnownInstructions } from '../dockerfile/validate-known-instructions.ts';
import { isErrno, NotFoundError, PermissionDeniedError } from '../errors/index.ts';

export interface LineRange {
  start: number;
  end: number;
}

export interface HeredocDescription {
  name: string;
  /** False when the delimiter was quoted: the body is used as written. */
  expand: boolean;
  /** True for `<<-`: leading tabs were stripped from the body. */
  chomp: boolean;
  fileDescriptor?: number;
  content: string;
}

export interface InstructionDescription {
  /** The instruction word, uppercased: `RUN`, `COPY`... */
  instruction: string;
  flags: string[];
  args: string[];
  /** `exec` for the JSON array form, else `shell`. */
  form: 'exec' | 'shell';
  heredocs: HeredocDescription[];
  lines: LineRange;
  /** The instruction's text, continuation lines joined. */
  original: string;
  /** ONBUILD's trigger. */
  trigger?: InstructionDescription;
}

export interface StageDescription {
  index: number;
  /** The name given by `FROM image AS name`, lowercased as BuildKit does. */
  name?: string;
  /** The image (or earlier stage) the stage starts from. */
  base: string;
  platform?: string;
  lines: LineRange;
  instructions: InstructionDescription[];
}

export interface DockerfileDescription {
  file: string;
  directives: ParserDirective[];
  escapeChar: string;
  warnings: ParseWarning[];
  /** Instructions before the first FROM (ARGs shared by every stage's FROM). */
  global: InstructionDescription[];
  stages: StageDescription[];
}

export type DockerfileInput = { path: string; file?: string } | { source: string; file?: string };

/**
 * Parses a Dockerfile given by path or by content.
 *
 * @example
 * const description = await describeDockerfile({ path: 'Dockerfile' });
 * description.stages.map((stage) => stage.name ?? stage.index);
 * @throws DockerfileError (`Dockerfile:7: unknown instruction: FORM (did you mean FROM?)`) for a
 *   malformed Dockerfile; NotFoundError when the file does not exist
 */
export async function describeDockerfile(input: DockerfileInput): Promise<DockerfileDescription> {
  const source = 'source' in input ? input.source : await readDockerfile(input.path);
  const file = input.file ?? ('path' in input ? input.path : 'Dockerfile');
  const ast = parseDockerfile(source, { file });
  validateKnownInstructions(ast);
  return groupStages(ast);
}

/** True for an error in the Dockerfile itself (its message names the file and line). */
export function isDockerfileError(error: unknown): error is DockerfileError {
  return error instanceof DockerfileError;
}

async function readDockerfile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT'))
      throw new NotFoundError(`Cannot read Dockerfile: no such file: ${path}`, { cause: error });
    if (isErrno(error, 'EACCES'))
      throw new PermissionDeniedError(`Cannot read Dockerfile: permission denied: ${path}`, { cause: error });
    if (isErrno(error, 'EISDIR'))
      throw new NotFoundError(`Cannot read Dockerfile: ${path} is a directory`, { cause: error });
    throw error;
  }
}

/** Splits the instructions at each FROM. */
export function groupStages(ast: DockerfileAst): DockerfileDescription {
  const global: InstructionDescription[] = [];
  const stages: StageDescription[] = [];
  for (const node of ast.instructions) {
    const described = describeInstruction(node);
    if (node.keyword === 'from') {
      stages.push(newStage(stages.length, node, described));
      continue;
    }
    const stage = stages[stages.length - 1];
    if (!stage) {
      global.push(described);
      continue;
    }
    stage.instructions.push(described);
    stage.lines.end = node.range.endLine;
  }
  return {
    file: ast.file,
    directives: ast.directives,
    escapeChar: ast.escapeChar,
    warnings: ast.warnings,
    global,
    stages,
  };
}

function newStage(index: number, from: InstructionNode, described: InstructionDescription): StageDescription {
  const [base = '', as, name] = from.args;
  const named = from.args.length === 3 && as?.toLowerCase() === 'as' && name !== undefined;
  const platform = from.flags.find((flag) => flag.startsWith('--platform='))?.slice('--platform='.length);
  return {
    index,
    ...(named ? { name: name.toLowerCase() } : {}),
    base,
    ...(platform !== undefined ? { platform } : {}),
    lines: { start: from.range.startLine, end: from.range.endLine },
    instructions: [described],
  };
}

function describeInstruction(node: InstructionNode): InstructionDescription {
  const described: InstructionDescription = {
    instruction: node.keyword.toUpperCase(),
    flags: node.flags,
    args: node.args,
    form: node.json ? 'exec' : 'shell',
    heredocs: node.heredocs.map((heredoc) => {
      const { name, expand, chomp, fileDescriptor, content } = heredoc;
      return fileDescriptor === undefined
        ? { name, expand, chomp, content }
        : { name, expand, chomp, fileDescriptor, content };
    }),
    lines: { start: node.range.startLine, end: node.range.endLine },
    original: node.original,
  };
  if (node.trigger) described.trigger = describeInstruction(node.trigger);
  return described;
}
