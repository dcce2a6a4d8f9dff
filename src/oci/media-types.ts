/**
 * Media types of the OCI image spec 1.1 and of Docker's image manifest V2 schema 2, and the
 * predicates the stores and the registry use to tell manifests, indexes, configs and layers apart.
 *
 * @example
 * isManifestMediaType(MediaType.DockerManifest); // true
 * layerCompression('application/vnd.oci.image.layer.v1.tar+gzip'); // 'gzip'
 */

export const MediaType = {
  // OCI image spec 1.1
  OciDescriptor: 'application/vnd.oci.descriptor.v1+json',
  OciLayoutHeader: 'application/vnd.oci.layout.header.v1+json',
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  /** Deprecated in 1.1 but still found in the wild. */
  OciLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  OciLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  OciLayerNondistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  /** The `{}` blob artifacts use as a placeholder config or layer. */
  OciEmpty: 'application/vnd.oci.empty.v1+json',

  // Docker image manifest V2, schema 2
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  /** Uncompressed Docker layer; dockerd writes it for local-only layers. */
  DockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerLayerZstd: 'application/vnd.docker.image.rootfs.diff.tar.zstd',
  DockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  DockerPluginConfig: 'application/vnd.docker.plugin.v1+json',

  // Docker schema 1: recognised only to refuse it with a clear message
  DockerSchema1Manifest: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerSchema1SignedManifest: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

export type MediaTypeName = (typeof MediaType)[keyof typeof MediaType];

/** The media types of a single-image manifest (OCI manifest or Docker schema 2 manifest). */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [MediaType.OciManifest, MediaType.DockerManifest];
/** The media types of a multi-platform index (OCI index or Docker manifest list). */
export const INDEX_MEDIA_TYPES: readonly string[] = [MediaType.OciIndex, MediaType.DockerManifestList];
/** Every manifest-like media type Wharf parses (what a registry accepts on `PUT /manifests`). */
export const ALL_MANIFEST_MEDIA_TYPES: readonly string[] = [...MANIFEST_MEDIA_TYPES, ...INDEX_MEDIA_TYPES];

const CONFIG_MEDIA_TYPES: readonly string[] = [MediaType.OciConfig, MediaType.DockerConfig];

const LAYER_COMPRESSION: Readonly<Record<string, LayerCompression>> = {
  [MediaType.OciLayer]: 'none',
  [MediaType.OciLayerGzip]: 'gzip',
  [MediaType.OciLayerZstd]: 'zstd',
  [MediaType.OciLayerNondistributable]: 'none',
  [MediaType.OciLayerNondistributableGzip]: 'gzip',
  [MediaType.OciLayerNondistributableZstd]: 'zstd',
  [MediaType.DockerLayer]: 'none',
  [MediaType.DockerLayerGzip]: 'gzip',
  [MediaType.DockerLayerZstd]: 'zstd',
  [MediaType.DockerForeignLayerGzip]: 'gzip',
};

export type LayerCompression = 'none' | 'gzip' | 'zstd';

/** Strips parameters (`; charset=utf-8`) and whitespace, lower-cases: the comparable form of a Content-Type. */
export function baseMediaType(value: string): string {
  const semicolon = value.indexOf(';');
  return (semicolon < 0 ? value : value.slice(0, semicolon)).trim().toLowerCase();
}

/** An image manifest (OCI or Docker schema 2), not an index. */
export function isManifestMediaType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && MANIFEST_MEDIA_TYPES.includes(baseMediaType(mediaType));
}

/** An OCI image index or a Docker manifest list. */
export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && INDEX_MEDIA_TYPES.includes(baseMediaType(mediaType));
}

/** Either a manifest or an index: something `parseManifest` accepts. */
export function isManifestOrIndexMediaType(mediaType: string | undefined): boolean {
  return isManifestMediaType(mediaType) || isIndexMediaType(mediaType);
}

/** An image config blob (OCI or Docker). */
export function isConfigMediaType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && CONFIG_MEDIA_TYPES.includes(baseMediaType(mediaType));
}

/** A filesystem layer media type, compressed or not, OCI or Docker. */
export function isLayerMediaType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && baseMediaType(mediaType) in LAYER_COMPRESSION;
}

/** Docker's schema 1 manifests, which Wharf refuses (as Docker 28 does). */
export function isSchema1MediaType(mediaType: string | undefined): boolean {
  if (mediaType === undefined) return false;
  const base = baseMediaType(mediaType);
  return base === MediaType.DockerSchema1Manifest || base === MediaType.DockerSchema1SignedManifest;
}

/** True for the Docker flavour of a media type (manifest, list, config or layer). */
export function isDockerMediaType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && baseMediaType(mediaType).startsWith('application/vnd.docker.');
}

/**
 * The compression of a layer media type; throws nothing: unknown media types give undefined, so
 * callers decide (a layer of an artifact may be anything).
 */
export function layerCompression(mediaType: string): LayerCompression | undefined {
  return LAYER_COMPRESSION[baseMediaType(mediaType)];
}

/**
 * The layer media type of the given flavour and compression, e.g. for save and push.
 *
 * @example
 * layerMediaType('oci', 'gzip'); // 'application/vnd.oci.image.layer.v1.tar+gzip'
 */
export function layerMediaType(flavour: 'oci' | 'docker', compression: LayerCompression): string {
  if (flavour === 'oci') {
    return compression === 'none'
      ? MediaType.OciLayer
      : compression === 'gzip'
        ? MediaType.OciLayerGzip
        : MediaType.OciLayerZstd;
  }
  return compression === 'none'
    ? MediaType.DockerLayer
    : compression === 'gzip'
      ? MediaType.DockerLayerGzip
      : MediaType.DockerLayerZstd;
}
