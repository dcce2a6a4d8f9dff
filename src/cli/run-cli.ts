/**
 * Builds the commander program for the verb being run and executes it. Errors become one line
 * on stderr (`Error: ...`, no stack trace unless `--debug`) and a non-zero exit code.
 */
import { Command, CommanderError } from 'commander';
import { WharfError } from '../errors/index.ts';
import { tracePhase } from '../util/phase-trace.ts';
import { CliExit, ContinueInGroup } from './cli-error.ts';
import type { CommandTable } from './command-table.ts';
import { type CliContext, refuseDaemonHost, storeRoot } from './context.ts';
import { usageError } from './usage-error.ts';
import { findVerb } from './verb-modules.ts';
import { VERSION } from './version.ts';

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

/**
 * How a command line ended: its exit code, or, from a module bundle, the command line that must
 * run instead with another module's code (a verb's action threw ContinueInGroup and this table
 * lacks the group): the launcher runs it with that module's bundle.
 */
export type CliResult = number | { continueWith: string[] };

/**
 * Runs one command line over `table` (verb -> its module): the whole CLI's (command-table.ts),
 * or a module bundle's, which knows only that module's verbs.
 */
export async function runCli(argv: string[], table: CommandTable): Promise<CliResult> {
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
    // commander's own error text is not printed: reportError words it as the docker CLI does
    program.configureOutput({ outputError: () => {} });
    program.hook('preAction', (root, action) => {
      const path: string[] = [];
      for (let command: Command | null = action; command && command !== root; command = command.parent)
        path.unshift(command.name());
      refuseDaemonHost(root.opts().host, process.env.WHARF_HOST, path);
    });
    return program;
  };
  let program = newProgram();

  const context: CliContext = {
    root: () => storeRoot(program.opts().root, process.env.WHARF_ROOT),
    debug: () => program.opts().debug === true,
    // Getters: Node makes each stream on first use (a socket, and node:net with it, when it is
    // a pipe), which most commands never write to before their end, and `exec` never at all.
    get stdout() {
      return process.stdout;
    },
    get stderr() {
      return process.stderr;
    },
  };

  const { verb, index, help } = findVerb(argv);
  const load = verb && Object.hasOwn(table, verb) ? table[verb] : undefined;
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
    for (const load of new Set(Object.values(table))) (await load()).register(program, context);
  }

  tracePhase('cli: registered');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof ContinueInGroup && verb !== undefined) {
      const next = [...argv.slice(0, index), error.group, ...argv.slice(index)];
      return Object.hasOwn(table, error.group) ? runCli(next, table) : { continueWith: next };
    }
    return reportError(error, context, program, argv);
  }
}

function reportError(error: unknown, context: CliContext, program: Command, argv: string[]): number {
  if (error instanceof CommanderError) {
    // help and version displays end through here too, with exit code 0
    const usage = usageError(error, program, argv);
    if (!usage) return error.exitCode;
    error = usage;
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
