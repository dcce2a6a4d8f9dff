/**
 * Go's `encoding/json` output for the values of go-value.ts: structs in field order, `Map`s with
 * sorted keys, typed nils as `null`, U+2028/U+2029 escaped, and `<`, `>`, `&` escaped as
 * `\u003c`... when `escapeHtml` is on (`json.Marshal`'s default, which is why `docker images
 * --format json` prints `"Digest":"\u003cnone\u003e"`), off for the `json` template function.
 */
import { GO_MARSHAL_JSON, GoNil, isGoStruct, sortedMapKeys } from './go-value.ts';

export interface GoJsonOptions {
  /** Escape `<`, `>` and `&` (Go's `json.Marshal`); default false (Docker's `json` function). */
  escapeHtml?: boolean;
  /** Indent nested values with this string (Go's `json.MarshalIndent`); default compact. */
  indent?: string;
}

/** Thrown for values Go cannot encode (NaN, Infinity, functions). */
export class GoJsonError extends Error {
  override name = 'GoJsonError';
}

/**
 * Encodes `value` as Go's encoder would.
 *
 * @example
 * goJson({ Digest: '<none>' }, { escapeHtml: true }); // '{"Digest":"\\u003cnone\\u003e"}'
 */
export function goJson(value: unknown, options: GoJsonOptions = {}): string {
  const text = encode(value, options.indent ?? '', '');
  // These characters occur only inside JSON strings, so replacing them everywhere is safe.
  let out = text.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  if (options.escapeHtml)
    out = out.replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
  return out;
}

function encode(value: unknown, indent: string, prefix: string): string {
  switch (typeof value) {
    case 'undefined':
      return 'null';
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return String(value);
    case 'bigint':
      return value.toString();
    case 'number':
      if (!Number.isFinite(value)) throw new GoJsonError(`json: unsupported value: ${goFloatName(value)}`);
      return JSON.stringify(value);
    case 'function':
    case 'symbol':
      throw new GoJsonError(`json: unsupported type: ${typeof value}`);
  }
  if (value === null || value instanceof GoNil) return 'null';
  const record = value as Record<PropertyKey, unknown>;
  if (typeof record[GO_MARSHAL_JSON] === 'function') {
    // Go keeps a Marshaler's text as it is (escapes included), only re-indenting it.
    return reindent((record[GO_MARSHAL_JSON] as () => string)(), indent, prefix);
  }
  if (value instanceof Date) return JSON.stringify(value.toISOString().replace(/\.000Z$/, 'Z'));
  if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value).toString('base64'));
  const inner = prefix + indent;
  const wrap = (open: string, parts: string[], close: string): string => {
    if (parts.length === 0) return open + close;
    if (!indent) return open + parts.join(',') + close;
    return `${open}\n${inner}${parts.join(`,\n${inner}`)}\n${prefix}${close}`;
  };
  const colon = indent ? ': ' : ':';
  if (Array.isArray(value))
    return wrap(
      '[',
      value.map((v: unknown) => encode(v, indent, inner)),
      ']',
    );
  if (value instanceof Map) {
    const parts = sortedMapKeys(value).map(
      (key) => `${JSON.stringify(String(key))}${colon}${encode(value.get(key), indent, inner)}`,
    );
    return wrap('{', parts, '}');
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function' && !isGoStruct(value)) {
    return encode((value as { toJSON(): unknown }).toJSON(), indent, prefix);
  }
  const parts: string[] = [];
  for (const [key, v] of Object.entries(value as object)) {
    if (v === undefined || typeof v === 'function' || (v instanceof GoNil && v.omitEmpty)) continue;
    parts.push(`${JSON.stringify(key)}${colon}${encode(v, indent, inner)}`);
  }
  return wrap('{', parts, '}');
}

function goFloatName(value: number): string {
  return Number.isNaN(value) ? 'NaN' : value > 0 ? '+Inf' : '-Inf';
}

/** Go's `json.Compact`/`json.Indent` of valid JSON text: whitespace changes, nothing else. */
function reindent(raw: string, indent: string, prefix: string): string {
  let out = '';
  let depth = 0;
  const newline = (): string => `\n${prefix}${indent.repeat(depth)}`;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < raw.length && raw[j] !== '"') j += raw[j] === '\\' ? 2 : 1;
      out += raw.slice(i, j + 1);
      i = j;
    } else if (c === '{' || c === '[') {
      let j = i + 1;
      while (/\s/.test(raw[j] ?? '')) j++;
      if (raw[j] === (c === '{' ? '}' : ']')) {
        out += c + raw[j];
        i = j;
      } else {
        depth++;
        out += indent ? c + newline() : c;
      }
    } else if (c === '}' || c === ']') {
      depth--;
      out += indent ? newline() + c : c;
    } else if (c === ',') {
      out += indent ? c + newline() : c;
    } else if (c === ':') {
      out += indent ? ': ' : ':';
    } else if (!/\s/.test(c)) {
      out += c;
    }
  }
  return out;
}
