/**
 * A word for `sh`: in single quotes, so that nothing in it is interpreted (a `'` inside becomes
 * `'\''`).
 *
 * @example
 * shellQuote("it's"); // 'it'\''s'
 */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}
