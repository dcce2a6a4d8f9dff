/**
 * Builds the commander program for the verb being run and executes it. Errors become one line
 * on stderr (`Error: ...`, no stack trace unless `--debug`) and a non-zero exit code.
 */
import { Command, CommanderError } from 'commander';
import { WharfError } from '../errors/index.ts';
import { CliExit } from './cli-error.ts';
import { COMMAND_TABLE } from './command-table.ts';
import { type CliContext, DEFAULT_ROOT } from './context.ts';
import { VERSION } from './version.ts';

/** Global flags that take a value; used to find the verb in argv without parsing everything. */
const GLOBAL_VALUE_FLAGS = new Set(['--root', '-H', '--host', '-l', '--log-level']);

function findVerb(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (GLOBAL_VALUE_FLAGS.has(arg)) {
      i++;
      continue;
    }
    if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

export async function runCli(argv: string[]): Promise<number> {
  const program = new Command('wharf')
    .description('Build, ship and run containers')
    .version(`Wharf version ${VERSION}`, '-v, --version')
    .option('--root <dir>', 'root of the Wharf store (env WHARF_ROOT)')
    .option('-D, --debug', 'print stack traces of errors')
    .option('-H, --host <url>', 'daemon socket to talk to (env WHARF_HOST)')
    .enablePositionalOptions()
    .showHelpAfterError(false)
    .exitOverride();
  program.configureOutput({ outputError: (text, write) => write(text) });

  const context: CliContext = {
    root: () => program.opts().root ?? process.env.WHARF_ROOT ?? DEFAULT_ROOT,
    debug: () => program.opts().debug === true,
    stdout: process.stdout,
    stderr: process.stderr,
  };

  const verb = findVerb(argv);
  const loaders = verb && COMMAND_TABLE[verb] ? [COMMAND_TABLE[verb]] : Object.values(COMMAND_TABLE);
  for (const load of new Set(loaders)) (await load()).register(program, context);

  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    return reportError(error, context);
  }
}

function reportError(error: unknown, context: CliContext): number {
  if (error instanceof CommanderError) {
    // help and version displays end through here too, with exit code 0
    return error.exitCode;
  }
  if (error instanceof CliExit) {
    if (error.message) context.stderr.write(`${error.message}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  context.stderr.write(`Error: ${message}\n`);
  if (context.debug() && error instanceof Error && error.stack) context.stderr.write(`${error.stack}\n`);
  if (!(error instanceof WharfError) && !context.debug()) {
    // An unexpected error is a bug in Wharf: say so, but still without a stack trace.
    context.stderr.write('(unexpected error; run with --debug for details)\n');
  }
  return 1;
}
