/**
 * Which module implements each top-level verb (verb-modules.ts), as loaders: only the module of
 * the verb being run is imported, so adding verbs costs nothing at start-up.
 */
import type { Command } from 'commander';
import type { CliContext } from './context.ts';
import { type CommandModuleName, VERB_MODULES } from './verb-modules.ts';

export interface CommandModule {
  /** Adds this module's verbs (and its management-command group) to `program`. */
  register(program: Command, context: CliContext): void;
}

export type Loader = () => Promise<CommandModule>;

/** Verb -> loader of its module: what runCli (run-cli.ts) looks verbs up in. */
export type CommandTable = Readonly<Record<string, Loader>>;

export const MODULE_LOADERS: Readonly<Record<CommandModuleName, Loader>> = {
  dockerfile: () => import('./commands/dockerfile.ts'),
  registry: () => import('./commands/registry.ts'),
  'image-transfer': () => import('./commands/image-transfer.ts'),
  images: () => import('./commands/images.ts'),
  inspect: () => import('./commands/inspect.ts'),
  system: () => import('./commands/system.ts'),
  version: () => import('./commands/version.ts'),
  info: () => import('./commands/info.ts'),
  build: () => import('./commands/build.ts'),
  builder: () => import('./commands/builder.ts'),
  pull: () => import('./commands/pull.ts'),
  push: () => import('./commands/push.ts'),
  login: () => import('./commands/login.ts'),
  search: () => import('./commands/search.ts'),
  run: () => import('./commands/run.ts'),
  container: () => import('./commands/container.ts'),
  exec: () => import('./commands/exec.ts'),
  events: () => import('./commands/events.ts'),
  network: () => import('./commands/network.ts'),
  volume: () => import('./commands/volume.ts'),
  'container-fs': () => import('./commands/container-fs.ts'),
};

/** The table of every verb: the whole CLI (dist/wharf.cjs, `node src/cli/main.ts`). */
export const COMMAND_TABLE: CommandTable = Object.fromEntries(
  Object.entries(VERB_MODULES).map(([verb, module]) => [verb, MODULE_LOADERS[module]]),
);
