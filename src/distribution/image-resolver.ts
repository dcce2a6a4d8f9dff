/**
 * From a reference to everything a pull needs before the layers: the descriptor the tag points
 * at, the index (if any) and the manifest chosen from it for the platform (`--platform`, default
 * the host's, containerd's matching rules), the image manifest checked to be an image (known
 * config and layer media types) and its config, every document verified against its digest.
 *
 * @example
 * const image = await resolveImage(client, parseDockerRef('localhost:5000/app'), { platform });
 * image.manifest.parsed.layers; // the layer descriptors to fetch
 * image.config.parsed.rootfs.diff_ids;
 */
import { InvalidArgumentError, NotFoundError } from '../errors/index.ts';
import type { Descriptor } from '../oci/descriptor.ts';
import { type ImageConfig, parseImageConfig } from '../oci/image-config.ts';
import { type ParsedImageManifest, type ParsedIndex, parseManifest } from '../oci/manifest.ts';
import {
  isConfigMediaType,
  isIndexMediaType,
  isLayerMediaType,
  isManifestMediaType,
  isSchema1MediaType,
} from '../oci/media-types.ts';
import {
  formatPlatform,
  hostPlatform,
  type Platform,
  platformMatches,
  selectPlatformManifest,
} from '../oci/platform.ts';
import type { Reference } from '../oci/reference.ts';
import type { RegistryClient } from './registry-client.ts';
import { withReason } from './registry-errors.ts';
import { verifyContent } from './verify-content.ts';

export interface ResolveImageOptions {
  /** The platform wanted; default: the host's. */
  platform?: Platform;
  /** True when the platform was asked for explicitly (`--platform`): a mismatch is then an error. */
  strictPlatform?: boolean;
  signal?: AbortSignal;
}

export interface ResolvedImage {
  reference: Reference;
  /** What the reference points at: an index or a manifest. Its digest is the repo digest. */
  target: Descriptor;
  index?: { bytes: Buffer; parsed: ParsedIndex };
  manifest: { descriptor: Descriptor; bytes: Buffer; parsed: ParsedImageManifest };
  config: { descriptor: Descriptor; bytes: Buffer; parsed: ImageConfig };
}

function failure(
  kind: typeof InvalidArgumentError | typeof NotFoundError,
  what: string,
  reason: string,
): InvalidArgumentError | NotFoundError {
  return withReason(new kind(`Cannot pull ${what}: ${reason}`), reason);
}

/** How many nested indexes are followed before giving up. */
const MAX_INDEX_DEPTH = 4;

function checkMediaType(mediaType: string, what: string): void {
  if (isSchema1MediaType(mediaType)) {
    throw failure(
      InvalidArgumentError,
      what,
      `Docker Image manifest version 2, schema 1 is not supported; push it again with a current client`,
    );
  }
  if (!isManifestMediaType(mediaType) && !isIndexMediaType(mediaType)) {
    throw failure(InvalidArgumentError, what, `unsupported manifest media type "${mediaType}"`);
  }
}

/** Resolves `reference` (normalized, with a tag or digest) on `client`'s registry. */
export async function resolveImage(
  client: RegistryClient,
  reference: Reference,
  options: ResolveImageOptions = {},
): Promise<ResolvedImage> {
  const what = `${reference.domain}/${reference.path}${reference.digest ? `@${reference.digest}` : `:${reference.tag ?? 'latest'}`}`;
  const signal = options.signal;
  const target = await client.resolve(reference.path, reference.digest ?? reference.tag ?? 'latest', signal);
  const want = options.platform ?? hostPlatform();

  let descriptor: Descriptor = target;
  let index: ResolvedImage['index'];
  for (let depth = 0; ; depth++) {
    const fetched = await client.fetchManifest(reference.path, descriptor.digest, {
      expected: descriptor,
      ...(signal ? { signal } : {}),
    });
    const declared = fetched.mediaType || descriptor.mediaType;
    const parsed = parseManifest(
      fetched.bytes,
      declared === 'application/json' ? undefined : declared || undefined,
    );
    checkMediaType(parsed.mediaType, what);
    const described: Descriptor = {
      ...descriptor,
      mediaType: parsed.mediaType,
      size: fetched.bytes.byteLength,
    };
    if (parsed.kind === 'index') {
      if (depth >= MAX_INDEX_DEPTH) throw failure(InvalidArgumentError, what, `indexes nested too deep`);
      index ??= { bytes: fetched.bytes, parsed };
      const chosen = selectPlatformManifest(parsed.manifests, want);
      if (!chosen) {
        throw failure(
          NotFoundError,
          what,
          `no matching manifest for ${formatPlatform(want)} in the manifest list entries`,
        );
      }
      descriptor = chosen;
      continue;
    }
    if (!isConfigMediaType(parsed.config.mediaType)) {
      throw failure(
        InvalidArgumentError,
        what,
        `unsupported config media type "${parsed.config.mediaType}" (not a container image)`,
      );
    }
    for (const layer of parsed.layers) {
      if (!isLayerMediaType(layer.mediaType)) {
        throw failure(InvalidArgumentError, what, `unsupported layer media type "${layer.mediaType}"`);
      }
    }
    const configBytes = await readAll(
      verifyContent(client.fetchBlob(reference.path, parsed.config, signal ? { signal } : {}), parsed.config),
    );
    const config = parseImageConfig(configBytes);
    if (config.rootfs.diff_ids.length !== parsed.layers.length) {
      throw failure(
        InvalidArgumentError,
        what,
        `the config lists ${config.rootfs.diff_ids.length} layers, the manifest ${parsed.layers.length}`,
      );
    }
    if (!index && options.strictPlatform && config.os && config.architecture) {
      const actual: Platform = { os: config.os, architecture: config.architecture };
      if (config.variant) actual.variant = config.variant;
      if (!platformMatches(actual, want)) {
        throw failure(
          NotFoundError,
          what,
          `image was found but does not match the specified platform: wanted ${formatPlatform(want)}, actual: ${formatPlatform(actual)}`,
        );
      }
    }
    const result: ResolvedImage = {
      reference,
      target: index ? { ...target, mediaType: index.parsed.mediaType } : described,
      manifest: { descriptor: described, bytes: fetched.bytes, parsed },
      config: { descriptor: parsed.config, bytes: configBytes, parsed: config },
    };
    if (index) result.index = index;
    return result;
  }
}

async function readAll(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return Buffer.concat(chunks);
}
