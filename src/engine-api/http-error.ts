/**
 * Errors on the wire: the one place where Wharf's error categories (src/errors) become HTTP
 * statuses, with Docker's body `{"message": "..."}`. The docker CLI prints the message after
 * "Error response from daemon: " and decides some behaviour from the status alone (404 makes
 * `docker run` pull, 304 makes `docker start` silent), so the mapping follows moby's errdefs.
 *
 * @example
 * throw new HttpError(501, 'Cannot pull images: the image transfer service is not available');
 * statusOfError(new NotFoundError('No such image: x')); // 404
 */
import { categoryOf, type ErrorCategory } from '../errors/index.ts';

/** An error that already knows its status: API version refusals, 501 seams, 304 answers. */
export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HttpError';
    this.status = status;
  }
}

const STATUS_OF_CATEGORY: Record<ErrorCategory, number> = {
  NotFound: 404,
  InvalidArgument: 400,
  AlreadyExists: 409,
  Conflict: 409,
  // moby turns containerd's FailedPrecondition into a conflict (e.g. "container is not running")
  FailedPrecondition: 409,
  PermissionDenied: 403,
  Unavailable: 503,
  Internal: 500,
};

/** The HTTP status for any thrown value; unknown errors are 500. */
export function statusOfError(error: unknown): number {
  if (error instanceof HttpError) return error.status;
  return STATUS_OF_CATEGORY[categoryOf(error)];
}

/** Docker's error body. */
export function errorBody(error: unknown): { message: string } {
  return { message: error instanceof Error ? error.message : String(error) };
}
