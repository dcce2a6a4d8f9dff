/**
 * `GET /events` over the event log in SQLite (the container service's `events`): stored events
 * from `since`, then new ones as any process records them, until `until` or the client leaves.
 * The log holds container, network, volume and image events; filters on other object types
 * (daemon, plugin...) match nothing in it, so those streams stay open and quiet, as dockerd's would with nothing to
 * report. `timeNano` goes out as a JSON number to the nanosecond (Go reads it into an int64; a
 * JavaScript number would round it to about 250 ns).
 *
 * @example
 * for await (const event of events.events({ since: Date.now() / 1000 - 60, filters: {}, signal })) {
 *   console.log(event.Action);
 * }
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerService } from '../container/container-service.ts';
import { OWN_JSON_TEXT } from '../engine-api/json-stream.ts';
import type { EventsBackend } from '../engine-api/routes/event-routes.ts';
import type { Filters, JsonObject } from '../engine-api/routes/json-types.ts';
import { InvalidArgumentError } from '../errors/index.ts';

/** Filter keys the event log can answer. */
const LOG_KEYS = new Set(['container', 'event', 'image', 'label', 'type']);
/** Docker's other keys: valid, but no logged event matches them. */
const OTHER_KEYS = new Set(['config', 'daemon', 'network', 'node', 'plugin', 'secret', 'service', 'volume']);
/** The object types the log holds. */
const LOG_TYPES = ['container', 'network', 'volume', 'image'];

function toNanos(seconds: number | undefined): bigint | undefined {
  if (seconds === undefined) return undefined;
  const whole = Math.floor(seconds);
  return BigInt(whole) * 1_000_000_000n + BigInt(Math.round((seconds - whole) * 1e9));
}

export class LocalEventsBackend implements EventsBackend {
  readonly #service: ContainerService;

  constructor(service: ContainerService) {
    this.#service = service;
  }

  async *events(options: {
    since?: number;
    until?: number;
    filters: Filters;
    signal: AbortSignal;
  }): AsyncIterable<JsonObject> {
    const filters: Record<string, string[]> = {};
    let matchesNothing = false;
    for (const [key, values] of Object.entries(options.filters)) {
      if (LOG_KEYS.has(key)) filters[key] = values;
      else if (key === 'scope') matchesNothing ||= !values.includes('local');
      else if (OTHER_KEYS.has(key)) matchesNothing ||= values.length > 0;
      else throw new InvalidArgumentError(`invalid filter '${key}'`);
    }
    if (filters.type && !filters.type.some((type) => LOG_TYPES.includes(type))) matchesNothing = true;
    const since = toNanos(options.since);
    const until = toNanos(options.until);
    if (matchesNothing) {
      // nothing will come: hold the stream until `until` or the client leaves
      const wait = options.until === undefined ? undefined : Math.max(0, options.until * 1000 - Date.now());
      await sleep(wait ?? 2_147_000_000, undefined, { signal: options.signal }).catch(() => undefined);
      return;
    }
    for await (const message of this.#service.events({
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
      filters,
      follow: true,
      signal: options.signal,
    })) {
      const { timeNano, ...rest } = message;
      // timeNano is the last field of the message (Go's order): its digits replace a placeholder
      const text = `${JSON.stringify({ ...rest, timeNano: 0 }).slice(0, -'0}'.length)}${timeNano}}`;
      yield { ...rest, timeNano: Number(timeNano), [OWN_JSON_TEXT]: () => text };
    }
  }
}
