/**
 * Errors of the Dockerfile front end. Each names the file and line and, where there is one, the
 * fix: `Dockerfile:7: unknown instruction: FORM (did you mean FROM?)`.
 */
import { InvalidArgumentError } from '../errors/index.ts';

export class DockerfileError extends InvalidArgumentError {
  constructor(
    readonly file: string,
    /** 1-based line the error is about (0 when it concerns the whole file). */
    readonly line: number,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(line > 0 ? `${file}:${line}: ${reason}` : `${file}: ${reason}`, options);
  }
}
