/**
 * Shared by the registry client's tests: a real distribution registry (Debian's
 * `docker-registry`, distribution 2.8) per test on a random loopback port over temp storage,
 * optionally with htpasswd (bcrypt) auth; its access log read back as byte counts; and test
 * images made in memory (OCI manifest, config, gzip layers).
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import type { Digest } from '../../../src/oci/digest.ts';

const run = promisify(execFile);

/** Why the distribution tests cannot run here, or undefined when they can. */
export function distributionUnavailable(): string | undefined {
  if (spawnSync('docker-registry', ['--version']).error)
    return 'docker-registry is not installed (apt-get install docker-registry)';
  return undefined;
}

export function htpasswdUnavailable(): string | undefined {
  if (spawnSync('htpasswd', ['-h']).error) return 'htpasswd is not installed (apt-get install apache2-utils)';
  return undefined;
}

export function skopeoUnavailable(): string | undefined {
  if (spawnSync('skopeo', ['--version']).error) return 'skopeo is not installed';
  return undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface DistributionRegistry {
  /** `127.0.0.1:PORT`, the domain references use. */
  domain: string;
  url: string;
  storage: string;
  /** Bytes the registry wrote in answers to GETs of blob `digest` (from its access log). */
  blobBytesServed(digest?: string): Promise<number>;
  /** Every request the registry logged: method and URI. */
  requests(): Promise<Array<{ method: string; uri: string; status: number; written: number }>>;
  stop(): Promise<void>;
}

export interface DistributionOptions {
  /** Enables htpasswd (Basic) auth with this user. */
  user?: { username: string; password: string };
  /** Enables token (Bearer) auth: tokens from `realm`, signed by the key of `certificate` (PEM). */
  token?: { realm: string; service: string; issuer: string; certificate: string };
}

/** Starts `docker-registry serve` on a free loopback port; `stop()` kills it and removes its files. */
export async function startDistribution(options: DistributionOptions = {}): Promise<DistributionRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-distribution-'));
  const storage = join(dir, 'data');
  const logFile = join(dir, 'registry.log');
  const port = await freePort();
  let auth = '';
  if (options.user) {
    const { stdout } = await run('htpasswd', ['-Bbn', options.user.username, options.user.password]);
    await writeFile(join(dir, 'htpasswd'), stdout);
    auth = `auth:\n  htpasswd:\n    realm: wharf-test\n    path: ${join(dir, 'htpasswd')}\n`;
  }
  if (options.token) {
    await writeFile(join(dir, 'token-ca.pem'), options.token.certificate);
    auth = [
      'auth:',
      '  token:',
      `    realm: ${options.token.realm}`,
      `    service: ${options.token.service}`,
      `    issuer: ${options.token.issuer}`,
      `    rootcertbundle: ${join(dir, 'token-ca.pem')}`,
      '',
    ].join('\n');
  }
  const config = [
    'version: 0.1',
    'log:',
    '  level: info',
    '  formatter: json',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storage}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
    auth,
  ].join('\n');
  await writeFile(join(dir, 'config.yml'), config);
  const { openSync, closeSync } = await import('node:fs');
  const logFd = openSync(logFile, 'a');
  const child = spawn('docker-registry', ['serve', join(dir, 'config.yml')], {
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(3000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`docker-registry exited: ${await readFile(logFile, 'utf8')}`);
      try {
        const response = await fetch(`${url}/v2/`);
        await response.arrayBuffer();
        if (response.status === 200 || response.status === 401) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error('docker-registry did not start in 10 s');
      await sleep(50);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const requests = async () => {
    const text = await readFile(logFile, 'utf8').catch(() => '');
    const out: Array<{ method: string; uri: string; status: number; written: number }> = [];
    // the combined-format access log: one line per request, 401s included
    for (const line of text.split('\n')) {
      const match = /"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3}) (\d+|-)/.exec(line);
      if (!match) continue;
      out.push({
        method: match[1]!,
        uri: match[2]!,
        status: Number(match[3]),
        written: match[4] === '-' ? 0 : Number(match[4]),
      });
    }
    return out;
  };
  return {
    domain: `127.0.0.1:${port}`,
    url,
    storage,
    requests,
    blobBytesServed: async (digest) =>
      (await requests())
        .filter((r) => r.method === 'GET' && r.uri.includes('/blobs/') && (!digest || r.uri.includes(digest)))
        .reduce((sum, r) => sum + r.written, 0),
    stop,
  };
}

export function sha256(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export interface TestBlob {
  mediaType: string;
  digest: Digest;
  size: number;
  bytes: Buffer;
}

export interface TestImage {
  manifest: TestBlob;
  config: TestBlob;
  layers: Array<TestBlob & { diffId: Digest; tar: Buffer }>;
}

function blob(mediaType: string, bytes: Buffer): TestBlob {
  return { mediaType, digest: sha256(bytes) as Digest, size: bytes.byteLength, bytes };
}

/** A tar of the given files (fixed mtimes: the same files give the same bytes). */
export async function tarOf(files: Record<string, Buffer | string>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk: unknown) => {
    chunks.push(chunk as Buffer);
  });
  const done = new Promise<void>((resolve) => {
    pack.on('end', () => resolve());
  });
  for (const [name, content] of Object.entries(files)) {
    pack.entry(
      { name, mode: 0o644, mtime: new Date(0) },
      typeof content === 'string' ? Buffer.from(content) : content,
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/**
 * An OCI image made in memory: `layerSizes` random files, one per gzip layer (random data stays
 * about its size compressed), for `architecture`.
 */
export async function makeTestImage(
  layerSizes: readonly number[],
  options: { architecture?: string; docker?: boolean; compress?: boolean } = {},
): Promise<TestImage> {
  const docker = options.docker === true;
  const compress = options.compress !== false;
  const layers: TestImage['layers'] = [];
  for (const [i, size] of layerSizes.entries()) {
    const tarBytes = await tarOf({ [`layer-${i}/data.bin`]: randomBytes(size) });
    const bytes = compress ? gzipSync(tarBytes, { level: 1 }) : tarBytes;
    const mediaType = docker
      ? compress
        ? 'application/vnd.docker.image.rootfs.diff.tar.gzip'
        : 'application/vnd.docker.image.rootfs.diff.tar'
      : compress
        ? 'application/vnd.oci.image.layer.v1.tar+gzip'
        : 'application/vnd.oci.image.layer.v1.tar';
    layers.push({ ...blob(mediaType, bytes), diffId: sha256(tarBytes) as Digest, tar: tarBytes });
  }
  const architecture = options.architecture ?? (process.arch === 'arm64' ? 'arm64' : 'amd64');
  const config = blob(
    docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json',
    Buffer.from(
      JSON.stringify({
        architecture,
        os: 'linux',
        created: '2024-01-01T00:00:00Z',
        config: { Cmd: ['/bin/sh'], Env: ['PATH=/usr/bin:/bin'] },
        rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
        history: layers.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'test' })),
      }),
    ),
  );
  const manifestMediaType = docker
    ? 'application/vnd.docker.distribution.manifest.v2+json'
    : 'application/vnd.oci.image.manifest.v1+json';
  const manifest = blob(
    manifestMediaType,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: manifestMediaType,
        config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
        layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      }),
    ),
  );
  return { manifest, config, layers };
}

