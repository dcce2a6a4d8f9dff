/**
 * `inspect -f` on a container runs the template first on Docker's typed
 * `container.InspectResponse`, and only when that fails on the raw JSON (inspect-writer.ts).
 * This builds the typed value from the JSON with the kinds of container/inspect-schema.ts:
 * structs (an unknown field fails, and the raw JSON is tried), nil slices that print `[]`, nil
 * maps `map[]`, nil pointers `<nil>`, and `omitempty` fields that are absent from the JSON but
 * still there for a template (`{{.Config.StopSignal}}` is empty, not an error). `{{json .X}}`
 * writes what encoding/json would: struct order, `omitempty` dropped, map keys sorted.
 *
 * @example
 * parseDockerTemplate('{{.Config.Entrypoint}}').execute(containerInspectView(inspect)); // '[]'
 */
import { CONTAINER_INSPECT, fieldName, type GoStruct, type GoType } from '../../container/inspect-schema.ts';
import { goJson } from './go-json.ts';
import { GO_MARSHAL_JSON, GoNil, GoTime, goStruct } from './go-value.ts';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Go's `omitempty` test on a typed value. */
function isEmpty(value: unknown): boolean {
  if (value === '' || value === false || value === 0 || value === null || value === undefined) return true;
  if (value instanceof GoNil) return true;
  if (Array.isArray(value)) return value.length === 0;
  return value instanceof Map && value.size === 0;
}

function typedStruct(raw: Json, type: GoStruct): object {
  const fields: Json = {};
  const omitEmpty = new Set<string>();
  for (const [key, fieldType] of Object.entries(type.fields)) {
    const field = fieldName(key);
    fields[field.name] = typed(raw[field.name], fieldType);
    if (field.omitEmpty) omitEmpty.add(field.name);
  }
  // What Wharf adds beyond Docker's struct stays reachable.
  for (const [name, value] of Object.entries(raw)) if (!(name in fields)) fields[name] = value;
  const struct = goStruct(type.name, fields);
  // As encoding/json writes the struct: field order, omitempty, maps with sorted keys.
  const marshal = () => {
    const kept: Json = {};
    for (const [name, value] of Object.entries(fields))
      if (!(omitEmpty.has(name) && isEmpty(value))) kept[name] = value;
    return goJson(kept);
  };
  Object.defineProperty(struct, GO_MARSHAL_JSON, { enumerable: false, value: marshal });
  return struct;
}

/** A Go map: a `Map`, which prints, ranges and encodes in sorted key order. */
const goMap = (value: Json, item: (value: unknown) => unknown = (v) => v) =>
  new Map(Object.entries(value).map(([key, v]) => [key, item(v)]));

function typed(value: unknown, type: GoType): unknown {
  switch (type) {
    case 'string':
      return value ?? '';
    case 'int':
      return value ?? 0;
    case 'bool':
      return value ?? false;
    case 'pair':
      return value ?? [0, 0];
    case 'time':
      try {
        return new GoTime(typeof value === 'string' ? value : '0001-01-01T00:00:00Z');
      } catch {
        return value;
      }
    case 'slice':
      return Array.isArray(value) ? value : new GoNil('slice', '[]string');
    case 'map':
      return isObject(value) ? goMap(value) : new GoNil('map', 'map[string]string');
    case 'set':
      return isObject(value)
        ? goMap(value, () => goStruct('struct {}', {}))
        : new GoNil('map', 'map[string]struct {}');
    case 'ptr':
      return value ?? new GoNil('ptr', '*int');
  }
  if ('fields' in type) return typedStruct(isObject(value) ? value : {}, type);
  if ('ptr' in type)
    return isObject(value) ? typedStruct(value, type.ptr) : new GoNil('ptr', `*${type.ptr.name}`);
  if ('slice' in type) {
    const element = type.slice;
    return Array.isArray(value)
      ? value.map((item) => (isObject(item) ? typedStruct(item, element) : item))
      : new GoNil('slice', `[]${element.name}`);
  }
  const element = type.map;
  if (!isObject(value)) return new GoNil('map', 'map[string]interface {}');
  return goMap(value, (item) => typed(item, element));
}

/**
 * The typed view of a `docker inspect CONTAINER` JSON object.
 *
 * @example
 * const text = executeFormat(template, containerInspectView(raw), 'default');
 */
export function containerInspectView(raw: Json): unknown {
  return typedStruct(raw, CONTAINER_INSPECT);
}
