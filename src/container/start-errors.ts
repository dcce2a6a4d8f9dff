/**
 * Exit codes for a container process that could not be started, as Docker gives them (moby's
 * `translateContainerdStartErr` and the CLI's `runStartContainerErr`): 127 when the command is not
 * found, 126 when it cannot be invoked (permission denied, a directory), 125 for any other failure
 * of Wharf's own. A process that did start exits with its own code.
 *
 * @example
 * startErrorExitCode('exec: "nope": executable file not found in $PATH'); // 127
 */
import { FailedPreconditionError } from '../errors/index.ts';

export const EXIT_WHARF_ERROR = 125;
export const EXIT_CANNOT_INVOKE = 126;
export const EXIT_NOT_FOUND = 127;

export function startErrorExitCode(message: string): number {
  const text = message.toLowerCase();
  if (
    text.includes('executable file not found') ||
    text.includes('no such file or directory') ||
    text.includes('system cannot find the file specified') ||
    text.includes('not a directory')
  ) {
    return EXIT_NOT_FOUND;
  }
  if (
    text.includes('permission denied') ||
    text.includes('is a directory') ||
    text.includes('exec format error')
  ) {
    return EXIT_CANNOT_INVOKE;
  }
  return EXIT_WHARF_ERROR;
}

/**
 * crun's words for a process that cannot be executed, in runc's, which Docker's messages carry
 * and its CLI reads to choose the exit code (case-sensitive: `permission denied`, not crun's
 * `Permission denied`). Other messages are returned as they are.
 *
 * @example
 * dockerStartMessage('crun: executable file `nope` not found in $PATH: No such file or directory', 'nope');
 * // 'crun: exec: "nope": executable file not found in $PATH'
 */
export function dockerStartMessage(message: string, executable: string): string {
  return message
    .replace(
      /executable file `([^`]*)` not found in \$PATH(?:: No such file or directory)?/,
      (_, name: string) => `exec: "${name}": executable file not found in $PATH`,
    )
    .replace(/open executable: Permission denied/, `exec: "${executable}": permission denied`)
    .replace(/open executable: Operation not permitted/, `exec: "${executable}": permission denied`);
}

/** A start that failed before the process ran; `exitCode` is 125, 126 or 127. */
export class ContainerStartError extends FailedPreconditionError {
  readonly exitCode: number;

  constructor(message: string, exitCode: number, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
  }
}
