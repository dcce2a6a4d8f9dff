/** `wharf version`: client version information, as `docker version` prints it. */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { API_VERSION, VERSION } from '../version.ts';

export function register(program: Command, context: CliContext): void {
  program
    .command('version')
    .description('Show the Wharf version information')
    .option('-f, --format <format>', 'format the output (json)')
    .action((options: { format?: string }) => {
      const info = {
        Version: VERSION,
        ApiVersion: API_VERSION,
        GoVersion: process.version,
        Os: process.platform,
        Arch: process.arch === 'x64' ? 'amd64' : process.arch,
      };
      if (options.format === 'json' || options.format === '{{json .}}') {
        context.stdout.write(`${JSON.stringify({ Client: info })}\n`);
        return;
      }
      context.stdout.write(
        `Client:\n Version:           ${info.Version}\n API version:       ${info.ApiVersion}\n Node version:      ${info.GoVersion}\n OS/Arch:           ${info.Os}/${info.Arch}\n`,
      );
    });
}
