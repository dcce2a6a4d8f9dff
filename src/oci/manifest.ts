/**
 * Manifests and indexes: the OCI image manifest and image index (spec 1.1, with `artifactType`,
 * `subject` and `annotations`) and Docker's schema 2 manifest and manifest list. `parseManifest`
 * validates untrusted bytes and returns a typed union plus every descriptor the document
 * references, which is what a registry checks on PUT and what garbage collection walks.
 *
 * @example
 * const parsed = parseManifest(bytes, request.headers['content-type']);
 * if (parsed.kind === 'manifest') console.log(parsed.config.digest, parsed.layers.length);
 */
import { InvalidArgumentError } from '../errors/index.ts';
import { ANNOTATIONS_SHAPE, DESCRIPTOR_SHAPE, type Descriptor } from './descriptor.ts';
import { type Digest, digestBytes } from './digest.ts';
import { arrayOf, type Check, literal, object, optional, ShapeError, string } from './json-shape.ts';
import {
  baseMediaType,
  isIndexMediaType,
  isManifestMediaType,
  isSchema1MediaType,
  MediaType,
} from './media-types.ts';

const schemaVersion2 = literal(2, 'schemaVersion must be 2');

/** OCI image manifest (`application/vnd.oci.image.manifest.v1+json`). */
export interface OciManifest {
  schemaVersion: 2;
  mediaType?: typeof MediaType.OciManifest | undefined;
  artifactType?: string | undefined;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor | undefined;
  annotations?: Record<string, string> | undefined;
  [key: string]: unknown;
}

const OCI_MANIFEST_SHAPE: Check = object({
  schemaVersion: schemaVersion2,
  mediaType: optional(literal(MediaType.OciManifest)),
  artifactType: optional(string),
  config: DESCRIPTOR_SHAPE,
  layers: arrayOf(DESCRIPTOR_SHAPE),
  subject: optional(DESCRIPTOR_SHAPE),
  annotations: optional(ANNOTATIONS_SHAPE),
});

/** OCI image index (`application/vnd.oci.image.index.v1+json`). */
export interface OciIndex {
  schemaVersion: 2;
  mediaType?: typeof MediaType.OciIndex | undefined;
  artifactType?: string | undefined;
  manifests: Descriptor[];
  subject?: Descriptor | undefined;
  annotations?: Record<string, string> | undefined;
  [key: string]: unknown;
}

const OCI_INDEX_SHAPE: Check = object({
  schemaVersion: schemaVersion2,
  mediaType: optional(literal(MediaType.OciIndex)),
  artifactType: optional(string),
  manifests: arrayOf(DESCRIPTOR_SHAPE),
  subject: optional(DESCRIPTOR_SHAPE),
  annotations: optional(ANNOTATIONS_SHAPE),
});

/** Docker image manifest V2 schema 2 (its `mediaType` field is required). */
export interface DockerManifest {
  schemaVersion: 2;
  mediaType: typeof MediaType.DockerManifest;
  config: Descriptor;
  layers: Descriptor[];
  [key: string]: unknown;
}

const DOCKER_MANIFEST_SHAPE: Check = object({
  schemaVersion: schemaVersion2,
  mediaType: literal(MediaType.DockerManifest),
  config: DESCRIPTOR_SHAPE,
  layers: arrayOf(DESCRIPTOR_SHAPE),
});

/** Docker manifest list (`application/vnd.docker.distribution.manifest.list.v2+json`). */
export interface DockerManifestList {
  schemaVersion: 2;
  mediaType: typeof MediaType.DockerManifestList;
  manifests: Descriptor[];
  [key: string]: unknown;
}

const DOCKER_MANIFEST_LIST_SHAPE: Check = object({
  schemaVersion: schemaVersion2,
  mediaType: literal(MediaType.DockerManifestList),
  manifests: arrayOf(DESCRIPTOR_SHAPE),
});

/** Why a manifest was refused; lets a registry pick MANIFEST_INVALID vs MANIFEST_UNSUPPORTED... */
export type ManifestErrorReason =
  | 'invalid-json'
  | 'unknown-media-type'
  | 'media-type-mismatch'
  | 'invalid-schema';

