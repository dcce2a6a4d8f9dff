/**
 * Shape checks for the JSON documents of the OCI and Docker specs (configs, manifests, indexes,
 * descriptors, platforms). Small combinators, each a function `(value, path) => void` that throws
 * a ShapeError naming the first offending field as a dotted path (`layers.0.digest`).
 *
 * Why not zod: these documents are read on every verb that touches an image, and loading zod
 * alone costs about 50 ms of CPU per process (750 KB of bundle to compile), more than the rest of
 * a quick verb. These checks cost microseconds and load with nothing, so every read, trusted
 * (Wharf's own store) or not (pull, load, import, registry PUT), is still checked.
 *
 * Objects are loose: fields a check does not name are kept untouched (the specs say to ignore
 * unknown fields, and a config's digest is over its exact bytes). A check validates in place and
 * never copies, so `checked(shape, value)` returns the same object, typed.
 *
 * @example
 * const shape = object({ os: string, variant: optional(string) });
 * const platform = checked<{ os: string; variant?: string }>(shape, JSON.parse(text));
 */

/** A document that does not have the shape a spec wants: where and why. */
export class ShapeError extends Error {
  override name = 'ShapeError';
  constructor(
    /** Dotted path of the offending field (`config.digest`, `layers.0.size`); '' for the document. */
    readonly path: string,
    /** What is wrong with it (`expected string, received number`). */
    readonly reason: string,
  ) {
    super(`${path || 'document'}: ${reason}`);
  }
}

/** A check of one value; throws ShapeError. */
export type Check = (value: unknown, path: string) => void;

/** A field check that also allows the field to be absent (see `optional`). */
interface OptionalCheck extends Check {
  readonly optional: true;
}

/** The path of a child of `path`. */
export function childPath(path: string, key: string | number): string {
  return path === '' ? String(key) : `${path}.${key}`;
}

/** `string`, `number`, `array`, `null`, `object`... for messages. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function fail(path: string, expected: string, value: unknown): never {
  throw new ShapeError(path, `expected ${expected}, received ${kindOf(value)}`);
}

/** Any string. */
export const string: Check = (value, path) => {
  if (typeof value !== 'string') fail(path, 'string', value);
};

/** Any finite number. */
export const number: Check = (value, path) => {
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(path, 'number', value);
};

/** true or false. */
export const boolean: Check = (value, path) => {
  if (typeof value !== 'boolean') fail(path, 'boolean', value);
};

/** An integer >= 0 (sizes). */
export const nonNegativeInteger: Check = (value, path) => {
  if (typeof value !== 'number') fail(path, 'number', value);
  if (!Number.isInteger(value)) throw new ShapeError(path, 'must be an integer');
  if (value < 0) throw new ShapeError(path, 'must be >= 0');
};

/** A string with at least one character; `message` replaces the default reason. */
export function nonEmptyString(message = 'must not be empty'): Check {
  return (value, path) => {
    string(value, path);
    if (value === '') throw new ShapeError(path, message);
  };
}

/** A string matching `pattern`. */
export function matching(pattern: RegExp, message: string): Check {
  return (value, path) => {
    string(value, path);
    if (!pattern.test(value as string)) throw new ShapeError(path, message);
  };
}

/** A string for which `test` is true. */
export function stringWhere(test: (value: string) => boolean, message: string): Check {
  return (value, path) => {
    string(value, path);
    if (!test(value as string)) throw new ShapeError(path, message);
  };
}

/** Exactly `expected` (`2`, `'layers'`...). */
export function literal(expected: string | number | boolean, message?: string): Check {
  return (value, path) => {
    if (value !== expected) {
      throw new ShapeError(path, message ?? `expected ${JSON.stringify(expected)}`);
    }
  };
}

/** null, or what `check` accepts. */
export function nullable(check: Check): Check {
  return (value, path) => {
    if (value !== null) check(value, path);
  };
}

/** A field that may be absent (`undefined`); when present it must pass `check`. */
export function optional(check: Check): OptionalCheck {
  const wrapped = (value: unknown, path: string) => {
    if (value !== undefined) check(value, path);
  };
  return Object.assign(wrapped, { optional: true as const });
}

/** An array whose every item passes `item`. */
export function arrayOf(item: Check): Check {
  return (value, path) => {
    if (!Array.isArray(value)) fail(path, 'array', value);
    for (let i = 0; i < value.length; i++) item(value[i], childPath(path, i));
  };
}

/** A plain object (not null, not an array). */
export const plainObject: Check = (value, path) => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, 'object', value);
};

/** An object used as a map: every value passes `item` (keys are strings in JSON). */
export function recordOf(item: Check): Check {
  return (value, path) => {
    plainObject(value, path);
    for (const [key, entry] of Object.entries(value as Record<string, unknown>)) {
      item(entry, childPath(path, key));
    }
  };
}

/**
 * A loose object: each named field passes its check (and must be present unless `optional`);
 * other fields are allowed and kept.
 */
export function object(fields: Readonly<Record<string, Check>>): Check {
  const entries = Object.entries(fields).map(
    ([key, check]) => [key, check, (check as Partial<OptionalCheck>).optional === true] as const,
  );
  return (value, path) => {
    plainObject(value, path);
    const record = value as Record<string, unknown>;
    for (const [key, check, isOptional] of entries) {
      const field = record[key];
      if (field === undefined && !isOptional) {
        throw new ShapeError(childPath(path, key), 'required field is missing');
      }
      check(field, childPath(path, key));
    }
  };
}

/**
 * Runs `check` on `value` and returns it typed as `T` (the same object: checks never copy).
 *
 * @example
 * const layout = checked<OciLayout>(OCI_LAYOUT_SHAPE, JSON.parse(text));
 */
export function checked<T>(check: Check, value: unknown): T {
  check(value, '');
  return value as T;
}
