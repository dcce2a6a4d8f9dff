/**
 * The exec (JSON) form of an instruction, as BuildKit's `parseJSON` reads it with Go's
 * encoding/json. Where JSON.parse and Go disagree, Go wins:
 * - Go rejects nesting deeper than 10,000 and numbers beyond float64 (`1e999`): such text is not
 *   JSON to BuildKit, so the instruction falls back to the shell form instead of failing;
 * - Go decodes an unpaired `\ud800` escape to U+FFFD.
 */
import { goTrimLeftSpace } from './go-text.ts';
import { ParseFailure } from './parse-failure.ts';

/** encoding/json's scanner limit. */
const MAX_DEPTH = 10000;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export const NOT_STRING_ARRAY =
  'when using JSON array syntax, arrays must be comprised of strings only (quote every element, as in ["echo", "1"])';

/**
 * @returns the strings of a JSON array, or undefined when the text is not a JSON array
 * @throws ParseFailure when it is a JSON array holding something other than strings
 */
export function parseJsonArray(rest: string): string[] | undefined {
  const text = goTrimLeftSpace(rest);
  if (!text.startsWith('[')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  if (value.every((item) => typeof item === 'string')) {
    return (value as string[]).map((item) => item.replace(LONE_SURROGATE, '\ufffd'));
  }
  if (!goDecodes(value)) return undefined;
  throw new ParseFailure(NOT_STRING_ARRAY);
}

/** Whether Go's json.Unmarshal into []any accepts what JSON.parse accepted. */
function goDecodes(root: unknown[]): boolean {
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) return false;
    } else if (typeof value === 'object' && value !== null) {
      if (depth > MAX_DEPTH) return false;
      for (const child of Array.isArray(value) ? value : Object.values(value)) stack.push([child, depth + 1]);
    }
  }
  return true;
}
