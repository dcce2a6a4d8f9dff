// Manifest push workflow over loopback HTTP: PUT by tag and by digest, several tags per PUT, every
// content kind of the OCI conformance suite plus Docker schema 2, references checked
// (MANIFEST_BLOB_UNKNOWN), non-distributable layers, subjects (OCI-Subject), bad and invalid
// digests, the 4 MiB limit, Accept negotiation.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  DOCKER_LIST,
  DOCKER_MANIFEST,
  descriptor,
  digestOf,
  errorCodes,
  type GeneratedImage,
  generateImage,
  generateIndex,
  http,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_LAYER,
  OCI_MANIFEST,
  pushBlob,
  pushImage,
  pushManifest,
  type Response,
  startTestRegistry,
  type TestRegistry,
} from './helpers.ts';

const REPO = 'conformance/manifests';
const ARTIFACT_TYPE = 'application/vnd.example.oci.conformance.v1';

describe('registry manifest push', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startTestRegistry();
  });
  after(async () => {
    await registry?.close();
  });
  const url = () => registry.url;

  async function expectPulls(
    reference: string,
    manifest: Buffer,
    mediaType: string,
    digest: string,
  ): Promise<void> {
    const response = await http('GET', url(), `/v2/${REPO}/manifests/${reference}`, {
      headers: { accept: [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].join(', ') },
    });
    assert.equal(response.status, 200, `${reference}: ${response.body}`);
    assert.equal(response.header('content-type'), mediaType);
    assert.equal(response.header('docker-content-digest'), digest);
    assert.deepEqual(response.body, manifest, 'stored byte for byte');
  }

  function expectCreated(response: Response, digest: string): void {
    assert.equal(response.status, 201, response.body.toString());
    assert.equal(response.header('docker-content-digest'), digest);
    assert.equal(response.header('location'), `/v2/${REPO}/manifests/${digest}`);
  }

  async function pushAndCheck(
    image: GeneratedImage | { manifest: Buffer; digest: string; mediaType: string },
    tag: string,
  ) {
    if ('blobs' in image) {
      const algorithm = image.digest.startsWith('sha512') ? 'sha512' : 'sha256';
      for (const blob of image.blobs) await pushBlob(url(), REPO, blob, algorithm);
    }
    expectCreated(
      await pushManifest(url(), REPO, image.digest, image.manifest, image.mediaType),
      image.digest,
    );
    if (!image.digest.startsWith('sha512')) {
      expectCreated(await pushManifest(url(), REPO, tag, image.manifest, image.mediaType), image.digest);
      await expectPulls(tag, image.manifest, image.mediaType, image.digest);
    }
    await expectPulls(image.digest, image.manifest, image.mediaType, image.digest);
  }

  it('an image, by digest and by tag', async () => {
    await pushAndCheck(generateImage(), 'image');
  });

  it('an uncompressed image', async () => {
    await pushAndCheck(generateImage({ layerMediaType: OCI_LAYER }), 'image-uncompressed');
  });

  it('an image with no layers', async () => {
    await pushAndCheck(generateImage({ layers: 0 }), 'no-layers');
  });

  it('a Docker schema 2 manifest and manifest list', async () => {
    const amd64 = generateImage({ mediaType: DOCKER_MANIFEST });
    const arm64 = generateImage({
      mediaType: DOCKER_MANIFEST,
      platform: { os: 'linux', architecture: 'arm64' },
    });
    await pushAndCheck(amd64, 'docker-amd64');
    await pushAndCheck(arm64, 'docker-arm64');
    const list = generateIndex(
      [
        {
          manifest: amd64.manifest,
          mediaType: DOCKER_MANIFEST,
          platform: { os: 'linux', architecture: 'amd64' },
        },
        {
          manifest: arm64.manifest,
          mediaType: DOCKER_MANIFEST,
          platform: { os: 'linux', architecture: 'arm64' },
        },
      ],
      { mediaType: DOCKER_LIST },
    );
    await pushAndCheck(list, 'docker-list');
  });

  it('an index, and an index of indexes', async () => {
    const children = [generateImage(), generateImage({ platform: { os: 'linux', architecture: 'arm64' } })];
    for (const child of children) await pushImage(url(), REPO, child);
    const index = generateIndex(
      children.map((child) => ({ manifest: child.manifest, mediaType: OCI_MANIFEST })),
    );
    await pushAndCheck(index, 'index');
    const other = generateIndex(
      children.map((child) => ({ manifest: child.manifest, mediaType: OCI_MANIFEST })),
      {
        annotations: { second: 'yes' },
      },
    );
    await pushAndCheck(other, 'index-2');
    const nested = generateIndex([
      { manifest: index.manifest, mediaType: OCI_INDEX },
      { manifest: other.manifest, mediaType: OCI_INDEX },
    ]);
    await pushAndCheck(nested, 'index-of-index');
  });

  it('an empty index', async () => {
    await pushAndCheck(generateIndex([]), 'empty-index');
  });

  it('artifacts: with artifactType and {} config, without layers, and an artifact index', async () => {
    const artifact = generateImage({
      artifactType: ARTIFACT_TYPE,
      configMediaType: OCI_EMPTY,
      configBytes: Buffer.from('{}'),
      layers: 1,
      layerMediaType: ARTIFACT_TYPE,
    });
    await pushAndCheck(artifact, 'artifact');
    const withoutLayers = generateImage({
      artifactType: ARTIFACT_TYPE,
      configMediaType: OCI_EMPTY,
      configBytes: Buffer.from('{}'),
      layers: 0,
    });
    await pushAndCheck(withoutLayers, 'artifact-without-layers');
    const index = generateIndex([{ manifest: artifact.manifest, mediaType: OCI_MANIFEST }], {
      artifactType: ARTIFACT_TYPE,
    });
    await pushAndCheck(index, 'artifact-index');
  });

  it('custom fields in manifests and config, and descriptors with a data field', async () => {
    await pushAndCheck(
      generateImage({ extra: { [`custom-${randomBytes(4).toString('hex')}`]: { nested: [1, 2] } } }),
      'custom-fields',
    );
    const config = Buffer.from(
      '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}',
    );
    const image = generateImage({ configBytes: config, layers: 0 });
    const document = JSON.parse(image.manifest.toString());
    document.config.data = config.toString('base64');
    const manifest = Buffer.from(JSON.stringify(document));
    await pushAndCheck({ ...image, manifest, digest: digestOf(manifest) }, 'data-field');
  });

  it('refuses embedded data that does not match its descriptor with MANIFEST_INVALID', async () => {
    const image = generateImage({ layers: 0 });
    await pushImage(url(), REPO, image);
    const document = JSON.parse(image.manifest.toString());
    document.config.data = Buffer.from('not the config').toString('base64');
    const response = await pushManifest(
      url(),
      REPO,
      'bad-data',
      Buffer.from(JSON.stringify(document)),
      OCI_MANIFEST,
    );
    assert.equal(response.status, 400);
    assert.deepEqual(errorCodes(response), ['MANIFEST_INVALID']);
  });

  it('a large manifest (3.9 MB of annotations)', async () => {
    const annotations: Record<string, string> = {};
    for (let i = 0; i < 390; i++) annotations[`large-annotation-${i}`] = 'A'.repeat(10_000);
    await pushAndCheck(generateImage({ annotations }), 'large-manifest');
  });

  it('refuses a manifest over 4 MiB with 413', async () => {
    const annotations = { big: 'A'.repeat(4 * 1024 * 1024) };
    const image = generateImage({ annotations, layers: 0 });
    const response = await pushManifest(url(), REPO, 'too-large', image.manifest, OCI_MANIFEST);
    assert.equal(response.status, 413);
    assert.deepEqual(errorCodes(response), ['MANIFEST_INVALID']);
    async function* chunked() {
      yield image.manifest;
    }
    const streamed = await http('PUT', url(), `/v2/${REPO}/manifests/too-large`, {
      headers: { 'content-type': OCI_MANIFEST },
      body: chunked(),
    });
    assert.equal(streamed.status, 413, 'also without a Content-Length');
  });

  it('a sha512 image and index, pushed by digest', async () => {
    const images = [generateImage({ algorithm: 'sha512' }), generateImage({ algorithm: 'sha512' })];
    for (const image of images) await pushAndCheck(image, '');
    const index = generateIndex(
      images.map((image) => ({ manifest: image.manifest, mediaType: OCI_MANIFEST })),
      { algorithm: 'sha512' },
    );
    await pushAndCheck(index, '');
  });

  it('non-distributable layers that were never pushed', async () => {
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    await pushBlob(url(), REPO, config);
    const layer = randomBytes(256);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: descriptor('application/vnd.oci.image.config.v1+json', config),
        layers: [
          {
            mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
            digest: digestOf(randomBytes(256)),
            size: 123456,
            urls: ['https://store.example.com/blobs/x'],
          },
          {
            mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
            digest: digestOf(randomBytes(256)),
            size: 12345,
            urls: ['https://store.example.com/blobs/y'],
          },
          descriptor(OCI_LAYER, layer),
        ],
      }),
    );
    await pushBlob(url(), REPO, layer);
    await pushAndCheck(
      { manifest, digest: digestOf(manifest), mediaType: OCI_MANIFEST },
      'non-distributable-image',
    );
  });

  it('refuses references to blobs or manifests the repository lacks with MANIFEST_BLOB_UNKNOWN', async () => {
    const image = generateImage();
    await pushBlob(url(), REPO, image.config);
    const response = await pushManifest(url(), REPO, 'partial', image.manifest, OCI_MANIFEST);
    assert.equal(response.status, 400);
    const codes = errorCodes(response);
    assert.deepEqual(
      codes,
      ['MANIFEST_BLOB_UNKNOWN', 'MANIFEST_BLOB_UNKNOWN'],
      'one error per missing layer',
    );
    const details = (response.json() as { errors: Array<{ detail: { digest: string } }> }).errors.map(
      (e) => e.detail.digest,
    );
    assert.deepEqual(details.sort(), image.layers.map((layer) => digestOf(layer)).sort());
    const tag = await http('GET', url(), `/v2/${REPO}/manifests/partial`);
    assert.equal(tag.status, 404, 'nothing became visible');

    // blobs of another repository do not count
    const elsewhere = generateImage();
    await pushImage(url(), 'another/repository', elsewhere);
    const foreign = await pushManifest(url(), REPO, 'foreign', elsewhere.manifest, OCI_MANIFEST);
    assert.equal(foreign.status, 400);
    assert.ok(errorCodes(foreign).every((code) => code === 'MANIFEST_BLOB_UNKNOWN'));

    // an index whose child manifest is not in the repository
    const child = generateImage();
    const index = generateIndex([{ manifest: child.manifest, mediaType: OCI_MANIFEST }]);
    const sparse = await pushManifest(url(), REPO, 'sparse-index', index.manifest, OCI_INDEX);
    assert.equal(sparse.status, 400);
    assert.deepEqual(errorCodes(sparse), ['MANIFEST_BLOB_UNKNOWN']);
  });

  it('accepts several tags per PUT (?tag=) and names them in OCI-Tag', async () => {
    const image = generateImage();
    for (const blob of image.blobs) await pushBlob(url(), REPO, blob);
    const tags = ['tag-param-0', 'tag-param-1', '1.2.3', 'latest'];
    const query = tags.map((tag) => `tag=${tag}`).join('&');
    const response = await http('PUT', url(), `/v2/${REPO}/manifests/${image.digest}?${query}`, {
      headers: { 'content-type': OCI_MANIFEST },
      body: image.manifest,
    });
    expectCreated(response, image.digest);
    const named = response
      .header('oci-tag')!
      .split(',')
      .map((tag) => tag.trim());
    assert.deepEqual(named.sort(), [...tags].sort());
    for (const tag of tags) await expectPulls(tag, image.manifest, OCI_MANIFEST, image.digest);
    const bad = await http('PUT', url(), `/v2/${REPO}/manifests/${image.digest}?tag=-bad`, {
      headers: { 'content-type': OCI_MANIFEST },
      body: image.manifest,
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(errorCodes(bad), ['NAME_INVALID']);
  });

  it('answers a manifest with a subject with OCI-Subject, even when the subject is missing', async () => {
    const subject = generateImage();
    const subjectDescriptor = descriptor(OCI_MANIFEST, subject.manifest);
    const referrer = generateImage({
      artifactType: ARTIFACT_TYPE,
      configMediaType: OCI_EMPTY,
      configBytes: Buffer.from('{}'),
      layers: 1,
      layerMediaType: ARTIFACT_TYPE,
      subject: subjectDescriptor,
    });
    const response = await pushImage(url(), REPO, referrer);
    expectCreated(response, referrer.digest);
    assert.equal(response.header('oci-subject'), subjectDescriptor.digest);
    const plain = await pushImage(url(), REPO, generateImage());
    assert.equal(plain.header('oci-subject'), undefined);
  });

  it('refuses a body whose digest is not the reference with 400 DIGEST_INVALID', async () => {
    const image = generateImage({ layers: 0 });
    for (const blob of image.blobs) await pushBlob(url(), REPO, blob);
    const padded = Buffer.concat([image.manifest, Buffer.from('  ')]);
    const response = await pushManifest(url(), REPO, image.digest, padded, OCI_MANIFEST);
    assert.equal(response.status, 400);
    assert.deepEqual(errorCodes(response), ['DIGEST_INVALID']);
    const get = await http('GET', url(), `/v2/${REPO}/manifests/${image.digest}`);
    assert.equal(get.status, 404);
  });

  it('answers invalid digest formats with 400, never 500', async () => {
    const image = generateImage({ layers: 1 });
    for (const blob of image.blobs) await pushBlob(url(), REPO, blob);
    for (const reference of [
      'sha256:baddigeststring',
      'sha256:ABC',
      'md5:d41d8cd98f00b204e9800998ecf8427e',
      'sha256:',
    ]) {
      const put = await pushManifest(url(), REPO, reference, image.manifest, OCI_MANIFEST);
      assert.equal(put.status, 400, reference);
      assert.deepEqual(errorCodes(put), ['DIGEST_INVALID'], reference);
      for (const method of ['GET', 'HEAD', 'DELETE']) {
        const response = await http(method, url(), `/v2/${REPO}/manifests/${reference}`);
        assert.equal(response.status, 400, `${method} ${reference}`);
      }
    }
  });

  it('refuses malformed manifests with MANIFEST_INVALID', async () => {
    const cases: Array<[string, string]> = [
      ['not json', OCI_MANIFEST],
      ['{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}', OCI_MANIFEST],
      [
        '{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}',
        'application/vnd.docker.distribution.manifest.v1+prettyjws',
      ],
      [`{"schemaVersion":2,"mediaType":"${OCI_INDEX}","manifests":[]}`, OCI_MANIFEST],
      ['{"schemaVersion":2}', 'application/json'],
    ];
    for (const [body, contentType] of cases) {
      const response = await pushManifest(url(), REPO, 'invalid', Buffer.from(body), contentType);
      assert.equal(response.status, 400, body);
      assert.deepEqual(errorCodes(response), ['MANIFEST_INVALID'], body);
    }
  });

  it('negotiates with Accept: refuses a type the client does not take, honours wildcards', async () => {
    const image = generateImage();
    await pushImage(url(), REPO, image, 'negotiated');
    const path = `/v2/${REPO}/manifests/negotiated`;
    const refused = await http('GET', url(), path, { headers: { accept: DOCKER_MANIFEST } });
    assert.equal(refused.status, 404);
    assert.deepEqual(errorCodes(refused), ['MANIFEST_UNKNOWN']);
    for (const accept of ['*/*', 'application/*', `${DOCKER_MANIFEST}, ${OCI_MANIFEST};q=0.5`]) {
      const ok = await http('GET', url(), path, { headers: { accept } });
      assert.equal(ok.status, 200, accept);
    }
    const none = await http('GET', url(), path);
    assert.equal(none.status, 200, 'no Accept header: the stored type');
    const headRefused = await http('HEAD', url(), path, { headers: { accept: `${OCI_MANIFEST};q=0` } });
    assert.equal(headRefused.status, 404);
  });

  it('answers a client that cannot read indexes with the linux/amd64 manifest, as distribution does', async () => {
    const amd64 = generateImage({ mediaType: DOCKER_MANIFEST });
    const arm64 = generateImage({
      mediaType: DOCKER_MANIFEST,
      platform: { os: 'linux', architecture: 'arm64' },
    });
    for (const image of [arm64, amd64]) await pushImage(url(), REPO, image);
    const list = generateIndex(
      [
        {
          manifest: arm64.manifest,
          mediaType: DOCKER_MANIFEST,
          platform: { os: 'linux', architecture: 'arm64' },
        },
        {
          manifest: amd64.manifest,
          mediaType: DOCKER_MANIFEST,
          platform: { os: 'linux', architecture: 'amd64' },
        },
      ],
      { mediaType: DOCKER_LIST },
    );
    assert.equal((await pushManifest(url(), REPO, 'old-client', list.manifest, DOCKER_LIST)).status, 201);
    const response = await http('GET', url(), `/v2/${REPO}/manifests/old-client`, {
      headers: { accept: DOCKER_MANIFEST },
    });
    assert.equal(response.status, 200);
    assert.equal(response.header('content-type'), DOCKER_MANIFEST);
    assert.equal(response.header('docker-content-digest'), amd64.digest);
    assert.deepEqual(response.body, amd64.manifest);
    const none = await http('GET', url(), `/v2/${REPO}/manifests/old-client`, {
      headers: { accept: 'application/x-other' },
    });
    assert.equal(none.status, 404);
  });

  it('moves a tag to the newest manifest pushed to it', async () => {
    const first = generateImage();
    const second = generateImage();
    await pushImage(url(), REPO, first, 'moving');
    await pushImage(url(), REPO, second, 'moving');
    await expectPulls('moving', second.manifest, OCI_MANIFEST, second.digest);
    await expectPulls(first.digest, first.manifest, OCI_MANIFEST, first.digest);
  });
});
