/**
 * BuildKit's `Node.Dump()`: the AST as one s-expression per instruction, the format of the
 * `result` files of BuildKit's parser tests. Arguments are Go-quoted (strconv.Quote), flags are
 * Go's `%q` of a string slice, ONBUILD nests its trigger.
 *
 * @example
 * dumpDockerfile(parseDockerfile('FROM alpine\nCOPY --chown=me ["a", "b"]\n'));
 * // '(from "alpine")\n(copy ["--chown=me"] "a" "b")'
 */
import type { DockerfileAst, InstructionNode } from './ast.ts';
import { goQuote, goQuoteList } from './parser/go-quote.ts';
import { goTrimSpace } from './parser/go-text.ts';

/** The dump of a whole file: one line per instruction, no final newline (as `Dump()`). */
export function dumpDockerfile(ast: DockerfileAst): string {
  return ast.instructions.map((node) => `(${dumpInstruction(node)})`).join('\n');
}

/** The dump of one instruction, without its enclosing parentheses. */
export function dumpInstruction(node: InstructionNode): string {
  let out = node.keyword;
  if (node.flags.length > 0) out += ` ${goQuoteList(node.flags)}`;
  for (const arg of node.args) out += ` ${goQuote(arg)}`;
  if (node.trigger) out += ` (${dumpInstruction(node.trigger)})`;
  // Go trims the result: only a keyword ending in a Unicode space with nothing after it changes.
  return goTrimSpace(out);
}
