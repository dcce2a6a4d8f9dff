/**
 * Wharf's error categories. Every layer throws one of these (with the lower-level error as `cause`);
 * front doors map categories to exit codes and HTTP statuses in one place each.
 *
 * @example
 * throw new NotFoundError(`Cannot find image: ${ref}`);
 */
export type ErrorCategory =
  | 'NotFound'
  | 'AlreadyExists'
  | 'InvalidArgument'
  | 'Conflict'
  | 'FailedPrecondition'
  | 'Unavailable'
  | 'PermissionDenied'
  | 'Internal';

export abstract class WharfError extends Error {
  abstract readonly category: ErrorCategory;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class NotFoundError extends WharfError {
  readonly category = 'NotFound' as const;
}
export class AlreadyExistsError extends WharfError {
  readonly category = 'AlreadyExists' as const;
}
export class InvalidArgumentError extends WharfError {
  readonly category = 'InvalidArgument' as const;
}
export class ConflictError extends WharfError {
  readonly category = 'Conflict' as const;
}
export class FailedPreconditionError extends WharfError {
  readonly category = 'FailedPrecondition' as const;
}
export class UnavailableError extends WharfError {
  readonly category = 'Unavailable' as const;
}
export class PermissionDeniedError extends WharfError {
  readonly category = 'PermissionDenied' as const;
}
export class InternalError extends WharfError {
  readonly category = 'Internal' as const;
}

/** The category of any thrown value; unknown errors are Internal. */
export function categoryOf(error: unknown): ErrorCategory {
  return error instanceof WharfError ? error.category : 'Internal';
}

/** True when `error` is a Node system error with the given code (ENOENT, EEXIST...). */
export function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
}
