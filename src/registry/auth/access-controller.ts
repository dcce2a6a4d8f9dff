/**
 * Access control of the registry: who a request comes from, what it may do, and the tokens of
 * Docker's token auth (distribution `docs/spec/auth/token.md`), so `docker login`, skopeo and
 * containerd work unchanged.
 *
 * - Until an account exists (a user or robot in the access store, or a user in the htpasswd
 *   file) the registry is open: every request may do everything (issue 8's default).
 * - Then every request is checked. Credentials come as `Authorization: Basic` (checked directly,
 *   each request) or `Bearer` (a token from `/token`, whose `access` claim is what it may do).
 *   Without credentials a request is anonymous: it may pull from public projects.
 * - Refusals: no or bad credentials get 401 UNAUTHORIZED with a challenge
 *   `WWW-Authenticate: Bearer realm="<url>/token",service="...",scope="repository:<name>:<actions>"`;
 *   a known caller lacking the right gets 403 DENIED, except a bearer token that merely lacks a
 *   scope its subject could get (401 with `error="insufficient_scope"`, so clients fetch another).
 * - What a principal may do in a repository: everything for a registry admin; else the actions
 *   of its role in the repository's project (first path component), plus `pull` when the project
 *   is public; a robot has its fixed per-project permissions. A project that does not exist
 *   belongs to admins alone; an admin's first push creates it (private).
 *
 * @example
 * const access = new AccessController({ store, signer, service: 'wharf-registry' });
 * const grant = await access.authorize(request); // throws RegistryError to refuse
 */
import { randomUUID } from 'node:crypto';
import { isValidRepositoryName } from '../../oci/reference.ts';
import { RegistryError } from '../errcode.ts';
import type { AccessGrant, AccessRequest } from '../http/access.ts';
import { projectOf } from '../project-name.ts';
import { ACTIONS, type AccessStore, type Action, ROBOT_PREFIX, ROLE_ACTIONS } from './access-store.ts';
import { credentialVersion, PasswordVerifier, robotSecretMatches } from './credentials.ts';
import type { HtpasswdFile } from './htpasswd.ts';
import { parseScopes, type Scope } from './scope.ts';
import type { TokenSigner } from './token-signer.ts';

export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'user'; name: string; admin: boolean; version: string }
  | { kind: 'robot'; name: string; permissions: ReadonlyMap<string, ReadonlySet<Action>>; version: string };

/** What the `access` claim of a token holds (distribution's `ResourceActions`). */
export interface AccessClaim {
  type: string;
  name: string;
  actions: string[];
}

export interface IssuedToken {
  token: string;
  expiresIn: number;
  issuedAt: string;
  access: AccessClaim[];
  refreshToken?: string;
}

export interface AccessControllerOptions {
  store: AccessStore;
  signer: TokenSigner;
  htpasswd?: HtpasswdFile;
  /** The `service` of challenges and the audience of tokens. */
  service?: string;
  /** The token endpoint's URL; default: `<scheme>://<Host of the request>/token`. */
  realm?: string;
  /** Lifetime of access tokens (seconds; default 300). */
  tokenTtlSeconds?: number;
}

export const DEFAULT_SERVICE = 'wharf-registry';
const ISSUER = 'wharf-registry-token-issuer';
const REFRESH_TTL_SECONDS = 90 * 24 * 3600;
const CLOCK_SKEW_SECONDS = 60;
const TOKEN_CACHE_ENTRIES = 10_000;

const ANONYMOUS: Principal = { kind: 'anonymous' };

/** The grant of an open registry: everything, everywhere. */
export const OPEN_GRANT: AccessGrant = { canPull: async () => true, visibleProjects: async () => undefined };

interface Caller {
  principal: Principal;
  /** How the caller identified itself. */
  via: 'none' | 'basic' | 'bearer';
  /** A bearer token's access claim. */
  access?: AccessClaim[];
}

export class AccessController {
  readonly #store: AccessStore;
  readonly #signer: TokenSigner;
  readonly #htpasswd: HtpasswdFile | undefined;
  readonly #passwords = new PasswordVerifier();
  readonly #tokenCache = new Map<string, { claims: Record<string, unknown>; exp: number }>();
  readonly service: string;
  readonly #realm: string | undefined;
  readonly #ttl: number;

  constructor(options: AccessControllerOptions) {
    this.#store = options.store;
    this.#signer = options.signer;
    this.#htpasswd = options.htpasswd;
    this.service = options.service ?? DEFAULT_SERVICE;
    this.#realm = options.realm;
    this.#ttl = options.tokenTtlSeconds ?? 300;
  }

