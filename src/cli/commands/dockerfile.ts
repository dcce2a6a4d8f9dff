/** `wharf dockerfile parse`: placeholder until the Dockerfile front end lands. */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';

export function register(program: Command, _context: CliContext): void {
  program.command('dockerfile').description('Work with Dockerfiles');
}
