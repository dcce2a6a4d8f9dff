/**
 * Durations as the registry's flags and config take them: Go's `time.ParseDuration` forms that
 * distribution and Harbor users know (`90s`, `1h30m`, `0s`, `500ms`, `7d` too), parsed to
 * milliseconds. A bare `0` is zero; any other number needs a unit.
 *
 * @example
 * parseDuration('1h30m'); // 5_400_000
 * parseDuration('0s');    // 0
 */
import { InvalidArgumentError } from '../errors/index.ts';

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

/** Milliseconds of `text`; throws InvalidArgumentError naming the accepted forms. */
export function parseDuration(text: string): number {
  const value = text.trim();
  if (value === '0') return 0;
  let total = 0;
  PART.lastIndex = 0;
  let consumed = 0;
  let parts = 0;
  for (let match = PART.exec(value); match; match = PART.exec(value)) {
    total += Number(match[1]) * UNITS[match[2]!]!;
    consumed = PART.lastIndex;
    parts++;
  }
  if (parts === 0 || consumed !== value.length || !Number.isFinite(total)) {
    throw new InvalidArgumentError(
      `Cannot parse duration "${text}": expected a number with a unit, e.g. 0s, 90s, 30m, 1h30m, 7d`,
    );
  }
  return Math.round(total);
}

/** A short human form of a duration in milliseconds (`1h`, `90s`, `250ms`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  for (const [unit, size] of [
    ['d', UNITS.d!],
    ['h', UNITS.h!],
    ['m', UNITS.m!],
    ['s', UNITS.s!],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
