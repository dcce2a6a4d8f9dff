/**
 * The admin HTTP API, for registry administrators only (Basic credentials or a bearer token of an
 * admin; while no account exists the registry is open and so is this). JSON in, JSON out; errors
 * as `{"errors":[{"code","message"}]}` with the codes of the registry's error registry where one
 * fits (UNAUTHORIZED, DENIED) and NOT_FOUND, CONFLICT, INVALID otherwise.
 *
 *   GET    /api/v1/users                      [{name, admin, createdAt}]
 *   POST   /api/v1/users                      {name, password, admin?}             201
 *   PUT    /api/v1/users/{name}/password      {password}                           204
 *   DELETE /api/v1/users/{name}                                                    204
 *   GET    /api/v1/projects                   [{name, public, createdAt}]
 *   POST   /api/v1/projects                   {name, public?}                      201
 *   PUT    /api/v1/projects/{name}            {public}                             204
 *   DELETE /api/v1/projects/{name}            (refused while it holds repositories) 204
 *   GET    /api/v1/projects/{name}/members    [{project, user, role}]
 *   POST   /api/v1/projects/{name}/members    {user, role}                         201
 *   DELETE /api/v1/projects/{name}/members/{user}                                  204
 *   GET    /api/v1/robots                     [{name, description, permissions, createdAt, expiresAt}]
 *   POST   /api/v1/robots                     {name, permissions: [{project, actions}], description?, expiresIn?}
 *                                             201 {name: "robot$...", secret} (the secret is shown once)
 *   DELETE /api/v1/robots/{name}                                                   204
 *   GET    /api/v1/gc                         {running, queued, runs: [last reports]}
 *   POST   /api/v1/gc                         {grace?: "1h", dryRun?, deleteUntagged?}  200 report
 *
 * @example
 * registerAdminRoutes(app, { access, accounts, gc });
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { categoryOf, InvalidArgumentError, WharfError } from '../../errors/index.ts';
import type { AccessController } from '../auth/access-controller.ts';
import type { AccountService } from '../auth/account-service.ts';
import { parseDuration } from '../duration.ts';
import { RegistryError } from '../errcode.ts';
import { DEFAULT_GC_GRACE_MS, type GarbageCollector } from '../gc/garbage-collector.ts';
import type { MetadataStore } from '../metadata/metadata-store.ts';
import { sendError } from './registry-app.ts';

export interface AdminRoutesOptions {
  access: AccessController;
  accounts: AccountService;
  gc: GarbageCollector;
  metadata: MetadataStore;
}

const BODY_LIMIT = 64 * 1024;

const NewUser = z.strictObject({
  name: z.string(),
  password: z.string().min(1),
  admin: z.boolean().optional(),
});
const Password = z.strictObject({ password: z.string().min(1) });
const NewProject = z.strictObject({ name: z.string(), public: z.boolean().optional() });
const ProjectUpdate = z.strictObject({ public: z.boolean() });
const NewMember = z.strictObject({ user: z.string(), role: z.string() });
const NewRobot = z.strictObject({
  name: z.string(),
  description: z.string().optional(),
  expiresIn: z.string().optional(),
  permissions: z.array(
    z.strictObject({ project: z.string(), actions: z.array(z.enum(['pull', 'push', 'delete'])) }),
  ),
});
const GcRequest = z.strictObject({
  grace: z.string().optional(),
  dryRun: z.boolean().optional(),
  deleteUntagged: z.boolean().optional(),
});

type Params = Record<string, string>;

export function registerAdminRoutes(app: FastifyInstance, options: AdminRoutesOptions): void {
  const { access, accounts, gc, metadata } = options;

  /** Wraps a handler: admin check first, errors mapped to statuses. */
  const admin =
    (handler: (request: FastifyRequest, reply: FastifyReply, params: Params) => Promise<unknown>) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      try {
        if (await access.enforced()) {
          await access.requireAdmin(
            request.headers,
            access.realmFor({ host: request.headers.host, protocol: request.protocol }),
          );
        }
        return await handler(request, reply, (request.params ?? {}) as Params);
      } catch (error) {
        if (error instanceof RegistryError) return sendError(reply, error);
        if (error instanceof WharfError) return apiError(reply, error);
        if (error instanceof z.ZodError) {
          const issue = error.issues[0];
          return apiError(
            reply,
            new InvalidArgumentError(
              `Cannot read the request: ${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`,
            ),
          );
        }
        throw error;
      }
    };

  app.get(
    '/api/v1/users',
    admin(async (_request, reply) => json(reply, 200, await accounts.listUsers())),
  );
  app.post(
    '/api/v1/users',
    admin(async (request, reply) => {
      const body = NewUser.parse(await readJson(request));
      await accounts.addUser(body.name, body.password, { admin: body.admin ?? false });
      return json(reply, 201, { name: body.name });
    }),
  );
  app.put(
    '/api/v1/users/:name/password',
    admin(async (request, reply, params) => {
      await accounts.setPassword(params.name!, Password.parse(await readJson(request)).password);
      return reply.code(204).send();
    }),
  );
  app.delete(
    '/api/v1/users/:name',
    admin(async (_request, reply, params) => {
      await accounts.removeUser(params.name!);
      return reply.code(204).send();
    }),
  );

  app.get(
    '/api/v1/projects',
    admin(async (_request, reply) => json(reply, 200, await accounts.listProjects())),
  );
  app.post(
    '/api/v1/projects',
    admin(async (request, reply) => {
      const body = NewProject.parse(await readJson(request));
      await accounts.createProject(body.name, { public: body.public ?? false });
      return json(reply, 201, { name: body.name });
    }),
  );
  app.put(
    '/api/v1/projects/:name',
    admin(async (request, reply, params) => {
      await accounts.setProjectPublic(params.name!, ProjectUpdate.parse(await readJson(request)).public);
      return reply.code(204).send();
    }),
  );
  app.delete(
    '/api/v1/projects/:name',
    admin(async (_request, reply, params) => {
      await accounts.removeProject(params.name!);
      return reply.code(204).send();
    }),
  );
  app.get(
    '/api/v1/projects/:name/members',
    admin(async (_request, reply, params) => json(reply, 200, await accounts.listMembers(params.name!))),
  );
  app.post(
    '/api/v1/projects/:name/members',
    admin(async (request, reply, params) => {
      const body = NewMember.parse(await readJson(request));
      await accounts.setMember(params.name!, body.user, body.role);
      return json(reply, 201, { project: params.name, user: body.user, role: body.role });
    }),
  );
  app.delete(
    '/api/v1/projects/:name/members/:user',
    admin(async (_request, reply, params) => {
      await accounts.removeMember(params.name!, params.user!);
      return reply.code(204).send();
    }),
  );

  app.get(
    '/api/v1/robots',
    admin(async (_request, reply) => json(reply, 200, await accounts.listRobots())),
  );
  app.post(
    '/api/v1/robots',
    admin(async (request, reply) => {
      const body = NewRobot.parse(await readJson(request));
      const robotOptions: { description?: string; expiresInMs?: number } = {};
      if (body.description !== undefined) robotOptions.description = body.description;
      if (body.expiresIn !== undefined) robotOptions.expiresInMs = parseDuration(body.expiresIn);
      const created = await accounts.createRobot(body.name, body.permissions, robotOptions);
      return json(reply, 201, created);
    }),
  );
  app.delete(
    '/api/v1/robots/:name',
    admin(async (_request, reply, params) => {
      await accounts.removeRobot(params.name!);
      return reply.code(204).send();
    }),
  );

  app.get(
    '/api/v1/gc',
    admin(async (_request, reply) =>
      json(reply, 200, {
        running: gc.running,
        queued: await metadata.queueSize(),
        runs: (await metadata.listGcRuns(10)).map((run) => run.report),
      }),
    ),
  );
  app.post(
    '/api/v1/gc',
    admin(async (request, reply) => {
      const body = GcRequest.parse((await readJson(request, true)) ?? {});
      const report = await gc.run({
        graceMs: body.grace === undefined ? DEFAULT_GC_GRACE_MS : parseDuration(body.grace),
        dryRun: body.dryRun ?? false,
        deleteUntagged: body.deleteUntagged ?? false,
      });
      return json(reply, 200, report);
    }),
  );
}

