/**
 * node:child_process, loaded on first use. Loading it loads net, stream and dgram as well: 3.5-4
 * ms of a command's start here, which a command that spawns nothing, or only through
 * fd-spawn.ts (`wharf exec`), never needs. The modules on those paths take their `spawn` from
 * here rather than importing node:child_process, which in the CLI's bundles would load it with
 * the bundle.
 *
 * @example
 * const child = childProcess().spawn('rm', ['-rf', '--', path], { stdio: 'ignore' });
 */
import type * as ChildProcessModule from 'node:child_process';
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);
let loaded: typeof ChildProcessModule | undefined;

export function childProcess(): typeof ChildProcessModule {
  loaded ??= load('node:child_process') as typeof ChildProcessModule;
  return loaded;
}
