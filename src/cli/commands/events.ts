/**
 * `wharf events` (also `system events`): the events Wharf recorded, then new ones as they happen
 * (until `--until`, or Ctrl-C). Docker's text line `TIME TYPE ACTION ID (attr=value, ...)`, or a
 * `--format` template (`json` for one JSON object per line). Events are read from the database,
 * so they include what happened in other processes (conmon's exit commands, other CLIs).
 */
import type { Command } from 'commander';
import type { EventMessage } from '../../container/docker-types.ts';
import type { CliContext } from '../context.ts';
import { executeFormat, parseFormat, templateText } from '../format/formatter.ts';
import { goJson } from '../format/go-json.ts';
import { GO_MARSHAL_JSON, goStruct } from '../format/go-value.ts';
import { collect, parseFilterFlagsList, parseTimeFlag, withContainerService } from './container-common.ts';

function eventTime(value: bigint): string {
  const iso = new Date(Number(value / 1_000_000n)).toISOString().slice(0, 19);
  const fraction = (value % 1_000_000_000n).toString().padStart(9, '0');
  const offset = -new Date().getTimezoneOffset();
  const zone =
    offset === 0
      ? '+00:00'
      : `${offset < 0 ? '-' : '+'}${String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0')}:${String(Math.abs(offset) % 60).padStart(2, '0')}`;
  return `${iso}.${fraction}${zone}`;
}

/**
 * The event as docker's templates see it: the fields of Go's `events.Message` (`.TimeNano`,
 * `.ID`, `.Actor.Attributes`...), while `{{json .}}` writes the JSON the API sends (`timeNano`,
 * `id`...), as Go marshals the struct by its JSON tags.
 */
function eventTemplateValue(event: EventMessage): object {
  const value = goStruct('events.Message', {
    Status: event.status ?? '',
    ID: event.id ?? '',
    From: event.from ?? '',
    Type: event.Type,
    Action: event.Action,
    Actor: goStruct('events.Actor', { ID: event.Actor.ID, Attributes: event.Actor.Attributes }),
    Scope: event.scope,
    Time: event.time,
    TimeNano: event.timeNano,
  });
  Object.defineProperty(value, GO_MARSHAL_JSON, { value: () => goJson(event), enumerable: false });
  return value;
}

/** Docker's default event line. */
function eventLine(event: EventMessage): string {
  const attributes = Object.entries(event.Actor.Attributes)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join(', ');
  return `${eventTime(event.timeNano)} ${event.Type} ${event.Action} ${event.Actor.ID}${attributes ? ` (${attributes})` : ''}`;
}

function addEvents(parent: Command, context: CliContext): void {
  parent
    .command('events')
    .description('Get real time events from the server')
    .option('-f, --filter <filter>', 'filter output based on conditions provided', collect, [])
    .option('--format <format>', "format output using a custom template ('json' or a Go template)")
    .option('--since <string>', 'show all events created since timestamp')
    .option('--until <string>', 'stream events until this timestamp')
    .action(async (options: { filter: string[]; format?: string; since?: string; until?: string }) => {
      const since = options.since ? parseTimeFlag(options.since) : undefined;
      const until = options.until ? parseTimeFlag(options.until) : undefined;
      const template = options.format ? parseFormat(templateText(options.format)) : undefined;
      await withContainerService(context, async (service) => {
        const abort = new AbortController();
        const onSignal = () => abort.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          for await (const event of service.events({
            ...(since !== undefined ? { since } : {}),
            ...(until !== undefined ? { until } : {}),
            filters: parseFilterFlagsList(options.filter),
            follow: true,
            signal: abort.signal,
          })) {
            let text: string;
            if (options.format === 'json') text = goJson(event);
            else if (template) text = executeFormat(template, eventTemplateValue(event));
            else text = eventLine(event);
            context.stdout.write(`${text}\n`);
          }
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      });
    });
}

export function register(program: Command, context: CliContext): void {
  addEvents(program, context);
}

/** `system events`, for the module owning `system`. */
export function registerSystemEvents(system: Command, context: CliContext): void {
  addEvents(system, context);
}
