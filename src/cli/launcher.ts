/**
 * The entry of the built `wharf` (dist/launcher.cjs, required by bin/wharf): answers `--version`
 * itself, at the cost of a bare `node`, and hands every other command to the CLI bundle
 * dist/wharf.cjs, loaded through V8's code cache (bundle-loader.ts). Built as CommonJS, so node
 * starts `wharf` without its ES module loader. Run from source (`node --import tsx
 * src/cli/main.ts`), the CLI starts from main.ts instead; both end in runCli.
 *
 * The first successful run of a hot verb (`run`, `ps`, `container cleanup`...) then writes the
 * cache it learned (bundle-loader.ts), in `beforeExit`: when the event loop has emptied, so the
 * command's output is written, its exit code settled and every handle it held closed; nothing is
 * printed, whatever happens. A command that ends by `process.exit()` or a signal (a server, `logs
 * -f` interrupted) never gets there and learns nothing.
 */
import { fileURLToPath } from 'node:url';
import { hotVerb, loadCliBundle } from './bundle-loader.ts';
import { VERSION } from './version.ts';

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  process.stdout.write(`Wharf version ${VERSION}\n`);
} else {
  const loaded = loadCliBundle(fileURLToPath(new URL('./wharf.cjs', import.meta.url)), {
    verb: hotVerb(argv),
  });
  void loaded.bundle.runCli(argv).then((code) => {
    process.exitCode = code;
    const learn = loaded.learn;
    if (code !== 0 || !learn) return;
    process.once('beforeExit', () => {
      if ((process.exitCode ?? 0) === 0) learn();
    });
  });
}