  /** Whether access control is enforced (some account exists). */
  async enforced(): Promise<boolean> {
    if (await this.#store.hasAccounts()) return true;
    return this.#htpasswd !== undefined && (await this.#htpasswd.size()) > 0;
  }

  // --- who ---------------------------------------------------------------------------------------

  /** The principal of a user name and password (or robot secret), or undefined when they do not match. */
  async authenticatePassword(name: string, password: string): Promise<Principal | undefined> {
    if (name.startsWith(ROBOT_PREFIX)) {
      const robot = await this.#store.getRobot(name.slice(ROBOT_PREFIX.length));
      if (!robot || (robot.expiresAt && robot.expiresAt.getTime() <= Date.now())) return undefined;
      if (!robotSecretMatches(password, robot.secretHash)) return undefined;
      return this.#robotPrincipal(name, robot);
    }
    const user = await this.#store.getUser(name);
    if (user) {
      if (!(await this.#passwords.verify(name, password, user.passwordHash))) return undefined;
      return { kind: 'user', name, admin: user.admin, version: credentialVersion(user.passwordHash) };
    }
    const hash = await this.#htpasswd?.lookup(name);
    if (hash && (await this.#passwords.verify(name, password, hash))) {
      return { kind: 'user', name, admin: false, version: credentialVersion(hash) };
    }
    return undefined;
  }

  /** The principal a token's subject names today (undefined when the account is gone). */
  async principalOf(subject: string): Promise<Principal | undefined> {
    if (subject === '') return ANONYMOUS;
    if (subject.startsWith(ROBOT_PREFIX)) {
      const robot = await this.#store.getRobot(subject.slice(ROBOT_PREFIX.length));
      if (!robot || (robot.expiresAt && robot.expiresAt.getTime() <= Date.now())) return undefined;
      return this.#robotPrincipal(subject, robot);
    }
    const user = await this.#store.getUser(subject);
    if (user)
      return {
        kind: 'user',
        name: subject,
        admin: user.admin,
        version: credentialVersion(user.passwordHash),
      };
    const hash = await this.#htpasswd?.lookup(subject);
    if (hash) return { kind: 'user', name: subject, admin: false, version: credentialVersion(hash) };
    return undefined;
  }

  #robotPrincipal(name: string, robot: Awaited<ReturnType<AccessStore['getRobot']>> & object): Principal {
    const permissions = new Map<string, Set<Action>>();
    for (const permission of robot.permissions)
      permissions.set(permission.project, new Set(permission.actions));
    return { kind: 'robot', name, permissions, version: credentialVersion(robot.secretHash) };
  }

  /** The caller of a request, from its Authorization header; 401 for credentials that do not check out. */
  async identify(headers: AccessRequest['headers'], realm: string, scope?: string): Promise<Caller> {
    const header = headers.authorization;
    if (header === undefined || header === '') return { principal: ANONYMOUS, via: 'none' };
    const space = header.indexOf(' ');
    const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
    const value = space < 0 ? '' : header.slice(space + 1).trim();
    if (scheme === 'basic') {
      const credentials = parseBasic(value);
      const principal =
        credentials && (await this.authenticatePassword(credentials.user, credentials.password));
      if (!principal) throw this.#unauthorized(realm, scope, 'invalid username or password');
      return { principal, via: 'basic' };
    }
    if (scheme === 'bearer') {
      const claims = this.#verifyAccessToken(value);
      if (!claims) throw this.#unauthorized(realm, scope, 'invalid or expired token', 'invalid_token');
      const principal = await this.principalOf(typeof claims.sub === 'string' ? claims.sub : '');
      if (!principal)
        throw this.#unauthorized(realm, scope, 'the token names an account that is gone', 'invalid_token');
      return { principal, via: 'bearer', access: accessClaimOf(claims) };
    }
    throw this.#unauthorized(realm, scope, `unsupported authorization scheme ${scheme}`);
  }

  #verifyAccessToken(token: string): Record<string, unknown> | undefined {
    const now = Math.floor(Date.now() / 1000);
    const cached = this.#tokenCache.get(token);
    if (cached) {
      if (cached.exp + CLOCK_SKEW_SECONDS > now) return cached.claims;
      this.#tokenCache.delete(token);
      return undefined;
    }
    const claims = this.#signer.verify(token);
    if (!claims || claims.typ === 'refresh' || claims.iss !== ISSUER || claims.aud !== this.service)
      return undefined;
    const exp = typeof claims.exp === 'number' ? claims.exp : 0;
    const nbf = typeof claims.nbf === 'number' ? claims.nbf : 0;
    if (exp + CLOCK_SKEW_SECONDS <= now || nbf - CLOCK_SKEW_SECONDS > now) return undefined;
    if (this.#tokenCache.size >= TOKEN_CACHE_ENTRIES) this.#tokenCache.clear();
    this.#tokenCache.set(token, { claims, exp });
    return claims;
  }

  // --- what --------------------------------------------------------------------------------------

  /** What `principal` may do in `repository` today. */
  async actionsFor(principal: Principal, repository: string): Promise<Set<Action>> {
    if (principal.kind === 'user' && principal.admin) return new Set(ACTIONS);
    const project = projectOf(repository);
    const record = await this.#store.getProject(project);
    const actions = new Set<Action>();
    if (!record) return actions;
    if (record.public) actions.add('pull');
    if (principal.kind === 'robot') {
      for (const action of principal.permissions.get(project) ?? []) actions.add(action);
    } else if (principal.kind === 'user') {
      const membership = (await this.#store.membershipsOf(principal.name)).find(
        (member) => member.project === project,
      );
      if (membership) for (const action of ROLE_ACTIONS[membership.role]) actions.add(action);
    }
    return actions;
  }

  /** Projects whose repositories the principal may list (undefined: all of them). */
  async visibleProjects(principal: Principal): Promise<string[] | undefined> {
    if (principal.kind === 'user' && principal.admin) return undefined;
    const projects = new Set(await this.#store.publicProjects());
    if (principal.kind === 'user') {
      for (const member of await this.#store.membershipsOf(principal.name)) projects.add(member.project);
    } else if (principal.kind === 'robot') {
      for (const [project, actions] of principal.permissions) if (actions.has('pull')) projects.add(project);
    }
    return [...projects].sort();
  }

  /** The registry admin of a request (admin API), or a RegistryError (401 / 403). */
  async requireAdmin(headers: AccessRequest['headers'], realm: string): Promise<Principal> {
    const caller = await this.identify(headers, realm);
    if (caller.principal.kind === 'anonymous')
      throw this.#unauthorized(realm, undefined, 'authentication required');
    if (caller.principal.kind !== 'user' || !caller.principal.admin) {
      throw new RegistryError('DENIED', { message: 'this needs a registry administrator' });
    }
    return caller.principal;
  }

  // --- the hook ----------------------------------------------------------------------------------

  /** The AuthorizeHook: checks one request; returns what the handlers need to filter by. */
  async authorize(request: AccessRequest): Promise<AccessGrant> {
    if (!(await this.enforced())) return OPEN_GRANT;
    const realm = this.realmFor(request);
    const { action, repository } = request;
    const wanted: Action | undefined =
      action === 'pull' || action === 'push' || action === 'delete' ? action : undefined;
    const scope =
      action === 'catalog'
        ? 'registry:catalog:*'
        : repository !== undefined && wanted
          ? `repository:${repository}:${wanted === 'push' ? 'pull,push' : wanted}`
          : undefined;
    const caller = await this.identify(request.headers, realm, scope);
    const { principal } = caller;
    const grant: AccessGrant = {
      canPull: async (name) =>
        caller.via === 'bearer'
          ? tokenAllows(caller.access ?? [], name, 'pull')
          : (await this.actionsFor(principal, name)).has('pull'),
      visibleProjects: () => this.visibleProjects(principal),
    };

    if (action === 'ping') {
      if (caller.via === 'none') throw this.#unauthorized(realm, undefined, 'authentication required');
      return grant;
    }
    if (action === 'catalog') {
      const allowed =
        caller.via === 'basic' ||
        (caller.via === 'bearer' &&
          (caller.access ?? []).some((entry) => entry.type === 'registry' && entry.name === 'catalog'));
      if (!allowed) throw this.#unauthorized(realm, scope, 'authentication required');
      return grant;
    }
    if (!wanted || repository === undefined) return grant;

    const allowed =
      caller.via === 'bearer'
        ? tokenAllows(caller.access ?? [], repository, wanted)
        : (await this.actionsFor(principal, repository)).has(wanted);
    if (!allowed) {
      if (principal.kind === 'anonymous') throw this.#unauthorized(realm, scope, 'authentication required');
      if (caller.via === 'bearer' && (await this.actionsFor(principal, repository)).has(wanted)) {
        throw this.#unauthorized(realm, scope, 'the token does not grant this', 'insufficient_scope');
      }
      throw new RegistryError('DENIED', {
        message: `requested access to the resource is denied: ${wanted} on ${repository}`,
        detail: { name: repository, action: wanted },
      });
    }
    // An admin's first push into a project creates it (private); nobody else can reach one that is missing.
    if (wanted === 'push') await this.#store.ensureProject(projectOf(repository));
    return grant;
  }

  // --- tokens ------------------------------------------------------------------------------------

  /** A token for `principal` granting what it may of `scopes` (nothing it may not: no error, like distribution). */
  async issueToken(
    principal: Principal,
    scopes: Scope[],
    options: { offline?: boolean } = {},
  ): Promise<IssuedToken> {
    const access: AccessClaim[] = [];
    for (const scope of scopes) {
      if (scope.type === 'registry' && scope.name === 'catalog') {
        if (!access.some((entry) => entry.type === 'registry'))
          access.push({ type: 'registry', name: 'catalog', actions: ['*'] });
        continue;
      }
      if (scope.type !== 'repository' || !isValidRepositoryName(scope.name)) continue;
      const may = await this.actionsFor(principal, scope.name);
      const asked = scope.actions.includes('*') ? ACTIONS : scope.actions;
      const granted = ACTIONS.filter((action) => asked.includes(action) && may.has(action));
      if (granted.length === 0) continue;
      const existing = access.find((entry) => entry.type === 'repository' && entry.name === scope.name);
      if (existing) existing.actions = [...new Set([...existing.actions, ...granted])];
      else access.push({ type: 'repository', name: scope.name, actions: granted });
    }
    const now = Math.floor(Date.now() / 1000);
    const subject = principal.kind === 'anonymous' ? '' : principal.name;
    const token = this.#signer.sign({
      iss: ISSUER,
      sub: subject,
      aud: this.service,
      exp: now + this.#ttl,
      nbf: now - 1,
      iat: now,
      jti: randomUUID(),
      access,
    });
    const issued: IssuedToken = {
      token,
      expiresIn: this.#ttl,
      issuedAt: new Date(now * 1000).toISOString(),
      access,
    };
    if (options.offline && principal.kind !== 'anonymous') {
      issued.refreshToken = this.#signer.sign({
        iss: ISSUER,
        sub: subject,
        aud: this.service,
        typ: 'refresh',
        cv: principal.version,
        iat: now,
        exp: now + REFRESH_TTL_SECONDS,
        jti: randomUUID(),
      });
    }
    return issued;
  }

  /** The principal of a refresh token, if it is ours, unexpired, and its credentials are unchanged. */
  async principalOfRefreshToken(token: string): Promise<Principal | undefined> {
    const claims = this.#signer.verify(token);
    const now = Math.floor(Date.now() / 1000);
    if (claims?.typ !== 'refresh' || claims.iss !== ISSUER || claims.aud !== this.service) return undefined;
    if (typeof claims.exp !== 'number' || claims.exp <= now || typeof claims.sub !== 'string')
      return undefined;
    const principal = await this.principalOf(claims.sub);
    if (!principal || principal.kind === 'anonymous' || principal.version !== claims.cv) return undefined;
    return principal;
  }

  // --- challenges --------------------------------------------------------------------------------

  realmFor(request: { host?: string | undefined; protocol?: string | undefined }): string {
    if (this.#realm) return this.#realm;
    return `${request.protocol ?? 'http'}://${request.host ?? '127.0.0.1'}/token`;
  }

  /** A 401 with the Bearer challenge a client needs to get the right token. */
  challenge(realm: string, scope?: string, error?: string): string {
    let value = `Bearer realm="${realm}",service="${this.service}"`;
    if (scope) value += `,scope="${scope}"`;
    if (error) value += `,error="${error}"`;
    return value;
  }

  #unauthorized(realm: string, scope: string | undefined, message: string, error?: string): RegistryError {
    return new RegistryError('UNAUTHORIZED', {
      message,
      headers: { 'WWW-Authenticate': this.challenge(realm, scope, error) },
      ...(scope
        ? {
            detail: parseScopes([scope]).map((entry) => ({
              Type: entry.type,
              Name: entry.name,
              Action: entry.actions.join(','),
            })),
          }
        : {}),
    });
  }
}

/** `user:password` of a Basic credential; undefined when it is not one. */
export function parseBasic(value: string): { user: string; password: string } | undefined {
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function accessClaimOf(claims: Record<string, unknown>): AccessClaim[] {
  if (!Array.isArray(claims.access)) return [];
  return claims.access.filter(
    (entry): entry is AccessClaim =>
      entry !== null &&
      typeof entry === 'object' &&
      typeof (entry as AccessClaim).type === 'string' &&
      typeof (entry as AccessClaim).name === 'string' &&
      Array.isArray((entry as AccessClaim).actions),
  );
}

function tokenAllows(access: readonly AccessClaim[], repository: string, action: Action): boolean {
  return access.some(
    (entry) =>
      entry.type === 'repository' &&
      entry.name === repository &&
      (entry.actions.includes(action) || entry.actions.includes('*')),
  );
}
