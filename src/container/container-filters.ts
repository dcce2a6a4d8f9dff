/**
 * `ps --filter` as Docker's daemon applies it: `id` (prefix), `name` (regular expression on the
 * name), `label` (`key` or `key=value`), `exited` (exit code, exited containers only), `status`,
 * `ancestor` (image ids, resolved by the caller), `before` / `since` (created before or after a
 * container), `health` (`starting`, `healthy`, `unhealthy`, `none`), `network` (the networks it
 * was created on, by name), `volume` (a mount's volume name, source or destination), `publish`
 * and `expose` (`PORT[-PORT][/PROTO]`, against HostConfig.PortBindings and Config.ExposedPorts).
 * Several values of one key match any of them; different keys must all match.
 *
 * @example
 * const match = containerMatcher({ status: ['exited'], label: ['app=web'] }, { before, since, ancestors });
 * records.filter(match);
 */
import { InvalidArgumentError } from '../errors/index.ts';
import type { ContainerRecord } from './container-records.ts';
import { CONTAINER_STATES } from './container-state.ts';
import { mountPointsOf } from './volume/mount-points.ts';

export type ContainerFilters = Record<string, readonly string[]>;

const KNOWN = new Set([
  'id',
  'name',
  'label',
  'exited',
  'status',
  'ancestor',
  'before',
  'since',
  'health',
  'network',
  'volume',
  'publish',
  'expose',
  'is-task',
]);

/** Parses `key=value` filter flags into Docker's map. */
export function parseFilterFlags(flags: readonly string[]): ContainerFilters {
  const filters: Record<string, string[]> = {};
  for (const flag of flags) {
    const equals = flag.indexOf('=');
    if (equals <= 0) throw new InvalidArgumentError(`Bad format of filter (expected name=value)`);
    const key = flag.slice(0, equals).trim().toLowerCase();
    (filters[key] ??= []).push(flag.slice(equals + 1));
  }
  return filters;
}

export interface FilterContext {
  /** Creation order of `before` / `since` (the records they name). */
  before?: ContainerRecord;
  since?: ContainerRecord;
  /** Image ids the `ancestor` filter resolved to. */
  ancestors?: Set<string>;
}

function labelMatches(labels: Record<string, string>, spec: string): boolean {
  const equals = spec.indexOf('=');
  if (equals < 0) return spec in labels;
  return labels[spec.slice(0, equals)] === spec.slice(equals + 1);
}

function createdOrder(record: ContainerRecord): string {
  return record.definition.Created;
}

/** The networks a container was created on: its mode (`default` is `bridge`) and NetworkingConfig's. */
function networksOf(record: ContainerRecord): string[] {
  const mode = record.definition.HostConfig.NetworkMode || 'none';
  const names = [mode, ...Object.keys(record.definition.EndpointsConfig ?? {})];
  return names.map((name) => (name === 'default' ? 'bridge' : name));
}

/** Whether `PORT[-PORT][/PROTO]` (tcp by default) names a key of `ports` (`80/tcp`...). */
function portsMatch(spec: string, ports: Record<string, unknown> | null | undefined): boolean {
  const [range = '', protocol = 'tcp'] = spec.split('/');
  const [first, last = first] = range.split('-').map(Number);
  if (first === undefined || !Number.isInteger(first) || !Number.isInteger(last)) return false;
  return Object.keys(ports ?? {}).some((key) => {
    const [port = '', proto = 'tcp'] = key.split('/');
    return proto === protocol && Number(port) >= first && Number(port) <= last!;
  });
}

/** Checks filter names and values, as Docker does before listing. */
export function validateFilters(filters: ContainerFilters): void {
  for (const [key, values] of Object.entries(filters)) {
    if (!KNOWN.has(key)) throw new InvalidArgumentError(`invalid filter '${key}'`);
    for (const value of values) {
      if (key === 'status' && !(CONTAINER_STATES as readonly string[]).includes(value)) {
        throw new InvalidArgumentError(`invalid filter 'status=${value}': Invalid filter 'status=${value}'`);
      }
      if (key === 'exited' && !/^-?\d+$/.test(value)) {
        throw new InvalidArgumentError(`invalid filter 'exited=${value}'`);
      }
      if (key === 'health' && !['starting', 'healthy', 'unhealthy', 'none'].includes(value)) {
        throw new InvalidArgumentError(`Unrecognised filter value for health: ${value}`);
      }
    }
  }
}

/** A predicate for `filters` (validated first). */
export function containerMatcher(
  filters: ContainerFilters,
  context: FilterContext = {},
): (record: ContainerRecord) => boolean {
  validateFilters(filters);
  const any = (key: string, test: (value: string) => boolean) => {
    const values = filters[key];
    return values === undefined || values.length === 0 || values.some(test);
  };
  const nameRegexps = (filters.name ?? []).map((pattern) => {
    try {
      return new RegExp(pattern);
    } catch {
      throw new InvalidArgumentError(`invalid filter 'name=${pattern}'`);
    }
  });
  return (record) => {
    const labels = record.definition.Config.Labels ?? {};
    if (!any('id', (value) => record.id.startsWith(value))) return false;
    if (
      nameRegexps.length > 0 &&
      !nameRegexps.some((re) => re.test(record.name) || re.test(`/${record.name}`))
    )
      return false;
    if ((filters.label ?? []).some((spec) => !labelMatches(labels, spec))) return false;
    if (!any('status', (value) => value === record.state)) return false;
    if (filters.exited?.length) {
      if (record.state !== 'exited') return false;
      if (!filters.exited.some((value) => Number(value) === record.exitCode)) return false;
    }
    if (!any('health', (value) => (record.health?.Status ?? 'none') === value)) return false;
    if (!any('network', (value) => networksOf(record).includes(value))) return false;
    if (filters.ancestor?.length && !context.ancestors?.has(record.imageId)) return false;
    if (context.before && createdOrder(record) >= createdOrder(context.before)) return false;
    if (context.since && createdOrder(record) <= createdOrder(context.since)) return false;
    if (filters.volume?.length) {
      const points = mountPointsOf(record.definition);
      const names = new Set(points.flatMap((p) => [p.Name ?? p.Source, p.Destination]));
      if (!filters.volume.some((value) => names.has(value))) return false;
    }
    if (!any('publish', (value) => portsMatch(value, record.definition.HostConfig.PortBindings)))
      return false;
    if (!any('expose', (value) => portsMatch(value, record.definition.Config.ExposedPorts))) return false;
    if (filters['is-task']?.length && !filters['is-task'].includes('false')) return false;
    return true;
  };
}
