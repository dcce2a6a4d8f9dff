/**
 * The little text helpers Docker's listings use: go-units' `HumanDuration` ("2 hours"),
 * `HumanSize` ("7.23MB", decimal, 3 or 4 significant digits as Go's `%g` rounds them) and
 * `BytesSize` ("1.5KiB"), `stringid.TruncateID` (12 hex characters), `Ellipsis`, terminal
 * display width, and Go's `time` renderings of a date.
 */
import { humanDuration } from '../../util/human-duration.ts';
import { formatFloat, goTimeString } from './go-fmt.ts';

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

function customSize(size: number, precision: number, base: number, units: readonly string[]): string {
  let i = 0;
  while (size >= base && i < units.length - 1) {
    size /= base;
    i++;
  }
  return `${formatFloat(size, 'g', precision)}${units[i]}`;
}

/**
 * go-units' `HumanSizeWithPrecision`: decimal units, `precision` significant digits
 * (`HumanSize` is precision 4; `docker images` uses 3).
 *
 * @example
 * humanSize(7_234_567, 3); // '7.23MB'
 * humanSize(999_999, 3); // '1e+03kB', as Go prints it
 */
export function humanSize(size: number, precision = 4): string {
  return customSize(size, precision, 1000, DECIMAL_UNITS);
}

/** go-units' `BytesSize`: binary units, 4 significant digits (`1.5KiB`). */
export function bytesSize(size: number): string {
  return customSize(size, 4, 1024, BINARY_UNITS);
}

export { humanDuration };

/** "2 hours ago" for a moment in the past, as Docker's CREATED columns print it. */
export function timeAgo(date: Date, now: Date = new Date()): string {
  return `${humanDuration(now.getTime() - date.getTime())} ago`;
}

/**
 * Docker's `stringid.TruncateID`: drops an algorithm prefix and keeps 12 characters.
 *
 * @example
 * truncateId('sha256:f7e2b70d04ae3f516c08c24d88de0f82699aaf3ee98af6eb208bd234136142b7'); // 'f7e2b70d04ae'
 */
export function truncateId(id: string): string {
  const colon = id.indexOf(':');
  const bare = colon >= 0 ? id.slice(colon + 1) : id;
  return bare.length > 12 ? bare.slice(0, 12) : bare;
}

/**
 * Marks, format and control characters. Made on first use: V8 builds a \p{...} class when the
 * literal is evaluated (~0.1 ms), which as a module constant every listing would pay.
 */
let zeroWidth: RegExp | undefined;

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/** Columns a character takes in a terminal: 2 for East Asian wide, 0 for combining marks. */
export function charWidth(ch: string): number {
  const cp = ch.codePointAt(0)!;
  // ASCII without `zeroWidth`: only the controls take no column
  if (cp < 0x80) return cp < 0x20 || cp === 0x7f ? 0 : 1;
  if ((zeroWidth ??= /^[\p{Mn}\p{Me}\p{Cf}\p{Cc}]$/u).test(ch)) return 0;
  return isWide(cp) ? 2 : 1;
}

/** Columns a string takes in a terminal (go-runewidth's `StringWidth`). */
export function displayWidth(s: string): number {
  // ASCII is the common case: one column per character, no per-character work.
  if (/^[\x20-\x7e]*$/.test(s)) return s.length;
  let width = 0;
  for (const ch of s) width += charWidth(ch);
  return width;
}

/**
 * Docker's `Ellipsis`: cuts `s` to `max` display columns, the last one an ellipsis.
 *
 * @example
 * ellipsis('/bin/sh -c #(nop) ADD file:1234 in /', 10); // '/bin/sh -…'
 */
export function ellipsis(s: string, max: number): string {
  if (max <= 0) return '';
  const chars = [...s];
  if (max === 1) return chars[0] ?? '';
  // Docker counts wide characters as 2 and everything else, combining marks included, as 1.
  const widths = chars.map((ch) => (isWide(ch.codePointAt(0)!) ? 2 : 1));
  let total = 0;
  for (const w of widths) total += w;
  if (total <= max) return s;
  let used = 0;
  let i = 0;
  while (i < chars.length && used + widths[i]! <= max - 1) used += widths[i++]!;
  return `${chars.slice(0, i).join('')}…`;
}

/** Go's `time.Unix(...).String()` in the local zone: `2021-03-04 03:24:42 +0100 CET`. */
export function goTime(date: Date): string {
  return goTimeString(date);
}

/** Go's `time.RFC3339` rendering in the local zone: `2017-01-01T12:00:03Z` or `...+01:00`. */
export function rfc3339(date: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const offset = -date.getTimezoneOffset();
  const zone =
    offset === 0
      ? 'Z'
      : `${offset < 0 ? '-' : '+'}${p(Math.floor(Math.abs(offset) / 60))}:${p(Math.abs(offset) % 60)}`;
  return (
    `${p(date.getFullYear(), 4)}-${p(date.getMonth() + 1)}-${p(date.getDate())}T` +
    `${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}${zone}`
  );
}
