import { FailedPreconditionError, InvalidArgumentError } from '../errors/index.ts';

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

/**
 * Refuses a daemon address (`-H`, `WHARF_HOST`; empty counts as unset) for a command that would
 * run in-process: the CLI has no remote mode yet, and running on the local store instead of the
 * daemon the user named (`wharf -H tcp://prod:2375 rm -f db`) would act on the wrong containers.
 * `version` and `system service` (whose own `-H` is where it listens) run anyway.
 */
export function refuseDaemonHost(
  flag: string | undefined,
  env: string | undefined,
  commandPath: readonly string[],
): void {
  const host = flag ?? (env || undefined);
  if (host === undefined) return;
  const path = commandPath.join(' ');
  if (path === 'version' || path === 'system service') return;
  throw new FailedPreconditionError(
    `Cannot run "wharf ${path}" against the daemon at ${host}: the wharf CLI runs the engine in-process and has no remote mode yet. Drop -H (and WHARF_HOST) to use the local store, or talk to the daemon with the docker CLI: DOCKER_HOST=${host} docker ${path}`,
  );
}
