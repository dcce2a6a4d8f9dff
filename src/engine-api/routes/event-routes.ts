/**
 * `GET /events`: the event log (SQLite) replayed from `since`, then followed live until `until`
 * or until the client leaves. The 200 goes out at once: `docker events` shows nothing until
 * something happens, but must know the daemon accepted the request.
 *
 * @example
 * const routes = eventRoutes(undefined); // 501 until the event log is wired
 */
import { InvalidArgumentError } from '../../errors/index.ts';
import { queryFilters } from '../query-params.ts';
import type { Route } from '../route.ts';
import type { Filters, JsonObject } from './json-types.ts';
import { requireBackend } from './seam.ts';

export interface EventsBackend {
  /**
   * Docker's event messages (`Type`, `Action`, `Actor`, `scope`, `time`, `timeNano`, and the old
   * `status`, `id`, `from`). Times are Unix seconds (fractional). Ends at `until`, or never.
   */
  events(options: {
    since?: number;
    until?: number;
    filters: Filters;
    signal: AbortSignal;
  }): AsyncIterable<JsonObject>;
}

function timeParam(query: URLSearchParams, name: string): number | undefined {
  const value = query.get(name) ?? '';
  if (value === '') return undefined;
  const seconds = Number(value);
  if (Number.isNaN(seconds)) {
    throw new InvalidArgumentError(`Cannot list events: invalid ${name} "${value}" (Unix seconds expected)`);
  }
  return seconds;
}

export function eventRoutes(backend: EventsBackend | undefined): Route[] {
  return [
    {
      method: 'GET',
      path: '/events',
      handler: ({ query }) => {
        const service = requireBackend(backend, 'list events', 'event');
        const since = timeParam(query, 'since');
        const until = timeParam(query, 'until');
        const filters = queryFilters(query);
        return {
          kind: 'json-stream',
          eager: true,
          produce: async (out) => {
            for await (const event of service.events({
              ...(since !== undefined ? { since } : {}),
              ...(until !== undefined ? { until } : {}),
              filters,
              signal: out.signal,
            })) {
              await out.write(event);
            }
          },
        };
      },
    },
  ];
}
