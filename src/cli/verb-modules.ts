/**
 * Which command module (src/cli/commands/NAME.ts) implements each top-level verb, as plain data:
 * the launcher reads it before any command code is loaded, to pick the bundle built for that
 * module (dist/verbs/NAME.cjs, scripts/build.mjs), and command-table.ts maps each name to its
 * import. Docker's short forms (`images`, `rmi`, `ps`...) name the module of their management
 * command.
 *
 * @example
 * VERB_MODULES.ps; // 'container'
 */
export const VERB_MODULES = {
  dockerfile: 'dockerfile',
  registry: 'registry',
  import: 'image-transfer',
  load: 'image-transfer',
  save: 'image-transfer',
  tag: 'image-transfer',
  image: 'images',
  images: 'images',
  history: 'images',
  rmi: 'images',
  inspect: 'inspect',
  system: 'system',
  version: 'version',
  info: 'info',
  build: 'build',
  builder: 'builder',
  pull: 'pull',
  push: 'push',
  login: 'login',
  logout: 'login',
  search: 'search',
  run: 'run',
  create: 'run',
  container: 'container',
  start: 'container',
  stop: 'container',
  restart: 'container',
  kill: 'container',
  rm: 'container',
  ps: 'container',
  logs: 'container',
  exec: 'exec',
  attach: 'container',
  wait: 'container',
  top: 'container',
  stats: 'container',
  pause: 'container',
  unpause: 'container',
  rename: 'container',
  update: 'container',
  events: 'events',
  network: 'network',
  port: 'network',
  volume: 'volume',
  cp: 'container-fs',
  diff: 'container-fs',
  commit: 'container-fs',
  export: 'container-fs',
} as const satisfies Record<string, string>;

export type CommandModuleName = (typeof VERB_MODULES)[keyof typeof VERB_MODULES];

/** Global flags that take a value: a verb is the first word that is neither one nor its value. */
export const GLOBAL_VALUE_FLAGS: ReadonlySet<string> = new Set([
  '--root',
  '-H',
  '--host',
  '-l',
  '--log-level',
]);

/**
 * The verb of a command line, and whether a global `--help` comes before it (then the program's
 * help lists every command, and every module registers).
 *
 * @example
 * findVerb(['--root', '/r', 'ps', '-a']); // { verb: 'ps', index: 2, help: false }
 */
export function findVerb(argv: readonly string[]): {
  verb: string | undefined;
  index: number;
  help: boolean;
} {
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (GLOBAL_VALUE_FLAGS.has(arg)) {
      i++;
      continue;
    }
    if (arg === '-h' || arg === '--help') help = true;
    if (!arg.startsWith('-')) return { verb: arg, index: i, help };
  }
  return { verb: undefined, index: -1, help };
}

/**
 * The module whose bundle alone can run this command line: the verb's, unless there is no known
 * verb or help comes before it (every module's commands are listed then).
 *
 * @example
 * commandModuleOf(['exec', 'web', 'ls']); // 'exec'
 * commandModuleOf(['--help']); // undefined
 */
export function commandModuleOf(argv: readonly string[]): CommandModuleName | undefined {
  const { verb, help } = findVerb(argv);
  if (help || verb === undefined || !Object.hasOwn(VERB_MODULES, verb)) return undefined;
  return VERB_MODULES[verb as keyof typeof VERB_MODULES];
}
