import { InvalidArgumentError } from '../errors/index.ts';

/** Global options every verb sees (`--root`, `--debug`), resolved once from flags and environment. */
export interface CliContext {
  /** The store root: `--root`, else `WHARF_ROOT`, else /var/lib/wharf. */
  root(): string;
  debug(): boolean;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export const DEFAULT_ROOT = '/var/lib/wharf';

/**
 * The store root from `--root` and `WHARF_ROOT`. An empty `WHARF_ROOT` counts as unset (as an
 * empty `DOCKER_HOST` does for docker: `WHARF_ROOT= wharf ps` in a script whose variable is
 * empty); an empty `--root` is a mistake said as one.
 */
export function storeRoot(flag: string | undefined, env: string | undefined): string {
  if (flag === '') throw new InvalidArgumentError('--root needs a directory: --root /var/lib/wharf');
  return flag ?? (env || DEFAULT_ROOT);
}
