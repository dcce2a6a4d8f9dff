/**
 * The `wharf` entry point. Kept tiny so start-up stays near a bare `node -e 0`: `--version`
 * is answered here, and each verb's module is imported only when that verb runs.
 */
import { VERSION } from './version.ts';

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  process.stdout.write(`Wharf version ${VERSION}\n`);
} else {
  const { runCli } = await import('./run-cli.ts');
  process.exitCode = await runCli(argv);
}
