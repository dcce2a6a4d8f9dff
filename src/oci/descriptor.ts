/**
 * Content descriptors (OCI image spec 1.1, `descriptor.md`): what a manifest says about each blob
 * it references: media type, digest, size, and optionally urls, annotations, embedded data,
 * artifact type and platform.
 *
 * @example
 * const desc = DescriptorSchema.parse({ mediaType: MediaType.OciConfig, digest, size: 1234 });
 */
import { z } from 'zod';
import { type Digest, digestBytes, isDigest } from './digest.ts';
import { PlatformSchema } from './platform.ts';

/** A digest of a supported algorithm (sha256, sha512), typed as `Digest`. */
export const DigestSchema = z
  .string()
  .refine(isDigest, { message: 'must be a sha256 or sha512 digest (algorithm:lowercase-hex)' })
  .transform((value) => value as Digest);

/** `annotations`: string keys to string values. */
export const AnnotationsSchema = z.record(z.string(), z.string());

// A base64 string as RFC 4648 allows it (padding required, as Go's StdEncoding wants).
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The descriptor schema; unknown fields are kept (the spec says to ignore them, not drop them). */
export const DescriptorSchema = z.looseObject({
  mediaType: z.string().min(1, 'mediaType must not be empty'),
  digest: DigestSchema,
  size: z.number().int().nonnegative(),
  urls: z.array(z.string()).optional(),
  annotations: AnnotationsSchema.optional(),
  data: z.string().regex(BASE64, 'data must be base64').optional(),
  artifactType: z.string().optional(),
  platform: PlatformSchema.optional(),
});

export type Descriptor = z.infer<typeof DescriptorSchema>;

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