/** A manifest that cannot be parsed; an InvalidArgumentError with a machine-readable reason. */
export class ManifestError extends InvalidArgumentError {
  constructor(
    readonly reason: ManifestErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

interface ParsedCommon {
  /** The media type the document was parsed as (its own field, the given one, or the detected one). */
  mediaType: string;
  /** sha256 of the exact bytes parsed. */
  digest: Digest;
  size: number;
  /** `artifactType` of an OCI manifest or index, if any. */
  artifactType?: string;
  subject?: Descriptor;
  annotations?: Record<string, string>;
  /** Every descriptor referenced: config, layers, manifests and subject, in document order. */
  references: Descriptor[];
}

export interface ParsedImageManifest extends ParsedCommon {
  kind: 'manifest';
  manifest: OciManifest | DockerManifest;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ParsedIndex extends ParsedCommon {
  kind: 'index';
  manifest: OciIndex | DockerManifestList;
  manifests: Descriptor[];
}

export type ParsedManifest = ParsedImageManifest | ParsedIndex;

/**
 * Guesses the media type of a document that carries none, as the OCI spec allows: `manifests`
 * means an OCI index, `config` an OCI manifest. Returns undefined when neither fits.
 */
export function detectManifestMediaType(document: unknown): string | undefined {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return undefined;
  const record = document as Record<string, unknown>;
  if (typeof record.mediaType === 'string') return record.mediaType;
  if (record.schemaVersion === 1) return MediaType.DockerSchema1Manifest;
  if (Array.isArray(record.manifests)) return MediaType.OciIndex;
  if (typeof record.config === 'object' && record.config !== null) return MediaType.OciManifest;
  return undefined;
}

// Content-Types a client may send that say nothing about which manifest it is.
const GENERIC_TYPES = new Set(['', 'application/json', 'application/octet-stream', 'text/plain']);

/**
 * Parses and validates a manifest or index. `mediaType` is the type the caller was told (a
 * Content-Type header, a descriptor's mediaType); when given, the document's own `mediaType`
 * field must agree with it. Throws ManifestError (an InvalidArgumentError) on invalid JSON,
 * unknown or mismatched media types and schema violations, with the reason in the message.
 */
export function parseManifest(bytes: Uint8Array | string, mediaType?: string): ParsedManifest {
  const buffer =
    typeof bytes === 'string'
      ? Buffer.from(bytes)
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let document: unknown;
  try {
    document = JSON.parse(buffer.toString('utf8'));
  } catch (error) {
    throw new ManifestError(
      'invalid-json',
      `Cannot parse manifest: invalid JSON (${(error as Error).message})`,
      {
        cause: error,
      },
    );
  }
  const given = mediaType === undefined ? undefined : baseMediaType(mediaType);
  const own = detectManifestMediaType(document);
  let effective: string | undefined;
  if (given !== undefined && !GENERIC_TYPES.has(given)) {
    const ownField = (document as { mediaType?: unknown } | null)?.mediaType;
    if (typeof ownField === 'string' && baseMediaType(ownField) !== given) {
      throw new ManifestError(
        'media-type-mismatch',
        `Cannot parse manifest: its mediaType "${ownField}" does not match "${given}"`,
      );
    }
    effective = given;
  } else {
    effective = own === undefined ? undefined : baseMediaType(own);
  }
  if (effective === undefined) {
    throw new ManifestError(
      'unknown-media-type',
      'Cannot parse manifest: no mediaType, and neither "config" nor "manifests" to tell its kind',
    );
  }
  if (isSchema1MediaType(effective)) {
    throw new ManifestError(
      'unknown-media-type',
      `Cannot parse manifest: Docker schema 1 (${effective}) is not supported; push the image with a current client`,
    );
  }
  const digest = digestBytes(buffer);
  const size = buffer.byteLength;
  if (isManifestMediaType(effective)) {
    const shape = effective === MediaType.DockerManifest ? DOCKER_MANIFEST_SHAPE : OCI_MANIFEST_SHAPE;
    const manifest = validate<OciManifest | DockerManifest>(shape, document, effective);
    const subject = 'subject' in manifest ? (manifest as OciManifest).subject : undefined;
    const references = [manifest.config, ...manifest.layers, ...(subject ? [subject] : [])];
    return withOptional(
      {
        kind: 'manifest',
        mediaType: effective,
        digest,
        size,
        manifest,
        config: manifest.config,
        layers: manifest.layers,
        references,
      },
      manifest as OciManifest,
    );
  }
  if (isIndexMediaType(effective)) {
    const shape = effective === MediaType.DockerManifestList ? DOCKER_MANIFEST_LIST_SHAPE : OCI_INDEX_SHAPE;
    const manifest = validate<OciIndex | DockerManifestList>(shape, document, effective);
    const subject = 'subject' in manifest ? (manifest as OciIndex).subject : undefined;
    const references = [...manifest.manifests, ...(subject ? [subject] : [])];
    return withOptional(
      {
        kind: 'index',
        mediaType: effective,
        digest,
        size,
        manifest,
        manifests: manifest.manifests,
        references,
      },
      manifest as OciIndex,
    );
  }
  throw new ManifestError('unknown-media-type', `Cannot parse manifest: unknown media type "${effective}"`);
}

function withOptional<T extends ParsedCommon>(parsed: T, document: OciManifest | OciIndex): T {
  if (document.artifactType !== undefined) parsed.artifactType = document.artifactType;
  if (document.subject !== undefined) parsed.subject = document.subject;
  if (document.annotations !== undefined) parsed.annotations = document.annotations;
  return parsed;
}

function validate<T>(shape: Check, document: unknown, mediaType: string): T {
  try {
    shape(document, '');
  } catch (error) {
    if (!(error instanceof ShapeError)) throw error;
    throw new ManifestError('invalid-schema', `Cannot parse manifest (${mediaType}): ${error.message}`, {
      cause: error,
    });
  }
  return document as T;
}

/**
 * Serializes a manifest or index as Wharf writes them (stable key order as given, 3-space
 * indentation as containerd/dockerd do for readability). The digest is over these exact bytes.
 */
export function serializeManifest(
  manifest: OciManifest | OciIndex | DockerManifest | DockerManifestList,
): Buffer {
  return Buffer.from(JSON.stringify(manifest, null, 3));
}
