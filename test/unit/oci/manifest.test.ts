import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { descriptorFor } from '../../../src/oci/descriptor.ts';
import { digestBytes } from '../../../src/oci/digest.ts';
import { parseImageConfig } from '../../../src/oci/image-config.ts';
import { parseLayoutIndex, parseOciLayout } from '../../../src/oci/image-layout.ts';
import { ManifestError, parseManifest } from '../../../src/oci/manifest.ts';
import {
  isIndexMediaType,
  isLayerMediaType,
  isManifestMediaType,
  layerCompression,
  MediaType,
} from '../../../src/oci/media-types.ts';

const D1 = digestBytes('one');
const D2 = digestBytes('two');
const D3 = digestBytes('three');

const ociManifest = {
  schemaVersion: 2,
  mediaType: MediaType.OciManifest,
  artifactType: 'application/vnd.example+type',
  config: { mediaType: MediaType.OciEmpty, digest: D1, size: 2, data: 'e30=' },
  layers: [{ mediaType: MediaType.OciLayerGzip, digest: D2, size: 10, annotations: { a: 'b' } }],
  subject: { mediaType: MediaType.OciManifest, digest: D3, size: 100 },
  annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
};

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ManifestError, `expected a ManifestError, got ${String(error)}`);
    assert.equal(error.name, 'ManifestError');
    assert.equal(error.category, 'InvalidArgument');
    return `${error.reason}: ${error.message}`;
  }
  assert.fail('expected a throw');
}

describe('manifest parsing', () => {
  it('parses an OCI 1.1 manifest with artifactType, subject and annotations', () => {
    const bytes = JSON.stringify(ociManifest);
    const parsed = parseManifest(bytes);
    assert.equal(parsed.kind, 'manifest');
    if (parsed.kind !== 'manifest') return;
    assert.equal(parsed.mediaType, MediaType.OciManifest);
    assert.equal(parsed.digest, digestBytes(bytes));
    assert.equal(parsed.artifactType, 'application/vnd.example+type');
    assert.equal(parsed.subject?.digest, D3);
    assert.equal(parsed.config.digest, D1);
    assert.deepEqual(
      parsed.references.map((d) => d.digest),
      [D1, D2, D3],
    );
  });

  it('parses indexes, Docker manifests and manifest lists', () => {
    const index = parseManifest(
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: MediaType.OciManifest,
            digest: D1,
            size: 5,
            platform: { os: 'linux', architecture: 'amd64' },
          },
        ],
      }),
    );
    assert.equal(index.kind, 'index');
    assert.equal(index.mediaType, MediaType.OciIndex); // detected from "manifests"
    const docker = parseManifest(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.DockerManifest,
        config: { mediaType: MediaType.DockerConfig, digest: D1, size: 3 },
        layers: [{ mediaType: MediaType.DockerLayerGzip, digest: D2, size: 4 }],
      }),
      `${MediaType.DockerManifest}; charset=utf-8`,
    );
    assert.equal(docker.kind, 'manifest');
    assert.deepEqual(
      docker.references.map((d) => d.digest),
      [D1, D2],
    );
    const list = parseManifest(
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.DockerManifestList, manifests: [] }),
    );
    assert.equal(list.kind, 'index');
  });

  it('refuses bad documents with a reason', () => {
    assert.match(
      reason(() => parseManifest('{not json')),
      /^invalid-json: Cannot parse manifest: invalid JSON/,
    );
    assert.match(
      reason(() => parseManifest('{"schemaVersion":2}')),
      /^unknown-media-type/,
    );
    assert.match(
      reason(() => parseManifest(JSON.stringify({ ...ociManifest, mediaType: 'application/x-foo' }))),
      /unknown media type "application\/x-foo"/,
    );
    assert.match(
      reason(() => parseManifest(JSON.stringify({ schemaVersion: 1, name: 'x' }))),
      /schema 1/,
    );
    assert.match(
      reason(() => parseManifest(JSON.stringify(ociManifest), MediaType.DockerManifest)),
      /^media-type-mismatch/,
    );
    assert.match(
      reason(() => parseManifest(JSON.stringify({ ...ociManifest, schemaVersion: 3 }))),
      /invalid-schema: .*schemaVersion/,
    );
    assert.match(
      reason(() =>
        parseManifest(
          JSON.stringify({ ...ociManifest, layers: [{ mediaType: 'x', digest: 'sha256:abc', size: 1 }] }),
        ),
      ),
      /layers\.0\.digest/,
    );
    assert.match(
      reason(() =>
        parseManifest(JSON.stringify({ ...ociManifest, layers: [{ mediaType: 'x', digest: D2, size: -1 }] })),
      ),
      /layers\.0\.size/,
    );
    // Docker's schema 2 needs its mediaType field
    const { mediaType: _omit, ...noType } = ociManifest;
    assert.match(
      reason(() => parseManifest(JSON.stringify(noType), MediaType.DockerManifest)),
      /mediaType/,
    );
  });

  it('classifies media types', () => {
    assert.ok(isManifestMediaType(MediaType.DockerManifest));
    assert.ok(isIndexMediaType(MediaType.OciIndex));
    assert.equal(isManifestMediaType(MediaType.OciIndex), false);
    assert.ok(isLayerMediaType(MediaType.DockerForeignLayerGzip));
    assert.equal(layerCompression(MediaType.OciLayerZstd), 'zstd');
    assert.equal(layerCompression(MediaType.DockerLayer), 'none');
    assert.equal(layerCompression('application/x-unknown'), undefined);
  });

  it('describes bytes', () => {
    const desc = descriptorFor(MediaType.OciEmpty, '{}');
    assert.deepEqual(desc, {
      mediaType: MediaType.OciEmpty,
      digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
      size: 2,
    });
  });
});

describe('image config and layout', () => {
  it('keeps Docker extension fields and accepts nulls', () => {
    const config = parseImageConfig(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Cmd: null, Env: ['A=b'], ExposedPorts: { '80/tcp': {} } },
        container_config: { Hostname: 'x' },
        rootfs: { type: 'layers', diff_ids: [D1] },
        history: [{ created_by: 'x', empty_layer: true }],
      }),
    );
    assert.deepEqual(config.rootfs.diff_ids, [D1]);
    assert.deepEqual((config as Record<string, unknown>).container_config, { Hostname: 'x' });
    assert.throws(() => parseImageConfig('{"os":"linux"}'), /architecture/);
    assert.throws(
      () =>
        parseImageConfig(JSON.stringify({ architecture: 'a', os: 'l', rootfs: { type: 'x', diff_ids: [] } })),
      /rootfs\.type/,
    );
  });

  it('reads oci-layout and index.json', () => {
    assert.equal(parseOciLayout('{"imageLayoutVersion":"1.0.0"}').imageLayoutVersion, '1.0.0');
    assert.throws(() => parseOciLayout('{}'), /imageLayoutVersion/);
    const index = parseLayoutIndex(JSON.stringify({ schemaVersion: 2, manifests: [] }));
    assert.deepEqual(index.manifests, []);
  });
});
