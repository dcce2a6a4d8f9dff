/**
 * A failure inside the parser's helpers, which know neither the file name nor (mostly) the line:
 * `parseDockerfile` turns it into a DockerfileError naming both.
 */
export class ParseFailure extends Error {
  constructor(
    readonly reason: string,
    /** The 1-based line when the helper knows it better than the instruction's first line. */
    readonly line?: number,
  ) {
    super(reason);
  }
}
