/**
 * A client of one registry's HTTP API (OCI distribution spec 1.1 / Docker registry v2): resolve
 * tags to manifests, fetch manifests and blobs (verified), push blobs (skip, mount, monolithic,
 * streamed or chunked upload) and manifests, list tags and the catalog. Authorization follows the
 * registry's challenges (RegistryAuthorizer); transport, redirects and retries are HttpTransport's.
 *
 * The story of a pull: `resolve(repo, 'latest')` sends HEAD with every manifest media type in
 * Accept and gets a descriptor from `Docker-Content-Digest`; `fetchManifest` GETs it by digest and
 * checks the bytes against it; `fetchBlob` streams each blob, resuming with `Range` when the
 * connection breaks, and `verifyContent` fails the stream's end on a mismatch.
 *
 * The story of a push: `statBlob` (HEAD) skips blobs the repository has; `mountBlob` asks the
 * registry to link a blob from another repository; `pushBlob` uploads the rest (POST then PUT for
 * bytes in memory, POST, PATCH and PUT for streams, a PATCH per chunk in chunked mode, each step
 * following the `Location` it was given); `putManifest` goes last.
 *
 * @example
 * const client = new RegistryClient({ domain: 'localhost:5000' });
 * const desc = await client.resolve('library/busybox', 'latest');
 * const { bytes } = await client.fetchManifest('library/busybox', desc.digest, { expected: desc });
 * await client.close();
 */
import type { Readable } from 'node:stream';
import { InvalidArgumentError, UnavailableError } from '../errors/index.ts';
import type { Descriptor } from '../oci/descriptor.ts';
import { algorithmOf, createDigester, type Digest, digestBytes, isDigest } from '../oci/digest.ts';
import { baseMediaType, MediaType } from '../oci/media-types.ts';
import {
  type HttpBody,
  type HttpRequest,
  type HttpResponse,
  HttpTransport,
  isRetryableNetworkError,
} from './http-transport.ts';
import { type CredentialsLookup, RegistryAuthorizer, repositoryScope } from './registry-authorizer.ts';
import { type EndpointOptions, type RegistryEndpoint, resolveEndpoint } from './registry-endpoint.ts';
import { categoryError, registryError } from './registry-errors.ts';

/** What the client asks for when resolving: OCI and Docker manifests and indexes. */
export const MANIFEST_ACCEPT = [
  MediaType.OciIndex,
  MediaType.OciManifest,
  MediaType.DockerManifestList,
  MediaType.DockerManifest,
].join(', ');

/** Manifests larger than this are refused (containerd's limit). */
const MANIFEST_MAX_BYTES = 4 * 1024 * 1024;
/** Reconnections while streaming one blob. */
const BLOB_RESUME_ATTEMPTS = 5;
/** Streamed uploads join smaller pieces into chunks of at least this size. */
const STREAM_CHUNK = 1024 * 1024;
/** Chunk size of chunked uploads when none is given. */
export const DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024;

export interface RegistryClientOptions extends EndpointOptions {
  /** The registry as references name it: `docker.io`, `localhost:5000`. */
  domain: string;
  credentials?: CredentialsLookup;
  /** A transport shared by several clients (closed by its owner); default: one of its own. */
  transport?: HttpTransport;
}

export interface FetchedManifest {
  bytes: Buffer;
  /** The Content-Type the registry sent (parameters removed), or '' when it sent none. */
  mediaType: string;
  digest: Digest;
}

export interface FetchBlobOptions {
  /** Start this many bytes in (resume a partial download). */
  offset?: number;
  signal?: AbortSignal;
}

export type UploadMode = 'monolithic' | 'stream' | 'chunked';

export interface PushBlobOptions {
  /** The digest, when known before uploading (needed for monolithic uploads of streams). */
  digest?: Digest;
  size?: number;
  /** Default: monolithic for bytes in memory, stream otherwise. */
  mode?: UploadMode;
  chunkSize?: number;
  /** An upload session already open (the Location a mount answered 202 with). */
  location?: URL;
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
}

export interface PushedBlob {
  digest: Digest;
  size: number;
}

export type MountResult = { mounted: true } | { mounted: false; location?: URL };

function replayable(body: HttpBody | undefined): boolean {
  return body === undefined || typeof body === 'string' || body instanceof Uint8Array;
}

function toBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** The `<url>; rel="next"` of a Link header, resolved against `base`. */
function nextLink(header: string | undefined, base: URL): URL | undefined {
  if (!header) return undefined;
  const match = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(header);
  return match ? new URL(match[1]!, base) : undefined;
}

export class RegistryClient {
  readonly endpoint: RegistryEndpoint;
  readonly #transport: HttpTransport;
  readonly #ownsTransport: boolean;
  readonly #auth: RegistryAuthorizer;

  constructor(options: RegistryClientOptions) {
    this.endpoint = resolveEndpoint(options.domain, options);
    this.#ownsTransport = options.transport === undefined;
    this.#transport = options.transport ?? new HttpTransport();
    this.#auth = new RegistryAuthorizer(this.#transport, {
      domain: options.domain,
      ...(options.credentials ? { credentials: options.credentials } : {}),
    });
  }

  /** The authorization scheme the registry asked for, once known (`basic`, `bearer`). */
  get authScheme(): 'basic' | 'bearer' | undefined {
    return this.#auth.scheme;
  }

  async close(): Promise<void> {
    if (this.#ownsTransport) await this.#transport.close();
  }

  /**
   * `GET /v2/`: checks the registry is there and, when it asks for authorization, that the
   * credentials are accepted (what `docker login` does). Throws PermissionDeniedError otherwise.
   */
  async ping(signal?: AbortSignal): Promise<void> {
    const response = await this.#request('check', [], {
      method: 'GET',
      url: this.#url('/v2/'),
      ...opt(signal),
    });
    const body = await response.bytes();
    if (response.status !== 200)
      throw registryError(response.status, body, `log in to ${this.endpoint.domain}`);
  }

  /** Resolves a tag (or digest) to the descriptor of its manifest or index: HEAD, then GET if needed. */
  async resolve(path: string, reference: string, signal?: AbortSignal): Promise<Descriptor> {
    const action = `resolve ${this.#name(path, reference)}`;
    const url = this.#url(`/v2/${path}/manifests/${reference}`);
    const headers = { accept: MANIFEST_ACCEPT };
    const head = await this.#request(action, [repositoryScope(path, ['pull'])], {
      method: 'HEAD',
      url,
      headers,
      ...opt(signal),
    });
    await head.dump();
    if (head.status === 200) {
      const digest = head.header('docker-content-digest');
      const mediaType = baseMediaType(head.header('content-type') ?? '');
      const size = Number(head.header('content-length'));
      const known = isDigest(reference) ? reference : digest;
      if (known && isDigest(known) && Number.isInteger(size) && size > 0 && isSpecificType(mediaType)) {
        if (digest && isDigest(reference) && digest !== reference) {
          throw new InvalidArgumentError(`Cannot ${action}: the registry answered with digest ${digest}`);
        }
        return { mediaType, digest: known, size };
      }
    } else if (head.status !== 404 && head.status !== 405 && head.status !== 400) {
      throw registryError(head.status, '', action);
    }
    // no usable HEAD answer: GET the manifest and describe it ourselves
    const fetched = await this.fetchManifest(path, reference, signal ? { signal } : {});
    return { mediaType: fetched.mediaType, digest: fetched.digest, size: fetched.bytes.byteLength };
  }

  /**
   * GETs a manifest by tag or digest and checks its bytes against `expected` (or the digest in the
   * reference, or else the `Docker-Content-Digest` the registry sent).
   */
  async fetchManifest(
    path: string,
    reference: string,
    options: { expected?: Pick<Descriptor, 'digest'> & { size?: number }; signal?: AbortSignal } = {},
  ): Promise<FetchedManifest> {
    const action = `fetch manifest ${this.#name(path, reference)}`;
    const response = await this.#request(action, [repositoryScope(path, ['pull'])], {
      method: 'GET',
      url: this.#url(`/v2/${path}/manifests/${reference}`),
      headers: { accept: MANIFEST_ACCEPT },
      ...opt(options.signal),
    });
    if (response.status !== 200) {
      const body = await response.bytes();
      if (response.status === 404) {
        throw registryError(404, body, `find manifest for ${this.#name(path, reference)}`);
      }
      throw registryError(response.status, body, action);
    }
    const declared = Number(response.header('content-length'));
    if (Number.isFinite(declared) && declared > MANIFEST_MAX_BYTES) {
      await response.dump();
      throw new InvalidArgumentError(`Cannot ${action}: ${declared} bytes is more than a manifest may have`);
    }
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      length += chunk.byteLength;
      if (length > MANIFEST_MAX_BYTES) {
        response.body.destroy();
        throw new InvalidArgumentError(`Cannot ${action}: more than ${MANIFEST_MAX_BYTES} bytes`);
      }
      chunks.push(chunk);
    }
    const bytes = Buffer.concat(chunks);
    const header = response.header('docker-content-digest');
    const expected =
      options.expected?.digest ??
      (isDigest(reference) ? reference : header && isDigest(header) ? header : undefined);
    const digest = expected ? digestBytes(bytes, algorithmOf(expected)) : digestBytes(bytes);
    if (expected && digest !== expected) {
      throw new InvalidArgumentError(`Cannot ${action}: its content's digest is ${digest}, not ${expected}`);
    }
    if (options.expected?.size !== undefined && options.expected.size !== bytes.byteLength) {
      throw new InvalidArgumentError(
        `Cannot ${action}: ${bytes.byteLength} bytes where ${options.expected.size} were expected`,
      );
    }
    return { bytes, mediaType: baseMediaType(response.header('content-type') ?? ''), digest };
  }

  /** HEAD of a blob: its size when the repository has it, undefined when not. */
  async statBlob(
    path: string,
    digest: Digest,
    options: { signal?: AbortSignal; push?: boolean } = {},
  ): Promise<number | undefined> {
    const scopes = [repositoryScope(path, options.push ? ['pull', 'push'] : ['pull'])];
    const response = await this.#request(`check blob ${digest} in ${this.#name(path)}`, scopes, {
      method: 'HEAD',
      url: this.#url(`/v2/${path}/blobs/${digest}`),
      ...opt(options.signal),
    });
    await response.dump();
    if (response.status === 200) {
      const size = Number(response.header('content-length'));
      return Number.isFinite(size) ? size : 0;
    }
    if (response.status === 404) return undefined;
    throw registryError(response.status, '', `check blob ${digest} in ${this.#name(path)}`);
  }

  /**
   * Streams a blob from `offset` (default 0). When the connection breaks, asks again with `Range`
   * from the last byte received; a registry that ignores Range has its repeated bytes skipped.
   * The bytes are not verified here: wrap with `verifyContent` (or use `openBlob`).
   */
  async *fetchBlob(
    path: string,
    descriptor: Pick<Descriptor, 'digest'> & { size?: number },
    options: FetchBlobOptions = {},
  ): AsyncGenerator<Buffer> {
    const action = `fetch blob ${descriptor.digest} from ${this.#name(path)}`;
    let position = options.offset ?? 0;
    if (descriptor.size !== undefined && position >= descriptor.size) return;
    let failures = 0;
    for (;;) {
      const headers: Record<string, string> = {};
      if (position > 0) headers.range = `bytes=${position}-`;
      const response = await this.#request(action, [repositoryScope(path, ['pull'])], {
        method: 'GET',
        url: this.#url(`/v2/${path}/blobs/${descriptor.digest}`),
        headers,
        ...opt(options.signal),
      });
      if (response.status === 416 && descriptor.size !== undefined && position >= descriptor.size) {
        await response.dump();
        return;
      }
      let skip = 0;
      if (response.status === 200) skip = position;
      else if (response.status === 206) {
        const start = Number(/bytes (\d+)-/.exec(response.header('content-range') ?? '')?.[1] ?? Number.NaN);
        if (start !== position) {
          await response.dump();
          throw new UnavailableError(
            `Cannot ${action}: the registry sent a range from ${start}, not ${position}`,
          );
        }
      } else {
        const body = await response.bytes();
        if (response.status === 404) throw registryError(404, body, action);
        throw registryError(response.status, body, action);
      }
      try {
        for await (const value of response.body as AsyncIterable<Buffer>) {
          let chunk = value;
          if (skip > 0) {
            const dropped = Math.min(skip, chunk.byteLength);
            skip -= dropped;
            chunk = chunk.subarray(dropped);
            if (chunk.byteLength === 0) continue;
          }
          position += chunk.byteLength;
          failures = 0;
          yield chunk;
        }
        return;
      } catch (error) {
        options.signal?.throwIfAborted();
        if (!isRetryableNetworkError(error) || ++failures >= BLOB_RESUME_ATTEMPTS) {
          throw categoryError(
            0,
            action,
            `connection lost after ${position} bytes: ${(error as Error).message}`,
            error,
          );
        }
        // reconnect and go on from `position`
      } finally {
        if (!response.body.destroyed) response.body.destroy();
      }
    }
  }

  /**
   * Asks the registry to link `digest` from repository `from` into `path`. Returns mounted, or
   * not mounted with the upload session the registry opened instead (use it for the upload).
   */
  async mountBlob(path: string, digest: Digest, from: string, signal?: AbortSignal): Promise<MountResult> {
    const url = this.#url(`/v2/${path}/blobs/uploads/`);
    url.searchParams.set('mount', digest);
    url.searchParams.set('from', from);
    const action = `mount ${digest} from ${from} into ${this.#name(path)}`;
    const response = await this.#request(
      action,
      [repositoryScope(path, ['pull', 'push']), repositoryScope(from, ['pull'])],
      { method: 'POST', url, ...opt(signal) },
    );
    const body = await response.bytes();
    if (response.status === 201) return { mounted: true };
    if (response.status === 202) {
      const location = response.header('location');
      return location ? { mounted: false, location: new URL(location, response.url) } : { mounted: false };
    }
    throw registryError(response.status, body, action);
  }

  /**
   * Uploads a blob and returns its digest and size. Bytes in memory go in one PUT (monolithic);
   * a stream goes in one PATCH (or one PATCH per chunk in chunked mode), hashed on the way, and
   * the closing PUT names the digest: the registry checks it before it keeps the blob.
   */
  async pushBlob(
    path: string,
    source: Uint8Array | AsyncIterable<Uint8Array> | Readable,
    options: PushBlobOptions = {},
  ): Promise<PushedBlob> {
    const action = `push blob to ${this.#name(path)}`;
    const scopes = [repositoryScope(path, ['pull', 'push'])];
    const inMemory = source instanceof Uint8Array ? toBuffer(source) : undefined;
    const mode: UploadMode = options.mode ?? (inMemory ? 'monolithic' : 'stream');
    let location = options.location ?? (await this.#startUpload(path, scopes, options.signal));

    if (mode === 'monolithic') {
      const bytes = inMemory ?? (await collect(source as AsyncIterable<Uint8Array>));
      const digest = options.digest ?? digestBytes(bytes);
      if (options.digest && digestBytes(bytes, algorithmOf(options.digest)) !== options.digest) {
        throw new InvalidArgumentError(`Cannot ${action}: the content does not match ${options.digest}`);
      }
      location.searchParams.set('digest', digest);
      const response = await this.#request(action, scopes, {
        method: 'PUT',
        url: location,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.byteLength) },
        body: bytes,
        ...opt(options.signal),
      });
      await this.#expectCreated(response, action, digest);
      options.onProgress?.(bytes.byteLength);
      return { digest, size: bytes.byteLength };
    }

    const algorithm = options.digest ? algorithmOf(options.digest) : 'sha256';
    const hasher = createDigester(algorithm);
    let size = 0;
    const input = (inMemory ? [inMemory] : source) as AsyncIterable<Uint8Array>;
    const counted = async function* (): AsyncGenerator<Buffer> {
      // Small pieces (a compressor's stored blocks come as 5-byte headers and 64 KiB slices) are
      // joined into 1 MiB chunks first: one hash update, one write and one HTTP chunk each,
      // rather than dozens, on both sides of the connection.
      for await (const value of mode === 'stream' ? coalesce(input, STREAM_CHUNK) : input) {
        const chunk = toBuffer(value);
        hasher.update(chunk);
        size += chunk.byteLength;
        options.onProgress?.(size);
        yield chunk;
      }
    };
    if (mode === 'stream') {
      const response = await this.#request(action, scopes, {
        method: 'PATCH',
        url: location,
        headers: { 'content-type': 'application/octet-stream' },
        body: counted(),
        ...opt(options.signal),
      });
      location = await this.#nextLocation(response, action);
    } else {
      const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
      let offset = 0;
      for await (const chunk of rechunk(counted(), chunkSize)) {
        const start = offset;
        offset += chunk.byteLength;
        const response = await this.#request(action, scopes, {
          method: 'PATCH',
          url: location,
          headers: {
            'content-type': 'application/octet-stream',
            'content-length': String(chunk.byteLength),
            'content-range': `${start}-${offset - 1}`,
          },
          body: chunk,
          ...opt(options.signal),
        });
        location = await this.#nextLocation(response, action);
      }
    }
    const digest = `${algorithm}:${hasher.digest('hex')}` as Digest;
    if (options.digest && digest !== options.digest) {
      await this.#cancelUpload(location);
      throw new InvalidArgumentError(
        `Cannot ${action}: the content's digest is ${digest}, not ${options.digest}`,
      );
    }
    if (options.size !== undefined && size !== options.size) {
      await this.#cancelUpload(location);
      throw new InvalidArgumentError(`Cannot ${action}: ${size} bytes where ${options.size} were expected`);
    }
    location.searchParams.set('digest', digest);
    const response = await this.#request(action, scopes, {
      method: 'PUT',
      url: location,
      headers: { 'content-type': 'application/octet-stream', 'content-length': '0' },
      ...opt(options.signal),
    });
    await this.#expectCreated(response, action, digest);
    return { digest, size };
  }

  /** PUTs a manifest under a tag (or its digest); returns the digest the registry stored it as. */
  async putManifest(
    path: string,
    reference: string,
    bytes: Uint8Array,
    mediaType: string,
    signal?: AbortSignal,
  ): Promise<Digest> {
    const action = `push manifest ${this.#name(path, reference)}`;
    const body = toBuffer(bytes);
    const response = await this.#request(action, [repositoryScope(path, ['pull', 'push'])], {
      method: 'PUT',
      url: this.#url(`/v2/${path}/manifests/${reference}`),
      headers: { 'content-type': mediaType, 'content-length': String(body.byteLength) },
      body,
      ...opt(signal),
    });
    const answer = await response.bytes();
    if (response.status !== 201 && response.status !== 200)
      throw registryError(response.status, answer, action);
    const digest = digestBytes(body);
    const sent = response.header('docker-content-digest');
    if (sent && isDigest(sent) && sent !== digest && algorithmOf(sent) === 'sha256') {
      throw new InvalidArgumentError(`Cannot ${action}: the registry stored it as ${sent}, not ${digest}`);
    }
    return digest;
  }

  /** Every tag of a repository (following pagination). */
  async listTags(path: string, signal?: AbortSignal): Promise<string[]> {
    const tags: string[] = [];
    let url: URL | undefined = this.#url(`/v2/${path}/tags/list`);
    while (url) {
      const response = await this.#request(
        `list tags of ${this.#name(path)}`,
        [repositoryScope(path, ['pull'])],
        {
          method: 'GET',
          url,
          ...opt(signal),
        },
      );
      const body = await response.bytes();
      if (response.status !== 200)
        throw registryError(response.status, body, `list tags of ${this.#name(path)}`);
      const document = JSON.parse(body.toString('utf8')) as { tags?: unknown };
      if (Array.isArray(document.tags))
        tags.push(...document.tags.filter((t): t is string => typeof t === 'string'));
      url = nextLink(response.header('link'), response.url);
    }
    return tags;
  }

  /** Every repository of the registry (`/v2/_catalog`, following pagination). */
  async catalog(signal?: AbortSignal): Promise<string[]> {
    const repositories: string[] = [];
    let url: URL | undefined = this.#url('/v2/_catalog');
    url.searchParams.set('n', '1000');
    while (url) {
      const response = await this.#request(
        `list repositories of ${this.endpoint.domain}`,
        ['registry:catalog:*'],
        {
          method: 'GET',
          url,
          ...opt(signal),
        },
      );
      const body = await response.bytes();
      if (response.status !== 200) {
        throw registryError(response.status, body, `list repositories of ${this.endpoint.domain}`);
      }
      const document = JSON.parse(body.toString('utf8')) as { repositories?: unknown };
      if (Array.isArray(document.repositories)) {
        repositories.push(...document.repositories.filter((r): r is string => typeof r === 'string'));
      }
      url = nextLink(response.header('link'), response.url);
    }
    return repositories;
  }

  // ---- internals ----

  #url(path: string): URL {
    return new URL(path, this.endpoint.baseUrl);
  }

  #name(path: string, reference?: string): string {
    const base = `${this.endpoint.domain}/${path}`;
    if (reference === undefined) return base;
    return isDigest(reference) ? `${base}@${reference}` : `${base}:${reference}`;
  }

  /** Sends with the authorization `scopes` need; on 401, follows the challenge and tries once more. */
  async #request(_action: string, scopes: readonly string[], request: HttpRequest): Promise<HttpResponse> {
    const authorization = await this.#auth.authorization(scopes, request.signal);
    const send = (auth: string | undefined) =>
      this.#transport.send({
        ...request,
        headers: { ...request.headers, ...(auth ? { authorization: auth } : {}) },
      });
    const response = await send(authorization);
    if (response.status !== 401) return response;
    const challenge = response.headers['www-authenticate'];
    if (!replayable(request.body)) return response;
    let again = false;
    try {
      again = await this.#auth.challenge(challenge, scopes, request.signal, authorization);
    } catch (error) {
      await response.dump();
      throw error;
    }
    if (!again) return response;
    await response.dump();
    return send(await this.#auth.authorization(scopes, request.signal));
  }

  async #startUpload(path: string, scopes: readonly string[], signal?: AbortSignal): Promise<URL> {
    const action = `start an upload to ${this.#name(path)}`;
    const response = await this.#request(action, scopes, {
      method: 'POST',
      url: this.#url(`/v2/${path}/blobs/uploads/`),
      headers: { 'content-length': '0' },
      ...opt(signal),
    });
    return this.#nextLocation(response, action);
  }

  async #nextLocation(response: HttpResponse, action: string): Promise<URL> {
    const body = await response.bytes();
    if (response.status !== 202) throw registryError(response.status, body, action);
    const location = response.header('location');
    if (!location) throw new UnavailableError(`Cannot ${action}: the registry sent no Location`);
    return new URL(location, response.url);
  }

  async #expectCreated(response: HttpResponse, action: string, digest: Digest): Promise<void> {
    const body = await response.bytes();
    if (response.status !== 201) throw registryError(response.status, body, action);
    const sent = response.header('docker-content-digest');
    if (sent && isDigest(sent) && sent !== digest) {
      throw new InvalidArgumentError(`Cannot ${action}: the registry stored ${sent}, not ${digest}`);
    }
  }

  async #cancelUpload(location: URL): Promise<void> {
    try {
      const response = await this.#transport.send({ method: 'DELETE', url: location, retry: false });
      await response.dump();
    } catch {
      // the registry expires abandoned uploads anyway
    }
  }
}

