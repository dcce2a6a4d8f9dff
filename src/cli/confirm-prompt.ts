/**
 * Docker's confirmation prompt (the CLI's PromptForConfirmation): the question, ` [y/N] `, then
 * one line read from stdin, a terminal or not; only `y` or `Y` confirms. Shared by the prunes,
 * whose warnings are Docker's, word for word.
 *
 * @example
 * if (!(await confirmPrompt(context, 'WARNING! This will remove all dangling images.\nAre you sure you want to continue?'))) return;
 */
import { createInterface } from 'node:readline';
import type { CliContext } from './context.ts';

export async function confirmPrompt(context: CliContext, message: string): Promise<boolean> {
  context.stdout.write(`${message} [y/N] `);
  const lines = createInterface({ input: process.stdin, terminal: false });
  try {
    for await (const line of lines) return line.trim().toLowerCase() === 'y';
    return false;
  } finally {
    lines.close();
  }
}
