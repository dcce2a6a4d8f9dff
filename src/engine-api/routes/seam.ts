/**
 * Routes whose service is not wired into this daemon (yet) answer 501 with a message naming
 * what is missing, rather than a 404 that clients read as "no such container" or "no such
 * image". Each route group calls `requireBackend` so its handlers are written once, against
 * the interface, whether or not an implementation exists.
 *
 * @example
 * const backend = requireBackend(containers, 'start containers', 'container');
 */
import { HttpError } from '../http-error.ts';

export function notAvailable(action: string, service: string): HttpError {
  return new HttpError(
    501,
    `Cannot ${action}: the ${service} service is not available in this Wharf daemon yet`,
  );
}

/** The backend, or a 501 for `action` when the daemon was started without it. */
export function requireBackend<T>(backend: T | undefined, action: string, service: string): T {
  if (backend === undefined) throw notAvailable(action, service);
  return backend;
}
