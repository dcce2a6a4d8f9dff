/**
 * This CLI as a `wharf` command, for conmon's exit command and the health-check loop: node, its
 * flags (tsx's loader when run from source) and the script.
 */
import { resolve } from 'node:path';
import type { WharfCommand } from '../container/container-context.ts';

export function wharfCommand(): WharfCommand {
  const script = process.argv[1];
  return { path: process.execPath, args: [...process.execArgv, ...(script ? [resolve(script)] : [])] };
}
