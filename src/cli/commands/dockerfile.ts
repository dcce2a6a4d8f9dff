/**
 * `wharf dockerfile parse [-f FILE] [--format json]`: parses a Dockerfile (BuildKit's semantics)
 * and prints its stages and instructions, with flags, arguments, heredocs and line ranges. `-f -`
 * reads standard input. A malformed Dockerfile prints `Dockerfile:N: reason` and exits 1.
 */
import type { Command } from 'commander';
// Type-only: the engine module is loaded when the verb runs, keeping start-up lean.
import type {
  DockerfileDescription,
  DockerfileInput,
  InstructionDescription,
  LineRange,
} from '../../engine/dockerfile-parse.ts';
import { InvalidArgumentError } from '../../errors/index.ts';
import { CliExit } from '../cli-error.ts';
import type { CliContext } from '../context.ts';

interface ParseOptions {
  file: string;
  format?: string;
}

export function register(program: Command, context: CliContext): void {
  const dockerfile = program.command('dockerfile').description('Work with Dockerfiles');
  dockerfile
    .command('parse')
    .description('Parse a Dockerfile and print its stages and instructions')
    .option('-f, --file <path>', 'the Dockerfile to read ("-" for standard input)', 'Dockerfile')
    .option('--format <format>', 'output format: json (default: a readable listing)')
    .action((options: ParseOptions) => parse(options, context));
}

async function parse(options: ParseOptions, context: CliContext): Promise<void> {
  if (options.format !== undefined && options.format !== 'json') {
    throw new InvalidArgumentError(`Cannot format the output: unknown format "${options.format}" (use json)`);
  }
  const { describeDockerfile, isDockerfileError } = await import('../../engine/dockerfile-parse.ts');
  const input: DockerfileInput =
    options.file === '-' ? { source: await readStdin(), file: 'Dockerfile' } : { path: options.file };
  let description: DockerfileDescription;
  try {
    description = await describeDockerfile(input);
  } catch (error) {
    // A Dockerfile error is the user's to fix, and its message says where: print it as it is.
    if (isDockerfileError(error)) throw new CliExit(1, error.message);
    throw error;
  }
  context.stdout.write(
    options.format === 'json' ? `${JSON.stringify(description, null, 2)}\n` : formatListing(description),
  );
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const lines = (range: LineRange): string =>
  range.start === range.end ? `${range.start}` : `${range.start}-${range.end}`;

/** `RUN --mount=type=cache,target=/c "make all"`: flags as written, arguments JSON-quoted. */
function formatInstruction(node: InstructionDescription): string {
  const parts = [node.instruction, ...node.flags];
  if (node.trigger) parts.push(formatInstruction(node.trigger));
  else if (node.form === 'exec') parts.push(`[${node.args.map((arg) => JSON.stringify(arg)).join(', ')}]`);
  else parts.push(...node.args.map((arg) => JSON.stringify(arg)));
  return parts.join(' ');
}

function formatListing(description: DockerfileDescription): string {
  const out: string[] = [];
  const count = description.global.length + description.stages.reduce((n, s) => n + s.instructions.length, 0);
  const stages = description.stages.length;
  out.push(
    `${description.file}: ${stages} stage${stages === 1 ? '' : 's'}, ${count} instruction${count === 1 ? '' : 's'}`,
  );
  for (const directive of description.directives)
    out.push(`  line ${directive.line}: # ${directive.name}=${directive.value}`);
  for (const warning of description.warnings) out.push(`  warning, line ${warning.line}: ${warning.message}`);

  const width = Math.max(
    5,
    ...[...description.global, ...description.stages.flatMap((s) => s.instructions)].map(
      (n) => lines(n.lines).length,
    ),
  );
  const pushInstruction = (node: InstructionDescription): void => {
    out.push(`  ${lines(node.lines).padStart(width)}  ${formatInstruction(node)}`);
    for (const heredoc of [...node.heredocs, ...(node.trigger?.heredocs ?? [])]) {
      const bodyLines = heredoc.content === '' ? 0 : heredoc.content.split('\n').length - 1;
      const traits = [heredoc.expand ? 'expanded' : 'literal', ...(heredoc.chomp ? ['tabs stripped'] : [])];
      const fd = heredoc.fileDescriptor === undefined ? '' : `${heredoc.fileDescriptor}`;
      out.push(
        `  ${''.padStart(width)}    heredoc ${fd}<<${heredoc.name}: ${bodyLines} line${bodyLines === 1 ? '' : 's'}, ${traits.join(', ')}`,
      );
    }
  };
  if (description.global.length > 0) {
    out.push('', 'global scope:');
    description.global.forEach(pushInstruction);
  }
  for (const stage of description.stages) {
    const name = stage.name !== undefined ? ` "${stage.name}"` : '';
    const platform = stage.platform !== undefined ? ` (platform ${stage.platform})` : '';
    out.push('', `stage ${stage.index}${name} from ${stage.base}${platform}, lines ${lines(stage.lines)}:`);
    stage.instructions.forEach(pushInstruction);
  }
  return `${out.join('\n')}\n`;
}
