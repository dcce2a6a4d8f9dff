/**
 * The OCI image layout (`image-layout.md`): a directory (or a tar of one) holding blobs by
 * digest, an `oci-layout` marker and an `index.json` entry point. `wharf save --format oci` writes
 * it, `wharf load` reads it, and zot-style registries keep one per repository.
 *
 *   <layout>/
 *   ├── oci-layout              {"imageLayoutVersion": "1.0.0"}
 *   ├── index.json              an OCI image index; entries carry org.opencontainers.image.ref.name
 *   └── blobs/
 *       └── sha256/
 *           └── <hex>           manifests, configs and layers, named by digest
 *
 * @example
 * const path = layoutBlobPath('sha256:ab…'); // 'blobs/sha256/ab…'
 * const index = parseLayoutIndex(bytes);
 */
import { InvalidArgumentError } from '../errors/index.ts';
import { algorithmOf, type Digest, encodedOf } from './digest.ts';
import { type Check, object, ShapeError, string } from './json-shape.ts';
import { type OciIndex, parseManifest } from './manifest.ts';
import { MediaType } from './media-types.ts';

export const OCI_LAYOUT_FILE = 'oci-layout';
export const OCI_INDEX_FILE = 'index.json';
export const OCI_BLOBS_DIR = 'blobs';
export const OCI_LAYOUT_VERSION = '1.0.0';

/** The annotation naming an index entry in a layout (`skopeo copy … oci:dir:NAME`). */
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';
/** containerd's (and Docker 25+'s) annotation holding the full image name of an entry. */
export const ANNOTATION_CONTAINERD_IMAGE_NAME = 'io.containerd.image.name';
export const ANNOTATION_CREATED = 'org.opencontainers.image.created';

export interface OciLayout {
  imageLayoutVersion: string;
  [key: string]: unknown;
}

const OCI_LAYOUT_SHAPE: Check = object({ imageLayoutVersion: string });

/** The bytes of the `oci-layout` file. */
export function ociLayoutFile(): string {
  return JSON.stringify({ imageLayoutVersion: OCI_LAYOUT_VERSION });
}

/** The path of a blob relative to the layout root: `blobs/<algorithm>/<hex>`. */
export function layoutBlobPath(digest: Digest): string {
  return `${OCI_BLOBS_DIR}/${algorithmOf(digest)}/${encodedOf(digest)}`;
}

/** Validates an `oci-layout` file; throws InvalidArgumentError when it is missing its version. */
export function parseOciLayout(bytes: Uint8Array | string): OciLayout {
  let document: unknown;
  try {
    document = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    throw new InvalidArgumentError('Cannot read OCI layout: oci-layout is not JSON', { cause: error });
  }
  try {
    OCI_LAYOUT_SHAPE(document, '');
  } catch (error) {
    if (!(error instanceof ShapeError)) throw error;
    throw new InvalidArgumentError('Cannot read OCI layout: oci-layout has no imageLayoutVersion', {
      cause: error,
    });
  }
  const layout = document as OciLayout;
  if (!layout.imageLayoutVersion.startsWith('1.')) {
    throw new InvalidArgumentError(
      `Cannot read OCI layout: unsupported imageLayoutVersion ${layout.imageLayoutVersion}`,
    );
  }
  return layout;
}

/** Parses a layout's `index.json` (an OCI image index; a missing mediaType is allowed). */
export function parseLayoutIndex(bytes: Uint8Array | string): OciIndex {
  const parsed = parseManifest(bytes, MediaType.OciIndex);
  if (parsed.kind !== 'index')
    throw new InvalidArgumentError('Cannot read OCI layout: index.json is not an index');
  return parsed.manifest as OciIndex;
}
