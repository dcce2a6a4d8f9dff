/**
 * Query string values as moby's httputils reads them: booleans are false only when absent or
 * one of "", 0, no, false, none; `filters` is JSON in either of the two shapes clients send
 * (`{"dangling":["true"]}` or the docker CLI's `{"dangling":{"true":true}}`).
 *
 * @example
 * queryBool(new URLSearchParams('force=1'), 'force');                      // true
 * queryFilters(new URLSearchParams('filters={"label":{"a=b":true}}'));     // { label: ['a=b'] }
 */
import { InvalidArgumentError } from '../errors/index.ts';

const FALSE_WORDS = new Set(['', '0', 'no', 'false', 'none']);

export function queryBool(query: URLSearchParams, name: string): boolean {
  const value = query.get(name);
  return value !== null && !FALSE_WORDS.has(value.trim().toLowerCase());
}

/** An integer parameter, or undefined when absent or empty; 400 when not a number. */
export function queryInt(query: URLSearchParams, name: string): number | undefined {
  const value = query.get(name);
  if (value === null || value === '') return undefined;
  const number = Number(value);
  if (!Number.isInteger(number)) {
    throw new InvalidArgumentError(`Cannot parse query parameter ${name}: "${value}" is not an integer`);
  }
  return number;
}

/** A string parameter, or undefined when absent (an empty value is kept: it can mean something). */
export function queryString(query: URLSearchParams, name: string): string | undefined {
  return query.get(name) ?? undefined;
}

/** `filters` as a map of key to values; `{}` when absent. */
export function queryFilters(query: URLSearchParams, name = 'filters'): Record<string, string[]> {
  const raw = query.get(name);
  if (raw === null || raw.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new InvalidArgumentError(`Cannot parse filters: invalid JSON: ${raw}`, { cause: error });
  }
  if (parsed === null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InvalidArgumentError(`Cannot parse filters: expected a JSON object: ${raw}`);
  }
  const filters: Record<string, string[]> = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(value)) {
      filters[key] = value.map(String);
    } else if (typeof value === 'object' && value !== null) {
      filters[key] = Object.entries(value)
        .filter(([, on]) => on === true)
        .map(([term]) => term);
    } else {
      throw new InvalidArgumentError(
        `Cannot parse filters: bad value for "${key}": ${JSON.stringify(value)}`,
      );
    }
  }
  return filters;
}
