/**
 * Shared by the registry's end-to-end tests: an in-process server on a random loopback port over
 * a temp storage directory, a small HTTP client that shows statuses, headers and bodies as they
 * are, and generators of blobs, image manifests, indexes and artifacts (the content kinds of the
 * OCI conformance suite).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { RegistryServer, type RegistryServerOptions } from '../../../src/registry/registry-server.ts';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

export type Algorithm = 'sha256' | 'sha512';

export function digestOf(bytes: Uint8Array | string, algorithm: Algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

export interface TestRegistry {
  server: RegistryServer;
  url: string;
  storage: string;
  /** Closes the server (keeping the storage), e.g. to restart on the same storage. */
  stop(): Promise<void>;
  /** Starts a new server on the same storage. */
  restart(): Promise<void>;
  /** Stops the server and removes the storage. */
  close(): Promise<void>;
}

/** A registry on 127.0.0.1, random port, fresh temp storage; `options` add to the defaults. */
export async function startTestRegistry(
  options: Partial<Omit<RegistryServerOptions, 'storage' | 'host' | 'port'>> = {},
): Promise<TestRegistry> {
  const storage = await mkdtemp(join(tmpdir(), 'wharf-registry-test-'));
  let server = await RegistryServer.start({ ...options, storage, host: '127.0.0.1', port: 0 });
  const registry: TestRegistry = {
    server,
    url: server.url,
    storage,
    stop: async () => {
      await server.close();
    },
    restart: async () => {
      await server.close();
      server = await RegistryServer.start({ ...options, storage, host: '127.0.0.1', port: 0 });
      registry.server = server;
      registry.url = server.url;
    },
    close: async () => {
      try {
        await server.close();
      } finally {
        await rm(storage, { recursive: true, force: true });
      }
    },
  };
  return registry;
}

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The body as JSON (throws when it is not). */
  json(): unknown;
  header(name: string): string | undefined;
}

export interface RequestOptions {
  headers?: Record<string, string | string[]>;
  body?: Uint8Array | string | AsyncIterable<Uint8Array>;
}

/** One HTTP request; `target` is an absolute URL or a path resolved against `base`. */
export async function http(
  method: string,
  base: string,
  target: string,
  options: RequestOptions = {},
): Promise<Response> {
  const url = new URL(target, base);
  const response = await request(url, {
    method: method as 'GET',
    headers: options.headers ?? {},
    ...(options.body === undefined ? {} : { body: options.body as string | Buffer }),
  });
  const body = Buffer.from(await response.body.arrayBuffer());
  const headers = response.headers as Record<string, string | string[] | undefined>;
  return {
    status: response.statusCode,
    headers,
    body,
    json: () => JSON.parse(body.toString('utf8')),
    header: (name) => {
      const value = headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : value;
    },
  };
}

/** Asserts the spec's error JSON and returns its codes. */
export function errorCodes(response: Response): string[] {
  const document = response.json() as { errors?: Array<{ code?: unknown; message?: unknown }> };
  if (!Array.isArray(document.errors) || document.errors.length === 0) {
    throw new Error(`not an OCI error body: ${response.body.toString()}`);
  }
  return document.errors.map((entry) => {
    if (typeof entry.code !== 'string' || !/^[A-Z_]+$/.test(entry.code)) {
      throw new Error(`bad error code in ${response.body.toString()}`);
    }
    return entry.code;
  });
}

export function randomBlob(size: number): Buffer {
  return randomBytes(size);
}

