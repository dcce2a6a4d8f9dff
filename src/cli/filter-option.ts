/**
 * Docker's `--filter key=value` flag, repeatable: keys are lower-cased and trimmed, values
 * trimmed, and the same key may come several times (`--filter reference=a --filter reference=b`
 * matches either).
 *
 * @example
 * program.option('-f, --filter <filter>', 'filter output', collectFilter, {});
 * // --filter dangling=true --filter label=a  ->  { dangling: ['true'], label: ['a'] }
 */
import { InvalidArgumentError } from '../errors/index.ts';

export type Filters = Record<string, string[]>;

/** A commander option parser that accumulates filters. */
export function collectFilter(value: string, previous: Filters | undefined): Filters {
  const filters: Filters = { ...(previous ?? {}) };
  if (value === '') return filters;
  const eq = value.indexOf('=');
  if (eq < 0) {
    throw new InvalidArgumentError(
      `invalid argument "${value}" for "-f, --filter" flag: bad format of filter (expected name=value)`,
    );
  }
  const key = value.slice(0, eq).trim().toLowerCase();
  filters[key] = [...(filters[key] ?? []), value.slice(eq + 1).trim()];
  return filters;
}
