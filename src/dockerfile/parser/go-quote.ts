/**
 * Go's `strconv.Quote` and `%q` of a string slice, as BuildKit's `Node.Dump()` prints them.
 *
 * @example
 * goQuote('say "hi"\n'); // '"say \\"hi\\"\\n"'
 * goQuoteList(['--from=a', '--chmod=755']); // '["--from=a" "--chmod=755"]'
 */

/** Plain printable ASCII with nothing to escape: quoted as is. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
/**
 * Go's `strconv.IsPrint` beyond ASCII: letters, marks, numbers, punctuation and symbols. Made on
 * first use: V8 builds a \p{...} class when the literal is evaluated (~0.4 ms for this one), which
 * as a module constant every command loading this module would pay.
 */
let printable: RegExp | undefined;

const ESCAPES: Record<string, string> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '\\': '\\\\',
  '"': '\\"',
};

const hex = (value: number, width: number): string => value.toString(16).padStart(width, '0');

/** Go's `strconv.Quote`: a double-quoted string with Go escapes; printable Unicode stays literal. */
export function goQuote(text: string): string {
  if (PLAIN.test(text)) return `"${text}"`;
  let out = '"';
  for (const ch of text) {
    const escaped = ESCAPES[ch];
    if (escaped !== undefined) {
      out += escaped;
      continue;
    }
    const code = ch.codePointAt(0)!;
    if (code < 0x20 || code === 0x7f) out += `\\x${hex(code, 2)}`;
    else if (code < 0x7f) out += ch;
    // A lone surrogate cannot come from UTF-8 text; Go would have read U+FFFD in its place.
    else if (code >= 0xd800 && code <= 0xdfff) out += '\ufffd';
    else if ((printable ??= /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u).test(ch)) out += ch;
    else if (code < 0x10000) out += `\\u${hex(code, 4)}`;
    else out += `\\U${hex(code, 8)}`;
  }
  return `${out}"`;
}

/** Go's `fmt.Sprintf("%q", []string{...})`: `["a" "b"]`. */
export function goQuoteList(items: readonly string[]): string {
  return `[${items.map(goQuote).join(' ')}]`;
}
