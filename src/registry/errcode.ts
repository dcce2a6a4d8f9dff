/**
 * The one registry of error codes the registry answers with: each OCI distribution-spec code
 * (spec 1.1, "Error Codes") with the HTTP status it normally travels with, and `RegistryError`,
 * which every handler throws. The HTTP layer turns it into the spec's JSON form:
 *
 *   {"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown to registry", "detail": {...}}]}
 *
 * A few answers need a status other than the code's usual one (an out-of-order chunk is
 * BLOB_UPLOAD_INVALID with 416, an oversized manifest MANIFEST_INVALID with 413): `status` overrides
 * it per error, so the codes stay exactly the spec's list (clients switch on them).
 *
 * @example
 * throw new RegistryError('BLOB_UNKNOWN', { detail: { digest } });
 * throw new RegistryError('BLOB_UPLOAD_INVALID', { status: 416, message: 'chunk out of order' });
 */

export const ERROR_CODES = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: {
    status: 400,
    message: 'manifest references a manifest or blob unknown to registry',
  },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface RegistryErrorOptions {
  /** Human-readable text; defaults to the code's description. */
  message?: string;
  /** Unstructured JSON the client can use (the digest, the tag, the range...). */
  detail?: unknown;
  /** HTTP status when it differs from the code's usual one. */
  status?: number;
  /** Extra response headers (e.g. `Range` and `Location` on a 416 for an upload). */
  headers?: Record<string, string>;
  cause?: unknown;
}

/** An error the HTTP layer sends as `{"errors":[{code,message,detail}]}` with its status. */
export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: unknown;
  readonly headers: Record<string, string> | undefined;

  constructor(code: ErrorCode, options: RegistryErrorOptions = {}) {
    super(options.message ?? ERROR_CODES[code].message, { cause: options.cause });
    this.name = 'RegistryError';
    this.code = code;
    this.status = options.status ?? ERROR_CODES[code].status;
    this.detail = options.detail;
    this.headers = options.headers;
  }

  /** The spec's JSON body for this error. */
  toBody(): { errors: Array<{ code: ErrorCode; message: string; detail?: unknown }> } {
    const entry: { code: ErrorCode; message: string; detail?: unknown } = {
      code: this.code,
      message: this.message,
    };
    if (this.detail !== undefined) entry.detail = this.detail;
    return { errors: [entry] };
  }
}

/** Several errors in one answer (a manifest missing several blobs); status of the first. */
export class RegistryErrors extends Error {
  readonly status: number;
  constructor(readonly errors: RegistryError[]) {
    super(errors.map((error) => `${error.code}: ${error.message}`).join('; '));
    this.name = 'RegistryErrors';
    this.status = errors[0]?.status ?? 500;
  }

  toBody(): { errors: Array<{ code: ErrorCode; message: string; detail?: unknown }> } {
    return { errors: this.errors.flatMap((error) => error.toBody().errors) };
  }
}
