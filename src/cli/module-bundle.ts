/**
 * The entry of a bundle built for one command module (dist/verbs/NAME.cjs, made by
 * scripts/build.mjs from a two-line entry that imports the module and calls moduleBundle): the
 * CLI as it runs that module's verbs, and nothing else. The launcher picks such a bundle when
 * the command line's verb belongs to the module (verb-modules.ts), so `exec` reads, deserializes
 * and initialises its own code only, not the builder's, the registry's or `run`'s.
 *
 * @example
 * import * as commands from './commands/exec.ts';
 * export const { runCli, warmUp } = moduleBundle('exec', commands);
 */
import type { CliBundle } from './bundle-loader.ts';
import type { CommandModule, CommandTable } from './command-table.ts';
import { runCli } from './run-cli.ts';
import { type CommandModuleName, VERB_MODULES } from './verb-modules.ts';

export function moduleBundle(module: CommandModuleName, commands: CommandModule): CliBundle {
  const load = async () => commands;
  const verbs = Object.entries(VERB_MODULES)
    .filter(([, name]) => name === module)
    .map(([verb]) => verb);
  const table: CommandTable = Object.fromEntries(verbs.map((verb) => [verb, load]));
  return {
    runCli: (argv) => runCli(argv, table),
    // what the build's code cache holds: each verb's registration and commander's parse of it
    async warmUp() {
      for (const verb of verbs) await runCli([verb, '--help'], table);
    },
  };
}
