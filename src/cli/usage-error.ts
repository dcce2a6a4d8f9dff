/**
 * Command-line mistakes (a flag or argument commander refused) told the way the docker CLI 28
 * tells them, with its exit codes, so scripts that look at either keep working:
 *
 *   unknown flag: --forc                      a flag error: exit 125
 *
 *   Usage:  wharf ps [OPTIONS]
 *
 *   Run 'wharf ps --help' for more information
 *
 *   wharf: 'wharf rm' requires at least 1 argument     an argument error: exit 1
 *   wharf: unknown command: wharf foo                  exit 1
 *
 * Commander's own text (`error: unknown option '--forc'`) is not printed: run-cli.ts gives its
 * errors to `usageError`, which finds the command the line reached and words the message.
 *
 * @example
 * const exit = usageError(error, program, argv); // CliExit(125, 'unknown flag: --forc\n\nUsage: ...')
 */
import type { Argument, Command, CommanderError } from 'commander';
import { CliExit } from './cli-error.ts';
import { GLOBAL_VALUE_FLAGS } from './verb-modules.ts';

/** Docker's exit code for a flag it cannot parse (cli.StatusError from FlagErrorFunc). */
const EXIT_FLAG_ERROR = 125;

/**
 * The CliExit that reports commander's `error` for the line `argv` of `program`, or undefined
 * when it is not a usage error (help or version shown: exit 0, or an error of another kind).
 */
export function usageError(
  error: CommanderError,
  program: Command,
  argv: readonly string[],
): CliExit | undefined {
  // help shown (a group without its subcommand shows it and fails), or the version: printed already
  if (error.exitCode === 0 || error.code === 'commander.help') return undefined;
  const command = commandReached(program, argv);
  const path = commandPath(command);
  const text = error.message.replace(/^error: /, '');
  const usage = `Usage:  ${useLine(command, path)}`;
  const flagError = (message: string) =>
    new CliExit(EXIT_FLAG_ERROR, `${message}\n\n${usage}\n\nRun '${path} --help' for more information`);
  switch (error.code) {
    case 'commander.unknownOption': {
      const flag = /unknown option '([^']+)'/.exec(text)?.[1] ?? text;
      return flagError(
        flag.startsWith('--')
          ? `unknown flag: ${flag}`
          : `unknown shorthand flag: '${flag.slice(1, 2)}' in ${flag}`,
      );
    }
    case 'commander.optionMissingArgument': {
      const flag = /option '(?:-\w, )?(--?[\w-]+)/.exec(text)?.[1] ?? text;
      return flagError(`flag needs an argument: ${flag}`);
    }
    case 'commander.invalidArgument':
    case 'commander.missingMandatoryOptionValue':
    case 'commander.conflictingOption':
      return flagError(text);
    case 'commander.missingArgument':
    case 'commander.excessArguments':
      return new CliExit(
        1,
        `wharf: '${path}' ${arityText(command)}\n\n${usage}\n\n${
          hasVariadicOrOptional(command) ? 'See' : 'Run'
        } '${path} --help' for more information`,
      );
    case 'commander.unknownCommand': {
      const word = /unknown command '([^']+)'/.exec(text)?.[1] ?? '';
      const more = `Run '${path} --help' for more information`;
      return new CliExit(
        1,
        command.parent
          ? `wharf: unknown command: ${path} ${word}\n\nUsage:  ${path} COMMAND\n\n${more}`
          : `wharf: unknown command: ${path} ${word}\n\n${more}`,
      );
    }
    default:
      return new CliExit(error.exitCode, text);
  }
}

/**
 * The deepest command `argv` names: the verb, then a management group's subcommand (global
 * flags and their values, and other flags, are stepped over).
 */
function commandReached(program: Command, argv: readonly string[]): Command {
  let current = program;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (current === program && GLOBAL_VALUE_FLAGS.has(arg)) {
      i++;
      continue;
    }
    if (arg.startsWith('-')) continue;
    const next = current.commands.find(
      (command) => command.name() === arg || command.aliases().includes(arg),
    );
    if (!next) break;
    current = next;
  }
  return current;
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let at: Command | null = command; at; at = at.parent) names.unshift(at.name());
  return names.join(' ');
}

/**
 * Docker's use line: `wharf run [OPTIONS] IMAGE [COMMAND] [ARG...]`. An argument shows as its
 * description when that is written the docker way (capitals: `CONTAINER`, `COMMAND [ARG...]`),
 * else as its name in capitals; optional ones in brackets, a list as `NAME [NAME...]`.
 */
function useLine(command: Command, path: string): string {
  const parts = [path];
  if (command.commands.length > 0) return `${path} COMMAND`;
  if (command.options.some((option) => !option.hidden && option.long !== '--help')) parts.push('[OPTIONS]');
  for (const argument of command.registeredArguments) parts.push(argumentUse(argument));
  return parts.join(' ');
}

function argumentUse(argument: Argument): string {
  const described = /^[A-Z][A-Z0-9_|.[\] -]*$/.test(argument.description) ? argument.description : undefined;
  const name = described ?? argument.name().toUpperCase().replaceAll('-', '_');
  if (described?.includes('['))
    return argument.required ? name : `[${name.replace(/ \[.*$/, '')}] ${name.slice(name.indexOf('['))}`;
  if (argument.variadic) return argument.required ? `${name} [${name}...]` : `[${name}...]`;
  return argument.required ? name : `[${name}]`;
}

function hasVariadicOrOptional(command: Command): boolean {
  return command.registeredArguments.some((argument) => argument.variadic || !argument.required);
}

/** `requires at least 1 argument`, `requires 2 arguments`, `accepts no arguments`. */
function arityText(command: Command): string {
  const required = command.registeredArguments.filter((argument) => argument.required).length;
  const plural = (n: number) => `${n} argument${n === 1 ? '' : 's'}`;
  if (command.registeredArguments.length === 0) return 'accepts no arguments';
  if (hasVariadicOrOptional(command)) {
    if (command.registeredArguments.some((argument) => argument.variadic))
      return `requires at least ${plural(required)}`;
    return `requires at least ${plural(required)} and at most ${plural(command.registeredArguments.length)}`;
  }
  return `requires ${plural(required)}`;
}
