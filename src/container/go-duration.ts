/**
 * Go's `time.Duration` text, both ways: Docker's flags take it (`--health-interval 1m30s`,
 * `--stop-timeout`, `logs --since 10m`) and its messages print it (`Health check exceeded timeout
 * (30s)`).
 *
 * @example
 * parseGoDuration('1m30s');       // 90_000_000_000 (nanoseconds)
 * formatGoDuration(1.5e9);        // '1.5s'
 */
import { InvalidArgumentError } from '../errors/index.ts';

const UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Nanoseconds of a Go duration (`300ms`, `1.5h`, `2h45m`, `0`); InvalidArgumentError otherwise. */
export function parseGoDuration(text: string): number {
  const input = text.trim();
  if (input === '0') return 0;
  const sign = input.startsWith('-') ? -1 : 1;
  const body = input.replace(/^[-+]/, '');
  // µ (micro sign) and μ (Greek mu) escaped: the CLI bundle loads fastest when it is ASCII
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  let match: RegExpExecArray | null;
  while ((match = part.exec(body)) !== null) {
    total += Number(match[1]) * UNITS[match[2]!]!;
    consumed = part.lastIndex;
  }
  if (body === '' || consumed !== body.length) {
    throw new InvalidArgumentError(`time: invalid duration "${text}"`);
  }
  return sign * Math.round(total);
}

/** Go's `Duration.String()`: `1h2m3.5s`, `250ms`, `0s`. */
export function formatGoDuration(nanos: number): string {
  if (nanos === 0) return '0s';
  const sign = nanos < 0 ? '-' : '';
  let n = Math.abs(Math.round(nanos));
  if (n < 1e9) {
    if (n < 1e3) return `${sign}${n}ns`;
    if (n < 1e6) return `${sign}${trim(n / 1e3)}µs`;
    return `${sign}${trim(n / 1e6)}ms`;
  }
  const hours = Math.floor(n / 3600e9);
  n -= hours * 3600e9;
  const minutes = Math.floor(n / 60e9);
  n -= minutes * 60e9;
  const seconds = trim(n / 1e9);
  if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${sign}${minutes}m${seconds}s`;
  return `${sign}${seconds}s`;
}

function trim(value: number): string {
  return String(Number(value.toFixed(9)));
}
