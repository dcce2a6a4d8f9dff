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
const registry: Loader = () => import('./commands/registry.ts');
const imageTransfer: Loader = () => import('./commands/image-transfer.ts');
const images: Loader = () => import('./commands/images.ts');
const inspect: Loader = () => import('./commands/inspect.ts');
const system: Loader = () => import('./commands/system.ts');
const network: Loader = () => import('./commands/network.ts');
const version: Loader = () => import('./commands/version.ts');

export const COMMAND_TABLE: Record<string, Loader> = {
  dockerfile,
  registry,
  import: imageTransfer,
  load: imageTransfer,
  save: imageTransfer,
  tag: imageTransfer,
  image: images,
  images,
  history: images,
  rmi: images,
  inspect,
  system,
  network,
  port: network,
  version,
};
