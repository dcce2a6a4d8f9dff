import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERROR_CODES, RegistryError, RegistryErrors } from '../../../src/registry/errcode.ts';

describe('error codes', () => {
  it('are exactly the spec list, each with its status', () => {
    assert.deepEqual(Object.keys(ERROR_CODES).sort(), [
      'BLOB_UNKNOWN',
      'BLOB_UPLOAD_INVALID',
      'BLOB_UPLOAD_UNKNOWN',
      'DENIED',
      'DIGEST_INVALID',
      'MANIFEST_BLOB_UNKNOWN',
      'MANIFEST_INVALID',
      'MANIFEST_UNKNOWN',
      'NAME_INVALID',
      'NAME_UNKNOWN',
      'SIZE_INVALID',
      'TOOMANYREQUESTS',
      'UNAUTHORIZED',
      'UNSUPPORTED',
    ]);
    assert.equal(ERROR_CODES.BLOB_UNKNOWN.status, 404);
    assert.equal(ERROR_CODES.UNAUTHORIZED.status, 401);
  });
  it('render in the spec JSON form, with per-error status overrides', () => {
    const error = new RegistryError('BLOB_UPLOAD_INVALID', { status: 416, detail: { offset: 3 } });
    assert.equal(error.status, 416);
    assert.deepEqual(error.toBody(), {
      errors: [{ code: 'BLOB_UPLOAD_INVALID', message: 'blob upload invalid', detail: { offset: 3 } }],
    });
    const many = new RegistryErrors([
      new RegistryError('MANIFEST_BLOB_UNKNOWN'),
      new RegistryError('MANIFEST_BLOB_UNKNOWN'),
    ]);
    assert.equal(many.status, 400);
    assert.equal(many.toBody().errors.length, 2);
  });
});
