/**
 * The handlers of the distribution API, one per endpoint of the spec's table (end-1 … end-14)
 * plus `_catalog`. Each takes the resolved route and answers with the spec's statuses and
 * headers; failures are thrown as RegistryError and rendered by the app's error handler.
 * Request bodies of blobs and uploads are streamed straight from the socket; only manifests
 * (at most 4 MiB) are read into memory.
 *
 * @example
 * await HANDLERS.blob.GET(context, route, request, reply);
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Digest, DigestAlgorithm } from '../../oci/digest.ts';
import { isIndexMediaType, MediaType } from '../../oci/media-types.ts';
import type { BlobService } from '../blob-service.ts';
import { crashPoint } from '../crash-points.ts';
import { RegistryError } from '../errcode.ts';
import { MANIFEST_SIZE_LIMIT, type ManifestService } from '../manifest-service.ts';
import type { ManifestRecord, MetadataStore } from '../metadata/metadata-store.ts';
import { type ChunkRange, rangeHeader, type UploadManager, uploadLocation } from '../upload-manager.ts';
import { acceptsMediaType } from './accept.ts';
import type { AccessGrant } from './access.ts';
import { parseContentRange, parseRangeHeader } from './ranges.ts';
import { checkDigest, checkName, checkTag, type Route } from './route.ts';

/** What happens around manifests beyond storing and serving them (the scanner's: src/registry/scan/). */
export interface ManifestHooks {
  /** Before a manifest's content is served (GET, not HEAD); throws RegistryError to refuse it. */
  beforeServe(repository: string, record: ManifestRecord): Promise<void>;
  /** After a manifest PUT is committed; must neither throw nor make the push wait. */
  afterPut(repository: string, record: ManifestRecord): void;
}

export interface HandlerContext {
  blobs: BlobService;
  uploads: UploadManager;
  manifests: ManifestService;
  metadata: MetadataStore;
  hooks?: ManifestHooks;
}

type RouteOf<K extends Route['kind']> = Extract<Route, { kind: K }>;
type Handler<K extends Route['kind']> = (
  context: HandlerContext,
  route: RouteOf<K>,
  request: FastifyRequest,
  reply: FastifyReply,
  grant: AccessGrant,
) => Promise<unknown>;

/** The most tags or repositories one list answer holds; larger `n` get this many and a `Link`. */
const LIST_LIMIT = 10_000;
/** `_catalog` without `n` answers this many entries (and a `Link` when there are more). */
const CATALOG_DEFAULT = 1000;

type Query = Record<string, string | string[] | undefined>;

function queryOf(request: FastifyRequest): Query {
  return (request.query ?? {}) as Query;
}

/** One value of a query parameter (the first when repeated). */
function param(query: Query, name: string): string | undefined {
  const value = query[name];
  return Array.isArray(value) ? value[0] : value;
}

function params(query: Query, name: string): string[] {
  const value = query[name];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** Whether the request carries a body (a non-zero Content-Length or chunked transfer). */
function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return request.headers['transfer-encoding'] !== undefined;
}

function contentLength(request: FastifyRequest): number | undefined {
  const value = request.headers['content-length'];
  if (value === undefined) return undefined;
  const length = Number(value);
  return Number.isSafeInteger(length) && length >= 0 ? length : undefined;
}

/** The `Content-Range` of an upload chunk, checked against `Content-Length`. */
function chunkRange(request: FastifyRequest): ChunkRange | undefined {
  const header = request.headers['content-range'];
  if (header === undefined) return undefined;
  const range = parseContentRange(header);
  if (!range) {
    throw new RegistryError('BLOB_UPLOAD_INVALID', {
      message: `invalid Content-Range "${header}": expected <start>-<end>`,
    });
  }
  const length = contentLength(request);
  if (length !== undefined && range.end >= range.start && length !== range.end - range.start + 1) {
    throw new RegistryError('SIZE_INVALID', {
      message: `Content-Range ${range.start}-${range.end} is ${range.end - range.start + 1} bytes but Content-Length is ${length}`,
    });
  }
  return range;
}

function digestAlgorithmParam(query: Query): DigestAlgorithm | undefined {
  const value = param(query, 'digest-algorithm');
  if (value === undefined) return undefined;
  if (value !== 'sha256' && value !== 'sha512') {
    throw new RegistryError('DIGEST_INVALID', {
      message: `unsupported digest algorithm "${value}" (sha256 and sha512 are)`,
      detail: { algorithm: value },
    });
  }
  return value;
}

