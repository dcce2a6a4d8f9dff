/**
 * The images part of the engine: what the CLI and the Engine API call for `images`, `inspect`,
 * `history`, `tag`, `rmi`, `image prune`, `import`, `save`, `load` and `system df`. Every method
 * returns Docker's Engine API shapes (src/image/docker-shapes.ts) so front doors only format.
 *
 * @example
 * const engine = await openLocalEngine({ root });
 * const images = await engine.images.list({ all: false, filters: { dangling: ['true'] } });
 * const inspect = await engine.images.inspect('busybox');
 */
import type { Readable } from 'node:stream';
import type {
  DeleteResponseItem,
  HistoryResponseItem,
  ImageInspect,
  ImageSummary,
  ImagesDiskUsage,
  ImagesPruneReport,
} from '../image/docker-shapes.ts';
// import/load/save (tar-stream, decompressors) load only when used: keep `tag`, `rmi`... quick
import type { ImportImageOptions } from '../image/image-import.ts';
import type { LoadOptions, LoadResult } from '../image/image-load.ts';
import type { SaveOptions } from '../image/image-save.ts';
import type {
  ImageLayer,
  ImageStore,
  ListImagesOptions,
  PruneImagesOptions,
  RemoveImageOptions,
} from '../image/image-store.ts';
import type { ImageRecord } from '../metadata/image-records.ts';
import type { ImageConfig } from '../oci/image-config.ts';

export class ImageService {
  readonly #store: ImageStore;

  constructor(store: ImageStore) {
    this.#store = store;
  }

  /** The underlying store, for services wired beside this one (build, containers, distribution). */
  get store(): ImageStore {
    return this.#store;
  }

  /** `docker images` / `image ls`: newest first; `all` adds intermediate images; Docker's filters. */
  list(options: ListImagesOptions = {}): Promise<ImageSummary[]> {
    return this.#store.list(options);
  }

  /** `docker image inspect`. Throws NotFoundError `No such image: NAME`. */
  inspect(refOrId: string): Promise<ImageInspect> {
    return this.#store.inspect(refOrId);
  }

  /** `docker history`: newest first. */
  history(refOrId: string): Promise<HistoryResponseItem[]> {
    return this.#store.history(refOrId);
  }

  /** `docker tag SOURCE TARGET`; returns the normalized target (`docker.io/library/x:latest`). */
  tag(source: string, target: string): string {
    return this.#store.tag(source, target);
  }

  /** `docker rmi`: Docker's Untagged/Deleted list; ConflictError when in use without force. */
  remove(refOrId: string, options: RemoveImageOptions = {}): Promise<DeleteResponseItem[]> {
    return this.#store.remove(refOrId, options);
  }

  /** `docker image prune [-a] [--filter until=…|label=…]`. */
  prune(options: PruneImagesOptions = {}): Promise<ImagesPruneReport> {
    return this.#store.prune(options);
  }

  /** `docker import`: returns the new image's id and record. */
  async import(options: ImportImageOptions): Promise<ImageRecord> {
    const { importImage } = await import('../image/image-import.ts');
    const image = (await importImage(this.#store, options)).image;
    this.#store.recordEvent('import', image.id, image.id);
    return image;
  }

  /** `docker save`: a tar stream (Docker archive, or `format: 'oci'` for an OCI layout). */
  async save(names: readonly string[], options: SaveOptions = {}): Promise<Readable> {
    const { saveImages } = await import('../image/image-save.ts');
    const stream = await saveImages(this.#store, names, options);
    this.#savedEvents(names);
    return stream;
  }

  /** `save --format oci -o DIR/`: an OCI image layout directory. */
  async saveToDirectory(names: readonly string[], dir: string, options: SaveOptions = {}): Promise<void> {
    const { saveImagesToDirectory } = await import('../image/image-save.ts');
    await saveImagesToDirectory(this.#store, names, dir, options);
    this.#savedEvents(names);
  }

  /** Docker's `save` event, once per image saved (actor and `name`: the image id). */
  #savedEvents(names: readonly string[]): void {
    const ids = new Set(names.map((name) => this.#store.find(name)?.id).filter((id) => id !== undefined));
    for (const id of ids) this.#store.recordEvent('save', id, id);
  }

  /** `docker load`: a tar stream (plain or compressed) or `{ directory }` of an OCI layout. */
  async load(
    source: AsyncIterable<Uint8Array> | Readable | { directory: string },
    options: LoadOptions = {},
  ): Promise<LoadResult> {
    const { loadImages } = await import('../image/image-load.ts');
    const result = await loadImages(this.#store, source, options);
    // Docker's `load` event, once per image loaded (actor and `name`: the image id)
    for (const image of result.images) this.#store.recordEvent('load', image.id, image.id);
    return result;
  }

  /** The images half of `docker system df`. */
  df(): Promise<ImagesDiskUsage> {
    return this.#store.diskUsage();
  }

  /** Finds an image by name, id or id prefix (NotFoundError otherwise). */
  resolve(refOrId: string): ImageRecord {
    return this.#store.resolve(refOrId);
  }

  /** The parsed config of an image (for `run`, `build FROM`). */
  config(refOrId: string): Promise<ImageConfig> {
    return this.#store.config(this.#store.resolve(refOrId).id);
  }

  /** The layers of an image with diffIDs and chain IDs (for unpacking into snapshots). */
  layers(refOrId: string): Promise<ImageLayer[]> {
    return this.#store.layers(this.#store.resolve(refOrId).id);
  }
}
