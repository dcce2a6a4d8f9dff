// Pull workflow of the OCI distribution spec, end to end over loopback HTTP: ping, manifests by
// tag and digest (GET and HEAD), blobs byte-exact, 404s with OCI error bodies, Range requests.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  errorCodes,
  generateImage,
  http,
  OCI_INDEX,
  OCI_MANIFEST,
  pushBlob,
  pushImage,
  randomBlob,
  startTestRegistry,
  type TestRegistry,
} from './helpers.ts';

const REPO = 'conformance/pull';
const ACCEPT = { accept: [OCI_INDEX, OCI_MANIFEST] };

describe('registry pull', () => {
  let registry: TestRegistry;
  const image = generateImage();
  let blob: Buffer;
  let blobDigest: string;

  before(async () => {
    registry = await startTestRegistry();
    const put = await pushImage(registry.url, REPO, image, 'v1');
    assert.equal(put.status, 201);
    blob = randomBlob(2048);
    blobDigest = await pushBlob(registry.url, REPO, blob);
  });
  after(async () => {
    await registry?.close();
  });

  it('answers the ping with 200 and the API version header', async () => {
    for (const path of ['/v2/', '/v2']) {
      const response = await http('GET', registry.url, path);
      assert.equal(response.status, 200);
      assert.equal(response.header('docker-distribution-api-version'), 'registry/2.0');
    }
    const head = await http('HEAD', registry.url, '/v2/');
    assert.equal(head.status, 200);
  });

  for (const by of ['tag', 'digest'] as const) {
    it(`GETs a manifest by ${by} with its media type, exact bytes and digest`, async () => {
      const reference = by === 'tag' ? 'v1' : image.digest;
      const response = await http('GET', registry.url, `/v2/${REPO}/manifests/${reference}`, {
        headers: ACCEPT,
      });
      assert.equal(response.status, 200);
      assert.equal(response.header('content-type'), OCI_MANIFEST);
      assert.equal(response.header('content-length'), String(image.manifest.byteLength));
      assert.equal(response.header('docker-content-digest'), image.digest);
      assert.deepEqual(response.body, image.manifest);
    });

    it(`HEADs a manifest by ${by}: 200, no body, Content-Length and digest`, async () => {
      const reference = by === 'tag' ? 'v1' : image.digest;
      const response = await http('HEAD', registry.url, `/v2/${REPO}/manifests/${reference}`, {
        headers: ACCEPT,
      });
      assert.equal(response.status, 200);
      assert.equal(response.body.byteLength, 0);
      assert.equal(response.header('content-type'), OCI_MANIFEST);
      assert.equal(response.header('content-length'), String(image.manifest.byteLength));
      assert.equal(response.header('docker-content-digest'), image.digest);
    });
  }

  it('GETs and HEADs blobs byte-exact with Docker-Content-Digest', async () => {
    for (const bytes of image.blobs) {
      const digest = `sha256:${(await import('node:crypto')).createHash('sha256').update(bytes).digest('hex')}`;
      const get = await http('GET', registry.url, `/v2/${REPO}/blobs/${digest}`);
      assert.equal(get.status, 200);
      assert.deepEqual(get.body, bytes);
      assert.equal(get.header('docker-content-digest'), digest);
      assert.equal(get.header('content-length'), String(bytes.byteLength));
      const head = await http('HEAD', registry.url, `/v2/${REPO}/blobs/${digest}`);
      assert.equal(head.status, 200);
      assert.equal(head.body.byteLength, 0);
      assert.equal(head.header('content-length'), String(bytes.byteLength));
      assert.equal(head.header('docker-content-digest'), digest);
    }
  });

  it('answers 404 with an OCI error body for a missing blob or manifest', async () => {
    const missing = `sha256:${'0'.repeat(64)}`;
    const blobGet = await http('GET', registry.url, `/v2/${REPO}/blobs/${missing}`);
    assert.equal(blobGet.status, 404);
    assert.deepEqual(errorCodes(blobGet), ['BLOB_UNKNOWN']);
    const blobHead = await http('HEAD', registry.url, `/v2/${REPO}/blobs/${missing}`);
    assert.equal(blobHead.status, 404);
    const byDigest = await http('GET', registry.url, `/v2/${REPO}/manifests/${missing}`, { headers: ACCEPT });
    assert.equal(byDigest.status, 404);
    assert.deepEqual(errorCodes(byDigest), ['MANIFEST_UNKNOWN']);
    const byTag = await http('GET', registry.url, `/v2/${REPO}/manifests/missing-tag`, { headers: ACCEPT });
    assert.equal(byTag.status, 404);
    assert.deepEqual(errorCodes(byTag), ['MANIFEST_UNKNOWN']);
    const otherRepo = await http('GET', registry.url, `/v2/other/repo/blobs/${blobDigest}`);
    assert.equal(otherRepo.status, 404, 'a blob is visible only in repositories that link it');
  });

  const ranges: Array<[string, number, number]> = [
    ['bytes=500-1499', 500, 1499],
    ['bytes=500-', 500, 2047],
    ['bytes=-500', 1548, 2047],
    ['bytes=2000-5000', 2000, 2047],
    ['bytes=0-0', 0, 0],
  ];
  for (const [header, start, end] of ranges) {
    it(`serves Range ${header} with 206 and Content-Range`, async () => {
      const response = await http('GET', registry.url, `/v2/${REPO}/blobs/${blobDigest}`, {
        headers: { range: header },
      });
      assert.equal(response.status, 206);
      assert.equal(response.header('content-range'), `bytes ${start}-${end}/2048`);
      assert.equal(response.header('content-length'), String(end - start + 1));
      assert.deepEqual(response.body, blob.subarray(start, end + 1));
    });
  }

  for (const header of ['bytes=500-0', 'bytes=5000-10000', 'bytes=2048-', 'bytes=-0']) {
    it(`refuses the unsatisfiable Range ${header} with 416`, async () => {
      const response = await http('GET', registry.url, `/v2/${REPO}/blobs/${blobDigest}`, {
        headers: { range: header },
      });
      assert.equal(response.status, 416);
      assert.equal(response.header('content-range'), 'bytes */2048');
    });
  }

  it('ignores a Range it does not understand and sends the whole blob', async () => {
    for (const header of ['bytes=0-1,5-6', 'items=0-5']) {
      const response = await http('GET', registry.url, `/v2/${REPO}/blobs/${blobDigest}`, {
        headers: { range: header },
      });
      assert.equal(response.status, 200);
      assert.deepEqual(response.body, blob);
    }
  });
});
