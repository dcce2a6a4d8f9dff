// Query parameters, API version prefixes, registry auth headers and error statuses, as the Engine
// API reads and writes them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareApiVersions, splitVersionPrefix } from '../../../src/engine-api/api-version.ts';
import { frame } from '../../../src/engine-api/hijack.ts';
import { HttpError, statusOfError } from '../../../src/engine-api/http-error.ts';
import { queryBool, queryFilters, queryInt } from '../../../src/engine-api/query-params.ts';
import { decodeRegistryAuth, decodeRegistryConfig } from '../../../src/engine-api/registry-auth.ts';
import { parseJsonBody } from '../../../src/engine-api/request-body.ts';
import {
  ConflictError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  UnavailableError,
} from '../../../src/errors/index.ts';

describe('query parameters', () => {
  it('reads booleans as moby does', () => {
    const query = new URLSearchParams('a=1&b=true&c=0&d=false&e=&f=no&g=none&h=yes&i=FALSE');
    assert.deepEqual(
      ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'missing'].map((name) => queryBool(query, name)),
      [true, true, false, false, false, false, false, true, false, false],
    );
  });

  it('reads integers and refuses what is not one', () => {
    assert.equal(queryInt(new URLSearchParams('t=10'), 't'), 10);
    assert.equal(queryInt(new URLSearchParams('t='), 't'), undefined);
    assert.throws(() => queryInt(new URLSearchParams('t=abc'), 't'), InvalidArgumentError);
  });

  it('reads filters in both shapes clients send', () => {
    assert.deepEqual(queryFilters(new URLSearchParams({ filters: '{"dangling":["true"]}' })), {
      dangling: ['true'],
    });
    assert.deepEqual(
      queryFilters(new URLSearchParams({ filters: '{"label":{"a=b":true,"c":true,"off":false}}' })),
      { label: ['a=b', 'c'] },
    );
    assert.deepEqual(queryFilters(new URLSearchParams('')), {});
    assert.throws(() => queryFilters(new URLSearchParams({ filters: '{' })), InvalidArgumentError);
    assert.throws(() => queryFilters(new URLSearchParams({ filters: '[1]' })), InvalidArgumentError);
  });
});

describe('API versions', () => {
  it('compares numerically', () => {
    assert.equal(compareApiVersions('1.9', '1.41'), -1);
    assert.equal(compareApiVersions('1.41', '1.41'), 0);
    assert.equal(compareApiVersions('2.0', '1.99'), 1);
  });

  it('splits the prefix and refuses versions out of range', () => {
    assert.deepEqual(splitVersionPrefix('/v1.41/images/json'), { version: '1.41', path: '/images/json' });
    assert.deepEqual(splitVersionPrefix('/images/json'), { version: '1.41', path: '/images/json' });
    assert.deepEqual(splitVersionPrefix('/v1.30/_ping'), { version: '1.30', path: '/_ping' });
    assert.throws(
      () => splitVersionPrefix('/v1.50/info'),
      (error: HttpError) => error.status === 400,
    );
    assert.throws(() => splitVersionPrefix('/v1.12/info'), /too old/);
  });
});

describe('error statuses', () => {
  it('maps every category as moby does', () => {
    assert.equal(statusOfError(new NotFoundError('x')), 404);
    assert.equal(statusOfError(new InvalidArgumentError('x')), 400);
    assert.equal(statusOfError(new ConflictError('x')), 409);
    assert.equal(statusOfError(new FailedPreconditionError('x')), 409);
    assert.equal(statusOfError(new PermissionDeniedError('x')), 403);
    assert.equal(statusOfError(new UnavailableError('x')), 503);
    assert.equal(statusOfError(new Error('bug')), 500);
    assert.equal(statusOfError(new HttpError(501, 'later')), 501);
  });
});

describe('request bodies and framing', () => {
  it('parses JSON leniently', () => {
    assert.equal(parseJsonBody(Buffer.from('  ')), undefined);
    assert.deepEqual(parseJsonBody(Buffer.from('{"Image":"a","NewField":1}')), { Image: 'a', NewField: 1 });
    assert.throws(
      () => parseJsonBody(Buffer.from('{')),
      (error: HttpError) => error.status === 400,
    );
  });

  it('frames multiplexed output with an 8-byte header', () => {
    assert.deepEqual([...frame('stderr', Buffer.from('hi'))], [2, 0, 0, 0, 0, 0, 0, 2, 104, 105]);
  });
});

describe('registry auth headers', () => {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

  it('decodes X-Registry-Auth (base64url JSON), empty when the CLI has none', () => {
    assert.deepEqual(decodeRegistryAuth(encode({ username: 'u', password: 'p', serveraddress: 'r:5000' })), {
      username: 'u',
      password: 'p',
      serveraddress: 'r:5000',
    });
    assert.equal(decodeRegistryAuth('e30='), undefined);
    assert.equal(decodeRegistryAuth(undefined), undefined);
    assert.throws(() => decodeRegistryAuth('!!!'), InvalidArgumentError);
  });

  it('splits the auth field and reads X-Registry-Config', () => {
    const auth = Buffer.from('me:secret').toString('base64');
    assert.deepEqual(decodeRegistryConfig(encode({ 'r:5000': { auth }, empty: {} })), {
      'r:5000': { auth, username: 'me', password: 'secret' },
    });
  });
});
