/**
 * Go's string primitives as BuildKit's parser uses them, for JavaScript strings. They differ from
 * JavaScript's own: Go's `unicode.IsSpace` counts U+0085 and not U+FEFF (`String.prototype.trim`
 * does the opposite), and Go lowercases one code point at a time (`İ` -> `i`, no final sigma).
 */

/** Go's `unicode.IsSpace` for one UTF-16 code unit (every Unicode space is in the BMP). */
export function goIsSpace(code: number): boolean {
  if (code <= 0x20) return code === 0x20 || (code >= 0x09 && code <= 0x0d);
  if (code < 0x85) return false;
  return (
    code === 0x85 ||
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000
  );
}

/** Go's `strings.TrimLeftFunc(s, unicode.IsSpace)`. */
export function goTrimLeftSpace(text: string): string {
  let start = 0;
  while (start < text.length && goIsSpace(text.charCodeAt(start))) start++;
  return start === 0 ? text : text.slice(start);
}

/** Go's `strings.TrimSpace`. */
export function goTrimSpace(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && goIsSpace(text.charCodeAt(start))) start++;
  while (end > start && goIsSpace(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

const ASCII = /^[\x00-\x7f]*$/;

/** True when every character is ASCII, so string indexes equal UTF-8 byte offsets. */
export function isAscii(text: string): boolean {
  return ASCII.test(text);
}

/** Go's `strings.ToLower`: the simple (one code point to one) lowercase mapping. */
export function goToLower(text: string): string {
  if (isAscii(text)) return text.toLowerCase();
  let out = '';
  for (const ch of text) {
    if (ch === '\u0130') {
      out += 'i'; // Go maps İ to i; JavaScript's full mapping gives "i̇"
      continue;
    }
    const lower = ch.toLowerCase();
    out += lower.length === ch.length ? lower : ch;
  }
  return out;
}

/** Go's `strings.ToUpper`: the simple uppercase mapping (`ß` stays `ß`). */
export function goToUpper(text: string): string {
  if (isAscii(text)) return text.toUpperCase();
  let out = '';
  for (const ch of text) {
    const upper = ch.toUpperCase();
    out += upper.length === ch.length ? upper : ch;
  }
  return out;
}

/** The UTF-8 length of `text` in bytes. */
export function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}