/** POST then PUT (monolithic); returns the PUT's response. */
export async function pushBlob(
  base: string,
  repo: string,
  bytes: Buffer,
  algorithm: Algorithm = 'sha256',
  headers: Record<string, string> = {},
): Promise<string> {
  const digest = digestOf(bytes, algorithm);
  const post = await http('POST', base, `/v2/${repo}/blobs/uploads/`, { headers });
  if (post.status !== 202) throw new Error(`POST upload: ${post.status} ${post.body}`);
  const location = new URL(post.header('location')!, base);
  location.searchParams.set('digest', digest);
  const put = await http('PUT', base, location.href, {
    headers: { ...headers, 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  if (put.status !== 201) throw new Error(`PUT upload: ${put.status} ${put.body}`);
  return digest;
}

export async function pushManifest(
  base: string,
  repo: string,
  reference: string,
  bytes: Buffer,
  mediaType: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return http('PUT', base, `/v2/${repo}/manifests/${reference}`, {
    headers: { ...headers, 'content-type': mediaType },
    body: bytes,
  });
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  [key: string]: unknown;
}

export function descriptor(
  mediaType: string,
  bytes: Buffer,
  algorithm: Algorithm = 'sha256',
  extra = {},
): Descriptor {
  return { mediaType, digest: digestOf(bytes, algorithm), size: bytes.byteLength, ...extra };
}

export interface GeneratedImage {
  manifest: Buffer;
  digest: string;
  mediaType: string;
  config: Buffer;
  layers: Buffer[];
  /** Every blob the manifest needs, config first. */
  blobs: Buffer[];
}

export interface ImageOptions {
  algorithm?: Algorithm;
  layers?: number;
  layerSize?: number;
  layerMediaType?: string;
  configMediaType?: string;
  configBytes?: Buffer;
  artifactType?: string;
  subject?: Descriptor;
  annotations?: Record<string, string>;
  mediaType?: string;
  platform?: { os: string; architecture: string };
  extra?: Record<string, unknown>;
}

/** An image (or artifact) manifest with random layers and a config. */
export function generateImage(options: ImageOptions = {}): GeneratedImage {
  const algorithm = options.algorithm ?? 'sha256';
  const mediaType = options.mediaType ?? OCI_MANIFEST;
  const docker = mediaType === DOCKER_MANIFEST;
  const layers = Array.from({ length: options.layers ?? 2 }, () => randomBlob(options.layerSize ?? 512));
  const config =
    options.configBytes ??
    Buffer.from(
      JSON.stringify({
        architecture: options.platform?.architecture ?? 'amd64',
        os: options.platform?.os ?? 'linux',
        rootfs: { type: 'layers', diff_ids: layers.map((layer) => digestOf(layer, algorithm)) },
        nonce: randomBytes(8).toString('hex'),
      }),
    );
  const document: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType,
    ...(options.artifactType ? { artifactType: options.artifactType } : {}),
    config: descriptor(options.configMediaType ?? (docker ? DOCKER_CONFIG : OCI_CONFIG), config, algorithm),
    layers: layers.map((layer) =>
      descriptor(options.layerMediaType ?? (docker ? DOCKER_LAYER_GZIP : OCI_LAYER_GZIP), layer, algorithm),
    ),
    ...(options.subject ? { subject: options.subject } : {}),
    ...(options.annotations ? { annotations: options.annotations } : {}),
    ...(options.extra ?? {}),
  };
  const manifest = Buffer.from(JSON.stringify(document));
  return {
    manifest,
    digest: digestOf(manifest, algorithm),
    mediaType,
    config,
    layers,
    blobs: [config, ...layers],
  };
}

export function generateIndex(
  children: Array<{ manifest: Buffer; mediaType: string; platform?: { os: string; architecture: string } }>,
  options: {
    algorithm?: Algorithm;
    mediaType?: string;
    artifactType?: string;
    subject?: Descriptor;
    annotations?: Record<string, string>;
    extra?: Record<string, unknown>;
  } = {},
): { manifest: Buffer; digest: string; mediaType: string } {
  const algorithm = options.algorithm ?? 'sha256';
  const mediaType = options.mediaType ?? OCI_INDEX;
  const document: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType,
    ...(options.artifactType ? { artifactType: options.artifactType } : {}),
    manifests: children.map((child) =>
      descriptor(
        child.mediaType,
        child.manifest,
        algorithm,
        child.platform ? { platform: child.platform } : {},
      ),
    ),
    ...(options.subject ? { subject: options.subject } : {}),
    ...(options.annotations ? { annotations: options.annotations } : {}),
    ...(options.extra ?? {}),
  };
  const manifest = Buffer.from(JSON.stringify(document));
  return { manifest, digest: digestOf(manifest, algorithm), mediaType };
}

/** Pushes every blob of an image, then its manifest by `reference` (a tag or its digest). */
export async function pushImage(
  base: string,
  repo: string,
  image: GeneratedImage,
  reference?: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  const algorithm = image.digest.startsWith('sha512:') ? 'sha512' : 'sha256';
  for (const blob of image.blobs) await pushBlob(base, repo, blob, algorithm, headers);
  return pushManifest(base, repo, reference ?? image.digest, image.manifest, image.mediaType, headers);
}

/** `Authorization: Basic` for a user and password. */
export function basicAuth(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

/** A token from the registry's `/token` (GET), with Basic credentials when given; throws unless 200. */
export async function fetchToken(
  base: string,
  scopes: string[],
  credentials?: { user: string; password: string },
): Promise<string> {
  const url = new URL('/token', base);
  url.searchParams.set('service', 'wharf-registry');
  for (const scope of scopes) url.searchParams.append('scope', scope);
  const response = await http('GET', base, url.href, {
    headers: credentials ? basicAuth(credentials.user, credentials.password) : {},
  });
  if (response.status !== 200) throw new Error(`token: ${response.status} ${response.body}`);
  return (response.json() as { token: string }).token;
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** The claims of a JWT (not verified: for assertions on what the registry issued). */
export function jwtClaims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}
