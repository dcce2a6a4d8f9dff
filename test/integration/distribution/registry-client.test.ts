// The registry client against a real distribution registry (Debian's docker-registry 2.8) on
// loopback: push an image made in memory (monolithic, streamed and chunked uploads), pull it back
// byte-identical, skip and mount existing blobs, resume broken and aborted downloads (counted in
// the registry's own access log), Basic auth, clear errors, platform selection, and skopeo on the
// other side of each direction.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { resolveImage } from '../../../src/distribution/image-resolver.ts';
import { RegistryClient } from '../../../src/distribution/registry-client.ts';
import { verifyContent } from '../../../src/distribution/verify-content.ts';
import type { Digest } from '../../../src/oci/digest.ts';
import { parseDockerRef } from '../../../src/oci/reference.ts';
import {
  collectBytes,
  type DistributionRegistry,
  distributionUnavailable,
  htpasswdUnavailable,
  makeTestImage,
  sha256,
  skopeoUnavailable,
  startDistribution,
  type TestImage,
  writeOciLayout,
} from './helpers.ts';

const run = promisify(execFile);
const unavailable = distributionUnavailable();

async function pushImage(
  client: RegistryClient,
  path: string,
  tag: string,
  image: TestImage,
  modes: Array<'monolithic' | 'stream' | 'chunked'> = ['monolithic'],
): Promise<Digest> {
  for (const [i, layer] of image.layers.entries()) {
    const mode = modes[i % modes.length]!;
    const source = mode === 'monolithic' ? layer.bytes : chunksOf(layer.bytes, 64 * 1024);
    const pushed = await client.pushBlob(path, source, { mode, chunkSize: 100_000 });
    assert.equal(pushed.digest, layer.digest);
    assert.equal(pushed.size, layer.size);
  }
  await client.pushBlob(path, image.config.bytes);
  return client.putManifest(path, tag, image.manifest.bytes, image.manifest.mediaType);
}

async function* chunksOf(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.byteLength; i += size) yield bytes.subarray(i, i + size);
}

