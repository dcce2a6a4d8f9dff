/**
 * `docker save`: images to an archive, in two formats.
 *
 * - `docker` (default): Docker 25+'s layout, which is at once a Docker archive (`manifest.json`,
 *   `repositories`; what `docker load` reads) and an OCI image layout:
 *
 *     manifest.json        [{"Config": "blobs/sha256/<config>", "RepoTags": [...], "Layers": [...]}]
 *     repositories         {"busybox": {"latest": "<top layer hex>"}}
 *     oci-layout
 *     index.json           one entry per name (io.containerd.image.name, org.opencontainers.image.ref.name)
 *     blobs/sha256/<hex>   manifests, configs and uncompressed layer tars
 *
 * - `oci`: only the OCI image layout (oci-layout, index.json, blobs), as a tar or a directory,
 *   which `skopeo copy oci:DIR` / `oci-archive:FILE` reads.
 *
 * Layers are written as stored: uncompressed tars, valid in both formats.
 *
 * @example
 * const tar = await saveImages(store, ['busybox'], { format: 'docker' });
 * await pipeline(tar, createWriteStream('busybox.tar'));
 */
import { copyFile, mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { InvalidArgumentError } from '../errors/index.ts';
import type { Descriptor } from '../oci/descriptor.ts';
import type { Digest } from '../oci/digest.ts';
import {
  ANNOTATION_CONTAINERD_IMAGE_NAME,
  ANNOTATION_REF_NAME,
  layoutBlobPath,
  ociLayoutFile,
} from '../oci/image-layout.ts';
import type { OciIndex } from '../oci/manifest.ts';
import { MediaType } from '../oci/media-types.ts';
import {
  familiarName,
  familiarString,
  formatReference,
  parseNormalizedReference,
  referenceName,
  withDefaultTag,
} from '../oci/reference.ts';
import type { ImageStore } from './image-store.ts';

export type SaveFormat = 'docker' | 'oci';

export interface SaveOptions {
  format?: SaveFormat;
}

/** One image to write and the names (normalized tags) to give it. */
interface SaveEntry {
  id: string;
  tags: string[];
}

/** The files of an archive: small JSON documents in memory, blobs from the content store. */
interface ArchivePlan {
  documents: Array<{ path: string; data: Buffer }>;
  blobs: Array<{ path: string; digest: Digest; size: number }>;
}

/**
 * Which images and tags `names` select, as Docker's save does: a name without a tag selects
 * every tag of that repository, `name:tag` that tag, an id or digest the image without names.
 */
export function selectImages(store: ImageStore, names: readonly string[]): SaveEntry[] {
  if (names.length === 0) throw new InvalidArgumentError('Cannot save: no image names given');
  const entries = new Map<string, Set<string>>();
  const add = (id: string, tag?: string) => {
    const set = entries.get(id) ?? new Set<string>();
    if (tag) set.add(tag);
    entries.set(id, set);
  };
  for (const name of names) {
    let ref: ReturnType<typeof parseNormalizedReference> | undefined;
    try {
      ref = parseNormalizedReference(name);
    } catch {
      ref = undefined; // an id or id prefix
    }
    if (
      ref &&
      ref.tag === undefined &&
      ref.digest === undefined &&
      !/^(sha256:)?[a-f0-9]{12,64}$/.test(name)
    ) {
      const repository = referenceName(ref);
      const tags = store.records.allTags().filter((tag) => tag.reference.startsWith(`${repository}:`));
      if (tags.length > 0) {
        for (const tag of tags) add(tag.imageId, tag.reference);
        continue;
      }
    }
    const image = store.resolve(name);
    if (ref && ref.digest === undefined) {
      const key = formatReference(withDefaultTag(ref));
      if (store.records.tag(key)?.imageId === image.id) {
        add(image.id, key);
        continue;
      }
    }
    add(image.id);
  }
  return [...entries].map(([id, tags]) => ({ id, tags: [...tags].sort() }));
}

async function plan(store: ImageStore, names: readonly string[], format: SaveFormat): Promise<ArchivePlan> {
  const entries = selectImages(store, names);
  const blobs = new Map<Digest, number>();
  const index: OciIndex = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
  const manifestJson: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }> = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const entry of entries) {
    const image = store.get(entry.id);
    const manifestDigest = image.manifestDigest as Digest;
    const manifestInfo = await store.content.info(manifestDigest);
    const layers = await store.layers(image.id);
    const configInfo = await store.content.info(image.id as Digest);
    blobs.set(manifestDigest, manifestInfo.size);
    blobs.set(image.id as Digest, configInfo.size);
    for (const layer of layers) blobs.set(layer.digest, layer.size);
    const descriptor: Descriptor = {
      mediaType: image.manifestMediaType,
      digest: manifestDigest,
      size: manifestInfo.size,
    };
    if (entry.tags.length === 0) index.manifests.push(descriptor);
    for (const tag of entry.tags) {
      const ref = parseNormalizedReference(tag);
      index.manifests.push({
        ...descriptor,
        annotations: { [ANNOTATION_CONTAINERD_IMAGE_NAME]: tag, [ANNOTATION_REF_NAME]: ref.tag ?? 'latest' },
      });
      const repo = familiarName(ref);
      repositories[repo] = {
        ...(repositories[repo] ?? {}),
        [ref.tag ?? 'latest']: (layers.at(-1)?.digest ?? image.id).slice(7),
      };
    }
    manifestJson.push({
      Config: layoutBlobPath(image.id as Digest),
      RepoTags:
        entry.tags.length > 0 ? entry.tags.map((tag) => familiarString(parseNormalizedReference(tag))) : null,
      Layers: layers.map((layer) => layoutBlobPath(layer.digest)),
    });
  }
  const documents: ArchivePlan['documents'] = [
    { path: 'oci-layout', data: Buffer.from(ociLayoutFile()) },
    { path: 'index.json', data: Buffer.from(JSON.stringify(index)) },
  ];
  if (format === 'docker') {
    documents.push({ path: 'manifest.json', data: Buffer.from(JSON.stringify(manifestJson)) });
    if (Object.keys(repositories).length > 0) {
      documents.push({ path: 'repositories', data: Buffer.from(JSON.stringify(repositories)) });
    }
  }
  return {
    documents,
    blobs: [...blobs].map(([digest, size]) => ({ path: layoutBlobPath(digest), digest, size })),
  };
}

