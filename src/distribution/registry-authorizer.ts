/**
 * Authorization for one registry, as Docker does it: requests go out anonymously until the
 * registry answers 401 with a `WWW-Authenticate` challenge; then
 * - `Basic`: the stored username and password go with every later request;
 * - `Bearer realm=…,service=…`: a token is asked from the realm for the scopes the request needs
 *   (`repository:library/busybox:pull`, `…:pull,push`), with the credentials as Basic auth (or an
 *   identity token as an OAuth refresh token), and cached per scope set until it expires; later
 *   requests for the same scopes reuse it without a 401 round trip.
 *
 * @example
 * const auth = new RegistryAuthorizer(transport, { domain: 'localhost:5000', credentials });
 * const header = await auth.authorization(['repository:a/b:pull']); // undefined until challenged
 * if (response.status === 401) await auth.challenge(response.headers['www-authenticate'], scopes);
 */
import { PermissionDeniedError, UnavailableError } from '../errors/index.ts';
import type { RegistryCredentials } from './credential-store.ts';
import type { HttpTransport } from './http-transport.ts';
import { describeRegistryError } from './registry-errors.ts';
import { parseWwwAuthenticate } from './www-authenticate.ts';

export type CredentialsLookup = (domain: string) => Promise<RegistryCredentials | undefined>;

export interface RegistryAuthorizerOptions {
  /** The registry as references name it (credentials are looked up by it). */
  domain: string;
  credentials?: CredentialsLookup;
  /** Sent as `client_id` to token servers. */
  clientId?: string;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** A token is renewed this long before its announced expiry. */
const EXPIRY_MARGIN_MS = 5_000;
const DEFAULT_TOKEN_LIFETIME_S = 60;

/** `repository:NAME:ACTIONS`, the scope a token for a repository is asked with. */
export function repositoryScope(path: string, actions: readonly ('pull' | 'push')[]): string {
  return `repository:${path}:${actions.join(',')}`;
}

export class RegistryAuthorizer {
  readonly #transport: HttpTransport;
  readonly #domain: string;
  readonly #lookup: CredentialsLookup | undefined;
  readonly #clientId: string;
  #credentials: RegistryCredentials | undefined | null = null;
  #scheme: 'basic' | 'bearer' | undefined;
  #realm = '';
  #service: string | undefined;
  readonly #tokens = new Map<string, CachedToken>();

  constructor(transport: HttpTransport, options: RegistryAuthorizerOptions) {
    this.#transport = transport;
    this.#domain = options.domain;
    this.#lookup = options.credentials;
    this.#clientId = options.clientId ?? 'wharf';
  }

  /** The scheme the registry asked for, once it has challenged. */
  get scheme(): 'basic' | 'bearer' | undefined {
    return this.#scheme;
  }

  /**
   * The Authorization header for a request needing `scopes`, or undefined while the registry has
   * not asked for any. May fetch a token (a cached one is reused).
   */
  async authorization(scopes: readonly string[], signal?: AbortSignal): Promise<string | undefined> {
    if (this.#scheme === 'basic') {
      const credentials = await this.#credentialsOnce();
      return credentials ? basicHeader(credentials) : undefined;
    }
    if (this.#scheme === 'bearer') {
      const key = scopeKey(scopes);
      const cached = this.#tokens.get(key);
      if (cached && cached.expiresAt > Date.now()) return `Bearer ${cached.token}`;
      return `Bearer ${await this.#fetchToken(scopes, signal)}`;
    }
    return undefined;
  }