describe('registry client against distribution', { skip: unavailable }, () => {
  let registry: DistributionRegistry;
  let client: RegistryClient;

  before(async () => {
    registry = await startDistribution();
    client = new RegistryClient({ domain: registry.domain });
  });
  after(async () => {
    await client?.close();
    await registry?.stop();
  });

  it('pushes with monolithic, streamed and chunked uploads and pulls back byte-identical', async () => {
    const image = await makeTestImage([300_000, 250_000, 120_000]);
    const digest = await pushImage(client, 'test/roundtrip', 'v1', image, [
      'monolithic',
      'stream',
      'chunked',
    ]);
    assert.equal(digest, image.manifest.digest);

    const resolved = await resolveImage(client, parseDockerRef(`${registry.domain}/test/roundtrip:v1`));
    assert.equal(resolved.target.digest, image.manifest.digest);
    assert.equal(resolved.target.mediaType, image.manifest.mediaType);
    assert.deepEqual(resolved.manifest.bytes, image.manifest.bytes);
    assert.deepEqual(resolved.config.bytes, image.config.bytes);
    for (const [i, layer] of resolved.manifest.parsed.layers.entries()) {
      const bytes = await collectBytes(verifyContent(client.fetchBlob('test/roundtrip', layer), layer));
      assert.deepEqual(bytes, image.layers[i]!.bytes);
    }
    // chunked mode sent several PATCHes with Content-Range
    const patches = (await registry.requests()).filter((r) => r.method === 'PATCH');
    assert.ok(patches.length >= 1 + Math.ceil(120_000 / 100_000), `PATCH requests: ${patches.length}`);
  });

  it('skips blobs the repository has and mounts blobs from another repository', async () => {
    const image = await makeTestImage([50_000]);
    await pushImage(client, 'test/source', 'v1', image);
    const layer = image.layers[0]!;
    assert.equal(await client.statBlob('test/source', layer.digest), layer.size);
    assert.equal(await client.statBlob('test/target', layer.digest), undefined);
    const before = (await registry.requests()).length;
    const result = await client.mountBlob('test/target', layer.digest, 'test/source');
    assert.deepEqual(result, { mounted: true });
    const after = (await registry.requests()).slice(before);
    assert.ok(
      after.every((r) => r.method !== 'PATCH' && r.method !== 'PUT'),
      'no upload for a mounted blob',
    );
    assert.equal(await client.statBlob('test/target', layer.digest), layer.size);
  });

  it('answers a mount of an unknown blob with an upload session that takes the upload', async () => {
    const image = await makeTestImage([10_000]);
    const layer = image.layers[0]!;
    const result = await client.mountBlob('test/mount-miss', layer.digest, 'test/nowhere');
    assert.equal(result.mounted, false);
    assert.ok(!result.mounted && result.location, 'an upload session');
    const pushed = await client.pushBlob('test/mount-miss', layer.bytes, { location: result.location! });
    assert.equal(pushed.digest, layer.digest);
    assert.equal(await client.statBlob('test/mount-miss', layer.digest), layer.size);
  });

  it('resumes an aborted download from where it stopped: the registry serves the rest only', async () => {
    const image = await makeTestImage([12_000_000]);
    await pushImage(client, 'test/resume', 'v1', image);
    const layer = image.layers[0]!;
    const controller = new AbortController();
    const received: Buffer[] = [];
    let got = 0;
    await assert.rejects(async () => {
      for await (const chunk of client.fetchBlob('test/resume', layer, { signal: controller.signal })) {
        received.push(chunk);
        got += chunk.byteLength;
        if (got >= 3_000_000) controller.abort();
      }
    });
    const partial = Buffer.concat(received);
    const rest = await collectBytes(client.fetchBlob('test/resume', layer, { offset: partial.byteLength }));
    assert.deepEqual(Buffer.concat([partial, rest]), layer.bytes);
    // the registry's own count for the second request: exactly the missing bytes
    const gets = (await registry.requests()).filter(
      (r) => r.method === 'GET' && r.uri.includes(layer.digest),
    );
    assert.equal(gets.at(-1)!.status, 206);
    assert.equal(gets.at(-1)!.written, layer.size - partial.byteLength);
  });

  it('reconnects with Range when the connection breaks mid-blob', async () => {
    const image = await makeTestImage([1_500_000]);
    await pushImage(client, 'test/reset', 'v1', image);
    const layer = image.layers[0]!;
    const proxy = await startCuttingProxy(registry.url, 400_000);
    const viaProxy = new RegistryClient({ domain: `127.0.0.1:${proxy.port}` });
    try {
      const bytes = await collectBytes(verifyContent(viaProxy.fetchBlob('test/reset', layer), layer));
      assert.deepEqual(bytes, layer.bytes);
      assert.equal(proxy.cuts(), 1, 'the first answer was cut');
    } finally {
      await viaProxy.close();
      await proxy.close();
    }
  });

  it('fails verification before the end of a stream whose bytes do not match', async () => {
    const image = await makeTestImage([10_000]);
    await pushImage(client, 'test/verify', 'v1', image);
    const layer = image.layers[0]!;
    const wrong = { digest: sha256('other') as Digest, size: layer.size };
    await assert.rejects(
      collectBytes(verifyContent(client.fetchBlob('test/verify', layer), wrong)),
      /Cannot verify sha256:[0-9a-f]+: the content's digest is/,
    );
  });

  it('picks the platform from an index, as --platform asks', async () => {
    const amd = await makeTestImage([1000], { architecture: 'amd64' });
    const arm = await makeTestImage([1000], { architecture: 'arm64' });
    await pushImage(client, 'test/multi', 'amd', amd);
    await pushImage(client, 'test/multi', 'arm', arm);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          {
            mediaType: amd.manifest.mediaType,
            digest: amd.manifest.digest,
            size: amd.manifest.size,
            platform: { os: 'linux', architecture: 'amd64' },
          },
          {
            mediaType: arm.manifest.mediaType,
            digest: arm.manifest.digest,
            size: arm.manifest.size,
            platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
          },
        ],
      }),
    );
    const indexDigest = await client.putManifest(
      'test/multi',
      'latest',
      index,
      'application/vnd.oci.image.index.v1+json',
    );
    const ref = parseDockerRef(`${registry.domain}/test/multi`);
    const resolved = await resolveImage(client, ref, { platform: { os: 'linux', architecture: 'arm64' } });
    assert.equal(resolved.target.digest, indexDigest);
    assert.equal(resolved.manifest.descriptor.digest, arm.manifest.digest);
    assert.equal(resolved.config.parsed.architecture, 'arm64');
    await assert.rejects(
      resolveImage(client, ref, { platform: { os: 'linux', architecture: 's390x' } }),
      /no matching manifest for linux\/s390x in the manifest list entries/,
    );
  });

  it('says what is missing for an unknown tag or repository', async () => {
    await assert.rejects(
      resolveImage(client, parseDockerRef(`${registry.domain}/test/nothing:here`)),
      (error: Error) => error.name === 'NotFoundError' && /manifest unknown/.test(error.message),
    );
  });

  it('refuses what is not a container image, naming the media type', async () => {
    const blob = Buffer.from('{"artifact":true}');
    await client.pushBlob('test/artifact', blob);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: 'application/vnd.example.sbom',
        config: {
          mediaType: 'application/vnd.example.config+json',
          digest: sha256(blob),
          size: blob.byteLength,
        },
        layers: [],
      }),
    );
    await client.putManifest('test/artifact', 'sbom', manifest, 'application/vnd.oci.image.manifest.v1+json');
    await assert.rejects(
      resolveImage(client, parseDockerRef(`${registry.domain}/test/artifact:sbom`)),
      /Cannot pull .*test\/artifact:sbom: unsupported config media type "application\/vnd\.example\.config\+json"/,
    );
  });

  it('lists tags and the catalog', async () => {
    const tags = await client.listTags('test/multi');
    assert.deepEqual(tags.sort(), ['amd', 'arm', 'latest']);
    const repositories = await client.catalog();
    assert.ok(repositories.includes('test/multi') && repositories.includes('test/roundtrip'));
  });

  it('resolves images that skopeo pushed, and skopeo reads what the client pushed', {
    skip: skopeoUnavailable(),
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-skopeo-'));
    try {
      const image = await makeTestImage([40_000, 30_000]);
      await writeOciLayout(dir, image, 'v1');
      await run('skopeo', [
        'copy',
        '--dest-tls-verify=false',
        `oci:${dir}:v1`,
        `docker://${registry.domain}/skopeo/pushed:v1`,
      ]);
      const resolved = await resolveImage(client, parseDockerRef(`${registry.domain}/skopeo/pushed:v1`));
      assert.equal(resolved.manifest.parsed.layers.length, 2);
      assert.deepEqual(resolved.config.bytes, image.config.bytes);

      const mine = await makeTestImage([20_000], { docker: true });
      const digest = await pushImage(client, 'wharf/pushed', 'v2', mine, ['stream']);
      const { stdout } = await run('skopeo', [
        'inspect',
        '--tls-verify=false',
        `docker://${registry.domain}/wharf/pushed:v2`,
      ]);
      const inspected = JSON.parse(stdout) as { Digest: string; Layers: string[] };
      assert.equal(inspected.Digest, digest);
      assert.deepEqual(inspected.Layers, [mine.layers[0]!.digest]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('registry client with htpasswd auth', { skip: unavailable ?? htpasswdUnavailable() }, () => {
  let registry: DistributionRegistry;
  const user = { username: 'wharf', password: 's3cret-pass' };

  before(async () => {
    registry = await startDistribution({ user });
  });
  after(async () => {
    await registry?.stop();
  });

  it('is refused without credentials, with Docker words', async () => {
    const client = new RegistryClient({ domain: registry.domain });
    try {
      await assert.rejects(client.ping(), (error: Error) => {
        assert.equal(error.name, 'PermissionDeniedError');
        assert.match(
          error.message,
          /^Cannot log in to 127\.0\.0\.1:\d+: unauthorized: authentication required/,
        );
        return true;
      });
      await assert.rejects(
        resolveImage(client, parseDockerRef(`${registry.domain}/a/b:c`)),
        /unauthorized: authentication required/,
      );
    } finally {
      await client.close();
    }
  });

  it('is refused with a wrong password', async () => {
    const client = new RegistryClient({
      domain: registry.domain,
      credentials: async () => ({ username: user.username, password: 'wrong' }),
    });
    try {
      await assert.rejects(client.ping(), { name: 'PermissionDeniedError' });
    } finally {
      await client.close();
    }
  });

  it('answers the Basic challenge with the stored credentials, then pushes and pulls', async () => {
    let lookups = 0;
    const earlier = (await registry.requests()).length;
    const client = new RegistryClient({
      domain: registry.domain,
      credentials: async (domain) => {
        lookups++;
        assert.equal(domain, registry.domain);
        return user;
      },
    });
    try {
      await client.ping();
      assert.equal(client.authScheme, 'basic');
      const image = await makeTestImage([30_000]);
      const digest = await pushImage(client, 'private/app', 'v1', image, ['stream']);
      const resolved = await resolveImage(client, parseDockerRef(`${registry.domain}/private/app:v1`));
      assert.equal(resolved.target.digest, digest);
      assert.equal(lookups, 1, 'credentials looked up once');
      // after the first challenge every request carries the credentials: no more 401s
      const unauthorized = (await registry.requests()).slice(earlier).filter((r) => r.status === 401);
      assert.equal(
        unauthorized.length,
        1,
        `only the first request is challenged: ${JSON.stringify(unauthorized)}`,
      );
    } finally {
      await client.close();
    }
  });

  it('sends again, with the credentials, requests that went out at once before the first challenge', async () => {
    const client = new RegistryClient({ domain: registry.domain, credentials: async () => user });
    try {
      // a fresh client: every one of these starts anonymous and is refused, as a push's layers are
      const image = await makeTestImage([20_000, 15_000, 10_000]);
      const pushed = await Promise.all([
        ...image.layers.map((layer) => client.pushBlob('private/burst', layer.bytes)),
        client.statBlob('private/burst', image.config.digest, { push: true }),
      ]);
      assert.deepEqual(
        pushed.slice(0, 3).map((blob) => (blob as { digest: string }).digest),
        image.layers.map((layer) => layer.digest),
      );
      for (const layer of image.layers) {
        assert.equal(await client.statBlob('private/burst', layer.digest), layer.size);
      }
    } finally {
      await client.close();
    }
  });
});

describe('registry client without a network', () => {
  it('fails fast with a clear error for Docker Hub', async () => {
    const client = new RegistryClient({ domain: 'docker.io' });
    const started = Date.now();
    try {
      await assert.rejects(resolveImage(client, parseDockerRef('busybox')), (error: Error) => {
        assert.equal(error.name, 'UnavailableError');
        assert.match(error.message, /registry-1\.docker\.io/);
        assert.match(error.message, /no such host|connection refused|network unreachable|timed out/);
        return true;
      });
    } finally {
      await client.close();
    }
    assert.ok(Date.now() - started < 15_000, 'no long wait');
  });
});

/** A TCP proxy to `target` that cuts its first connection carrying a blob answer after `limit` bytes. */
async function startCuttingProxy(
  target: string,
  limit: number,
): Promise<{ port: number; cuts(): number; close(): Promise<void> }> {
  const url = new URL(target);
  const { connect } = await import('node:net');
  let cuts = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    const upstream = connect(Number(url.port), url.hostname);
    sockets.add(upstream);
    let forwarded = 0;
    let isBlob = false;
    client.on('data', (data: Buffer) => {
      if (/^GET \/v2\/[^ ]+\/blobs\//.test(data.toString('latin1'))) isBlob = true;
      upstream.write(data);
    });
    upstream.on('data', (data: Buffer) => {
      if (isBlob && cuts === 0 && forwarded + data.byteLength > limit) {
        client.write(data.subarray(0, Math.max(0, limit - forwarded)));
        cuts++;
        client.resetAndDestroy();
        upstream.destroy();
        return;
      }
      forwarded += data.byteLength;
      client.write(data);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    cuts: () => cuts,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
