/**
 * The `wharf` entry point. Kept tiny so start-up stays near a bare `node -e 0`: `--version`
 * is answered here, and each verb's module is imported only when that verb runs.
 */
import { VERSION } from './version.ts';

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  process.stdout.write(`Wharf version ${VERSION}\n`);
} else {
  const [{ runCli }, { COMMAND_TABLE }] = await Promise.all([
    import('./run-cli.ts'),
    import('./command-table.ts'),
  ]);
  const result = await runCli(argv, COMMAND_TABLE);
  // the whole table has every group, so a line handed on runs within it: always an exit code
  process.exitCode = typeof result === 'number' ? result : 1;
}
