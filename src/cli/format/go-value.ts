/**
 * How JavaScript values stand in for Go values inside templates.
 *
 * Go templates reflect over typed values; JavaScript has no such types, so each JS shape plays
 * one Go kind, and a few markers let the producer of the data say what Go would have known:
 *
 * | JavaScript                      | Go kind      | `{{.}}` prints       | missing `.Field`            |
 * |---------------------------------|--------------|----------------------|-----------------------------|
 * | `undefined`                     | invalid      | `<no value>`         | `<no value>` (or an error)  |
 * | `null`                          | nil interface| `<nil>`              | error: nil pointer          |
 * | string / boolean                | string / bool| as is                | error: can't evaluate field |
 * | integer number, bigint          | int          | `42`                 | error                       |
 * | other number                    | float64      | `1.5`, `1e+06`       | error                       |
 * | array                           | slice        | `[a b]`              | error                       |
 * | plain object, `Map`             | map          | `map[k:v]` (sorted)  | missing key rules           |
 * | object made by {@link goStruct} | struct       | `{v1 v2}`            | error: can't evaluate field |
 * | {@link GoNil}                   | typed nil    | `[]`, `map[]`, `<nil>` | as Go                     |
 * | {@link GoDuration}              | int (int64)  | `1m30s`              | error                       |
 * | function property               | method       | (called)             |                             |
 *
 * Plain objects are maps because that is what `docker inspect` falls back to when it decodes
 * the JSON it got from the daemon (`map[string]interface{}`); listing rows (`docker images`)
 * are structs, so an unknown field is an error there, as in Docker.
 */

import { formatGoDuration } from '../../container/go-duration.ts';

/** Marks an object as a Go struct; the value is its Go type name, used in error messages. */
export const GO_STRUCT: unique symbol = Symbol.for('wharf.go.struct');
/** An object's own JSON encoding (Go's `json.Marshaler`): a function returning JSON text. */
export const GO_MARSHAL_JSON: unique symbol = Symbol.for('wharf.go.marshalJSON');

/** A Go value that is nil but typed: a nil slice prints `[]`, a nil map `map[]`, a nil pointer `<nil>`. */
export class GoNil {
  /**
   * @param omitEmpty the field is `omitempty` in Go: absent from JSON objects, though a template
   *   still finds it (`{{.Config.Healthcheck}}` prints `<nil>` rather than failing).
   */
  constructor(
    readonly kind: 'slice' | 'map' | 'ptr',
    readonly typeName: string,
    readonly omitEmpty = false,
  ) {}
  /** Encodes as JSON `null`, as Go does for every nil. */
  toJSON(): null {
    return null;
  }
}

/**
 * A float64 that happens to be whole (`1.0`, `1e6`): a bare JavaScript number that is whole plays
 * an int, so Go's float printing (`1e+06`) needs this wrapper.
 */
export class GoFloat {
  constructor(readonly value: number) {}
  valueOf(): number {
    return this.value;
  }
  toJSON(): number {
    return this.value;
  }
}

/**
 * Go's `time.Time` read from RFC 3339 text: prints as Go prints times
 * (`2024-05-01 10:00:00.5 +0000 UTC`), encodes to JSON as the text it came from.
 */
export class GoTime {
  readonly text: string;
  readonly #match: RegExpExecArray;

