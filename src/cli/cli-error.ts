/** An error that ends the CLI with a specific exit code (Docker's: 1 general, 125 for `run`'s own errors). */
export class CliExit extends Error {
  constructor(
    readonly exitCode: number,
    message = '',
  ) {
    super(message);
  }
}