/**
 * Streams the archive of `names` as a tar. Resolves names before returning, so a missing image
 * fails before any byte is written.
 */
export async function saveImages(
  store: ImageStore,
  names: readonly string[],
  options: SaveOptions = {},
): Promise<Readable> {
  const archive = await plan(store, names, options.format ?? 'docker');
  const pack = tar.pack();
  const out = new PassThrough();
  const mtime = new Date(0);
  const write = async () => {
    const dirs = new Set<string>();
    for (const blob of archive.blobs) {
      for (let dir = dirname(blob.path); dir !== '.'; dir = dirname(dir)) dirs.add(dir);
    }
    for (const dir of [...dirs].sort()) {
      await new Promise<void>((resolve, reject) =>
        pack.entry({ name: `${dir}/`, type: 'directory', mode: 0o755, mtime }, (error) =>
          error ? reject(error) : resolve(),
        ),
      );
    }
    for (const blob of archive.blobs) {
      const entry = pack.entry({ name: blob.path, size: blob.size, mode: 0o644, mtime, type: 'file' });
      await pipeline(await store.content.read(blob.digest), entry);
    }
    for (const doc of archive.documents) {
      await new Promise<void>((resolve, reject) =>
        pack.entry({ name: doc.path, size: doc.data.length, mode: 0o644, mtime }, doc.data, (error) =>
          error ? reject(error) : resolve(),
        ),
      );
    }
    pack.finalize();
  };
  // A reader that leaves early (an Engine API client disconnecting) destroys `out`, and streamx
  // then destroys `pack` with an error: the callback makes that error handled, not fatal.
  pack.pipe(out, () => {});
  write().catch((error: unknown) => {
    pack.destroy(error as Error);
    out.destroy(error as Error);
  });
  return out;
}

/** Writes the OCI image layout of `names` into directory `dir` (created if needed). */
export async function saveImagesToDirectory(
  store: ImageStore,
  names: readonly string[],
  dir: string,
  options: SaveOptions = {},
): Promise<void> {
  const archive = await plan(store, names, options.format ?? 'oci');
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const blob of archive.blobs) {
    const target = join(dir, blob.path);
    await mkdir(dirname(target), { recursive: true });
    const existing = await stat(target).catch(() => undefined);
    if (existing?.size === blob.size) continue; // same name, same digest: already there
    await copyFile(store.content.blobPath(blob.digest), target);
  }
  // index.json last: a reader never sees it point at missing blobs
  const ordered = [...archive.documents].sort(
    (a, b) => Number(a.path === 'index.json') - Number(b.path === 'index.json'),
  );
  for (const doc of ordered) await writeFile(join(dir, doc.path), doc.data);
}
