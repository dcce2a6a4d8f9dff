/**
 * The token endpoint of Docker's token auth, served by the registry itself at `/token` (the realm
 * of its challenges):
 *
 * - `GET /token?service=S&scope=repository:team/app:pull,push&scope=...&account=U[&offline_token=true]`
 *   with optional Basic credentials (distribution `docs/spec/auth/token.md`): 200
 *   `{"token", "access_token", "expires_in", "issued_at"[, "refresh_token"]}`. Without credentials the
 *   token is anonymous (public pulls); bad credentials get 401. Scopes the caller may not have
 *   are granted partially or not at all, never refused (the registry then answers 401/403).
 * - `POST /token` (`application/x-www-form-urlencoded`, distribution `oauth.md`): `grant_type=password`
 *   (`username`, `password`) or `grant_type=refresh_token` (`refresh_token`), with `service`,
 *   `scope` (space-separated), `client_id`, `access_type=offline` for a refresh token.
 *
 * @example
 * registerTokenRoutes(app, access);
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AccessController, IssuedToken, Principal } from '../auth/access-controller.ts';
import { parseBasic } from '../auth/access-controller.ts';
import { parseScopes } from '../auth/scope.ts';

const FORM_LIMIT = 64 * 1024;

type Query = Record<string, string | string[] | undefined>;

function values(query: Query, name: string): string[] {
  const value = query[name];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

export function registerTokenRoutes(app: FastifyInstance, access: AccessController): void {
  app.get('/token', async (request, reply) => {
    const query = (request.query ?? {}) as Query;
    const service = values(query, 'service')[0];
    if (service !== undefined && service !== access.service)
      return oauthError(reply, 400, 'invalid_request', `unknown service ${service}`);
    let principal: Principal = { kind: 'anonymous' };
    const header = request.headers.authorization;
    if (header !== undefined && /^basic /i.test(header)) {
      const credentials = parseBasic(header.slice(6).trim());
      const found =
        credentials && (await access.authenticatePassword(credentials.user, credentials.password));
      if (!found) {
        reply.header('www-authenticate', `Basic realm="${access.service}"`);
        return oauthError(reply, 401, 'invalid_grant', 'invalid username or password');
      }
      principal = found;
    }
    const offline = values(query, 'offline_token')[0] === 'true';
    const issued = await access.issueToken(principal, parseScopes(values(query, 'scope')), { offline });
    return sendToken(reply, issued, false);
  });

  app.post('/token', async (request, reply) => {
    const form = await readForm(request);
    if (!form)
      return oauthError(reply, 400, 'invalid_request', 'expected an application/x-www-form-urlencoded body');
    const service = form.get('service');
    if (service !== null && service !== access.service)
      return oauthError(reply, 400, 'invalid_request', `unknown service ${service}`);
    const grantType = form.get('grant_type');
    let principal: Principal | undefined;
    let offline = form.get('access_type') === 'offline';
    if (grantType === 'password') {
      const username = form.get('username') ?? '';
      const password = form.get('password') ?? '';
      principal = await access.authenticatePassword(username, password);
      if (!principal) return oauthError(reply, 401, 'invalid_grant', 'invalid username or password');
    } else if (grantType === 'refresh_token') {
      principal = await access.principalOfRefreshToken(form.get('refresh_token') ?? '');
      if (!principal) return oauthError(reply, 401, 'invalid_grant', 'invalid or expired refresh token');
      offline = true;
    } else {
      return oauthError(
        reply,
        400,
        'unsupported_grant_type',
        `unsupported grant_type ${grantType ?? '(none)'}`,
      );
    }
    const issued = await access.issueToken(principal, parseScopes(form.getAll('scope')), { offline });
    return sendToken(reply, issued, true);
  });
}

function sendToken(reply: FastifyReply, issued: IssuedToken, oauth: boolean): FastifyReply {
  const body: Record<string, unknown> = oauth
    ? {
        access_token: issued.token,
        token_type: 'Bearer',
        expires_in: issued.expiresIn,
        issued_at: issued.issuedAt,
        scope: issued.access
          .map((entry) => `${entry.type}:${entry.name}:${entry.actions.join(',')}`)
          .join(' '),
      }
    : {
        token: issued.token,
        access_token: issued.token,
        expires_in: issued.expiresIn,
        issued_at: issued.issuedAt,
      };
  if (issued.refreshToken) body.refresh_token = issued.refreshToken;
  return reply
    .header('content-type', 'application/json')
    .header('cache-control', 'no-store')
    .send(Buffer.from(JSON.stringify(body)));
}

function oauthError(reply: FastifyReply, status: number, error: string, description: string): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'application/json')
    .send(Buffer.from(JSON.stringify({ error, error_description: description })));
}

async function readForm(request: FastifyRequest): Promise<URLSearchParams | undefined> {
  const type = request.headers['content-type'] ?? '';
  if (!type.toLowerCase().startsWith('application/x-www-form-urlencoded')) return undefined;
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of request.raw as AsyncIterable<Buffer>) {
    total += chunk.byteLength;
    if (total > FORM_LIMIT) return undefined;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
