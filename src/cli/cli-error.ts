/** An error that ends the CLI with a specific exit code (Docker's: 1 general, 125 for `run`'s own errors). */
export class CliExit extends Error {
  constructor(
    readonly exitCode: number,
    message = '',
  ) {
    super(message);
  }
}

/**
 * Thrown by a verb's action, before it has done anything, when the verb's full form in its
 * management group must run the command instead (`exec` -> `container exec`: the top-level
 * `exec` has a fast path of its own and leaves the other cases to the container module). runCli
 * runs the group's form when its table has the group, else hands it to the launcher, which runs
 * it with the group's bundle.
 */
export class ContinueInGroup extends Error {
  constructor(readonly group: string) {
    super(`continue in \`${group}\``);
  }
}