/** A JSON answer (shared by the other `/api/v1` routes: src/registry/scan/scan-routes.ts). */
export function json(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'application/json')
    .send(Buffer.from(JSON.stringify(body)));
}

const CODES: Record<string, [number, string]> = {
  NotFound: [404, 'NOT_FOUND'],
  AlreadyExists: [409, 'CONFLICT'],
  Conflict: [409, 'CONFLICT'],
  FailedPrecondition: [409, 'CONFLICT'],
  InvalidArgument: [400, 'INVALID'],
  PermissionDenied: [403, 'DENIED'],
  Unavailable: [503, 'UNAVAILABLE'],
};

/** A WharfError as `{"errors":[{code,message}]}` with the status of its category. */
export function apiError(reply: FastifyReply, error: Error): FastifyReply {
  const [status, code] = CODES[categoryOf(error)] ?? [500, 'UNKNOWN'];
  return json(reply, status, { errors: [{ code, message: error.message }] });
}

/** The JSON body (at most 64 KiB); undefined for an empty body when `optional`. */
async function readJson(request: FastifyRequest, optional = false): Promise<unknown> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of request.raw as AsyncIterable<Buffer>) {
    total += chunk.byteLength;
    if (total > BODY_LIMIT)
      throw new InvalidArgumentError('Cannot read the request: the body is larger than 64 KiB');
    chunks.push(chunk);
  }
  if (total === 0) {
    if (optional) return undefined;
    throw new InvalidArgumentError('Cannot read the request: expected a JSON body');
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw new InvalidArgumentError(`Cannot read the request: ${(error as Error).message}`);
  }
}
