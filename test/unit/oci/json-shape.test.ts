import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { digestBytes } from '../../../src/oci/digest.ts';
import { parseImageConfig } from '../../../src/oci/image-config.ts';
import {
  arrayOf,
  checked,
  literal,
  nonNegativeInteger,
  nullable,
  object,
  optional,
  recordOf,
  ShapeError,
  string,
} from '../../../src/oci/json-shape.ts';
import { parseManifest } from '../../../src/oci/manifest.ts';
import { MediaType } from '../../../src/oci/media-types.ts';

/** The ShapeError `fn` throws, as `path: reason`. */
function shapeError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ShapeError, `expected a ShapeError, got ${String(error)}`);
    return error.message;
  }
  assert.fail('expected a throw');
}

describe('JSON shape checks', () => {
  const shape = object({
    name: string,
    size: nonNegativeInteger,
    tags: optional(nullable(arrayOf(string))),
    labels: optional(recordOf(string)),
    kind: literal('layers', 'must be "layers"'),
  });

  it('accepts a valid document and returns the same object, unknown fields kept', () => {
    const document = { name: 'a', size: 0, tags: null, kind: 'layers', extra: { deep: [1] } };
    const out = checked<typeof document>(shape, document);
    assert.equal(out, document);
    assert.deepEqual(out.extra, { deep: [1] });
  });

  it('names the first offending field as a dotted path', () => {
    assert.equal(
      shapeError(() => shape(null, '')),
      'document: expected object, received null',
    );
    assert.equal(
      shapeError(() => shape([], '')),
      'document: expected object, received array',
    );
    assert.equal(
      shapeError(() => shape({ size: 1, kind: 'layers' }, '')),
      'name: required field is missing',
    );
    assert.equal(
      shapeError(() => shape({ name: 1, size: 1, kind: 'layers' }, '')),
      'name: expected string, received number',
    );
    assert.equal(
      shapeError(() => shape({ name: 'a', size: -1, kind: 'layers' }, '')),
      'size: must be >= 0',
    );
    assert.equal(
      shapeError(() => shape({ name: 'a', size: 1.5, kind: 'layers' }, '')),
      'size: must be an integer',
    );
    assert.equal(
      shapeError(() => shape({ name: 'a', size: 1, kind: 'layers', tags: ['x', 2] }, '')),
      'tags.1: expected string, received number',
    );
    assert.equal(
      shapeError(() => shape({ name: 'a', size: 1, kind: 'layers', labels: { a: 'b', c: false } }, '')),
      'labels.c: expected string, received boolean',
    );
    assert.equal(
      shapeError(() => shape({ name: 'a', size: 1, kind: 'x' }, '')),
      'kind: must be "layers"',
    );
  });

  it('treats null as present: optional fields refuse it unless nullable', () => {
    const loose = object({ a: optional(string) });
    loose({}, '');
    assert.equal(
      shapeError(() => loose({ a: null }, '')),
      'a: expected string, received null',
    );
  });
});

describe('spec documents through the shape checks', () => {
  const D1 = digestBytes('one');

  it('explains a bad image config with the field path', () => {
    const base = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [D1] } };
    assert.throws(
      () => parseImageConfig(JSON.stringify({ ...base, rootfs: { type: 'layers', diff_ids: ['nope'] } })),
      /^InvalidArgumentError: Cannot parse image config: rootfs\.diff_ids\.0: must be a sha256 or sha512 digest/,
    );
    assert.throws(
      () => parseImageConfig(JSON.stringify({ ...base, config: { Env: 'A=b' } })),
      /Cannot parse image config: config\.Env: expected array, received string/,
    );
    assert.throws(
      () => parseImageConfig(JSON.stringify({ ...base, history: [{ empty_layer: 'yes' }] })),
      /history\.0\.empty_layer: expected boolean, received string/,
    );
    assert.throws(() => parseImageConfig('[]'), /Cannot parse image config: document: expected object/);
    const config = parseImageConfig(
      JSON.stringify({ ...base, config: { Healthcheck: { Test: ['NONE'] }, Labels: null, Volumes: null } }),
    );
    assert.deepEqual(config.config?.Healthcheck?.Test, ['NONE']);
  });

  it('explains a bad manifest with the field path and keeps platforms', () => {
    assert.throws(
      () =>
        parseManifest(
          JSON.stringify({
            schemaVersion: 2,
            manifests: [{ mediaType: MediaType.OciManifest, digest: D1, size: 1, platform: { os: 'linux' } }],
          }),
        ),
      /Cannot parse manifest \(application\/vnd\.oci\.image\.index\.v1\+json\): manifests\.0\.platform\.architecture: required field is missing/,
    );
    assert.throws(
      () =>
        parseManifest(
          JSON.stringify({
            schemaVersion: 2,
            config: { mediaType: '', digest: D1, size: 1 },
            layers: [],
          }),
        ),
      /config\.mediaType: mediaType must not be empty/,
    );
    assert.throws(
      () =>
        parseManifest(
          JSON.stringify({
            schemaVersion: 2,
            config: { mediaType: 'x', digest: D1, size: 1, data: 'not base64!' },
            layers: [],
          }),
        ),
      /config\.data: data must be base64/,
    );
    const index = parseManifest(
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: MediaType.OciManifest,
            digest: D1,
            size: 1,
            platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
          },
        ],
      }),
    );
    assert.equal(index.kind, 'index');
    if (index.kind === 'index') assert.equal(index.manifests[0]?.platform?.variant, 'v8');
  });
});
