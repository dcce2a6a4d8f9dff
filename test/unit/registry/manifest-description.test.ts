import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { digestBytes } from '../../../src/oci/digest.ts';
import { RegistryError } from '../../../src/registry/errcode.ts';
import { describeManifest } from '../../../src/registry/manifest-service.ts';

const d = (s: string) => digestBytes(s);
const desc = (mediaType: string, seed: string) => ({ mediaType, digest: d(seed), size: 1 });

describe('describeManifest', () => {
  it('lists the blobs an image needs, skipping non-distributable layers', () => {
    const body = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: desc('application/vnd.oci.image.config.v1+json', 'c'),
        layers: [
          desc('application/vnd.oci.image.layer.v1.tar+gzip', 'l1'),
          desc('application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', 'nd'),
          desc('application/vnd.oci.image.layer.v1.tar+gzip', 'l1'),
        ],
        subject: desc('application/vnd.oci.image.manifest.v1+json', 's'),
        annotations: { a: 'b' },
      }),
    );
    const description = describeManifest(body, 'application/vnd.oci.image.manifest.v1+json', d('self'));
    assert.deepEqual(description.blobs, [d('c'), d('l1')]);
    assert.deepEqual(description.manifests, []);
    assert.equal(description.record.subject, d('s'));
    assert.equal(description.record.artifactType, 'application/vnd.oci.image.config.v1+json');
    assert.deepEqual(description.record.annotations, { a: 'b' });
  });
  it('lists the manifests an index needs; an index without artifactType has none', () => {
    const body = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [desc('application/vnd.oci.image.manifest.v1+json', 'm1')],
      }),
    );
    const description = describeManifest(body, undefined, d('self'));
    assert.deepEqual(description.manifests, [d('m1')]);
    assert.equal(description.record.artifactType, undefined);
    assert.equal(description.record.mediaType, 'application/vnd.oci.image.index.v1+json');
  });
  it('refuses what parseManifest refuses, as MANIFEST_INVALID', () => {
    assert.throws(
      () => describeManifest(Buffer.from('{}'), 'application/vnd.oci.image.manifest.v1+json', d('x')),
      (error: unknown) => error instanceof RegistryError && error.code === 'MANIFEST_INVALID',
    );
  });
});
