/**
 * The Docker Engine API versions Wharf speaks. Clients negotiate: the docker CLI reads
 * `API-Version` from `/_ping` and uses the lower of it and its own (1.50 for CLI 28.2), then
 * prefixes every path with `/v1.NN`. Shapes served are those of API 1.41; newer clients send
 * fields of later versions anyway, which the routes ignore (lenient parsing).
 *
 * @example
 * splitVersionPrefix('/v1.41/images/json'); // { version: '1.41', path: '/images/json' }
 * compareApiVersions('1.9', '1.41');        // -1
 */
import { HttpError } from './http-error.ts';

/** The highest API version served: what `/_ping` and `/version` report. */
export const API_VERSION = '1.41';
/** The lowest API version accepted (Docker's own minimum, so old clients such as docker-compose 1.29 work). */
export const MIN_API_VERSION = '1.24';

const VERSION_PREFIX = /^\/v(\d+\.\d+)(\/.*)?$/;

/** Compares two `MAJOR.MINOR` versions numerically: -1, 0 or 1. */
export function compareApiVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split('.').map(Number);
  const [bMajor = 0, bMinor = 0] = b.split('.').map(Number);
  if (aMajor !== bMajor) return aMajor < bMajor ? -1 : 1;
  if (aMinor !== bMinor) return aMinor < bMinor ? -1 : 1;
  return 0;
}

/**
 * Splits `/v1.NN/rest` into the version and the unversioned path; an unversioned path (what
 * dockerode sends) gets the current version. Versions outside [MIN_API_VERSION, API_VERSION]
 * are refused with Docker's words and status 400.
 */
export function splitVersionPrefix(path: string): { version: string; path: string } {
  const match = VERSION_PREFIX.exec(path);
  if (!match) return { version: API_VERSION, path };
  const version = match[1]!;
  if (compareApiVersions(version, API_VERSION) > 0) {
    throw new HttpError(
      400,
      `client version ${version} is too new. Maximum supported API version is ${API_VERSION}`,
    );
  }
  if (compareApiVersions(version, MIN_API_VERSION) < 0) {
    throw new HttpError(
      400,
      `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
    );
  }
  return { version, path: match[2] ?? '/' };
}
