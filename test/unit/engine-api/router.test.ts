// The Engine API router: gorilla/mux-style patterns, image names with slashes, order of routes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Router } from '../../../src/engine-api/router.ts';

describe('Router', () => {
  const router = new Router<string>();
  router.add('GET', '/images/json', 'list');
  router.add('GET', '/images/{name:.+}/json', 'inspect');
  router.add('DELETE', '/images/{name:.+}', 'remove');
  router.add('POST', '/containers/{id}/start', 'start');

  it('matches fixed paths before patterns, by method', () => {
    assert.equal(router.match('GET', '/images/json')?.handler, 'list');
    assert.equal(router.match('POST', '/images/json'), undefined);
    assert.equal(router.match('get', '/images/json')?.handler, 'list');
  });

  it('takes image names with registries, paths, tags and digests', () => {
    const match = router.match('GET', '/images/localhost:5000/team/app:1/json');
    assert.deepEqual(match?.params, { name: 'localhost:5000/team/app:1' });
    assert.equal(match?.pattern, '/images/{name:.+}/json');
    assert.deepEqual(router.match('DELETE', '/images/busybox@sha256:abcd')?.params, {
      name: 'busybox@sha256:abcd',
    });
  });

  it('decodes percent-encoded parameters and keeps a stray % as is', () => {
    assert.deepEqual(router.match('GET', '/images/a%2Fb%3A1/json')?.params, { name: 'a/b:1' });
    assert.deepEqual(router.match('POST', '/containers/50%/start')?.params, { id: '50%' });
  });

  it('limits a plain parameter to one segment', () => {
    assert.equal(router.match('POST', '/containers/a/b/start'), undefined);
    assert.equal(router.match('POST', '/containers//start'), undefined);
  });

  it('lists its routes in order', () => {
    assert.deepEqual(router.list(), [
      'GET /images/json',
      'GET /images/{name:.+}/json',
      'DELETE /images/{name:.+}',
      'POST /containers/{id}/start',
    ]);
  });
});
