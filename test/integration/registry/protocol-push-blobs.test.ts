// Blob push workflow of the OCI distribution spec over loopback HTTP: every upload method
// (POST+PUT, single POST, streamed PATCH, chunked PATCH with and without a last chunk in the PUT),
// out-of-order and repeated chunks (416), upload status, cancel, wrong digests, zero-byte and
// `{}` blobs, sha256 and sha512, and uploads resumed across a server restart.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type Algorithm,
  digestOf,
  errorCodes,
  http,
  type Response,
  randomBlob,
  startTestRegistry,
  type TestRegistry,
} from './helpers.ts';

const REPO = 'conformance/blobs';

describe('registry blob push', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startTestRegistry();
  });
  after(async () => {
    await registry?.close();
  });

  const url = () => registry.url;

  async function startUpload(query = ''): Promise<string> {
    const post = await http('POST', url(), `/v2/${REPO}/blobs/uploads/${query}`, {
      headers: { 'content-length': '0' },
    });
    assert.equal(post.status, 202, post.body.toString());
    assert.equal(post.header('range'), '0-0');
    assert.ok(post.header('docker-upload-uuid'));
    const location = post.header('location');
    assert.ok(location, 'POST gives a Location');
    return location;
  }

  function withDigest(location: string, digest: string): string {
    const target = new URL(location, url());
    target.searchParams.set('digest', digest);
    return target.href;
  }

  async function expectBlob(digest: string, bytes: Buffer, repo = REPO): Promise<void> {
    const get = await http('GET', url(), `/v2/${repo}/blobs/${digest}`);
    assert.equal(get.status, 200, `GET ${digest}`);
    assert.deepEqual(get.body, bytes);
    assert.equal(get.header('docker-content-digest'), digest);
  }

  async function expectNoBlob(digest: string): Promise<void> {
    const head = await http('HEAD', url(), `/v2/${REPO}/blobs/${digest}`);
    assert.equal(head.status, 404, `${digest} must not be visible`);
  }

  function expectCreated(response: Response, digest: string): void {
    assert.equal(response.status, 201, response.body.toString());
    assert.equal(response.header('docker-content-digest'), digest);
    assert.equal(response.header('location'), `/v2/${REPO}/blobs/${digest}`);
  }

  async function postPut(bytes: Buffer, algorithm: Algorithm): Promise<Response> {
    const location = await startUpload();
    return http('PUT', url(), withDigest(location, digestOf(bytes, algorithm)), {
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
  }

  async function singlePost(bytes: Buffer, digest: string): Promise<Response> {
    return http('POST', url(), `/v2/${REPO}/blobs/uploads/?digest=${digest}`, {
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
  }

  async function streamed(bytes: Buffer, digest: string, query = ''): Promise<Response> {
    const location = await startUpload(query);
    async function* body() {
      for (let offset = 0; offset < bytes.byteLength; offset += 1000)
        yield bytes.subarray(offset, offset + 1000);
    }
    const patch = await http('PATCH', url(), location, {
      headers: { 'content-type': 'application/octet-stream' },
      body: body(),
    });
    assert.equal(patch.status, 202, patch.body.toString());
    assert.equal(patch.header('range'), `0-${bytes.byteLength - 1}`);
    return http('PUT', url(), withDigest(patch.header('location')!, digest));
  }

  async function chunked(
    bytes: Buffer,
    digest: string,
    options: { putLast?: boolean; chunk?: number } = {},
  ): Promise<Response> {
    let location = await startUpload();
    const size = options.chunk ?? Math.ceil(bytes.byteLength / 3);
    let offset = 0;
    while (offset < bytes.byteLength) {
      const end = Math.min(offset + size, bytes.byteLength) - 1;
      const chunk = bytes.subarray(offset, end + 1);
      const last = end === bytes.byteLength - 1;
      if (last && options.putLast) {
        return http('PUT', url(), withDigest(location, digest), {
          headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${end}` },
          body: chunk,
        });
      }
      const patch = await http('PATCH', url(), location, {
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${end}` },
        body: chunk,
      });
      assert.equal(patch.status, 202, patch.body.toString());
      assert.equal(patch.header('range'), `0-${end}`);
      location = patch.header('location')!;
      offset = end + 1;
    }
    return http('PUT', url(), withDigest(location, digest), { headers: { 'content-length': '0' } });
  }

  for (const algorithm of ['sha256', 'sha512'] as const) {
    describe(algorithm, () => {
      it('POST then PUT with the whole blob', async () => {
        const bytes = randomBlob(3000);
        const digest = digestOf(bytes, algorithm);
        expectCreated(await postPut(bytes, algorithm), digest);
        await expectBlob(digest, bytes);
      });

      it('single POST with ?digest= and the body', async () => {
        const bytes = randomBlob(3000);
        const digest = digestOf(bytes, algorithm);
        expectCreated(await singlePost(bytes, digest), digest);
        await expectBlob(digest, bytes);
      });

      it('streamed PATCH then PUT', async () => {
        const bytes = randomBlob(70_000);
        const digest = digestOf(bytes, algorithm);
        expectCreated(await streamed(bytes, digest), digest);
        await expectBlob(digest, bytes);
      });

      it('streamed PATCH with ?digest-algorithm= hashes with it from the start', async () => {
        const bytes = randomBlob(5000);
        const digest = digestOf(bytes, algorithm);
        expectCreated(await streamed(bytes, digest, `?digest-algorithm=${algorithm}`), digest);
        await expectBlob(digest, bytes);
      });

      it('chunked PATCHes with Content-Range, closed by an empty PUT', async () => {
        const bytes = randomBlob(3 * 1024 - 5);
        const digest = digestOf(bytes, algorithm);
        expectCreated(await chunked(bytes, digest), digest);
        await expectBlob(digest, bytes);
      });

      it('chunked PATCHes with the last chunk in the PUT', async () => {
        const bytes = randomBlob(3 * 1024 - 5);
        const digest = digestOf(bytes, algorithm);
        expectCreated(await chunked(bytes, digest, { putLast: true }), digest);
        await expectBlob(digest, bytes);
      });

      it('a single chunk', async () => {
        const bytes = randomBlob(512);
        const digest = digestOf(bytes, algorithm);
        expectCreated(await chunked(bytes, digest, { chunk: 512 }), digest);
        await expectBlob(digest, bytes);
      });

      for (const [name, bytes] of [
        ['zero-byte', Buffer.alloc(0)],
        ['empty JSON {}', Buffer.from('{}')],
      ] as const) {
        it(`the ${name} blob through every method`, async () => {
          const digest = digestOf(bytes, algorithm);
          expectCreated(await postPut(bytes, algorithm), digest);
          await expectBlob(digest, bytes);
          expectCreated(await singlePost(bytes, digest), digest);
          let location = await startUpload();
          if (bytes.byteLength > 0) {
            const patch = await http('PATCH', url(), location, { body: bytes });
            assert.equal(patch.status, 202);
            location = patch.header('location')!;
          }
          expectCreated(await http('PUT', url(), withDigest(location, digest)), digest);
          await expectBlob(digest, bytes);
          const head = await http('HEAD', url(), `/v2/${REPO}/blobs/${digest}`);
          assert.equal(head.header('content-length'), String(bytes.byteLength));
        });
      }

      it('refuses a wrong digest with 400 DIGEST_INVALID on every method, leaving nothing', async () => {
        const bytes = randomBlob(3 * 1024 - 5);
        const corrupt = Buffer.concat([bytes, Buffer.from('oh no')]);
        const digest = digestOf(bytes, algorithm);
        const attempts: Array<[string, () => Promise<Response>]> = [
          ['single POST', () => singlePost(corrupt, digest)],
          [
            'POST+PUT',
            async () =>
              http('PUT', url(), withDigest(await startUpload(), digest), {
                headers: { 'content-type': 'application/octet-stream' },
                body: corrupt,
              }),
          ],
          ['streamed', () => streamed(corrupt, digest)],
          ['chunked', () => chunked(corrupt, digest)],
          ['chunked, last chunk in PUT', () => chunked(corrupt, digest, { putLast: true })],
        ];
        for (const [name, attempt] of attempts) {
          const response = await attempt();
          assert.equal(response.status, 400, `${name}: ${response.status} ${response.body}`);
          assert.deepEqual(errorCodes(response), ['DIGEST_INVALID'], name);
          await expectNoBlob(digest);
          await expectNoBlob(digestOf(corrupt, algorithm));
        }
      });
    });
  }

  it('answers an out-of-order chunk with 416, and the session goes on', async () => {
    const bytes = randomBlob(3000);
    const digest = digestOf(bytes, 'sha256');
    const location = await startUpload();
    // skip ahead before anything was sent
    const ahead = await http('PATCH', url(), location, {
      headers: { 'content-type': 'application/octet-stream', 'content-range': '1000-1999' },
      body: bytes.subarray(1000, 2000),
    });
    assert.equal(ahead.status, 416);
    assert.deepEqual(errorCodes(ahead), ['BLOB_UPLOAD_INVALID']);
    const status = await http('GET', url(), location);
    assert.equal(status.status, 204);
    assert.equal(status.header('range'), '0-0');
    const first = await http('PATCH', url(), status.header('location')!, {
      headers: { 'content-range': '0-999' },
      body: bytes.subarray(0, 1000),
    });
    assert.equal(first.status, 202);
    // repeat the first chunk
    const repeated = await http('PATCH', url(), first.header('location')!, {
      headers: { 'content-range': '0-999' },
      body: bytes.subarray(0, 1000),
    });
    assert.equal(repeated.status, 416);
    assert.equal(repeated.header('range'), '0-999');
    assert.ok(repeated.header('location'));
    // skip ahead with the final PUT
    const putAhead = await http('PUT', url(), withDigest(first.header('location')!, digest), {
      headers: { 'content-range': '2000-2999' },
      body: bytes.subarray(2000),
    });
    assert.equal(putAhead.status, 416);
    const again = await http('GET', url(), location);
    assert.equal(again.status, 204);
    assert.equal(again.header('range'), '0-999');
    const second = await http('PATCH', url(), location, {
      headers: { 'content-range': '1000-1999' },
      body: bytes.subarray(1000, 2000),
    });
    assert.equal(second.status, 202);
    const put = await http('PUT', url(), withDigest(location, digest), {
      headers: { 'content-range': '2000-2999' },
      body: bytes.subarray(2000),
    });
    expectCreated(put, digest);
    await expectBlob(digest, bytes);
  });

  it('checks Content-Range syntax and its agreement with Content-Length', async () => {
    const location = await startUpload();
    const malformed = await http('PATCH', url(), location, {
      headers: { 'content-range': 'abc' },
      body: 'x',
    });
    assert.equal(malformed.status, 400);
    assert.deepEqual(errorCodes(malformed), ['BLOB_UPLOAD_INVALID']);
    const mismatch = await http('PATCH', url(), location, {
      headers: { 'content-range': '0-9' },
      body: 'xyz',
    });
    assert.equal(mismatch.status, 400);
    assert.deepEqual(errorCodes(mismatch), ['SIZE_INVALID']);
    const status = await http('GET', url(), location);
    assert.equal(status.header('range'), '0-0', 'refused chunks change nothing');
  });

  it('reports upload status with 204, Range and Location; follows absolute Locations too', async () => {
    const location = await startUpload();
    const absolute = new URL(location, url()).href;
    const patch = await http('PATCH', url(), absolute, { body: randomBlob(100) });
    assert.equal(patch.status, 202);
    const status = await http('GET', url(), absolute);
    assert.equal(status.status, 204);
    assert.equal(status.header('range'), '0-99');
    assert.equal(status.header('location'), location);
    assert.equal(status.header('docker-upload-uuid'), location.split('/').pop());
  });

  it('cancels an upload with DELETE (204); the session is gone afterwards', async () => {
    const location = await startUpload();
    await http('PATCH', url(), location, { body: randomBlob(100) });
    const cancel = await http('DELETE', url(), location, { headers: { 'content-length': '0' } });
    assert.equal(cancel.status, 204);
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      const after = await http(method, url(), location);
      assert.equal(after.status, 404, method);
      assert.deepEqual(errorCodes(after), ['BLOB_UPLOAD_UNKNOWN']);
    }
  });

  it('keeps sessions to their repository and refuses unknown or malformed ids', async () => {
    const location = await startUpload();
    const id = location.split('/').pop()!;
    for (const path of [`/v2/other/blobs/uploads/${id}`, `/v2/${REPO}/blobs/uploads/not-a-uuid`]) {
      const response = await http('GET', url(), path);
      assert.equal(response.status, 404);
      assert.deepEqual(errorCodes(response), ['BLOB_UPLOAD_UNKNOWN']);
    }
  });

  it('refuses bad digests and algorithms at POST and PUT with 400 DIGEST_INVALID', async () => {
    for (const query of [
      '?digest=sha256:baddigeststring',
      '?digest=md5:abc',
      '?digest-algorithm=md5',
      '?mount=nope',
    ]) {
      const response = await http('POST', url(), `/v2/${REPO}/blobs/uploads/${query}`, { body: 'x' });
      assert.equal(response.status, 400, query);
      assert.deepEqual(errorCodes(response), ['DIGEST_INVALID'], query);
    }
    const location = await startUpload();
    for (const digest of ['sha256:bad', '']) {
      const target = new URL(location, url());
      if (digest) target.searchParams.set('digest', digest);
      const response = await http('PUT', url(), target.href);
      assert.equal(response.status, 400);
      assert.deepEqual(errorCodes(response), ['DIGEST_INVALID']);
    }
  });

  it('resumes an upload after a server restart, from the bytes that arrived', async () => {
    for (const algorithm of ['sha256', 'sha512'] as const) {
      const bytes = randomBlob(200_000);
      const digest = digestOf(bytes, algorithm);
      const location = await startUpload(algorithm === 'sha512' ? '?digest-algorithm=sha512' : '');
      const first = await http('PATCH', url(), location, {
        headers: { 'content-range': '0-99999' },
        body: bytes.subarray(0, 100_000),
      });
      assert.equal(first.status, 202);
      await registry.restart();
      assert.ok(registry.server.recovery.resumable >= 1);
      const status = await http('GET', url(), location);
      assert.equal(status.status, 204);
      assert.equal(status.header('range'), '0-99999');
      const second = await http('PATCH', url(), location, {
        headers: { 'content-range': '100000-199999' },
        body: bytes.subarray(100_000),
      });
      assert.equal(second.status, 202);
      const put = await http('PUT', url(), withDigest(location, digest));
      expectCreated(put, digest);
      await expectBlob(digest, bytes);
    }
  });
});
