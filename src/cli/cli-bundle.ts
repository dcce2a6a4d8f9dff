/**
 * The entry of the whole CLI's bundle dist/wharf.cjs (loaded by launcher.ts through
 * bundle-loader.ts when no module bundle fits the command line: no verb, an unknown one, or help
 * before the verb): the whole CLI as one CommonJS script, whose modules stay lazy (each verb's
 * module is initialised when its verb runs). `warmUp` is for the build: it runs what every
 * command runs, so the code cache the build writes after it holds that code already compiled.
 */
import { COMMAND_TABLE } from './command-table.ts';
import { type CliResult, runCli as runWith } from './run-cli.ts';

export function runCli(argv: string[]): Promise<CliResult> {
  return runWith(argv, COMMAND_TABLE);
}

/**
 * Runs `wharf VERB --help` for every verb: each verb's module is initialised and registered as a
 * real command would (run-cli.ts), and commander parses the command line, stopping at the help
 * before any action. Nothing is read or written but stdout, which the build discards.
 */
export async function warmUp(): Promise<void> {
  for (const verb of Object.keys(COMMAND_TABLE)) await runCli([verb, '--help']);
}
