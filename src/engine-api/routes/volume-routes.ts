/**
 * Volume routes: list, create, inspect, remove, prune. Shapes are Docker's `Volume`.
 *
 * @example
 * const routes = volumeRoutes(undefined); // 501 until the volume service is wired
 */

import { queryBool, queryFilters } from '../query-params.ts';
import { empty, json, type Route } from '../route.ts';
import type { Filters, JsonObject } from './json-types.ts';
import { requireBackend } from './seam.ts';

export interface VolumeBackend {
  list(filters: Filters): Promise<{ Volumes: JsonObject[]; Warnings: string[] | null }>;
  /** The body: `Name`, `Driver`, `DriverOpts`, `Labels`. Returns the Volume (201). */
  create(body: JsonObject): Promise<JsonObject>;
  inspect(name: string): Promise<JsonObject>;
  remove(name: string, options: { force: boolean }): Promise<void>;
  prune(filters: Filters): Promise<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }>;
}

const SERVICE = 'volume';

export function volumeRoutes(backend: VolumeBackend | undefined): Route[] {
  const volumes = (action: string) => requireBackend(backend, action, SERVICE);
  return [
    {
      method: 'GET',
      path: '/volumes',
      handler: async ({ query }) => json(await volumes('list volumes').list(queryFilters(query))),
    },
    {
      method: 'POST',
      path: '/volumes/create',
      handler: async (context) => {
        const service = volumes('create volumes');
        const body = await context.json();
        return json(await service.create((body ?? {}) as JsonObject), 201);
      },
    },
    {
      method: 'POST',
      path: '/volumes/prune',
      handler: async ({ query }) => json(await volumes('prune volumes').prune(queryFilters(query))),
    },
    {
      method: 'GET',
      path: '/volumes/{name}',
      handler: async ({ params }) => json(await volumes('inspect volumes').inspect(params.name!)),
    },
    {
      method: 'DELETE',
      path: '/volumes/{name}',
      handler: async ({ params, query }) => {
        await volumes('remove volumes').remove(params.name!, { force: queryBool(query, 'force') });
        return empty(204);
      },
    },
  ];
}
