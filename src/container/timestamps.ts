/**
 * Times as Docker prints them: Go's RFC 3339 with nanoseconds, trailing zeros trimmed
 * (`2024-05-01T10:00:00.1234Z`), in UTC; Go's zero time for "never".
 *
 * @example
 * formatRfc3339Nano(nowNanos()); // '2024-05-01T10:00:00.123456789Z'
 */

/** Go's zero `time.Time` in RFC 3339: Docker's "never started". */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

const origin = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/** Nanoseconds since the epoch, monotonic within a process (wall clock at start + hrtime). */
export function nowNanos(): bigint {
  return origin + process.hrtime.bigint();
}

/** RFC 3339 with nanoseconds in UTC, as Go's `time.RFC3339Nano` prints it. */
export function formatRfc3339Nano(nanos: bigint): string {
  const millis = nanos / 1_000_000n;
  const iso = new Date(Number(millis)).toISOString();
  const fraction = (((nanos % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n)
    .toString()
    .padStart(9, '0')
    .replace(/0+$/, '');
  return `${iso.slice(0, 19)}${fraction ? `.${fraction}` : ''}Z`;
}

/** Milliseconds since the epoch of an RFC 3339 time; undefined for the zero time or garbage. */
export function parseTime(text: string | null | undefined): number | undefined {
  if (!text || text === ZERO_TIME) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}
