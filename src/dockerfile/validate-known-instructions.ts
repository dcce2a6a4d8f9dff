/**
 * Rejects instruction words Docker does not know, with a suggestion when one is close, as
 * BuildKit's instruction layer does (`unknown instruction: FORM (did you mean FROM?)`). The parser
 * itself keeps unknown words, as BuildKit's does.
 */
import type { DockerfileAst } from './ast.ts';
import { DockerfileError } from './errors.ts';
import { goTrimSpace } from './parser/go-text.ts';
import { INSTRUCTION_KEYWORDS } from './parser/line-parsers.ts';
import { WHITESPACE } from './parser/split-command.ts';
import { suggest } from './parser/suggest.ts';

const KNOWN = new Set(INSTRUCTION_KEYWORDS);
const OPTIONS = INSTRUCTION_KEYWORDS.map((keyword) => keyword.toUpperCase()).sort();

/**
 * Throws for the first top-level instruction whose word is not a Dockerfile instruction. ONBUILD
 * triggers are not checked, as in BuildKit (they run in the child image's build).
 *
 * @example
 * validateKnownInstructions(parseDockerfile('FROM alpine\nFORM x\n'));
 * // throws DockerfileError: Dockerfile:2: unknown instruction: FORM (did you mean FROM?)
 */
export function validateKnownInstructions(ast: DockerfileAst): void {
  for (const node of ast.instructions) {
    if (KNOWN.has(node.keyword)) continue;
    // The word as written (the AST keeps it lowercased): the first word of the instruction's text.
    const written = goTrimSpace(node.original).split(WHITESPACE, 1)[0] ?? '';
    if (written === '') {
      throw new DockerfileError(
        ast.file,
        node.range.startLine,
        'unknown instruction: "" (a line holding only the escape character continues into no instruction; remove it)',
      );
    }
    const match = suggest(written, OPTIONS);
    const hint = match !== undefined ? ` (did you mean ${match}?)` : '';
    throw new DockerfileError(ast.file, node.range.startLine, `unknown instruction: ${written}${hint}`);
  }
}
