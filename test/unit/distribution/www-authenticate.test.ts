import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseWwwAuthenticate } from '../../../src/distribution/www-authenticate.ts';

describe('parseWwwAuthenticate', () => {
  it('reads a Bearer challenge as registries send it', () => {
    assert.deepEqual(
      parseWwwAuthenticate(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
      ),
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://auth.docker.io/token',
            service: 'registry.docker.io',
            scope: 'repository:library/busybox:pull',
          },
        },
      ],
    );
  });

  it('reads Basic, several challenges, escapes, unquoted values and spacing', () => {
    assert.deepEqual(parseWwwAuthenticate('Basic realm="basic-realm"'), [
      { scheme: 'basic', params: { realm: 'basic-realm' } },
    ]);
    assert.deepEqual(
      parseWwwAuthenticate('Basic realm="a\\"b", Bearer realm=https://x/token , service = reg'),
      [
        { scheme: 'basic', params: { realm: 'a"b' } },
        { scheme: 'bearer', params: { realm: 'https://x/token', service: 'reg' } },
      ],
    );
    assert.deepEqual(parseWwwAuthenticate(['Basic realm="one"', 'Bearer realm="two",scope="a b"']), [
      { scheme: 'basic', params: { realm: 'one' } },
      { scheme: 'bearer', params: { realm: 'two', scope: 'a b' } },
    ]);
  });

  it('keeps commas inside quoted values and gives nothing for no header', () => {
    assert.deepEqual(parseWwwAuthenticate('Bearer realm="r",scope="repository:a:pull,push"'), [
      { scheme: 'bearer', params: { realm: 'r', scope: 'repository:a:pull,push' } },
    ]);
    assert.deepEqual(parseWwwAuthenticate(undefined), []);
    assert.deepEqual(parseWwwAuthenticate(''), []);
  });
});
