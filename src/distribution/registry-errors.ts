/**
 * Errors a registry answers with, turned into Wharf's categories with Docker's wording: the
 * distribution spec's body `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"…"}]}` reads as
 * `manifest unknown: …` (lower-cased code, then the message), as the docker CLI prints it. The
 * reason is kept apart from the action so a caller can say `Cannot pull docker.io/x: <reason>`.
 *
 * @example
 * throw registryError(401, body, 'fetch manifest localhost:5000/a:latest');
 * // PermissionDeniedError: Cannot fetch manifest localhost:5000/a:latest: unauthorized: authentication required
 */
import {
  ConflictError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  UnavailableError,
  type WharfError,
} from '../errors/index.ts';

export interface RegistryErrorEntry {
  code: string;
  message: string;
  detail?: unknown;
}

const reasons = new WeakMap<Error, string>();
const statuses = new WeakMap<Error, number>();

/** The `errors` of a registry's error body; [] when the body is not one. */
export function parseErrorBody(body: Uint8Array | string): RegistryErrorEntry[] {
  try {
    const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
    const document = JSON.parse(text) as { errors?: unknown; details?: unknown };
    if (!Array.isArray(document.errors)) return [];
    return document.errors
      .filter((entry): entry is Record<string, unknown> => typeof entry === 'object' && entry !== null)
      .map((entry) => {
        const out: RegistryErrorEntry = {
          code: typeof entry.code === 'string' ? entry.code : 'UNKNOWN',
          message: typeof entry.message === 'string' ? entry.message : '',
        };
        if (entry.detail !== undefined) out.detail = entry.detail;
        return out;
      });
  } catch {
    return [];
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'bad request',
  401: 'unauthorized: authentication required',
  403: 'denied: requested access to the resource is denied',
  404: 'not found',
  405: 'unsupported: the operation is unsupported',
  429: 'toomanyrequests: too many requests',
  500: 'internal server error',
  502: 'bad gateway',
  503: 'service unavailable',
  504: 'gateway timeout',
};

/** Docker's text for an error response: `unauthorized: authentication required`. */
export function describeRegistryError(status: number, body: Uint8Array | string = ''): string {
  const entries = parseErrorBody(body);
  if (entries.length > 0) {
    return entries
      .map((entry) => {
        const code = entry.code.toLowerCase().replace(/_/g, ' ');
        return entry.message ? `${code}: ${entry.message}` : code;
      })
      .join('; ');
  }
  const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
  const short = text.trim().split('\n')[0]?.slice(0, 200) ?? '';
  const known = STATUS_TEXT[status] ?? `unexpected HTTP status ${status}`;
  return short && !short.startsWith('<') && !short.startsWith('{') ? `${known} (${short})` : known;
}

/** A Wharf error of the category that fits `status`, saying `Cannot <action>: <reason>`. */
export function categoryError(status: number, action: string, reason: string, cause?: unknown): WharfError {
  const message = `Cannot ${action}: ${reason}`;
  const options = cause === undefined ? undefined : { cause };
  let error: WharfError;
  if (status === 401 || status === 403) error = new PermissionDeniedError(message, options);
  else if (status === 404) error = new NotFoundError(message, options);
  else if (status === 409) error = new ConflictError(message, options);
  else if (status === 429 || status >= 500 || status === 0) error = new UnavailableError(message, options);
  else if (status >= 400) error = new InvalidArgumentError(message, options);
  else error = new InternalError(message, options);
  reasons.set(error, reason);
  statuses.set(error, status);
  return error;
}

/** Records `reason` as the reason of `error` (its message minus the action), for `rephraseError`. */
export function withReason<E extends Error>(error: E, reason: string): E {
  reasons.set(error, reason);
  return error;
}

/** The error for a registry's error response to `action`. */
export function registryError(status: number, body: Uint8Array | string, action: string): WharfError {
  return categoryError(status, action, describeRegistryError(status, body));
}

/** The reason of an error made here (without its `Cannot …:` prefix), else its message. */
export function reasonOf(error: unknown): string {
  if (error instanceof Error) return reasons.get(error) ?? error.message.replace(/^Cannot .*?: /, '');
  return String(error);
}

/** The HTTP status behind an error made here (0 for a network failure), if any. */
export function statusOf(error: unknown): number | undefined {
  return error instanceof Error ? statuses.get(error) : undefined;
}

/**
 * The same failure told for another action, keeping the category: how `Cannot fetch manifest …`
 * becomes `Cannot pull docker.io/x: …`.
 */
export function rephraseError(error: unknown, action: string): Error {
  if (!(error instanceof Error)) return new InternalError(`Cannot ${action}: ${String(error)}`);
  const status = statuses.get(error);
  const reason = reasons.get(error);
  if (status !== undefined && reason !== undefined) return categoryError(status, action, reason, error);
  const category = (error as Partial<WharfError>).category;
  const text = `Cannot ${action}: ${reasonOf(error)}`;
  switch (category) {
    case 'NotFound':
      return new NotFoundError(text, { cause: error });
    case 'PermissionDenied':
      return new PermissionDeniedError(text, { cause: error });
    case 'InvalidArgument':
      return new InvalidArgumentError(text, { cause: error });
    case 'Unavailable':
      return new UnavailableError(text, { cause: error });
    case 'Conflict':
      return new ConflictError(text, { cause: error });
    default:
      return error;
  }
}
