/**
 * The entry of the built `wharf` (dist/launcher.cjs, required by bin/wharf): answers `--version`
 * itself, at the cost of a bare `node`, and hands every other command to the CLI bundle
 * dist/wharf.cjs, loaded through V8's code cache (bundle-loader.ts). Built as CommonJS, so node
 * starts `wharf` without its ES module loader. Run from source (`node --import tsx
 * src/cli/main.ts`), the CLI starts from main.ts instead; both end in runCli.
 */
import { fileURLToPath } from 'node:url';
import { loadCliBundle } from './bundle-loader.ts';
import { VERSION } from './version.ts';

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  process.stdout.write(`Wharf version ${VERSION}\n`);
} else {
  const { bundle } = loadCliBundle(fileURLToPath(new URL('./wharf.cjs', import.meta.url)));
  void bundle.runCli(argv).then((code) => {
    process.exitCode = code;
  });
}
