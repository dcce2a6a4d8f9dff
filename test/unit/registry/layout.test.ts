import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isUploadId, pathFor } from '../../../src/registry/storage/layout.ts';

describe('storage layout', () => {
  it('places blobs by algorithm and two-character fan-out', () => {
    const hex = `ab${'c'.repeat(62)}`;
    assert.equal(pathFor({ kind: 'blob', digest: `sha256:${hex}` }), `/blobs/sha256/ab/${hex}`);
    const long = `0f${'1'.repeat(126)}`;
    assert.equal(pathFor({ kind: 'blob', digest: `sha512:${long}` }), `/blobs/sha512/0f/${long}`);
    assert.throws(() => pathFor({ kind: 'blob', digest: 'sha256:../../etc' as `sha256:${string}` }));
  });
  it('keeps uploads under their UUID only', () => {
    const id = '0b6f8a52-8f1e-4a4a-9d4c-3f1d2e5a6b7c';
    assert.equal(isUploadId(id), true);
    assert.equal(pathFor({ kind: 'upload-data', id }), `/uploads/${id}/data`);
    assert.throws(() => pathFor({ kind: 'upload', id: '../x' }), /not a UUID/);
  });
});