  /**
   * Takes a 401's challenge into account. Returns true when the request is worth sending again
   * (new authorization was obtained), false when nothing more can be tried. `sent` is the
   * Authorization the refused request carried: requests sent at once before the first challenge
   * was answered (the layers of a push) all come back 401 without one, and each is worth sending
   * again with what the first challenge obtained; only a refusal of what we have now is final.
   */
  async challenge(
    header: string | readonly string[] | undefined,
    scopes: readonly string[],
    signal?: AbortSignal,
    sent?: string,
  ): Promise<boolean> {
    const challenges = parseWwwAuthenticate(header);
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    if (bearer) {
      const wasBearer = this.#scheme === 'bearer';
      const sameRealm = wasBearer && this.#realm === bearer.params.realm;
      this.#scheme = 'bearer';
      this.#realm = bearer.params.realm!;
      this.#service = bearer.params.service;
      const wanted = scopes.length > 0 ? scopes : bearer.params.scope ? bearer.params.scope.split(' ') : [];
      const key = scopeKey(wanted);
      const cached = sameRealm ? this.#tokens.get(key) : undefined;
      if (cached) {
        // a newer token than the request carried: send it again with that one
        if (sent !== `Bearer ${cached.token}`) return true;
        // the token we have for these scopes was refused: asking again gives the same answer
        this.#tokens.delete(key);
        return false;
      }
      await this.#fetchToken(wanted, signal);
      return true;
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      if (this.#scheme === 'basic') {
        // refused with the credentials: final; sent without them (before the first challenge): again
        return sent === undefined && (await this.#credentialsOnce()) !== undefined;
      }
      this.#scheme = 'basic';
      return (await this.#credentialsOnce()) !== undefined;
    }
    return false;
  }

  async #credentialsOnce(): Promise<RegistryCredentials | undefined> {
    if (this.#credentials === null) this.#credentials = (await this.#lookup?.(this.#domain)) ?? undefined;
    return this.#credentials;
  }

  async #fetchToken(scopes: readonly string[], signal?: AbortSignal): Promise<string> {
    const credentials = await this.#credentialsOnce();
    const url = new URL(this.#realm);
    const action = `get a token from ${url.origin}${url.pathname} for ${this.#domain}`;
    let response: Awaited<ReturnType<HttpTransport['send']>>;
    if (credentials?.identityToken) {
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: credentials.identityToken,
        client_id: this.#clientId,
      });
      if (this.#service) form.set('service', this.#service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      response = await this.#transport.send({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
        ...(signal ? { signal } : {}),
      });
    } else {
      if (this.#service) url.searchParams.set('service', this.#service);
      for (const scope of scopes) url.searchParams.append('scope', scope);
      url.searchParams.set('client_id', this.#clientId);
      const headers: Record<string, string> = {};
      if (credentials && (credentials.username || credentials.password)) {
        headers.authorization = basicHeader(credentials);
      }
      response = await this.#transport.send({ method: 'GET', url, headers, ...(signal ? { signal } : {}) });
    }
    const body = await response.bytes();
    if (response.status === 401 || response.status === 403) {
      throw new PermissionDeniedError(
        `Cannot ${action}: ${credentials ? describeRegistryError(response.status, body) : 'unauthorized: authentication required'}`,
      );
    }
    if (response.status !== 200) {
      throw new UnavailableError(`Cannot ${action}: ${describeRegistryError(response.status, body)}`);
    }
    let document: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
    try {
      document = JSON.parse(body.toString('utf8')) as typeof document;
    } catch (error) {
      throw new UnavailableError(`Cannot ${action}: the answer is not JSON`, { cause: error });
    }
    const token =
      typeof document.token === 'string' && document.token
        ? document.token
        : typeof document.access_token === 'string'
          ? document.access_token
          : '';
    if (!token) throw new UnavailableError(`Cannot ${action}: the answer has no token`);
    const lifetime =
      typeof document.expires_in === 'number' && document.expires_in > 0
        ? document.expires_in
        : DEFAULT_TOKEN_LIFETIME_S;
    const issued = typeof document.issued_at === 'string' ? Date.parse(document.issued_at) : Number.NaN;
    const start = Number.isNaN(issued) ? Date.now() : Math.min(issued, Date.now());
    this.#tokens.set(scopeKey(scopes), { token, expiresAt: start + lifetime * 1000 - EXPIRY_MARGIN_MS });
    return token;
  }
}

function scopeKey(scopes: readonly string[]): string {
  return [...scopes].sort().join(' ');
}

function basicHeader(credentials: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}
