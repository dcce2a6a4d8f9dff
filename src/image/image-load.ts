/**
 * `docker load`: images from a Docker archive (`manifest.json`; from `docker save`, Docker 25+'s
 * layout, or `skopeo copy … docker-archive:`) or an OCI image layout (`index.json`; a tar or a
 * directory), plain or compressed (gzip, zstd, xz, bzip2). Layers may be compressed inside the
 * archive; they are stored uncompressed, checked against the config's diffIDs.
 *
 * The tar is read once, in order: small files stay in memory, large ones are ingested straight
 * into the content store under the load's lease (named `blobs/<alg>/<hex>` entries are verified
 * against their name). Then the documents are interpreted; blobs no image kept (compressed
 * originals) are collected when the lease ends.
 *
 * @example
 * const result = await loadImages(store, createReadStream('busybox.tar'));
 * result.images[0].tags; // ['docker.io/library/busybox:latest']
 */
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, realpath } from 'node:fs/promises';
import { join, posix, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { InvalidArgumentError, isErrno, NotFoundError, WharfError } from '../errors/index.ts';
import type { Descriptor } from '../oci/descriptor.ts';
import { type Digest, digestBytes, isDigest } from '../oci/digest.ts';
import { parseImageConfig } from '../oci/image-config.ts';
import {
  ANNOTATION_CONTAINERD_IMAGE_NAME,
  ANNOTATION_REF_NAME,
  layoutBlobPath,
  parseLayoutIndex,
  parseOciLayout,
} from '../oci/image-layout.ts';
import { arrayOf, checked, nullable, object, optional, string } from '../oci/json-shape.ts';
import { parseManifest } from '../oci/manifest.ts';
import { isIndexMediaType, layerCompression } from '../oci/media-types.ts';
import { hostPlatform, type Platform, selectPlatformManifest } from '../oci/platform.ts';
import {
  familiarString,
  formatReference,
  parseNormalizedReference,
  withDefaultTag,
} from '../oci/reference.ts';
import { type Compression, decompress, detectCompression, sniffCompression } from './compression.ts';
import type { ImageStore } from './image-store.ts';

/** Files up to this size are kept in memory while reading the tar; larger go to the content store. */
const IN_MEMORY_MAX = 1024 * 1024;

export interface LoadedImage {
  id: string;
  /** Normalized tags given to it. */
  tags: string[];
}

export interface LoadResult {
  images: LoadedImage[];
  /** Tags that pointed at another image before (Docker: "renaming the old one … to empty string"). */
  movedTags: Array<{ reference: string; previousImageId: string }>;
  /** Docker's output lines: `Loaded image: busybox:latest` / `Loaded image ID: sha256:…`. */
  messages: string[];
}

export interface LoadOptions {
  /** The platform to pick from multi-platform indexes (default: the host). */
  platform?: Platform;
  signal?: AbortSignal;
}

/** An image read from an archive, its layers already stored uncompressed under the load's lease. */
interface LoadableImage {
  configBytes: Buffer;
  layers: Array<{ digest: Digest; size: number }>;
  tags: string[];
}

/** Read access to the files of an archive, whatever holds them. */
interface ArchiveFiles {
  has(path: string): boolean;
  bytes(path: string): Promise<Buffer>;
  stream(path: string): Promise<Readable>;
  /** First bytes, to sniff compression. */
  head(path: string): Promise<Buffer>;
  /** The sha256 of the file's bytes. */
  digest(path: string): Promise<Digest>;
}

/** One entry of a Docker archive's `manifest.json`. */
interface DockerArchiveEntry {
  Config: string;
  RepoTags?: string[] | null | undefined;
  Layers: string[];
  [key: string]: unknown;
}

const DOCKER_MANIFEST_JSON_SHAPE = arrayOf(
  object({
    Config: string,
    RepoTags: optional(nullable(arrayOf(string))),
    Layers: arrayOf(string),
  }),
);

function normalizePath(name: string): string {
  const normalized = posix.normalize(name.replace(/^(\.\/)+/, '').replace(/^\/+/, ''));
  return normalized.replace(/\/$/, '');
}

/** Files of a tar read once: small ones in memory, large ones in the content store. */
class TarFiles implements ArchiveFiles {
  readonly memory = new Map<string, Buffer>();
  readonly stored = new Map<string, { digest: Digest; size: number }>();
  readonly links = new Map<string, string>();
  readonly #store: ImageStore;

  constructor(store: ImageStore) {
    this.#store = store;
  }

  #resolve(path: string): string {
    let current = normalizePath(path);
    for (let hops = 0; hops < 32 && this.links.has(current); hops++) current = this.links.get(current)!;
    return current;
  }

  has(path: string): boolean {
    const p = this.#resolve(path);
    return this.memory.has(p) || this.stored.has(p);
  }

  async bytes(path: string): Promise<Buffer> {
    const p = this.#resolve(path);
    const inMemory = this.memory.get(p);
    if (inMemory) return inMemory;
    const stored = this.stored.get(p);
    if (stored) return this.#store.content.readAll(stored.digest);
    throw new InvalidArgumentError(`Cannot load: the archive has no file ${path}`);
  }

  async stream(path: string): Promise<Readable> {
    const p = this.#resolve(path);
    const inMemory = this.memory.get(p);
    if (inMemory) return Readable.from([inMemory]);
    const stored = this.stored.get(p);
    if (stored) return this.#store.content.read(stored.digest);
    throw new InvalidArgumentError(`Cannot load: the archive has no file ${path}`);
  }

  async head(path: string): Promise<Buffer> {
    const p = this.#resolve(path);
    const inMemory = this.memory.get(p);
    if (inMemory) return inMemory.subarray(0, 16);
    const stored = this.stored.get(p);
    if (!stored) throw new InvalidArgumentError(`Cannot load: the archive has no file ${path}`);
    const chunks: Buffer[] = [];
    for await (const chunk of await this.#store.content.read(stored.digest, { length: 16 }))
      chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async digest(path: string): Promise<Digest> {
    const p = this.#resolve(path);
    const inMemory = this.memory.get(p);
    if (inMemory) return digestBytes(inMemory);
    const stored = this.stored.get(p);
    if (stored) return stored.digest;
    throw new InvalidArgumentError(`Cannot load: the archive has no file ${path}`);
  }
}

/** Files of an OCI layout directory; paths may not leave it. */
class DirectoryFiles implements ArchiveFiles {
  readonly #root: string;
  readonly #known: Set<string>;

  constructor(root: string, known: Set<string>) {
    this.#root = root;
    this.#known = known;
  }

  static async open(root: string): Promise<DirectoryFiles> {
    const known = new Set<string>();
    const walk = async (dir: string) => {
      for (const name of await readdir(dir)) {
        const path = join(dir, name);
        const info = await lstat(path);
        if (info.isDirectory()) await walk(path);
        else known.add(relative(root, path).split(sep).join('/'));
      }
    };
    await walk(root);
    return new DirectoryFiles(root, known);
  }

  async #path(path: string): Promise<string> {
    const p = normalizePath(path);
    if (!this.#known.has(p)) throw new InvalidArgumentError(`Cannot load: the layout has no file ${path}`);
    const full = await realpath(join(this.#root, p));
    const root = await realpath(this.#root);
    if (!full.startsWith(`${root}/`))
      throw new InvalidArgumentError(`Cannot load: ${path} points outside the layout`);
    return full;
  }

  has(path: string): boolean {
    return this.#known.has(normalizePath(path));
  }

  async bytes(path: string): Promise<Buffer> {
    return readFile(await this.#path(path));
  }

  async stream(path: string): Promise<Readable> {
    return createReadStream(await this.#path(path));
  }

  async head(path: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of createReadStream(await this.#path(path), { start: 0, end: 15 }))
      chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async digest(path: string): Promise<Digest> {
    const { createHash } = await import('node:crypto');
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(await this.#path(path))) hash.update(chunk as Buffer);
    return `sha256:${hash.digest('hex')}`;
  }
}

/** Reads a (possibly compressed) tar into TarFiles under `lease`. */
async function readTar(
  store: ImageStore,
  source: AsyncIterable<Uint8Array> | Readable,
  lease: string,
  ingested: Set<Digest>,
  signal?: AbortSignal,
): Promise<TarFiles> {
  const { compression, stream } = await sniffCompression(source);
  const input = decompress(stream, compression);
  const extract = tar.extract();
  const files = new TarFiles(store);
  // What the decompressor or the tar parser failed on: a bad archive, not a bug of Wharf's.
  let readError: Error | undefined;
  input.on('error', (error) => {
    readError ??= error;
    extract.destroy(error);
  });
  extract.on('error', (error) => {
    readError ??= error;
  });
  input.pipe(extract);
  let entries = 0;
  try {
    entries = await readEntries(store, extract, files, lease, ingested, signal);
  } catch (error) {
    if (readError && !(readError instanceof WharfError))
      throw new InvalidArgumentError(`Cannot load: invalid tar archive: ${readError.message}`, {
        cause: error,
      });
    throw error;
  }
  if (entries === 0) throw new InvalidArgumentError('Cannot load: the archive is empty (no tar entries)');
  return files;
}

/** Reads the entries of `extract` into `files`; returns how many there were. */
async function readEntries(
  store: ImageStore,
  extract: tar.Extract,
  files: TarFiles,
  lease: string,
  ingested: Set<Digest>,
  signal?: AbortSignal,
): Promise<number> {
  let entries = 0;
  for await (const entry of extract) {
    entries++;
    signal?.throwIfAborted();
    const { header } = entry;
    const name = normalizePath(header.name);
    if (header.type === 'symlink' || header.type === 'link') {
      const target = header.linkname ?? '';
      // symlinks are relative to their directory; hard links name a path from the archive root
      const resolved =
        header.type === 'symlink'
          ? normalizePath(posix.join(posix.dirname(name), target))
          : normalizePath(target);
      if (resolved.startsWith('..'))
        throw new InvalidArgumentError(`Cannot load: link ${name} points outside the archive`);
      files.links.set(name, resolved);
      entry.resume();
      continue;
    }
    if (header.type !== 'file' && header.type !== 'contiguous-file') {
      entry.resume();
      continue;
    }
    const size = header.size ?? 0;
    if (size <= IN_MEMORY_MAX) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      files.memory.set(name, Buffer.concat(chunks));
      continue;
    }
    const named = /^blobs\/(sha256|sha512)\/([a-f0-9]+)$/.exec(name);
    const expected = named ? `${named[1]}:${named[2]}` : undefined;
    const result = await store.content.ingest(entry as unknown as Readable, {
      lease,
      size,
      ...(expected && isDigest(expected) ? { expected: expected as Digest } : {}),
    });
    ingested.add(result.digest);
    files.stored.set(name, { digest: result.digest, size: result.size });
  }
  return entries;
}

/** Stores one layer uncompressed, checking it against its diffID; returns its digest and size. */
async function storeLayer(
  store: ImageStore,
  files: ArchiveFiles,
  path: string,
  diffId: Digest,
  lease: string,
  compressionHint: Compression | undefined,
): Promise<{ digest: Digest; size: number }> {
  const compression = compressionHint ?? detectCompression(await files.head(path));
  if (compression === 'none') {
    // hold before checking, so a concurrent GC cannot take a shared base between check and use
    store.leases.addResource(lease, 'content', diffId);
    if ((await store.content.exists(diffId)) && (await files.digest(path)) === diffId) {
      return { digest: diffId, size: (await store.content.info(diffId)).size };
    }
  }
  const stream = decompress(await files.stream(path), compression);
  try {
    const result = await store.content.ingest(stream, { lease, expected: diffId });
    return { digest: result.digest, size: result.size };
  } catch (error) {
    if (error instanceof InvalidArgumentError && /does not match/.test(error.message)) {
      throw new InvalidArgumentError(`Cannot load: layer ${path} does not match its diffID ${diffId}`, {
        cause: error,
      });
    }
    throw error;
  }
}

async function loadDockerArchive(
  store: ImageStore,
  files: ArchiveFiles,
  lease: string,
): Promise<LoadableImage[]> {
  let entries: DockerArchiveEntry[];
  try {
    entries = checked<DockerArchiveEntry[]>(
      DOCKER_MANIFEST_JSON_SHAPE,
      JSON.parse((await files.bytes('manifest.json')).toString()),
    );
  } catch (error) {
    throw new InvalidArgumentError(`Cannot load: invalid manifest.json (${(error as Error).message})`, {
      cause: error,
    });
  }
  const out: LoadableImage[] = [];
  for (const entry of entries) {
    const configBytes = await files.bytes(entry.Config);
    const config = parseImageConfig(configBytes);
    if (config.rootfs.diff_ids.length !== entry.Layers.length) {
      throw new InvalidArgumentError(
        `Cannot load: ${entry.Config} lists ${config.rootfs.diff_ids.length} diffIDs but manifest.json ${entry.Layers.length} layers`,
      );
    }
    const layers = [];
    for (const [i, path] of entry.Layers.entries()) {
      layers.push(await storeLayer(store, files, path, config.rootfs.diff_ids[i]!, lease, undefined));
    }
    out.push({ configBytes, layers, tags: entry.RepoTags ?? [] });
  }
  return out;
}

/** The name an OCI layout gives an index entry: containerd's full name, or a full `ref.name`. */
function layoutEntryName(descriptor: Descriptor): string | undefined {
  const annotations = descriptor.annotations ?? {};
  const full = annotations[ANNOTATION_CONTAINERD_IMAGE_NAME];
  if (full) return full;
  const refName = annotations[ANNOTATION_REF_NAME];
  // a bare tag ("latest") names nothing by itself; "busybox:latest" or "host/x" does
  if (refName && /[:/@]/.test(refName)) {
    try {
      parseNormalizedReference(refName);
      return refName;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

async function readVerifiedBlob(files: ArchiveFiles, descriptor: Descriptor): Promise<Buffer> {
  const path = layoutBlobPath(descriptor.digest);
  if (!files.has(path))
    throw new InvalidArgumentError(`Cannot load: the layout has no blob ${descriptor.digest}`);
  const bytes = await files.bytes(path);
  if (
    digestBytes(bytes, descriptor.digest.startsWith('sha512:') ? 'sha512' : 'sha256') !== descriptor.digest
  ) {
    throw new InvalidArgumentError(`Cannot load: blob ${descriptor.digest} does not match its digest`);
  }
  return bytes;
}

async function loadOciLayout(
  store: ImageStore,
  files: ArchiveFiles,
  lease: string,
  platform: Platform,
): Promise<LoadableImage[]> {
  if (files.has('oci-layout')) parseOciLayout(await files.bytes('oci-layout'));
  const index = parseLayoutIndex(await files.bytes('index.json'));
  const out: LoadableImage[] = [];
  for (const top of index.manifests) {
    let descriptor: Descriptor | undefined = top;
    // descend through (possibly nested) indexes to the manifest of the wanted platform
    for (let depth = 0; descriptor && isIndexMediaType(descriptor.mediaType); depth++) {
      if (depth > 4) throw new InvalidArgumentError('Cannot load: indexes nested too deeply');
      const child = parseManifest(await readVerifiedBlob(files, descriptor), descriptor.mediaType);
      if (child.kind !== 'index') break;
      descriptor = selectPlatformManifest(child.manifests, platform);
    }
    if (!descriptor) continue; // no manifest for this platform
    const parsed = parseManifest(await readVerifiedBlob(files, descriptor), descriptor.mediaType);
    if (parsed.kind !== 'manifest') continue;
    const configBytes = await readVerifiedBlob(files, parsed.config);
    const config = parseImageConfig(configBytes);
    if (config.rootfs.diff_ids.length !== parsed.layers.length) {
      throw new InvalidArgumentError(
        `Cannot load: manifest ${descriptor.digest} has ${parsed.layers.length} layers but its config ${config.rootfs.diff_ids.length} diffIDs`,
      );
    }
    const layers = [];
    for (const [i, layer] of parsed.layers.entries()) {
      const path = layoutBlobPath(layer.digest);
      if (!files.has(path))
        throw new InvalidArgumentError(`Cannot load: the layout has no blob ${layer.digest}`);
      if ((await files.digest(path)) !== layer.digest) {
        throw new InvalidArgumentError(`Cannot load: blob ${layer.digest} does not match its digest`);
      }
      const hint = layerCompression(layer.mediaType);
      layers.push(await storeLayer(store, files, path, config.rootfs.diff_ids[i]!, lease, hint));
    }
    const name = layoutEntryName(top);
    out.push({ configBytes, layers, tags: name ? [name] : [] });
  }
  if (out.length === 0) throw new NotFoundError('Cannot load: the OCI layout has no image for this platform');
  return out;
}

/**
 * Loads every image of an archive (a stream of a tar) or of an OCI layout directory (a path
 * given as `{ directory }`). Returns what was loaded and Docker's output lines.
 */
export async function loadImages(
  store: ImageStore,
  source: AsyncIterable<Uint8Array> | Readable | { directory: string },
  options: LoadOptions = {},
): Promise<LoadResult> {
  const ingested = new Set<Digest>();
  const result = await store.leases.withLease(async (lease) => {
    let files: ArchiveFiles;
    if ('directory' in source) {
      try {
        files = await DirectoryFiles.open(source.directory);
      } catch (error) {
        if (isErrno(error, 'ENOENT'))
          throw new NotFoundError(`Cannot load: no such directory ${source.directory}`);
        throw error;
      }
    } else {
      files = await readTar(store, source, lease.id, ingested, options.signal);
    }
    let images: LoadableImage[];
    if (files.has('manifest.json')) images = await loadDockerArchive(store, files, lease.id);
    else if (files.has('index.json'))
      images = await loadOciLayout(store, files, lease.id, options.platform ?? hostPlatform());
    else {
      throw new InvalidArgumentError(
        'Cannot load: the archive has neither manifest.json (Docker) nor index.json (OCI layout)',
      );
    }
    const loaded = new Map<string, Set<string>>();
    const movedTags: LoadResult['movedTags'] = [];
    const messages: string[] = [];
    for (const image of images) {
      const tags = image.tags.map((tag) => formatReference(withDefaultTag(parseNormalizedReference(tag))));
      const created = await store.createImage({
        config: image.configBytes,
        layers: image.layers,
        lease: lease.id,
        tags,
      });
      for (const moved of created.movedTags) {
        movedTags.push(moved);
        messages.push(
          `The image ${familiar(moved.reference)} already exists, renaming the old one with ID ${moved.previousImageId} to empty string`,
        );
      }
      const set = loaded.get(created.image.id) ?? new Set<string>();
      for (const tag of tags) set.add(tag);
      loaded.set(created.image.id, set);
      if (tags.length === 0) messages.push(`Loaded image ID: ${created.image.id}`);
      for (const tag of tags) messages.push(`Loaded image: ${familiar(tag)}`);
    }
    return {
      images: [...loaded].map(([id, tags]) => ({ id, tags: [...tags] })),
      movedTags,
      messages,
    };
  });
  // compressed originals and other files no image kept are garbage now that the lease is gone
  if (ingested.size > 0) await store.content.garbageCollect({ candidates: ingested });
  return result;
}

function familiar(reference: string): string {
  return familiarString(parseNormalizedReference(reference));
}
