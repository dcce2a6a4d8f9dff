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

/**
 * The verb of a command line, and whether a global `--help` comes before it (then the program's
 * help lists the commands, and the verb's module registers all of them).
 */
function findVerb(argv: string[]): { verb: string | undefined; help: boolean } {
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (GLOBAL_VALUE_FLAGS.has(arg)) {
      i++;
      continue;
    }
    if (arg === '-h' || arg === '--help') help = true;
    if (!arg.startsWith('-')) return { verb: arg, help };
  }
  return { verb: undefined, help };
}

/**
 * Stands for every command that is not the one being run: each builder call (`option`,
 * `description`, `action`, `command`...) is dropped and returns the sink again, so a module's
 * registration of its other verbs costs next to nothing.
 */
const SINK: unknown = new Proxy({}, { get: (_target, key) => (key === 'then' ? undefined : () => SINK) });

/**
 * `program` as a verb module's `register` sees it: `command(name)` builds a real command only for
 * `verb` (a management group builds all its subcommands), the sink for the others. Registering
 * every option of a module was most of commander's cost (the container module alone registers
 * ~260, each parsed, checked against the others and given a listener). runCli checks after that
 * the verb was found, and registers the module in full when not (say a verb only an alias names).
 */
function onlyVerb(program: Command, verb: string): Command {
  return new Proxy(program, {
    get(target, key) {
      if (key !== 'command') return Reflect.get(target, key);
      return (nameAndArgs: string, ...rest: unknown[]) =>
        nameAndArgs.split(' ', 1)[0] === verb
          ? (target.command as (...args: unknown[]) => Command)(nameAndArgs, ...rest)
          : SINK;
    },
  });
}

export async function runCli(argv: string[]): Promise<number> {
  const newProgram = (): Command => {
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
    return program;
  };
  let program = newProgram();

  const context: CliContext = {
    root: () => program.opts().root ?? process.env.WHARF_ROOT ?? DEFAULT_ROOT,
    debug: () => program.opts().debug === true,
    stdout: process.stdout,
    stderr: process.stderr,
  };

  const { verb, help } = findVerb(argv);
  const load = verb ? COMMAND_TABLE[verb] : undefined;
  if (verb && load && help) {
    (await load()).register(program, context);
  } else if (verb && load) {
    (await load()).register(onlyVerb(program, verb), context);
    const found = program.commands.some(
      (command) => command.name() === verb || command.aliases().includes(verb),
    );
    if (!found) {
      program = newProgram();
      (await load()).register(program, context);
    }
  } else {
    for (const load of new Set(Object.values(COMMAND_TABLE))) (await load()).register(program, context);
  }

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