/** Parses `n` of a list request: a non-negative integer. */
function pageSize(query: Query): number | undefined {
  const value = param(query, 'n');
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value)) {
    throw new RegistryError('UNSUPPORTED', {
      status: 400,
      message: `invalid pagination number "${value}": n must be a non-negative integer`,
      detail: { n: value },
    });
  }
  return Math.min(Number(value), LIST_LIMIT);
}

function nextLink(path: string, n: number, last: string): string {
  return `<${path}?n=${n}&last=${encodeURIComponent(last)}>; rel="next"`;
}

async function readLimited(body: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.byteLength;
    if (total > limit) throw manifestTooLarge();
    chunks.push(chunk);
    if (chunks.length === 1) crashPoint('manifest.mid-body');
  }
  return Buffer.concat(chunks, total);
}

function manifestTooLarge(): RegistryError {
  return new RegistryError('MANIFEST_INVALID', {
    status: 413,
    message: `manifest is larger than the ${MANIFEST_SIZE_LIMIT} bytes this registry accepts`,
  });
}

function blobLocation(name: string, digest: Digest): string {
  return `/v2/${name}/blobs/${digest}`;
}

function blobUnknown(digest: Digest): RegistryError {
  return new RegistryError('BLOB_UNKNOWN', { detail: { digest } });
}

function manifestUnknown(reference: { tag: string } | { digest: Digest }): RegistryError {
  return new RegistryError('MANIFEST_UNKNOWN', { detail: reference });
}

// --- end-1: the API version check --------------------------------------------------------------

const base: Handler<'base'> = async (_context, _route, request, reply) => {
  reply.header('content-type', 'application/json');
  if (request.method === 'HEAD') return reply.header('content-length', '2').send();
  return reply.send(Buffer.from('{}'));
};

// --- end-2, end-10: blobs ----------------------------------------------------------------------