/** An OCI image layout directory holding `image` tagged `tag` (for skopeo's `oci:` transport). */
export async function writeOciLayout(dir: string, image: TestImage, tag: string): Promise<void> {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const item of [image.manifest, image.config, ...image.layers]) {
    await writeFile(join(dir, 'blobs', 'sha256', item.digest.slice(7)), item.bytes);
  }
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: image.manifest.mediaType,
          digest: image.manifest.digest,
          size: image.manifest.size,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
}

export async function collectBytes(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

export interface StallingProxy {
  port: number;
  /** Resolves once the proxy has stopped forwarding blob bytes. */
  stalled: Promise<void>;
  close(): Promise<void>;
}

/**
 * A TCP proxy to `target` that forwards everything until one blob answer passes `limit` bytes,
 * then holds that connection still (neither forwarding nor closing): a download frozen midway,
 * for a test to kill the client in. Smaller blobs pass whole.
 */
export async function startStallingProxy(target: string, limit: number): Promise<StallingProxy> {
  const { connect, createServer: createTcpServer } = await import('node:net');
  const url = new URL(target);
  const sockets = new Set<import('node:net').Socket>();
  let stall!: () => void;
  const stalled = new Promise<void>((resolve) => {
    stall = resolve;
  });
  const server = createTcpServer((client) => {
    const upstream = connect(Number(url.port), url.hostname);
    sockets.add(client);
    sockets.add(upstream);
    let blob = false;
    let frozen = false;
    let forwarded = 0;
    client.on('data', (data: Buffer) => {
      // a new request on this connection: count its answer afresh
      blob = /^GET \/v2\/[^ ]+\/blobs\//.test(data.toString('latin1'));
      forwarded = 0;
      upstream.write(data);
    });
    upstream.on('data', (data: Buffer) => {
      if (frozen) {
        upstream.pause();
        return;
      }
      if (blob && forwarded + data.byteLength > limit) {
        client.write(data.subarray(0, limit - forwarded));
        forwarded = limit;
        frozen = true;
        upstream.pause();
        stall();
        return;
      }
      if (blob) forwarded += data.byteLength;
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
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    stalled,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Makes a self-signed RSA certificate (one day) with openssl: `DIR/key.pem` and `DIR/cert.pem`,
 * returned as PEM text. `extensions` are openssl `-addext` values (e.g. a subjectAltName).
 */
export async function selfSignedCertificate(
  dir: string,
  subject: string,
  extensions: string[] = [],
): Promise<{ keyPem: string; certPem: string }> {
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    subject,
    ...extensions.flatMap((extension) => ['-addext', extension]),
    '-keyout',
    keyPath,
    '-out',
    certPath,
  ]);
  return { keyPem: await readFile(keyPath, 'utf8'), certPem: await readFile(certPath, 'utf8') };
}
