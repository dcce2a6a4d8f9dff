/**
 * Exec routes: create (`POST /containers/{id}/exec`), start (hijacked unless detached), resize,
 * inspect. The start body (`{"Detach": false, "Tty": true}`) arrives on the upgrade path, often
 * in the same packet as the headers: the server reads it by Content-Length before the stdin
 * bytes that may follow.
 *
 * @example
 * const routes = execRoutes(undefined); // 501 until the container service provides exec
 */
import { InvalidArgumentError } from '../../errors/index.ts';
import { queryInt } from '../query-params.ts';
import { empty, json, type Route } from '../route.ts';
import type { JsonObject } from './json-types.ts';
import { requireBackend } from './seam.ts';
import type { StdioSession } from './stdio-session.ts';

export interface ExecBackend {
  /** The body is Docker's ExecConfig (`Cmd`, `AttachStdin`, `Tty`, `Env`, `User`, `WorkingDir`...). */
  create(containerId: string, config: JsonObject): Promise<{ Id: string }>;
  /** Undefined when detached (the process runs on; the route answers 200 at once). */
  start(
    execId: string,
    options: { detach: boolean; tty: boolean; consoleSize?: [number, number] },
  ): Promise<StdioSession | undefined>;
  resize(execId: string, size: { height: number; width: number }): Promise<void>;
  /** ExecInspect. */
  inspect(execId: string): Promise<JsonObject>;
}

const SERVICE = 'exec (container)';

function object(value: unknown, what: string): JsonObject {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(`Cannot ${what}: the body must be a JSON object`);
  }
  return value as JsonObject;
}

export function execRoutes(backend: ExecBackend | undefined): Route[] {
  const exec = (action: string) => requireBackend(backend, action, SERVICE);
  return [
    {
      method: 'POST',
      path: '/containers/{id}/exec',
      handler: async (context) => {
        const service = exec('create exec instances');
        const config = object(await context.json(), 'create an exec instance');
        return json(await service.create(context.params.id!, config), 201);
      },
    },
    {
      method: 'POST',
      path: '/exec/{id}/start',
      handler: async (context) => {
        const service = exec('start exec instances');
        const body = object(await context.json(), 'start an exec instance');
        const size = body.ConsoleSize;
        const session = await service.start(context.params.id!, {
          detach: body.Detach === true,
          tty: body.Tty === true,
          ...(Array.isArray(size) && size.length === 2
            ? { consoleSize: [Number(size[0]), Number(size[1])] as [number, number] }
            : {}),
        });
        if (!session) return empty(200);
        return { kind: 'hijack', multiplexed: !session.tty, run: (connection) => session.run(connection) };
      },
    },
    {
      method: 'POST',
      path: '/exec/{id}/resize',
      handler: async ({ params, query }) => {
        await exec('resize exec instances').resize(params.id!, {
          height: queryInt(query, 'h') ?? 0,
          width: queryInt(query, 'w') ?? 0,
        });
        return empty(200);
      },
    },
    {
      method: 'GET',
      path: '/exec/{id}/json',
      handler: async ({ params }) => json(await exec('inspect exec instances').inspect(params.id!)),
    },
  ];
}
