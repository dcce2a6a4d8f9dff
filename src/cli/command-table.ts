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
const version: Loader = () => import('./commands/version.ts');
const info: Loader = () => import('./commands/info.ts');
const build: Loader = () => import('./commands/build.ts');
const builder: Loader = () => import('./commands/builder.ts');
const pull: Loader = () => import('./commands/pull.ts');
const push: Loader = () => import('./commands/push.ts');
const login: Loader = () => import('./commands/login.ts');
const search: Loader = () => import('./commands/search.ts');
const run: Loader = () => import('./commands/run.ts');
const container: Loader = () => import('./commands/container.ts');
const events: Loader = () => import('./commands/events.ts');
const network: Loader = () => import('./commands/network.ts');
const volume: Loader = () => import('./commands/volume.ts');
const containerFs: Loader = () => import('./commands/container-fs.ts');

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
  version,
  info,
  build,
  builder,
  pull,
  push,
  login,
  logout: login,
  search,
  run,
  create: run,
  container,
  start: container,
  stop: container,
  restart: container,
  kill: container,
  rm: container,
  ps: container,
  logs: container,
  exec: container,
  attach: container,
  wait: container,
  top: container,
  stats: container,
  pause: container,
  unpause: container,
  rename: container,
  update: container,
  events,
  network,
  port: network,
  volume,
  cp: containerFs,
  diff: containerFs,
  commit: containerFs,
  export: containerFs,
};
