/**
 * The entry of the built `wharf` (dist/launcher.cjs, required by bin/wharf): answers `--version`
 * itself, at the cost of a bare `node`, and hands every other command to a CLI bundle loaded
 * through V8's code cache (bundle-loader.ts): the bundle of the verb's command module
 * (dist/verbs/NAME.cjs, verb-modules.ts), which holds that module's code only, or the whole CLI
 * (dist/wharf.cjs). Built as CommonJS, so node
 * starts `wharf` without its ES module loader. Run from source (`node --import tsx
 * src/cli/main.ts`), the CLI starts from main.ts instead; both end in runCli.
 *
 * The first successful run of a hot verb (`run`, `ps`, `container cleanup`...) then writes the
 * cache it learned (bundle-loader.ts), in `beforeExit`: when the event loop has emptied, so the
 * command's output is written, its exit code settled and every handle it held closed; nothing is
 * printed, whatever happens. A command that ends by `process.exit()` or a signal (a server, `logs
 * -f` interrupted) never gets there and learns nothing.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tracePhase } from '../util/phase-trace.ts';
import { hotVerb, loadCliBundle } from './bundle-loader.ts';
import { commandModuleOf } from './verb-modules.ts';
import { VERSION } from './version.ts';

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  process.stdout.write(`Wharf version ${VERSION}\n`);
} else {
  tracePhase('cli: launcher');
  process.on('exit', endPromptly); // `on`, not `once`: it must still be in the list it reads
  void runLine(argv);
}

/**
 * Runs `args` with its bundle; a command line a module bundle hands on (`exec` -> `container
 * exec`, run-cli.ts) runs with the bundle of the line it hands on. The bundle that ends the
 * command is the one that learns.
 */
async function runLine(args: string[]): Promise<void> {
  const loaded = loadCliBundle(bundleFor(args), { verb: hotVerb(args) });
  tracePhase(`cli: bundle loaded (${loaded.codeCache})`);
  const result = await loaded.bundle.runCli(args);
  if (typeof result !== 'number') return runLine(result.continueWith);
  process.exitCode = result;
  const learn = loaded.learn;
  if (result !== 0 || !learn) return;
  process.once('beforeExit', () => {
    if ((process.exitCode ?? 0) === 0) learn();
  });
}

/**
 * The bundle that runs `argv`: its verb's module bundle (dist/verbs/NAME.cjs) when there is one,
 * else the whole CLI (dist/wharf.cjs: no verb, an unknown one, help before the verb, or a dist/
 * built before module bundles).
 */
function bundleFor(argv: readonly string[]): string {
  const module = commandModuleOf(argv);
  if (module !== undefined) {
    const file = fileURLToPath(new URL(`./verbs/${module}.cjs`, import.meta.url));
    if (existsSync(file)) return file;
  }
  return fileURLToPath(new URL('./wharf.cjs', import.meta.url));
}

/**
 * The launcher's 'exit' listener: runs the ones after it, then ends the process at once. After its 'exit'
 * event a naturally exiting node still frees its environment and V8's heap object by object
 * (4 ms for a bare node here, 11 with the whole CLI's bundle loaded), memory the kernel takes
 * back whole; `process.exit` called from an 'exit' listener skips that (it stops the platform's
 * threads and exits). Nothing is lost: at a natural exit the event loop is empty (every write,
 * child and timer done), and every listener still runs, in order, before the end. (A database a
 * command left open is left as a crash would leave it, which SQLite's WAL recovers; each command
 * closes its own.)
 */
function endPromptly(code: number): void {
  tracePhase('cli: exit');
  // the listeners registered after this one (any before it, say a --require'd module's, have run)
  const listeners = process.listeners('exit');
  for (const listener of listeners.slice(listeners.indexOf(endPromptly) + 1)) {
    (listener as (code: number) => void).call(process, code);
  }
  process.exit(process.exitCode ?? code);
}