const blob: Handler<'blob'> = async (context, route, request, reply) => {
  if (request.method === 'DELETE') {
    if (!(await context.blobs.delete(route.name, route.digest))) throw blobUnknown(route.digest);
    return reply.code(202).header('content-length', '0').send();
  }
  const record = await context.blobs.stat(route.name, route.digest);
  if (!record) throw blobUnknown(route.digest);
  reply.header('docker-content-digest', record.digest);
  reply.header('etag', `"${record.digest}"`);
  reply.header('accept-ranges', 'bytes');
  reply.header('cache-control', 'max-age=31536000');
  reply.header('content-type', 'application/octet-stream');
  if (request.method === 'HEAD') return reply.header('content-length', String(record.size)).send();
  const range = parseRangeHeader(request.headers.range, record.size);
  if (range.kind === 'unsatisfiable') {
    return reply
      .code(416)
      .header('content-range', `bytes */${record.size}`)
      .header('content-length', '0')
      .send();
  }
  const offset = range.kind === 'partial' ? range.start : 0;
  const length = range.kind === 'partial' ? range.end - range.start + 1 : record.size;
  const stream = await context.blobs.open(record, { offset, length });
  if (range.kind === 'partial') {
    reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${record.size}`);
  }
  return reply.header('content-length', String(length)).send(stream);
};

// --- end-4, end-11: starting uploads, single-POST uploads, mounts ------------------------------

const uploads: Handler<'uploads'> = async (context, route, request, reply, grant) => {
  const query = queryOf(request);
  const mount = param(query, 'mount');
  if (mount !== undefined) {
    const digest = checkDigest(mount);
    const fromParam = param(query, 'from');
    const from = fromParam === undefined || fromParam === '' ? undefined : checkName(fromParam);
    // A source the caller may not read is treated as unknown: an ordinary upload instead (as distribution).
    const readable = from === undefined || (await grant.canPull(from));
    const visible = from === undefined ? await grant.visibleProjects() : undefined;
    const mounted = readable ? await context.blobs.mount(route.name, digest, from, visible) : undefined;
    if (mounted) {
      return reply
        .code(201)
        .header('location', blobLocation(route.name, digest))
        .header('docker-content-digest', digest)
        .header('content-length', '0')
        .send();
    }
    // Unknown blob (or not in `from`): fall back to an ordinary upload session (202).
  }
  const digestParam = mount === undefined ? param(query, 'digest') : undefined;
  if (digestParam !== undefined) {
    const digest = checkDigest(digestParam);
    const record = await context.uploads.uploadMonolithic(route.name, digest, request.raw);
    return reply
      .code(201)
      .header('location', blobLocation(route.name, record.digest))
      .header('docker-content-digest', record.digest)
      .header('content-length', '0')
      .send();
  }
  const algorithm = digestAlgorithmParam(query);
  const session = await context.uploads.create(route.name, algorithm);
  return reply
    .code(202)
    .header('location', uploadLocation(session))
    .header('range', rangeHeader(0))
    .header('docker-upload-uuid', session.id)
    .header('content-length', '0')
    .send();
};

// --- end-5, end-6, end-13, end-14: one upload session -----------------------------------------

const upload: Handler<'upload'> = async (context, route, request, reply) => {
  const session = { repository: route.name, id: route.id };
  switch (request.method) {
    case 'GET': {
      const size = await context.uploads.status(route.name, route.id);
      return reply
        .code(204)
        .header('location', uploadLocation(session))
        .header('range', rangeHeader(size))
        .header('docker-upload-uuid', route.id)
        .send();
    }
    case 'PATCH': {
      const range = chunkRange(request);
      const size = await context.uploads.append(route.name, route.id, request.raw, range);
      return reply
        .code(202)
        .header('location', uploadLocation(session))
        .header('range', rangeHeader(size))
        .header('docker-upload-uuid', route.id)
        .header('content-length', '0')
        .send();
    }
    case 'PUT': {
      const digestParam = param(queryOf(request), 'digest');
      if (digestParam === undefined) {
        throw new RegistryError('DIGEST_INVALID', { message: 'the closing PUT of an upload needs ?digest=' });
      }
      const digest = checkDigest(digestParam);
      const range = chunkRange(request);
      const body = hasBody(request) ? request.raw : undefined;
      const record = await context.uploads.complete(route.name, route.id, digest, body, range);
      return reply
        .code(201)
        .header('location', blobLocation(route.name, record.digest))
        .header('docker-content-digest', record.digest)
        .header('content-length', '0')
        .send();
    }
    case 'DELETE':
      await context.uploads.cancel(route.name, route.id);
      return reply.code(204).send();
    default:
      throw methodNotAllowed(request.method);
  }
};

// --- end-3, end-7, end-9: manifests ------------------------------------------------------------

const manifest: Handler<'manifest'> = async (context, route, request, reply) => {
  switch (request.method) {
    case 'GET':
    case 'HEAD': {
      let record = await context.manifests.stat(route.name, route.reference);
      if (!record) throw manifestUnknown(route.reference);
      const accept = request.headers.accept;
      if (!acceptsMediaType(accept, record.mediaType)) {
        const fallback = isIndexMediaType(record.mediaType)
          ? await context.manifests.defaultPlatformManifest(route.name, record, (type) =>
              acceptsMediaType(accept, type),
            )
          : undefined;
        if (!fallback) {
          throw new RegistryError('MANIFEST_UNKNOWN', {
            message: `manifest is ${record.mediaType}, which the Accept header does not admit`,
            detail: { ...route.reference, mediaType: record.mediaType },
          });
        }
        record = fallback;
      }
      // HEAD is never refused: clients resolve a tag and check a manifest before a push with it,
      // and a refusal without a body cannot say why (Harbor's policy is on GET alone too)
      if (request.method !== 'HEAD') await context.hooks?.beforeServe(route.name, record);
      reply
        .header('content-type', record.mediaType)
        .header('docker-content-digest', record.digest)
        .header('etag', `"${record.digest}"`);
      if (request.method === 'HEAD') return reply.header('content-length', String(record.size)).send();
      return reply.send(await context.manifests.payload(record));
    }
    case 'PUT': {
      const length = contentLength(request);
      if (length !== undefined && length > MANIFEST_SIZE_LIMIT) throw manifestTooLarge();
      const tags = params(queryOf(request), 'tag').map(checkTag);
      const bytes = await readLimited(request.raw, MANIFEST_SIZE_LIMIT);
      const { record } = await context.manifests.put(
        route.name,
        route.reference,
        bytes,
        request.headers['content-type'],
        tags,
      );
      context.hooks?.afterPut(route.name, record);
      reply
        .code(201)
        .header('location', `/v2/${route.name}/manifests/${record.digest}`)
        .header('docker-content-digest', record.digest)
        .header('content-length', '0');
      if (record.subject) reply.header('oci-subject', record.subject);
      if (tags.length > 0) reply.header('oci-tag', tags.join(', '));
      return reply.send();
    }
    case 'DELETE': {
      const deleted =
        'digest' in route.reference
          ? await context.manifests.delete(route.name, route.reference.digest)
          : await context.manifests.deleteTag(route.name, route.reference.tag);
      if (!deleted) throw manifestUnknown(route.reference);
      return reply.code(202).header('content-length', '0').send();
    }
    default:
      throw methodNotAllowed(request.method);
  }
};

// --- end-8: tags; _catalog ---------------------------------------------------------------------

const tags: Handler<'tags'> = async (context, route, request, reply) => {
  const query = queryOf(request);
  const n = pageSize(query);
  const last = param(query, 'last');
  const page: { limit?: number; after?: string } = {};
  if (n !== undefined) page.limit = n + 1;
  if (last !== undefined) page.after = last;
  const list = await context.metadata.listTags(route.name, n === 0 ? { limit: 0 } : page);
  if (list === undefined) throw new RegistryError('NAME_UNKNOWN', { detail: { name: route.name } });
  if (n !== undefined && n > 0 && list.length > n) {
    list.length = n;
    reply.header('link', nextLink(`/v2/${route.name}/tags/list`, n, list[n - 1]!));
  }
  return reply
    .header('content-type', 'application/json')
    .send(Buffer.from(JSON.stringify({ name: route.name, tags: list })));
};

const catalog: Handler<'catalog'> = async (context, _route, request, reply, grant) => {
  const query = queryOf(request);
  const n = pageSize(query) ?? CATALOG_DEFAULT;
  const last = param(query, 'last');
  const page: { limit: number; after?: string; projects?: readonly string[] } = { limit: n + 1 };
  if (last !== undefined) page.after = last;
  // Under access control: only the repositories of projects the caller may see.
  const projects = await grant.visibleProjects();
  if (projects !== undefined) page.projects = projects;
  const list = n === 0 ? [] : await context.metadata.listRepositories(page);
  if (n > 0 && list.length > n) {
    list.length = n;
    reply.header('link', nextLink('/v2/_catalog', n, list[n - 1]!));
  }
  return reply
    .header('content-type', 'application/json')
    .send(Buffer.from(JSON.stringify({ repositories: list })));
};

// --- end-12: referrers -------------------------------------------------------------------------

const referrers: Handler<'referrers'> = async (context, route, request, reply) => {
  const artifactType = param(queryOf(request), 'artifactType');
  const filter = artifactType === undefined || artifactType === '' ? undefined : artifactType;
  const records = await context.metadata.listReferrers(route.name, route.digest, filter);
  const manifests = records.map((record) => {
    const descriptor: Record<string, unknown> = {
      mediaType: record.mediaType,
      digest: record.digest,
      size: record.size,
    };
    if (record.artifactType !== undefined) descriptor.artifactType = record.artifactType;
    if (record.annotations !== undefined) descriptor.annotations = record.annotations;
    return descriptor;
  });
  if (filter !== undefined) reply.header('oci-filters-applied', 'artifactType');
  return reply
    .header('content-type', MediaType.OciIndex)
    .send(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests })));
};

export function methodNotAllowed(method: string): RegistryError {
  return new RegistryError('UNSUPPORTED', { message: `method ${method} is not allowed on this endpoint` });
}

/** Which methods each endpoint answers (others get 405 UNSUPPORTED). */
export const ALLOWED_METHODS: Record<Route['kind'], readonly string[]> = {
  base: ['GET', 'HEAD'],
  catalog: ['GET'],
  tags: ['GET'],
  manifest: ['GET', 'HEAD', 'PUT', 'DELETE'],
  blob: ['GET', 'HEAD', 'DELETE'],
  uploads: ['POST'],
  upload: ['GET', 'PATCH', 'PUT', 'DELETE'],
  referrers: ['GET'],
};

export const HANDLERS: { [K in Route['kind']]: Handler<K> } = {
  base,
  catalog,
  tags,
  manifest,
  blob,
  uploads,
  upload,
  referrers,
};