function opt(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}

/** A concrete manifest media type (not empty, not a generic JSON type). */
function isSpecificType(mediaType: string): boolean {
  return (
    mediaType !== '' &&
    mediaType !== 'application/json' &&
    mediaType !== 'text/plain' &&
    mediaType !== 'application/octet-stream'
  );
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(toBuffer(chunk));
  return Buffer.concat(chunks);
}

/** Joins pieces smaller than `size` until they make at least `size` bytes; larger ones pass as they are. */
async function* coalesce(source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let length = 0;
  for await (const value of source) {
    const chunk = toBuffer(value);
    if (length === 0 && chunk.byteLength >= size) {
      yield chunk;
      continue;
    }
    pending.push(chunk);
    length += chunk.byteLength;
    if (length >= size) {
      yield Buffer.concat(pending, length);
      pending = [];
      length = 0;
    }
  }
  if (length > 0) yield pending.length === 1 ? pending[0]! : Buffer.concat(pending, length);
}

/** Regroups a stream into chunks of exactly `size` bytes (the last one shorter). */
async function* rechunk(source: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let length = 0;
  for await (const value of source) {
    let chunk = value;
    while (chunk.byteLength > 0) {
      const take = Math.min(size - length, chunk.byteLength);
      pending.push(chunk.subarray(0, take));
      length += take;
      chunk = chunk.subarray(take);
      if (length === size) {
        yield Buffer.concat(pending, length);
        pending = [];
        length = 0;
      }
    }
  }
  if (length > 0) yield Buffer.concat(pending, length);
}
