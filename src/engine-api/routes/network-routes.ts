/**
 * Network routes: list, inspect, create, remove, connect, disconnect, prune. Shapes are Docker's
 * `Network` (the docker CLI reads `Name`, `Id`, `Driver`, `Scope`, `IPAM`, `Containers`).
 *
 * @example
 * const routes = networkRoutes(undefined); // 501 until the network service is wired
 */
import { InvalidArgumentError } from '../../errors/index.ts';
import { queryBool, queryFilters } from '../query-params.ts';
import { empty, json, type Route } from '../route.ts';
import type { Filters, JsonObject } from './json-types.ts';
import { requireBackend } from './seam.ts';

export interface NetworkBackend {
  list(filters: Filters): Promise<JsonObject[]>;
  inspect(id: string, options: { verbose: boolean; scope?: string }): Promise<JsonObject>;
  /** The body: `Name`, `Driver`, `Internal`, `Attachable`, `IPAM`, `EnableIPv6`, `Options`, `Labels`. */
  create(body: JsonObject): Promise<{ Id: string; Warning: string }>;
  remove(id: string): Promise<void>;
  /** The body: `Container`, `EndpointConfig` (aliases, IPAMConfig...). */
  connect(id: string, body: JsonObject): Promise<void>;
  /** The body: `Container`, `Force`. */
  disconnect(id: string, body: JsonObject): Promise<void>;
  prune(filters: Filters): Promise<{ NetworksDeleted: string[] | null }>;
}

const SERVICE = 'network';

function object(value: unknown, what: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(`Cannot ${what}: the body must be a JSON object`);
  }
  return value as JsonObject;
}

export function networkRoutes(backend: NetworkBackend | undefined): Route[] {
  const networks = (action: string) => requireBackend(backend, action, SERVICE);
  return [
    {
      method: 'GET',
      path: '/networks',
      handler: async ({ query }) => json(await networks('list networks').list(queryFilters(query))),
    },
    {
      method: 'POST',
      path: '/networks/create',
      handler: async (context) => {
        const service = networks('create networks');
        return json(await service.create(object(await context.json(), 'create a network')), 201);
      },
    },
    {
      method: 'POST',
      path: '/networks/prune',
      handler: async ({ query }) => json(await networks('prune networks').prune(queryFilters(query))),
    },
    {
      method: 'GET',
      path: '/networks/{id}',
      handler: async ({ params, query }) => {
        const scope = query.get('scope') ?? '';
        return json(
          await networks('inspect networks').inspect(params.id!, {
            verbose: queryBool(query, 'verbose'),
            ...(scope !== '' ? { scope } : {}),
          }),
        );
      },
    },
    {
      method: 'DELETE',
      path: '/networks/{id}',
      handler: async ({ params }) => {
        await networks('remove networks').remove(params.id!);
        return empty(204);
      },
    },
    {
      method: 'POST',
      path: '/networks/{id}/connect',
      handler: async (context) => {
        const service = networks('connect containers to networks');
        await service.connect(context.params.id!, object(await context.json(), 'connect to a network'));
        return empty(200);
      },
    },
    {
      method: 'POST',
      path: '/networks/{id}/disconnect',
      handler: async (context) => {
        const service = networks('disconnect containers from networks');
        await service.disconnect(
          context.params.id!,
          object(await context.json(), 'disconnect from a network'),
        );
        return empty(200);
      },
    },
  ];
}
