/**
 * The two kinds of byte ranges the registry reads: `Range` on blob GETs (RFC 9110 section 14, one
 * range; several are answered with the whole blob, which RFC 9110 allows) and `Content-Range` on
 * upload chunks (the distribution spec's `<start>-<end>`, inclusive; `bytes ` / `bytes=` prefixes
 * and a `/<total>` suffix that Docker clients send are tolerated).
 *
 * @example
 * parseRangeHeader('bytes=500-1499', 2048); // { kind: 'partial', start: 500, end: 1499 }
 * parseRangeHeader('bytes=5000-', 2048);    // { kind: 'unsatisfiable' }
 * parseContentRange('0-1023');              // { start: 0, end: 1023 }
 */

export type RangeResult =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

const SINGLE_RANGE = /^bytes=(\d*)-(\d*)$/i;

/** Resolves a `Range` header against a blob of `size` bytes. */
export function parseRangeHeader(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'full' };
  const match = SINGLE_RANGE.exec(header.trim());
  // Not one bytes range (several ranges, another unit): ignore it and send everything.
  if (!match) return { kind: 'full' };
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return { kind: 'unsatisfiable' };
  if (first === '') {
    // suffix range: the last N bytes
    const length = Number(last);
    if (!Number.isSafeInteger(length) || length === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (!Number.isSafeInteger(start) || start >= size) return { kind: 'unsatisfiable' };
  if (last !== '' && Number(last) < start) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end };
}

const CONTENT_RANGE = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/i;

/** Parses an upload chunk's `Content-Range`; undefined when malformed. */
export function parseContentRange(header: string): { start: number; end: number } | undefined {
  const match = CONTENT_RANGE.exec(header.trim());
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return undefined;
  return { start, end };
}
