/**
 * Who is looking at the web UI and what they may see, decided by the registry's own access
 * controller (the same users, robots and htpasswd file as `/v2/`; no second auth). A browser
 * sends HTTP Basic credentials; without any the viewer is anonymous and sees what anonymous pull
 * allows: public projects, or everything while no account exists (the registry is open).
 *
 * @example
 * const viewer = await resolveViewer(access, request.headers); // throws UiUnauthorizedError
 * if (!(await viewer.canPull('team/app'))) return notFound();
 */
import { PermissionDeniedError } from '../../errors/index.ts';
import { type AccessController, type Principal, parseBasic } from '../auth/access-controller.ts';
import type { AccessRequest } from '../http/access.ts';

export interface Viewer {
  /** The signed-in account's name; undefined for an anonymous viewer. */
  readonly name: string | undefined;
  /** Whether the viewer may pull from `repository` (and so see it at all). */
  canPull(repository: string): Promise<boolean>;
  /** Projects whose repositories the viewer may list; undefined: all of them. */
  visibleProjects(): Promise<readonly string[] | undefined>;
}

/** Credentials that do not check out (or a scheme a browser does not send): answer 401 with a Basic challenge. */
export class UiUnauthorizedError extends PermissionDeniedError {}

/** The Basic challenge of the UI (browsers show their login dialog on it). */
export const BASIC_CHALLENGE = 'Basic realm="Wharf registry", charset="UTF-8"';

const OPEN: Viewer = {
  name: undefined,
  canPull: async () => true,
  visibleProjects: async () => undefined,
};

/** The viewer of a request; throws UiUnauthorizedError for bad credentials. */
export async function resolveViewer(
  access: AccessController,
  headers: AccessRequest['headers'],
): Promise<Viewer> {
  const header = headers.authorization;
  const enforced = await access.enforced();
  if (header === undefined || header === '') {
    return enforced ? viewerOf(access, { kind: 'anonymous' }) : OPEN;
  }
  // An open registry has no accounts to check against: everyone sees everything.
  if (!enforced) return OPEN;
  const space = header.indexOf(' ');
  if (space < 0 || header.slice(0, space).toLowerCase() !== 'basic') {
    throw new UiUnauthorizedError('Cannot sign in: the web UI takes HTTP Basic credentials');
  }
  const credentials = parseBasic(header.slice(space + 1).trim());
  const principal =
    credentials && (await access.authenticatePassword(credentials.user, credentials.password));
  if (!principal || principal.kind === 'anonymous') {
    throw new UiUnauthorizedError('Cannot sign in: invalid username or password');
  }
  return viewerOf(access, principal);
}

function viewerOf(access: AccessController, principal: Principal): Viewer {
  return {
    name: principal.kind === 'anonymous' ? undefined : principal.name,
    canPull: async (repository) => (await access.actionsFor(principal, repository)).has('pull'),
    visibleProjects: () => access.visibleProjects(principal),
  };
}
