/**
 * Which endpoint of the distribution API a request path names. Repository names contain slashes,
 * so routes are matched here, as distribution's `v2/routes.go` does, rather than by Fastify's
 * router: one wildcard route hands every `/v2/...` request to `resolveRoute`, which also checks
 * the name, digest and tag grammar (spec: `<name>`, `<reference>`) and answers 400 for bad ones.
 *
 * @example
 * resolveRoute('/v2/library/alpine/manifests/3.20'); // { kind: 'manifest', name: 'library/alpine', reference: { tag: '3.20' } }
 */
import { type Digest, isDigestSyntax, parseDigest } from '../../oci/digest.ts';
import { isValidRepositoryName, isValidTag } from '../../oci/reference.ts';
import { RegistryError } from '../errcode.ts';

export type Route =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'tags'; name: string }
  | { kind: 'manifest'; name: string; reference: { tag: string } | { digest: Digest } }
  | { kind: 'blob'; name: string; digest: Digest }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; id: string }
  | { kind: 'referrers'; name: string; digest: Digest };

const BASE = /^\/v2\/?$/;
const CATALOG = /^\/v2\/_catalog\/?$/;
const TAGS = /^\/v2\/(.+)\/tags\/list\/?$/;
const MANIFEST = /^\/v2\/(.+)\/manifests\/([^/]+)$/;
const UPLOADS = /^\/v2\/(.+)\/blobs\/uploads\/?$/;
const UPLOAD = /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/;
const BLOB = /^\/v2\/(.+)\/blobs\/([^/]+)$/;
const REFERRERS = /^\/v2\/(.+)\/referrers\/([^/]+)$/;

/** The route of a request path (without its query), or undefined for paths outside the API. */
export function resolveRoute(path: string): Route | undefined {
  let match: RegExpExecArray | null;
  if (BASE.test(path)) return { kind: 'base' };
  if (CATALOG.test(path)) return { kind: 'catalog' };
  if ((match = TAGS.exec(path))) return { kind: 'tags', name: checkName(match[1]!) };
  if ((match = MANIFEST.exec(path))) {
    return {
      kind: 'manifest',
      name: checkName(match[1]!),
      reference: parseManifestReference(decode(match[2]!)),
    };
  }
  if ((match = UPLOADS.exec(path))) return { kind: 'uploads', name: checkName(match[1]!) };
  if ((match = UPLOAD.exec(path)))
    return { kind: 'upload', name: checkName(match[1]!), id: decode(match[2]!) };
  if ((match = BLOB.exec(path))) {
    return { kind: 'blob', name: checkName(match[1]!), digest: checkDigest(decode(match[2]!)) };
  }
  if ((match = REFERRERS.exec(path))) {
    return { kind: 'referrers', name: checkName(match[1]!), digest: checkDigest(decode(match[2]!)) };
  }
  return undefined;
}

/** Validates a repository name (`NAME_INVALID`). */
export function checkName(name: string): string {
  if (!isValidRepositoryName(name)) {
    throw new RegistryError('NAME_INVALID', {
      message: `invalid repository name "${truncate(name)}"`,
      detail: { name: truncate(name) },
    });
  }
  return name;
}

/** Validates a digest of a supported algorithm (`DIGEST_INVALID`). */
export function checkDigest(value: string): Digest {
  try {
    parseDigest(value);
  } catch (error) {
    throw new RegistryError('DIGEST_INVALID', {
      message: `invalid digest "${truncate(value)}": ${(error as Error).message.replace(/^Cannot parse digest "[^"]*": /, '')}`,
      detail: { digest: truncate(value) },
    });
  }
  return value as Digest;
}

/** Validates a tag (`NAME_INVALID`: the spec's list has no code of its own for a bad tag). */
export function checkTag(value: string): string {
  if (!isValidTag(value)) {
    throw new RegistryError('NAME_INVALID', {
      message: `invalid tag "${truncate(value)}"`,
      detail: { tag: truncate(value) },
    });
  }
  return value;
}

/** A manifest `<reference>`: a digest when it looks like one, else a tag. */
export function parseManifestReference(value: string): { tag: string } | { digest: Digest } {
  if (value.includes(':') || isDigestSyntax(value)) return { digest: checkDigest(value) };
  return { tag: checkTag(value) };
}

function decode(segment: string): string {
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // left encoded: the grammar checks refuse it
  }
}

function truncate(value: string): string {
  return value.length > 300 ? `${value.slice(0, 300)}…` : value;
}
