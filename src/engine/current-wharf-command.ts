/**
 * This process as a `wharf` command, for conmon's exit command and the health-check loop: node,
 * its flags (tsx's loader when run from source) and the script. A module of its own, so `exec`'s
 * light path (exec-service.ts, the CLI's exec module) has it without the container service.
 *
 * @example
 * openContainerService(engine, { wharfCommand: currentWharfCommand() });
 */
import { resolve } from 'node:path';
import type { WharfCommand } from '../container/container-context.ts';

export function currentWharfCommand(): WharfCommand {
  const script = process.argv[1];
  return { path: process.execPath, args: [...process.execArgv, ...(script ? [resolve(script)] : [])] };
}
