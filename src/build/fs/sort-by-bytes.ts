/**
 * Sorts names in place the way Go sorts strings: by their UTF-8 bytes. JavaScript's own order
 * (UTF-16 code units) is the same as long as no name holds a character from U+D800 up (where
 * surrogate pairs sort before U+E000..U+FFFF); only then are the names compared as bytes. The
 * check is one regex test per name, where comparing every pair as bytes made sorting a
 * directory of 100 names cost 700 buffer allocations (a visible part of walking a context).
 *
 * @example
 * sortByBytes(['b', 'a', 'é']); // ['a', 'b', 'é']
 */
const BEYOND_SURROGATES = /[\uD800-\uFFFF]/;

const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

export function sortByBytes(names: string[]): string[] {
  for (const name of names) if (BEYOND_SURROGATES.test(name)) return names.sort(byBytes);
  return names.sort();
}
