/**
 * The registry's HTTP front: a Fastify instance with one wildcard route for `/v2/...` that
 * resolves the endpoint itself (`route.ts`), checks access (the auth hook), and runs the
 * endpoint's handler. Bodies are never parsed by Fastify (no body limit applies to blobs): the
 * handlers read `request.raw`. HEAD routes are explicit (Fastify's automatic HEAD would run GET
 * and read the blob). Errors leave in the spec's JSON form; every answer carries
 * `Docker-Distribution-API-Version: registry/2.0`. One log line per request.
 *
 * @example
 * const app = await buildRegistryApp({ context, logger });
 * await app.listen({ host: '127.0.0.1', port: 5000 });
 */
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import { RegistryError, RegistryErrors } from '../errcode.ts';
import type { AccessGrant, AccessRequest, AuthorizeHook } from './access.ts';
import { ALLOWED_METHODS, HANDLERS, type HandlerContext, methodNotAllowed } from './handlers.ts';
import { type Route, resolveRoute } from './route.ts';

export type { AccessGrant, AccessRequest, AuthorizeHook } from './access.ts';

const EVERYTHING: AccessGrant = { canPull: async () => true, visibleProjects: async () => undefined };

export interface RegistryAppOptions {
  context: HandlerContext;
  /** pino logger; one line per request at info. Absent: no logging. */
  logger?: Logger;
  authorize?: AuthorizeHook;
  /** Adds routes beside `/v2/` (the token endpoint, the admin API). */
  extraRoutes?: (app: FastifyInstance) => void;
}

const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

export async function buildRegistryApp(options: RegistryAppOptions): Promise<FastifyInstance> {
  const { context, authorize, logger } = options;
  const app = Fastify({
    exposeHeadRoutes: false,
    requestIdHeader: false,
    // Uploads may stream for a long time: no request timeout; idle keep-alive sockets close after 65 s.
    requestTimeout: 0,
    keepAliveTimeout: 65_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  // Bodies stay unread streams for the handlers, whatever their Content-Type.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  const dispatch = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    reply.header('docker-distribution-api-version', 'registry/2.0');
    const url = request.url;
    const question = url.indexOf('?');
    const route = resolveRoute(question < 0 ? url : url.slice(0, question));
    if (!route) {
      throw new RegistryError('UNSUPPORTED', {
        status: 404,
        message: `no endpoint at ${request.method} ${url}`,
      });
    }
    if (!ALLOWED_METHODS[route.kind].includes(request.method)) {
      reply.header('allow', ALLOWED_METHODS[route.kind].join(', '));
      throw methodNotAllowed(request.method);
    }
    const grant = authorize ? await authorize(accessOf(route, request)) : EVERYTHING;
    // biome-ignore lint/suspicious/noExplicitAny: the route kind selects the handler's route type
    return HANDLERS[route.kind](context, route as any, request, reply, grant);
  };

  app.route({ method: [...ALL_METHODS], url: '/v2', handler: dispatch });
  app.route({ method: [...ALL_METHODS], url: '/v2/*', handler: dispatch });
  options.extraRoutes?.(app);

  app.setNotFoundHandler((request, reply) => {
    sendError(
      reply,
      new RegistryError('UNSUPPORTED', { status: 404, message: `no endpoint at ${request.url}` }),
    );
  });

  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    if (error instanceof RegistryError || error instanceof RegistryErrors) return sendError(reply, error);
    if (
      request.raw.destroyed ||
      (error as NodeJS.ErrnoException).code === 'ECONNRESET' ||
      error.message === 'aborted'
    ) {
      // The client went away mid-body; nothing to answer.
      logger?.info({ method: request.method, url: request.url, reason: error.message }, 'request aborted');
      return reply.code(400).send();
    }
    const statusCode = (error as FastifyError).statusCode;
    if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) {
      return sendError(
        reply,
        new RegistryError('UNSUPPORTED', { status: statusCode, message: error.message }),
      );
    }
    logger?.error({ err: error, method: request.method, url: request.url }, 'request failed');
    reply.header('docker-distribution-api-version', 'registry/2.0');
    return reply
      .code(500)
      .header('content-type', 'application/json')
      .send(Buffer.from(JSON.stringify({ errors: [{ code: 'UNKNOWN', message: 'internal server error' }] })));
  });

  if (logger) {
    app.addHook('onResponse', (request, reply, done) => {
      logger.info(
        {
          method: request.method,
          url: request.url,
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime * 10) / 10,
        },
        'request',
      );
      done();
    });
  }
  return app;
}

function accessOf(route: Route, request: FastifyRequest): AccessRequest {
  const method = request.method;
  const action: AccessRequest['action'] =
    route.kind === 'base'
      ? 'ping'
      : route.kind === 'catalog'
        ? 'catalog'
        : method === 'DELETE' && route.kind !== 'upload'
          ? 'delete'
          : method === 'GET' || method === 'HEAD'
            ? route.kind === 'upload'
              ? 'push'
              : 'pull'
            : 'push';
  const access: AccessRequest = { action, method, headers: request.headers, protocol: request.protocol };
  if (request.headers.host !== undefined) access.host = request.headers.host;
  if ('name' in route) access.repository = route.name;
  return access;
}

export function sendError(reply: FastifyReply, error: RegistryError | RegistryErrors): FastifyReply {
  reply.header('docker-distribution-api-version', 'registry/2.0');
  const headers = error instanceof RegistryError ? error.headers : error.errors[0]?.headers;
  if (headers) for (const [name, value] of Object.entries(headers)) reply.header(name, value);
  return reply
    .code(error.status)
    .header('content-type', 'application/json')
    .send(Buffer.from(JSON.stringify(error.toBody())));
}
