/**
 * A Dockerfile AST to its build stages, as BuildKit's `instructions.Parse` plus the checks
 * dockerfile2llb makes before building: ARGs before the first FROM are global (meta) args, every
 * other instruction belongs to the stage its last FROM opened.
 */
import type { DockerfileAst } from '../ast.ts';
import { DockerfileError } from '../errors.ts';
import type { ArgCommand, Stage } from './commands.ts';
import { parseInstruction } from './parse-instruction.ts';

export interface ParsedStages {
  /** The ARG instructions before the first FROM: usable in FROM lines and re-declared in stages. */
  metaArgs: ArgCommand[];
  stages: Stage[];
}

/**
 * Parses every instruction and groups them into stages.
 *
 * @example
 * const { metaArgs, stages } = parseStages(parseDockerfile('ARG V=3\nFROM alpine:$V AS base\nRUN true\nFROM base\n'));
 * metaArgs[0]!.args;                           // [{ key: 'V', value: '3', docComment: '' }]
 * stages.map((s) => [s.index, s.name, s.baseName]); // [[0, 'base', 'alpine:$V'], [1, '', 'base']]
 * @throws DockerfileError naming the file and line: any instruction error, an instruction before
 *   the first FROM other than ARG, a duplicate stage name, or a file with no FROM at all
 */
export function parseStages(ast: DockerfileAst): ParsedStages {
  const options = { file: ast.file, escapeChar: ast.escapeChar };
  const metaArgs: ArgCommand[] = [];
  const stages: Stage[] = [];
  const byName = new Map<string, Stage>();

  for (const node of ast.instructions) {
    const instruction = parseInstruction(node, options);
    if (instruction.kind === 'from') {
      if (instruction.stageName !== '') {
        const earlier = byName.get(instruction.stageName);
        if (earlier) {
          throw new DockerfileError(
            ast.file,
            node.range.startLine,
            `Duplicate stage name ${JSON.stringify(instruction.stageName)}, stage names should be unique (line ${earlier.range.startLine} already defines it)`,
          );
        }
      }
      const stage: Stage = {
        name: instruction.stageName,
        index: stages.length,
        baseName: instruction.baseName,
        platform: instruction.platform,
        origCmd: instruction.name,
        sourceCode: instruction.code,
        range: { ...instruction.range },
        fullRange: { ...instruction.range },
        comments: instruction.comments,
        docComment: instruction.docComment,
        from: instruction,
        commands: [],
      };
      if (stage.name !== '') byName.set(stage.name, stage);
      stages.push(stage);
      continue;
    }
    const current = stages.at(-1);
    if (!current) {
      if (instruction.kind === 'arg') {
        metaArgs.push(instruction);
        continue;
      }
      throw new DockerfileError(
        ast.file,
        node.range.startLine,
        `no build stage in current context (only ARG may come before the first FROM; add a FROM instruction before line ${node.range.startLine})`,
      );
    }
    current.commands.push(instruction);
    current.fullRange.endLine = instruction.range.endLine;
  }

  if (stages.length === 0) {
    const last = ast.instructions.at(-1);
    throw new DockerfileError(
      ast.file,
      last?.range.endLine ?? 0,
      'dockerfile contains no stages to build (the file has only global ARG instructions; add a FROM instruction)',
    );
  }
  return { metaArgs, stages };
}
