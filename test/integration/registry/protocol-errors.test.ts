// Error answers over loopback HTTP: names, tags and digests checked by the spec's grammar (400,
// never 500), unknown endpoints (404) and methods (405), all in the spec's JSON error form with
// the API version header.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { errorCodes, http, startTestRegistry, type TestRegistry } from './helpers.ts';

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('registry errors', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startTestRegistry();
  });
  after(async () => {
    await registry?.close();
  });
  const url = () => registry.url;

  it('refuses invalid repository names with 400 NAME_INVALID on every endpoint', async () => {
    for (const name of ['UPPER/case', 'a//b', '-lead', 'trail-', 'a..b', 'x/.hidden', `${'a'.repeat(256)}`]) {
      for (const [method, path] of [
        ['GET', `/v2/${name}/tags/list`],
        ['GET', `/v2/${name}/manifests/latest`],
        ['GET', `/v2/${name}/blobs/${DIGEST}`],
        ['POST', `/v2/${name}/blobs/uploads/`],
        ['GET', `/v2/${name}/referrers/${DIGEST}`],
      ] as const) {
        const response = await http(method, url(), path);
        assert.equal(response.status, 400, `${method} ${path}`);
        assert.deepEqual(errorCodes(response), ['NAME_INVALID']);
        assert.equal(response.header('docker-distribution-api-version'), 'registry/2.0');
        assert.equal(response.header('content-type'), 'application/json');
      }
    }
  });

  it('refuses invalid digests with 400 DIGEST_INVALID and invalid tags with 400 NAME_INVALID', async () => {
    for (const digest of [
      'sha256:xyz',
      'sha256:' + 'A'.repeat(64),
      'sha999:abc',
      'sha512:' + 'a'.repeat(64),
      ':',
      'sha256:%zz',
    ]) {
      for (const method of ['GET', 'HEAD', 'DELETE']) {
        const response = await http(method, url(), `/v2/repo/blobs/${encodeURI(digest)}`);
        assert.equal(response.status, 400, `${method} ${digest}`);
      }
    }
    for (const tag of ['-tag', '.tag', 'x'.repeat(129)]) {
      const response = await http('GET', url(), `/v2/repo/manifests/${tag}`);
      assert.equal(response.status, 400, tag);
      assert.deepEqual(errorCodes(response), ['NAME_INVALID']);
    }
  });

  it('answers paths outside the API with 404 and wrong methods with 405', async () => {
    // `/` redirects to the web UI (registry-ui.md); other paths outside the API stay JSON 404s.
    for (const path of ['/index.html', '/v1/', '/v2/repo/unknown/thing', '/v2/repo/blobs/']) {
      const response = await http('GET', url(), path);
      assert.equal(response.status, 404, path);
      errorCodes(response);
    }
    for (const [method, path] of [
      ['POST', '/v2/repo/manifests/latest'],
      ['PUT', `/v2/repo/blobs/${DIGEST}`],
      ['DELETE', '/v2/repo/tags/list'],
      ['PATCH', '/v2/_catalog'],
      ['GET', '/v2/repo/blobs/uploads/'],
    ] as const) {
      const response = await http(method, url(), path);
      assert.equal(response.status, 405, `${method} ${path}`);
      assert.deepEqual(errorCodes(response), ['UNSUPPORTED']);
      assert.ok(response.header('allow'));
    }
  });
});