  constructor(text: string) {
    const match = /^(\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(text);
    if (!match) throw new TypeError(`not an RFC 3339 time: ${text}`);
    this.text = text;
    this.#match = match;
  }

  /** Go's `Time.String()` in the zone the text names (`+0000 UTC` for Z). */
  toGoString(): string {
    const [, y, mo, d, h, mi, se, frac, zone] = this.#match;
    const fraction = frac?.replace(/0+$/, '') ? `.${frac.slice(0, 9).replace(/0+$/, '')}` : '';
    // An offset Go cannot name prints as a number twice: "+0100 +0100".
    const offset = zone === 'Z' ? '+0000 UTC' : `${zone!.replace(':', '')} ${zone!.replace(':', '')}`;
    return `${y}-${mo}-${d} ${h}:${mi}:${se}${fraction} ${offset}`;
  }

  toJSON(): string {
    return this.text;
  }
}

/**
 * Go's `time.Duration`: an int64 of nanoseconds to comparisons and JSON, printed by its
 * `String()` method (`30s`, `1m30s`) as fmt prints a Stringer (`{{.Config.Healthcheck.Interval}}`).
 */
export class GoDuration {
  constructor(readonly nanoseconds: number) {}
  valueOf(): number {
    return this.nanoseconds;
  }
  toJSON(): number {
    return this.nanoseconds;
  }
  toGoString(): string {
    return formatGoDuration(this.nanoseconds);
  }
}

/** Go's nil `[]string`: prints `[]`, JSON `null`. */
export const NIL_SLICE = new GoNil('slice', '[]string');
/** Go's nil `map[string]string`: prints `map[]`, JSON `null`. */
export const NIL_MAP = new GoNil('map', 'map[string]string');

/**
 * Marks `fields` as a Go struct named `typeName` (for messages such as
 * `can't evaluate field Foo in type *formatter.imageContext`). Field order is key order.
 *
 * @example
 * const row = goStruct('*formatter.imageContext', { ID: 'f7e2b70d04ae', Repository: 'busybox' });
 */
export function goStruct<T extends object>(typeName: string, fields: T): T {
  Object.defineProperty(fields, GO_STRUCT, { value: typeName, enumerable: false });
  return fields;
}

export type GoKind =
  | 'invalid'
  | 'nil'
  | 'string'
  | 'int'
  | 'float'
  | 'bool'
  | 'slice'
  | 'map'
  | 'struct'
  | 'func'
  | 'time'
  | 'nilslice'
  | 'nilmap'
  | 'nilptr';

/** The Go kind a JavaScript value plays (see the table at the top of this file). */
export function kindOf(value: unknown): GoKind {
  switch (typeof value) {
    case 'undefined':
      return 'invalid';
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'bigint':
      return 'int';
    case 'number':
      return Number.isInteger(value) ? 'int' : 'float';
    case 'function':
      return 'func';
    case 'symbol':
      return 'invalid';
  }
  if (value === null) return 'nil';
  if (Array.isArray(value) || ArrayBuffer.isView(value)) return 'slice';
  if (value instanceof GoNil)
    return value.kind === 'slice' ? 'nilslice' : value.kind === 'map' ? 'nilmap' : 'nilptr';
  if (value instanceof GoFloat) return 'float';
  if (value instanceof GoDuration) return 'int';
  if (value instanceof Map) return 'map';
  if (value instanceof Date || value instanceof GoTime) return 'time';
  if (isGoStruct(value)) return 'struct';
  return 'map';
}

export function isGoStruct(value: unknown): value is object {
  return typeof value === 'object' && value !== null && GO_STRUCT in value;
}

/** The Go type name of a value, for error messages (`string`, `int`, `map[string]interface {}`...). */
export function goTypeName(value: unknown): string {
  switch (kindOf(value)) {
    case 'invalid':
      return '<nil>';
    case 'nil':
      return 'interface {}';
    case 'string':
      return 'string';
    case 'bool':
      return 'bool';
    case 'int':
      return value instanceof GoDuration ? 'time.Duration' : 'int';
    case 'float':
      return 'float64';
    case 'func':
      return 'func';
    case 'time':
      return 'time.Time';
    case 'struct':
      return String((value as Record<symbol, unknown>)[GO_STRUCT]);
    case 'nilslice':
    case 'nilmap':
    case 'nilptr':
      return (value as GoNil).typeName;
    case 'slice': {
      if (value instanceof Uint8Array) return '[]uint8';
      const items = value as unknown[];
      return items.length > 0 && items.every((v) => typeof v === 'string') ? '[]string' : '[]interface {}';
    }
    case 'map': {
      const values = value instanceof Map ? [...value.values()] : Object.values(value as object);
      return values.length > 0 && values.every((v) => typeof v === 'string')
        ? 'map[string]string'
        : 'map[string]interface {}';
    }
  }
}

/**
 * Go's truth for `if`, `with`, `and`, `or`, `not`: false, 0, nil, and empty strings, slices and
 * maps are false; structs are always true.
 */
export function isTrue(value: unknown): boolean {
  switch (kindOf(value)) {
    case 'invalid':
    case 'nil':
    case 'nilslice':
    case 'nilmap':
    case 'nilptr':
      return false;
    case 'string':
      return (value as string).length > 0;
    case 'bool':
      return value as boolean;
    case 'int':
    case 'float':
      return typeof value === 'bigint' ? value !== 0n : Number(value) !== 0;
    case 'slice':
      return (value as ArrayLike<unknown>).length > 0;
    case 'map':
      return mapSize(value as object) > 0;
    default:
      return true;
  }
}

/** The keys of a map value in Go's printing and ranging order (sorted). */
export function sortedMapKeys(map: object): unknown[] {
  const keys: unknown[] = map instanceof Map ? [...map.keys()] : Object.keys(map);
  return keys.sort(compareKeys);
}

function compareKeys(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Looks up `key` in a map value; `undefined` when absent (Go's invalid MapIndex result). */
export function mapGet(map: object, key: unknown): unknown {
  if (map instanceof Map) return map.get(key);
  if (typeof key !== 'string' || !Object.hasOwn(map, key)) return undefined;
  return (map as Record<string, unknown>)[key];
}

export function mapSize(map: object): number {
  return map instanceof Map ? map.size : Object.keys(map).length;
}

/** A struct's fields in declaration order (functions, which play methods, excluded). */
export function structFields(value: object): [string, unknown][] {
  return Object.entries(value).filter(([, v]) => typeof v !== 'function');
}

/** Finds a struct field or a method (a function property, own or inherited) by name. */
export function lookupMember(value: object, name: string): { found: boolean; value: unknown } {
  if (Object.hasOwn(value, name)) return { found: true, value: (value as Record<string, unknown>)[name] };
  // Methods may live on a class prototype; never expose Object.prototype's.
  for (let proto = Object.getPrototypeOf(value); proto && proto !== Object.prototype; ) {
    if (Object.hasOwn(proto, name)) return { found: true, value: (value as Record<string, unknown>)[name] };
    proto = Object.getPrototypeOf(proto);
  }
  return { found: false, value: undefined };
}
