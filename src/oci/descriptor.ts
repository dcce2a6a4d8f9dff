/**
 * Content descriptors (OCI image spec 1.1, `descriptor.md`): what a manifest says about each blob
 * it references: media type, digest, size, and optionally urls, annotations, embedded data,
 * artifact type and platform.
 *
 * @example
 * const desc = descriptorFor(MediaType.OciConfig, configBytes); // { mediaType, digest, size }
 */
import { type Digest, digestBytes, isDigest } from './digest.ts';
import {
  arrayOf,
  type Check,
  matching,
  nonEmptyString,
  nonNegativeInteger,
  object,
  optional,
  recordOf,
  string,
  stringWhere,
} from './json-shape.ts';
import { PLATFORM_SHAPE, type Platform } from './platform.ts';

/** A digest of a supported algorithm (sha256, sha512). */
export const DIGEST_SHAPE: Check = stringWhere(
  isDigest,
  'must be a sha256 or sha512 digest (algorithm:lowercase-hex)',
);

/** `annotations`: string keys to string values. */
export const ANNOTATIONS_SHAPE: Check = recordOf(string);

// A base64 string as RFC 4648 allows it (padding required, as Go's StdEncoding wants).
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A content descriptor; unknown fields are kept (the spec says to ignore them, not drop them). */
export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[] | undefined;
  annotations?: Record<string, string> | undefined;
  /** Embedded content, base64. */
  data?: string | undefined;
  artifactType?: string | undefined;
  platform?: Platform | undefined;
  [key: string]: unknown;
}

/** The shape check of a Descriptor. */
export const DESCRIPTOR_SHAPE: Check = object({
  mediaType: nonEmptyString('mediaType must not be empty'),
  digest: DIGEST_SHAPE,
  size: nonNegativeInteger,
  urls: optional(arrayOf(string)),
  annotations: optional(ANNOTATIONS_SHAPE),
  data: optional(matching(BASE64, 'data must be base64')),
  artifactType: optional(string),
  platform: optional(PLATFORM_SHAPE),
});

/**
 * A descriptor for in-memory bytes (a config or manifest about to be written).
 *
 * @example
 * const config = descriptorFor(MediaType.OciConfig, configBytes);
 */
export function descriptorFor(
  mediaType: string,
  bytes: Uint8Array | string,
  extra: Partial<Omit<Descriptor, 'mediaType' | 'digest' | 'size'>> = {},
): Descriptor {
  const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength;
  return { mediaType, digest: digestBytes(bytes), size, ...extra };
}

/**
 * Checks embedded `data` against the descriptor's size and digest, as the spec requires of
 * consumers that use it. Returns the decoded bytes, or undefined when there is no data.
 */
export function embeddedData(descriptor: Descriptor): Buffer | undefined {
  if (descriptor.data === undefined) return undefined;
  const bytes = Buffer.from(descriptor.data, 'base64');
  if (
    bytes.byteLength !== descriptor.size ||
    digestBytes(bytes, algorithmOfDescriptor(descriptor)) !== descriptor.digest
  ) {
    return undefined;
  }
  return bytes;
}

function algorithmOfDescriptor(descriptor: Descriptor): 'sha256' | 'sha512' {
  return descriptor.digest.startsWith('sha512:') ? 'sha512' : 'sha256';
}
