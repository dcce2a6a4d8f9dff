/**
 * Which module implements each top-level verb. Only the module of the verb being run is
 * imported, so adding verbs costs nothing at start-up. Docker's short forms (`images`, `rmi`,
 * `ps`...) point at the module of their management command.
 */
import type { Command } from 'commander';
import type { CliContext } from './context.ts';

export interface CommandModule {
  /** Adds this module's verbs (and its management-command group) to `program`. */
  register(program: Command, context: CliContext): void;
}

type Loader = () => Promise<CommandModule>;

const dockerfile: Loader = () => import('./commands/dockerfile.ts');
const version: Loader = () => import('./commands/version.ts');

export const COMMAND_TABLE: Record<string, Loader> = {
  dockerfile,
  version,
};
