/** Global options every verb sees (`--root`, `--debug`), resolved once from flags and environment. */
export interface CliContext {
  /** The store root: `--root`, else `WHARF_ROOT`, else /var/lib/wharf. */
  root(): string;
  debug(): boolean;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export const DEFAULT_ROOT = '/var/lib/wharf';
