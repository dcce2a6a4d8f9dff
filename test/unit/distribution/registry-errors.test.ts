import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  describeRegistryError,
  reasonOf,
  registryError,
  rephraseError,
} from '../../../src/distribution/registry-errors.ts';

describe('registry errors', () => {
  it('words error bodies as the docker CLI does', () => {
    const body = JSON.stringify({
      errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { Tag: 'x' } }],
    });
    assert.equal(describeRegistryError(404, body), 'manifest unknown: manifest unknown');
    assert.equal(describeRegistryError(401, ''), 'unauthorized: authentication required');
    assert.equal(describeRegistryError(418, 'short text'), 'unexpected HTTP status 418 (short text)');
  });

  it('maps statuses to categories and re-words the action keeping the reason', () => {
    const body = JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] });
    const error = registryError(401, body, 'fetch manifest localhost:5000/a:b');
    assert.equal(error.name, 'PermissionDeniedError');
    assert.equal(
      error.message,
      'Cannot fetch manifest localhost:5000/a:b: unauthorized: authentication required',
    );
    const pull = rephraseError(error, 'pull localhost:5000/a:b');
    assert.equal(pull.name, 'PermissionDeniedError');
    assert.equal(pull.message, 'Cannot pull localhost:5000/a:b: unauthorized: authentication required');
    assert.equal(registryError(404, '', 'x').name, 'NotFoundError');
    assert.equal(registryError(503, '', 'x').name, 'UnavailableError');
    assert.equal(registryError(400, '', 'x').name, 'InvalidArgumentError');
    assert.equal(reasonOf(new Error('Cannot fetch localhost:5000/a: it broke')), 'it broke');
  });
});
