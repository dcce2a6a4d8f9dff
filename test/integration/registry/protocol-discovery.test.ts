// Content discovery and management over loopback HTTP: tag lists (sorted, n/last, Link),
// _catalog, the referrers API with artifactType filtering, cross-repository mounts, and deletes of
// tags, manifests and blobs taking effect immediately.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  descriptor,
  digestOf,
  errorCodes,
  generateImage,
  generateIndex,
  http,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_MANIFEST,
  pushBlob,
  pushImage,
  randomBlob,
  startTestRegistry,
  type TestRegistry,
} from './helpers.ts';

const CONF1 = 'application/vnd.example.oci.conformance.v1';
const CONF2 = 'application/vnd.example.oci.conformance.v2';

describe('registry discovery and management', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startTestRegistry();
  });
  after(async () => {
    await registry?.close();
  });
  const url = () => registry.url;

  describe('tag list', () => {
    const repo = 'discovery/tags';
    const tags = ['b', 'A', 'a', '1.0', 'latest', '_x', 'Z-9', 'a.b'];
    before(async () => {
      const image = generateImage({ layers: 0 });
      for (const blob of image.blobs) await pushBlob(url(), repo, blob);
      const query = tags.map((tag) => `tag=${encodeURIComponent(tag)}`).join('&');
      const put = await http('PUT', url(), `/v2/${repo}/manifests/${image.digest}?${query}`, {
        headers: { 'content-type': OCI_MANIFEST },
        body: image.manifest,
      });
      assert.equal(put.status, 201);
    });

    it('lists every tag in ASCII order', async () => {
      const response = await http('GET', url(), `/v2/${repo}/tags/list`);
      assert.equal(response.status, 200);
      assert.deepEqual(response.json(), { name: repo, tags: [...tags].sort() });
    });

    it('pages with n and last, and a Link to the next page', async () => {
      const sorted = [...tags].sort();
      const seen: string[] = [];
      let next: string | undefined = `/v2/${repo}/tags/list?n=3`;
      while (next) {
        const response = await http('GET', url(), next);
        assert.equal(response.status, 200);
        const page = (response.json() as { tags: string[] }).tags;
        assert.ok(page.length <= 3);
        seen.push(...page);
        const link = response.header('link');
        next = link ? /^<([^>]+)>; rel="next"$/.exec(link)?.[1] : undefined;
        if (link) assert.equal(page.length, 3, 'a page short of n carries no Link');
      }
      assert.deepEqual(seen, sorted);
      const half = await http('GET', url(), `/v2/${repo}/tags/list?last=${sorted[3]}`);
      assert.deepEqual((half.json() as { tags: string[] }).tags, sorted.slice(4));
      const both = await http('GET', url(), `/v2/${repo}/tags/list?n=2&last=${sorted[0]}`);
      assert.deepEqual((both.json() as { tags: string[] }).tags, sorted.slice(1, 3));
    });

    it('answers n=0 with an empty list and no Link; refuses a bad n', async () => {
      const zero = await http('GET', url(), `/v2/${repo}/tags/list?n=0`);
      assert.equal(zero.status, 200);
      assert.deepEqual((zero.json() as { tags: string[] }).tags, []);
      assert.equal(zero.header('link'), undefined);
      const bad = await http('GET', url(), `/v2/${repo}/tags/list?n=-1`);
      assert.equal(bad.status, 400);
      errorCodes(bad);
    });

    it('answers 404 NAME_UNKNOWN for a repository that does not exist, [] for one without tags', async () => {
      const missing = await http('GET', url(), '/v2/no/such/repo/tags/list');
      assert.equal(missing.status, 404);
      assert.deepEqual(errorCodes(missing), ['NAME_UNKNOWN']);
      await pushBlob(url(), 'discovery/untagged', randomBlob(10));
      const empty = await http('GET', url(), '/v2/discovery/untagged/tags/list');
      assert.equal(empty.status, 200);
      assert.deepEqual(empty.json(), { name: 'discovery/untagged', tags: [] });
    });
  });

  it('_catalog lists repositories with content, paged with n/last and Link', async () => {
    for (const name of ['catalog/c', 'catalog/a', 'catalog/b']) await pushBlob(url(), name, randomBlob(10));
    const all = await http('GET', url(), '/v2/_catalog');
    assert.equal(all.status, 200);
    const repositories = (all.json() as { repositories: string[] }).repositories;
    assert.deepEqual(repositories, [...repositories].sort());
    for (const name of ['catalog/a', 'catalog/b', 'catalog/c']) assert.ok(repositories.includes(name));
    const first = await http('GET', url(), '/v2/_catalog?n=1&last=catalog/a');
    assert.deepEqual((first.json() as { repositories: string[] }).repositories, ['catalog/b']);
    assert.match(first.header('link')!, /^<\/v2\/_catalog\?n=1&last=catalog%2Fb>; rel="next"$/);
  });

  describe('referrers', () => {
    const repo = 'discovery/referrers';
    const subject = generateImage();
    const subjectDescriptor = descriptor(OCI_MANIFEST, subject.manifest);
    const artifact = (artifactType: string, layerMediaType: string) =>
      generateImage({
        artifactType,
        annotations: {
          'org.opencontainers.conformance': 'hello conformance test',
          [`org.example.${Math.random()}`]: 'x',
        },
        configMediaType: OCI_EMPTY,
        configBytes: Buffer.from('{}'),
        layers: 1,
        layerMediaType,
        subject: subjectDescriptor,
      });
    const first = artifact(CONF1, CONF1);
    const second = artifact(CONF2, 'application/octet-stream');
    const plainReferrer = generateImage({ subject: subjectDescriptor });
    let indexReferrer: ReturnType<typeof generateIndex>;

    before(async () => {
      assert.equal((await pushImage(url(), repo, subject, 'image')).status, 201);
      for (const image of [first, second, plainReferrer]) {
        const response = await pushImage(url(), repo, image);
        assert.equal(response.header('oci-subject'), subjectDescriptor.digest);
      }
      indexReferrer = generateIndex([{ manifest: first.manifest, mediaType: OCI_MANIFEST }], {
        subject: subjectDescriptor,
        annotations: { kind: 'index' },
      });
      const put = await http('PUT', url(), `/v2/${repo}/manifests/${indexReferrer.digest}`, {
        headers: { 'content-type': OCI_INDEX },
        body: indexReferrer.manifest,
      });
      assert.equal(put.header('oci-subject'), subjectDescriptor.digest);
    });

    it('lists referrers as an OCI index with artifactType and annotations', async () => {
      const response = await http('GET', url(), `/v2/${repo}/referrers/${subjectDescriptor.digest}`);
      assert.equal(response.status, 200);
      assert.equal(response.header('content-type'), OCI_INDEX);
      const index = response.json() as {
        schemaVersion: number;
        mediaType: string;
        manifests: Array<Record<string, unknown>>;
      };
      assert.equal(index.schemaVersion, 2);
      assert.equal(index.mediaType, OCI_INDEX);
      const byDigest = new Map(index.manifests.map((entry) => [entry.digest, entry]));
      assert.equal(byDigest.size, 4);
      for (const [image, artifactType] of [
        [first, CONF1],
        [second, CONF2],
        [plainReferrer, 'application/vnd.oci.image.config.v1+json'],
      ] as const) {
        const entry = byDigest.get(image.digest)!;
        assert.equal(entry.mediaType, OCI_MANIFEST);
        assert.equal(entry.size, image.manifest.byteLength);
        assert.equal(
          entry.artifactType,
          artifactType,
          'config media type when the manifest has no artifactType',
        );
        assert.deepEqual(entry.annotations, JSON.parse(image.manifest.toString()).annotations);
      }
      const indexEntry = byDigest.get(indexReferrer.digest)!;
      assert.equal(indexEntry.mediaType, OCI_INDEX);
      assert.equal(indexEntry.artifactType, undefined, 'an index without artifactType has none');
      assert.deepEqual(indexEntry.annotations, { kind: 'index' });
    });

    it('filters by artifactType and says so in OCI-Filters-Applied', async () => {
      for (const [type, expected] of [
        [CONF1, [first.digest]],
        [CONF2, [second.digest]],
        ['application/vnd.none', []],
      ] as const) {
        const response = await http(
          'GET',
          url(),
          `/v2/${repo}/referrers/${subjectDescriptor.digest}?artifactType=${encodeURIComponent(type)}`,
        );
        assert.equal(response.status, 200);
        assert.equal(response.header('oci-filters-applied'), 'artifactType');
        const digests = (response.json() as { manifests: Array<{ digest: string }> }).manifests.map(
          (m) => m.digest,
        );
        assert.deepEqual(digests, expected);
      }
    });

    it('answers an empty index for a subject with no referrers or in an unknown repository', async () => {
      for (const path of [
        `/v2/${repo}/referrers/${digestOf('missing content')}`,
        `/v2/no/such/repository/referrers/${subjectDescriptor.digest}`,
      ]) {
        const response = await http('GET', url(), path);
        assert.equal(response.status, 200);
        assert.deepEqual(response.json(), { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] });
      }
    });

    it('refuses an invalid subject digest with 400', async () => {
      const response = await http('GET', url(), `/v2/${repo}/referrers/sha256:nope`);
      assert.equal(response.status, 400);
      assert.deepEqual(errorCodes(response), ['DIGEST_INVALID']);
    });

    it('drops a deleted referrer from the list', async () => {
      const deleted = await http('DELETE', url(), `/v2/${repo}/manifests/${second.digest}`);
      assert.equal(deleted.status, 202);
      const response = await http('GET', url(), `/v2/${repo}/referrers/${subjectDescriptor.digest}`);
      const digests = (response.json() as { manifests: Array<{ digest: string }> }).manifests.map(
        (m) => m.digest,
      );
      assert.ok(!digests.includes(second.digest));
      assert.equal(digests.length, 3);
    });
  });

  describe('cross-repository mount', () => {
    it('mounts a blob from another repository with 201', async () => {
      const bytes = randomBlob(512);
      const digest = await pushBlob(url(), 'mount/source', bytes);
      const response = await http(
        'POST',
        url(),
        `/v2/mount/target/blobs/uploads/?mount=${digest}&from=mount/source`,
      );
      assert.equal(response.status, 201);
      assert.equal(response.header('location'), `/v2/mount/target/blobs/${digest}`);
      assert.equal(response.header('docker-content-digest'), digest);
      const get = await http('GET', url(), response.header('location')!);
      assert.deepEqual(get.body, bytes);
    });

    it('falls back to an upload session (202) when the source lacks the blob', async () => {
      const bytes = randomBlob(512);
      const digest = digestOf(bytes);
      const response = await http(
        'POST',
        url(),
        `/v2/mount/target/blobs/uploads/?mount=${digest}&from=mount/source`,
      );
      assert.equal(response.status, 202);
      const location = new URL(response.header('location')!, url());
      location.searchParams.set('digest', digest);
      const put = await http('PUT', url(), location.href, { body: bytes });
      assert.equal(put.status, 201);
      // a blob in some other repository is not the source's
      const other = await http(
        'POST',
        url(),
        `/v2/mount/third/blobs/uploads/?mount=${digest}&from=mount/source`,
      );
      assert.equal(other.status, 202);
    });

    it('mounts without from when the registry has the blob (201), else opens a session (202)', async () => {
      const bytes = randomBlob(512);
      const digest = await pushBlob(url(), 'mount/anywhere', bytes, 'sha512');
      const found = await http('POST', url(), `/v2/mount/anonymous/blobs/uploads/?mount=${digest}`);
      assert.equal(found.status, 201);
      const unknown = await http(
        'POST',
        url(),
        `/v2/mount/anonymous/blobs/uploads/?mount=${digestOf('never pushed')}`,
      );
      assert.equal(unknown.status, 202);
    });

    it('refuses an invalid from name with NAME_INVALID', async () => {
      const response = await http(
        'POST',
        url(),
        `/v2/mount/target/blobs/uploads/?mount=${digestOf('x')}&from=Bad..Name`,
      );
      assert.equal(response.status, 400);
      assert.deepEqual(errorCodes(response), ['NAME_INVALID']);
    });
  });

  describe('deletes', () => {
    const repo = 'management/deletes';

    it('deletes a tag (202); the manifest stays by digest; the tag list reflects it', async () => {
      const image = generateImage();
      await pushImage(url(), repo, image, 'to-delete');
      const deleted = await http('DELETE', url(), `/v2/${repo}/manifests/to-delete`);
      assert.equal(deleted.status, 202);
      assert.equal((await http('HEAD', url(), `/v2/${repo}/manifests/to-delete`)).status, 404);
      assert.equal((await http('GET', url(), `/v2/${repo}/manifests/${image.digest}`)).status, 200);
      const list = await http('GET', url(), `/v2/${repo}/tags/list`);
      assert.ok(!(list.json() as { tags: string[] }).tags.includes('to-delete'));
      const again = await http('DELETE', url(), `/v2/${repo}/manifests/to-delete`);
      assert.equal(again.status, 404);
      assert.deepEqual(errorCodes(again), ['MANIFEST_UNKNOWN']);
    });

    it('deletes a manifest by digest (202): GET gives 404, its tags go, the list reflects it', async () => {
      const image = generateImage();
      await pushImage(url(), repo, image, 'doomed');
      const deleted = await http('DELETE', url(), `/v2/${repo}/manifests/${image.digest}`);
      assert.equal(deleted.status, 202);
      assert.equal((await http('GET', url(), `/v2/${repo}/manifests/${image.digest}`)).status, 404);
      assert.equal((await http('GET', url(), `/v2/${repo}/manifests/doomed`)).status, 404);
      const list = await http('GET', url(), `/v2/${repo}/tags/list`);
      assert.ok(!(list.json() as { tags: string[] }).tags.includes('doomed'));
      const again = await http('DELETE', url(), `/v2/${repo}/manifests/${image.digest}`);
      assert.equal(again.status, 404);
    });

    it('deletes a blob (202); GET then gives 404; another repository keeps its copy', async () => {
      const bytes = randomBlob(300);
      const digest = await pushBlob(url(), repo, bytes);
      await pushBlob(url(), 'management/keeper', bytes);
      const deleted = await http('DELETE', url(), `/v2/${repo}/blobs/${digest}`);
      assert.equal(deleted.status, 202);
      assert.equal((await http('GET', url(), `/v2/${repo}/blobs/${digest}`)).status, 404);
      assert.equal((await http('HEAD', url(), `/v2/${repo}/blobs/${digest}`)).status, 404);
      const kept = await http('GET', url(), `/v2/management/keeper/blobs/${digest}`);
      assert.deepEqual(kept.body, bytes);
      const again = await http('DELETE', url(), `/v2/${repo}/blobs/${digest}`);
      assert.equal(again.status, 404);
      assert.deepEqual(errorCodes(again), ['BLOB_UNKNOWN']);
    });

    it('removes the bytes of a blob no repository uses any more, and can take it again', async () => {
      const bytes = randomBlob(300);
      const digest = await pushBlob(url(), repo, bytes);
      const encoded = digest.slice('sha256:'.length);
      const { stat } = await import('node:fs/promises');
      const file = `${registry.storage}/content/blobs/sha256/${encoded.slice(0, 2)}/${encoded}`;
      await stat(file);
      assert.equal((await http('DELETE', url(), `/v2/${repo}/blobs/${digest}`)).status, 202);
      await assert.rejects(stat(file), /ENOENT/);
      await pushBlob(url(), repo, bytes);
      assert.deepEqual((await http('GET', url(), `/v2/${repo}/blobs/${digest}`)).body, bytes);
    });

    it('deletes an index before its children (the conformance order) and the children after', async () => {
      const child = generateImage();
      await pushImage(url(), repo, child);
      const index = generateIndex([{ manifest: child.manifest, mediaType: OCI_MANIFEST }]);
      const put = await http('PUT', url(), `/v2/${repo}/manifests/index`, {
        headers: { 'content-type': OCI_INDEX },
        body: index.manifest,
      });
      assert.equal(put.status, 201);
      for (const digest of [index.digest, child.digest]) {
        assert.equal((await http('DELETE', url(), `/v2/${repo}/manifests/${digest}`)).status, 202);
        assert.equal((await http('HEAD', url(), `/v2/${repo}/manifests/${digest}`)).status, 404);
      }
    });
  });
});
