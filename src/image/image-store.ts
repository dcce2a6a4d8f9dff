/**
 * The local image store: images never change once stored. An image is a config (whose digest is
 * its id), a manifest listing uncompressed layer blobs (so a layer's blob digest is its diffID),
 * and names: tags and repo digests. This module holds Docker's semantics over the records of
 * src/metadata and the blobs of src/content: finding images by name, id or id prefix; tag and
 * untag; remove and prune with Docker's conflict rules; list, inspect, history and disk usage
 * in the Engine API's shapes. Each decision and its change run in one SQLite write transaction,
 * so concurrent `wharf` processes never lose a tag or half-delete an image.
 *
 * @example
 * const images = new ImageStore({ db, content, leases });
 * images.tag('busybox', 'localhost:5000/busybox:1');
 * const report = await images.remove('busybox:latest');
 */

import type { ContentStore } from '../content/content-store.ts';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../errors/index.ts';
import type { MetadataDatabase } from '../metadata/database.ts';
import { EventLog } from '../metadata/event-log.ts';
import { type ImageRecord, ImageRecords } from '../metadata/image-records.ts';
import type { LeaseStore } from '../metadata/lease-store.ts';
import { chainIds } from '../oci/chain-id.ts';
import type { Descriptor } from '../oci/descriptor.ts';
import { type Digest, digestBytes, encodedOf } from '../oci/digest.ts';
import {
  type ContainerConfig,
  type HistoryEntry,
  type ImageConfig,
  parseImageConfig,
} from '../oci/image-config.ts';
import type { OciManifest } from '../oci/manifest.ts';
import { MediaType } from '../oci/media-types.ts';
import {
  familiarName,
  familiarString,
  formatReference,
  parseAnyReference,
  parseNormalizedReference,
  type Reference,
  trimReference,
  withDefaultTag,
} from '../oci/reference.ts';
import { goMapOrder } from '../util/go-map-order.ts';
import {
  type DeleteResponseItem,
  type HistoryResponseItem,
  type ImageInspect,
  type ImageSummary,
  type ImagesDiskUsage,
  type ImagesPruneReport,
  type InspectContainerConfig,
  ZERO_TIME,
} from './docker-shapes.ts';

/** A container that uses an image, as the container service reports it. */
export interface ContainerUse {
  id: string;
  running: boolean;
}

export interface ImageStoreOptions {
  db: MetadataDatabase;
  content: ContentStore;
  leases: LeaseStore;
  /**
   * The containers using an image (synchronous: it runs inside the delete transaction). Default:
   * the rows of the `containers` table, taken as stopped. The container service replaces it.
   */
  containersUsing?: (imageId: string) => ContainerUse[];
}

/** A layer of an image, as the unpacker and the pusher need it. */
export interface ImageLayer {
  /** The uncompressed blob digest, which is also the diffID. */
  digest: Digest;
  diffId: Digest;
  chainId: Digest;
  size: number;
  mediaType: string;
}

export interface CreateImageOptions {
  /** The exact config bytes: their digest is the image id. */
  config: Uint8Array;
  /** Uncompressed layer blobs already in the content store (held by `lease`), in order. */
  layers: ReadonlyArray<{ digest: Digest; size: number }>;
  /** The lease holding the layers; the config and manifest are written under it too. */
  lease: string;
  /** Names to point at the image (any spelling; `latest` is added when there is no tag). */
  tags?: readonly string[];
  parent?: string;
  /** The index the image was selected from (pull). */
  indexDigest?: Digest;
  /** Normalized `name@digest` references to record (pull, push). */
  repoDigests?: readonly string[];
}

export interface CreateImageResult {
  image: ImageRecord;
  /** False when an identical image was already stored. */
  created: boolean;
  /** Tags that pointed at another image before: Docker prints "renaming the old one". */
  movedTags: Array<{ reference: string; previousImageId: string }>;
}

export interface ListImagesOptions {
  /** Include intermediate images (untagged parents of other images), like `docker images -a`. */
  all?: boolean;
  /** Docker's filters: dangling, label, before, since, reference, until. */
  filters?: Record<string, readonly string[]>;
}

export interface RemoveImageOptions {
  force?: boolean;
  /** Keep untagged parents (Docker's `--no-prune`). */
  noPrune?: boolean;
}

export interface PruneImagesOptions {
  /** All unused images, not only dangling ones (`-a`). */
  all?: boolean;
  /** until, label, label! */
  filters?: Record<string, readonly string[]>;
}

interface Resolved {
  image: ImageRecord;
  /** The named reference the input matched (a tag or repo digest), when it matched by name. */
  matched?: { kind: 'tag' | 'digest'; reference: string };
}

const LIST_FILTERS = new Set(['dangling', 'label', 'before', 'since', 'reference', 'until']);
const PRUNE_FILTERS = new Set(['dangling', 'label', 'label!', 'until']);

/** `sha256:0123456789ab…` -> `0123456789ab`: Docker's short id. */
export function shortId(id: string): string {
  return encodedOf(id).slice(0, 12);
}

function unixSeconds(created: string | undefined): number {
  if (!created) return 0;
  const ms = Date.parse(created);
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
}

/** Docker's `path.Match`-style glob for the reference filter. */
function globToRegExp(pattern: string): RegExp {
  let out = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 1);
      if (close < 0) throw new InvalidArgumentError(`Cannot filter images: bad pattern "${pattern}"`);
      let body = pattern.slice(i + 1, close);
      if (body.startsWith('^')) body = `!${body.slice(1)}`;
      out += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
      i = close;
    } else if (c === '\\' && i + 1 < pattern.length) {
      out += `\\${pattern[++i]}`;
    } else out += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`${out}$`);
}

/** Parses Docker's `until` value: a timestamp or a duration like `24h` or `10m30s`. */
function parseUntil(value: string, now = Date.now()): number {
  const duration = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(value);
  if (duration && value !== '' && (duration[1] || duration[2] || duration[3])) {
    const ms =
      Number(duration[1] ?? 0) * 3_600_000 +
      Number(duration[2] ?? 0) * 60_000 +
      Number(duration[3] ?? 0) * 1000;
    return now - ms;
  }
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new InvalidArgumentError(`Cannot filter images: invalid until value "${value}"`);
  return ms;
}

function labelMatches(labels: Record<string, string>, spec: string): boolean {
  const eq = spec.indexOf('=');
  if (eq < 0) return spec in labels;
  return labels[spec.slice(0, eq)] === spec.slice(eq + 1);
}

function checkFilters(filters: Record<string, readonly string[]> | undefined, allowed: Set<string>): void {
  for (const key of Object.keys(filters ?? {})) {
    if (!allowed.has(key)) throw new InvalidArgumentError(`Cannot filter images: invalid filter '${key}'`);
  }
}

function parseBool(key: string, value: string): boolean {
  const lower = value.toLowerCase();
  if (lower === 'true' || lower === '1') return true;
  if (lower === 'false' || lower === '0') return false;
  throw new InvalidArgumentError(`Cannot filter images: invalid value for '${key}': ${value}`);
}

export class ImageStore {
  readonly #db: MetadataDatabase;
  readonly #records: ImageRecords;
  readonly #content: ContentStore;
  readonly #leases: LeaseStore;
  readonly #containersUsing: (imageId: string) => ContainerUse[];

  constructor(options: ImageStoreOptions) {
    this.#db = options.db;
    this.#records = new ImageRecords(options.db);
    this.#content = options.content;
    this.#leases = options.leases;
    this.#containersUsing =
      options.containersUsing ??
      ((id) => this.#records.containersUsing(id).map((containerId) => ({ id: containerId, running: false })));
  }

  get content(): ContentStore {
    return this.#content;
  }

  get leases(): LeaseStore {
    return this.#leases;
  }

  get records(): ImageRecords {
    return this.#records;
  }

  // ---- finding images ----

  /**
   * Finds an image as Docker does: a full id (`sha256:…` or 64 hex), a name (tag, default
   * `latest`, or `name@digest`), then a unique id prefix. Throws NotFoundError
   * (`No such image: busybox:latest`) or InvalidArgumentError for a malformed name or an
   * ambiguous prefix.
   */
  resolve(refOrId: string): ImageRecord {
    return this.#resolve(refOrId).image;
  }

  /** Like `resolve`, but undefined instead of NotFoundError. */
  find(refOrId: string): ImageRecord | undefined {
    try {
      return this.resolve(refOrId);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  #resolve(input: string): Resolved {
    if (input === '') throw new InvalidArgumentError('Cannot find image: empty name');
    let parsed: ReturnType<typeof parseAnyReference> | undefined;
    let parseError: unknown;
    try {
      parsed = parseAnyReference(input);
    } catch (error) {
      parseError = error;
    }
    let notFoundName = input;
    if (parsed?.kind === 'digest') {
      const image = this.#records.get(parsed.digest);
      if (image) return { image };
    } else if (parsed?.kind === 'named') {
      const ref = parsed.reference;
      if (ref.digest !== undefined) {
        const canonical = formatReference({ ...trimReference(ref), digest: ref.digest });
        const ids = this.#records.imagesWithRepoDigest(canonical);
        const image = ids.length > 0 ? this.#records.get(ids[0]!) : this.#byManifest(ref);
        if (image) return { image, matched: { kind: 'digest', reference: canonical } };
        notFoundName = familiarString({ ...trimReference(ref), digest: ref.digest });
      } else {
        const tagged = withDefaultTag(ref);
        const key = formatReference(tagged);
        const tag = this.#records.tag(key);
        const image = tag ? this.#records.get(tag.imageId) : undefined;
        if (image) return { image, matched: { kind: 'tag', reference: key } };
        notFoundName = familiarString(tagged);
      }
    }
    const hex = /^(?:sha256:)?([a-f0-9]{1,64})$/.exec(input)?.[1];
    if (hex !== undefined) {
      const ids = this.#records.idsWithPrefix(`sha256:${hex}`);
      if (ids.length === 1) return { image: this.#records.get(ids[0]!)! };
      if (ids.length > 1) {
        throw new InvalidArgumentError(
          `Cannot find image ${input}: the id prefix is ambiguous (${ids.length} images)`,
        );
      }
    }
    if (parseError && hex === undefined) throw parseError;
    throw new NotFoundError(`No such image: ${notFoundName}`);
  }

  /** An image whose manifest (or index) has the reference's digest, preferring one named in its repository. */
  #byManifest(ref: Reference): ImageRecord | undefined {
    const candidates = this.#records.byManifestDigest(ref.digest!);
    const name = formatReference(trimReference(ref));
    return (
      candidates.find((image) =>
        this.#records.tagsOf(image.id).some((tag) => tag.reference.startsWith(`${name}:`)),
      ) ?? candidates[0]
    );
  }

  get(id: string): ImageRecord {
    const image = this.#records.get(id);
    if (!image) throw new NotFoundError(`No such image: ${id}`);
    return image;
  }

  /** Familiar tags of an image, sorted (`busybox:latest`). */
  repoTags(id: string): string[] {
    return this.#records
      .tagsOf(id)
      .map((tag) => familiarString(parseNormalizedReference(tag.reference)))
      .sort();
  }

  /** Familiar repo digests of an image (`busybox@sha256:…`). */
  repoDigests(id: string): string[] {
    return this.#records
      .repoDigestsOf(id)
      .map((reference) => familiarString(parseNormalizedReference(reference)))
      .sort();
  }

  // ---- reading images ----

  async configBytes(id: string): Promise<Buffer> {
    return this.#content.readAll(this.get(id).id as Digest);
  }

  async config(id: string): Promise<ImageConfig> {
    return parseImageConfig(await this.configBytes(id));
  }

  async manifestBytes(id: string): Promise<Buffer> {
    return this.#content.readAll(this.get(id).manifestDigest as Digest);
  }

  async manifest(id: string): Promise<OciManifest> {
    return JSON.parse((await this.manifestBytes(id)).toString()) as OciManifest;
  }

  /** The layers of an image with their diffIDs and chain IDs, bottom first. */
  async layers(id: string): Promise<ImageLayer[]> {
    const manifest = await this.manifest(id);
    const diffIds = manifest.layers.map((layer) => layer.digest);
    const chains = chainIds(diffIds);
    return manifest.layers.map((layer, i) => ({
      digest: layer.digest,
      diffId: layer.digest,
      chainId: chains[i]!,
      size: layer.size,
      mediaType: layer.mediaType,
    }));
  }

  // ---- writing images ----

  /**
   * Records an image from a config and uncompressed layers already ingested under `lease`: writes
   * the config and a manifest, then in one transaction stores the image, its blob list and its
   * tags. Idempotent: the same config gives the same id.
   */
  async createImage(options: CreateImageOptions): Promise<CreateImageResult> {
    const config = parseImageConfig(options.config);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== options.layers.length) {
      throw new InvalidArgumentError(
        `Cannot create image: the config lists ${diffIds.length} layers but ${options.layers.length} were given`,
      );
    }
    options.layers.forEach((layer, i) => {
      if (layer.digest !== diffIds[i]) {
        throw new InvalidArgumentError(
          `Cannot create image: layer ${i} is ${layer.digest} but the config's diffID is ${diffIds[i]}`,
        );
      }
    });
    const tags = (options.tags ?? []).map((name) => {
      const ref = withDefaultTag(parseNormalizedReference(name));
      if (ref.digest !== undefined)
        throw new InvalidArgumentError(
          `Cannot tag image as ${name}: refusing to create a tag with a digest reference`,
        );
      return formatReference(ref);
    });
    const configDesc = await this.#content.writeBlob(options.config, { lease: options.lease });
    const manifest: OciManifest = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: configDesc.digest, size: configDesc.size },
      layers: options.layers.map(
        (layer): Descriptor => ({ mediaType: MediaType.OciLayer, digest: layer.digest, size: layer.size }),
      ),
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifest));
    const manifestDesc = await this.#content.writeBlob(manifestBytes, { lease: options.lease });
    const record: ImageRecord = {
      id: configDesc.digest,
      manifestDigest: manifestDesc.digest,
      manifestMediaType: MediaType.OciManifest,
      size: options.layers.reduce((sum, layer) => sum + layer.size, 0),
      architecture: config.architecture,
      os: config.os,
      addedAt: Date.now(),
    };
    if (options.indexDigest) record.indexDigest = options.indexDigest;
    if (config.created) record.created = config.created;
    if (config.variant) record.variant = config.variant;
    if (options.parent) record.parent = options.parent;
    const content = [manifestDesc.digest, configDesc.digest, ...options.layers.map((layer) => layer.digest)];
    return this.#db.write(() => {
      const created = this.#records.insert(record, content);
      const movedTags: CreateImageResult['movedTags'] = [];
      for (const tag of tags) {
        const previous = this.#records.setTag(tag, record.id);
        if (previous) movedTags.push({ reference: tag, previousImageId: previous });
      }
      for (const reference of options.repoDigests ?? []) this.#records.addRepoDigest(reference, record.id);
      return { image: this.#records.get(record.id)!, created, movedTags };
    });
  }

  /**
   * `docker tag SOURCE TARGET`: points TARGET (default tag `latest`) at SOURCE's image.
   * Returns the normalized target.
   */
  tag(source: string, target: string): string {
    const ref = parseNormalizedReference(target);
    if (ref.digest !== undefined) {
      throw new InvalidArgumentError(
        `Cannot tag image as ${target}: refusing to create a tag with a digest reference`,
      );
    }
    const key = formatReference(withDefaultTag(ref));
    // resolve and set in one transaction: the image cannot vanish in between
    const image = this.#db.write(() => {
      const image = this.resolve(source);
      this.#records.setTag(key, image.id);
      return image;
    });
    // Docker's `tag`: the actor is the image id, `name` the new tag as the user would write it
    this.#event('tag', image.id, familiarString(parseNormalizedReference(key)));
    return key;
  }

  /** Records a `name@digest` the image is known by in a registry (pull, push). */
  addRepoDigest(imageId: string, reference: string): void {
    const ref = parseNormalizedReference(reference);
    if (ref.digest === undefined)
      throw new InvalidArgumentError(`Cannot add repo digest ${reference}: no digest`);
    this.#records.addRepoDigest(
      formatReference({ ...trimReference(ref), digest: ref.digest }),
      this.get(imageId).id,
    );
  }

  // ---- removing images ----

  /**
   * `docker rmi`: untags a name, and deletes the image when no name is left; by id, deletes the
   * image and all its names. Refuses (ConflictError, Docker's messages) an image a container
   * uses or that has children, unless forced where Docker allows forcing. Frees blobs no other
   * image or lease needs. Returns Docker's list of Untagged/Deleted entries.
   */
  async remove(refOrId: string, options: RemoveImageOptions = {}): Promise<DeleteResponseItem[]> {
    const target = this.find(refOrId)?.id ?? '';
    const { items, freed } = this.#db.write(() => this.#removeInTransaction(refOrId, options));
    this.#deleteEvents(items, target);
    if (freed.length > 0) await this.#content.garbageCollect({ candidates: freed as Digest[] });
    return items;
  }

  /** Records an image event (Docker's LogImageEvent: actor id, and the `name` attribute). */
  #event(action: string, actorId: string, name: string, extra: Record<string, string> = {}): void {
    new EventLog(this.#db).tryAdd({
      type: 'image',
      action,
      actorId,
      attributes: { name, ...extra },
    });
  }

  /**
   * The `untag` and `delete` events of an rmi or prune, in its items' order. An `Untagged` entry
   * belongs to the image of the `Deleted` entry after it (or `target` when none follows); Docker
   * names the image by its id in both (`name` = the id too).
   */
  #deleteEvents(items: readonly DeleteResponseItem[], target: string): void {
    items.forEach((item, index) => {
      if ('Deleted' in item) this.#event('delete', item.Deleted, item.Deleted);
      else {
        const next = items.slice(index).find((later) => 'Deleted' in later);
        const owner = next && 'Deleted' in next ? next.Deleted : target;
        this.#event('untag', owner, owner);
      }
    });
  }

  /** Records an image event from the image services (pull, push, import, load, save). */
  recordEvent(action: string, actorId: string, name: string): void {
    this.#event(action, actorId, name);
  }

  #removeInTransaction(
    refOrId: string,
    options: RemoveImageOptions,
  ): { items: DeleteResponseItem[]; freed: string[] } {
    const { image, matched } = this.#resolve(refOrId);
    const items: DeleteResponseItem[] = [];
    const freed: string[] = [];
    const familiar = (reference: string) => familiarString(parseNormalizedReference(reference));
    const names = () => [
      ...this.#records.tagsOf(image.id).map((tag) => ({ kind: 'tag' as const, reference: tag.reference })),
      ...this.#records.repoDigestsOf(image.id).map((reference) => ({ kind: 'digest' as const, reference })),
    ];
    const untag = (name: { kind: 'tag' | 'digest'; reference: string }) => {
      if (name.kind === 'tag') this.#records.removeTag(name.reference);
      else this.#records.removeRepoDigest(name.reference, image.id);
      items.push({ Untagged: familiar(name.reference) });
    };
    const using = this.#containersUsing(image.id);
    if (matched) {
      const all = names();
      if (isSingleReference(all) && using.length > 0 && !options.force) {
        throw new ConflictError(
          `conflict: unable to remove repository reference "${refOrId}" (must force) - container ${shortId(using[0]!.id)} is using its referenced image ${shortId(image.id)}`,
        );
      }
      untag(matched);
      // the repo digests of that repository go with its last tag, as Docker does
      const repository = familiarName(parseNormalizedReference(matched.reference));
      const rest = names();
      if (
        !rest.some(
          (name) =>
            name.kind === 'tag' && familiarName(parseNormalizedReference(name.reference)) === repository,
        )
      ) {
        for (const name of rest) {
          if (name.kind === 'digest' && familiarName(parseNormalizedReference(name.reference)) === repository)
            untag(name);
        }
      }
      if (names().length > 0) return { items, freed };
      // the last name is gone: delete the image if nothing else holds it (soft conflicts stop quietly)
      if (this.#records.children(image.id).length > 0) return { items, freed };
      if (using.length > 0 && (!options.force || using.some((c) => c.running))) return { items, freed };
    } else {
      // By id, Docker drops the names first only when they are one tag (and its repo digests);
      // any other set of names is a conflict unless forced, so `rmi ID` of an image tagged
      // `app:1` and `app:2` deletes nothing.
      if (isSingleReference(names())) {
        this.#checkDeleteConflicts(image, using, { force: options.force === true, names: false });
        for (const name of names()) untag(name);
      }
      this.#checkDeleteConflicts(image, using, { force: options.force === true, names: true });
      for (const name of names()) untag(name);
    }
    this.#deleteRecord(image, items, freed, options);
    return { items, freed };
  }

  /**
   * Docker's `checkImageDeleteConflict`, in its order: child images and running containers (hard:
   * not even with force), then, unless forced, the names left (`names`) and stopped containers.
   */
  #checkDeleteConflicts(
    image: ImageRecord,
    using: readonly ContainerUse[],
    options: { force: boolean; names: boolean },
  ): void {
    const conflict = (forced: string, reason: string) =>
      new ConflictError(`conflict: unable to delete ${shortId(image.id)} (${forced}) - ${reason}`);
    if (this.#records.children(image.id).length > 0)
      throw conflict('cannot be forced', 'image has dependent child images');
    const running = using.find((c) => c.running);
    if (running)
      throw conflict('cannot be forced', `image is being used by running container ${shortId(running.id)}`);
    if (options.force) return;
    if (
      options.names &&
      (this.#records.tagsOf(image.id).length > 0 || this.#records.repoDigestsOf(image.id).length > 0)
    )
      throw conflict('must be forced', 'image is referenced in multiple repositories');
    if (using.length > 0)
      throw conflict('must be forced', `image is being used by stopped container ${shortId(using[0]!.id)}`);
  }

  /** Deletes the image row, then its untagged, unused, childless parents unless `noPrune`. */
  #deleteRecord(
    image: ImageRecord,
    items: DeleteResponseItem[],
    freed: string[],
    options: RemoveImageOptions,
  ): void {
    freed.push(...this.#records.delete(image.id));
    items.push({ Deleted: image.id });
    if (options.noPrune || !image.parent) return;
    const parent = this.#records.get(image.parent);
    if (!parent) return;
    if (this.#records.tagsOf(parent.id).length > 0 || this.#records.repoDigestsOf(parent.id).length > 0)
      return;
    if (this.#records.children(parent.id).length > 0) return;
    if (this.#containersUsing(parent.id).length > 0) return;
    this.#deleteRecord(parent, items, freed, options);
  }

  /**
   * `docker image prune`: deletes dangling images (untagged, no children), or with `all` every
   * image no container uses. Filters: until, label, label!. Returns Docker's prune report.
   */
  async prune(options: PruneImagesOptions = {}): Promise<ImagesPruneReport> {
    checkFilters(options.filters, PRUNE_FILTERS);
    const filters = options.filters ?? {};
    let all = options.all === true;
    for (const value of filters.dangling ?? []) all = !parseBool('dangling', value);
    const until = (filters.until ?? []).map((value) => parseUntil(value));
    const configs = new Map<string, ImageConfig>();
    for (const image of this.#records.all()) {
      if ((filters.label ?? []).length || (filters['label!'] ?? []).length)
        configs.set(image.id, await this.config(image.id));
    }
    const items = this.#db.write(() => {
      const items: DeleteResponseItem[] = [];
      // repeat: deleting a child can leave its parent prunable
      for (let progress = true; progress; ) {
        progress = false;
        for (const image of this.#records.all()) {
          if (this.#records.children(image.id).length > 0) continue;
          if (this.#containersUsing(image.id).length > 0) continue;
          const tags = this.#records.tagsOf(image.id);
          if (!all && tags.length > 0) continue;
          const createdMs = image.created ? Date.parse(image.created) : 0;
          if (until.some((limit) => !(createdMs < limit))) continue;
          const labels = configs.get(image.id)?.config?.Labels ?? {};
          if (!(filters.label ?? []).every((spec) => labelMatches(labels, spec))) continue;
          if ((filters['label!'] ?? []).some((spec) => labelMatches(labels, spec))) continue;
          for (const tag of tags)
            items.push({ Untagged: familiarString(parseNormalizedReference(tag.reference)) });
          for (const reference of this.#records.repoDigestsOf(image.id)) {
            items.push({ Untagged: familiarString(parseNormalizedReference(reference)) });
          }
          this.#records.delete(image.id);
          items.push({ Deleted: image.id });
          progress = true;
        }
      }
      return items;
    });
    this.#deleteEvents(items, '');
    // a full collection: it also reclaims blobs left by interrupted imports and loads
    const gc = await this.#content.garbageCollect();
    new EventLog(this.#db).tryAdd({
      type: 'image',
      action: 'prune',
      actorId: '',
      attributes: { reclaimed: String(gc.bytes) },
    });
    return { ImagesDeleted: items.length > 0 ? items : null, SpaceReclaimed: gc.bytes };
  }

  // ---- listing and inspecting ----

  /** `docker images`: summaries, newest first, in the Engine API's shape. */
  async list(options: ListImagesOptions = {}): Promise<ImageSummary[]> {
    checkFilters(options.filters, LIST_FILTERS);
    const filters = options.filters ?? {};
    const { images, tags, digests } = this.#db.read(() => {
      const all = this.#records.all();
      return {
        images: all,
        tags: this.#records.allTags(),
        digests: new Map(all.map((image) => [image.id, this.#records.repoDigestsOf(image.id)])),
      };
    });
    const parents = new Set(
      images.map((image) => image.parent).filter((parent): parent is string => parent !== undefined),
    );
    const tagsById = new Map<string, string[]>();
    for (const tag of tags) {
      const list = tagsById.get(tag.imageId) ?? [];
      list.push(tag.reference);
      tagsById.set(tag.imageId, list);
    }
    let dangling: boolean | undefined;
    for (const value of filters.dangling ?? []) dangling = parseBool('dangling', value);
    const timeOf = (ref: string) => {
      const image = this.resolve(ref);
      return image.created ? Date.parse(image.created) : 0;
    };
    const before = (filters.before ?? []).map(timeOf);
    const since = (filters.since ?? []).map(timeOf);
    const until = (filters.until ?? []).map((value) => parseUntil(value));
    const patterns = (filters.reference ?? []).map(globToRegExp);
    const out: ImageSummary[] = [];
    for (const image of images) {
      const fullTags = tagsById.get(image.id) ?? [];
      const refs = fullTags.map((tag) => parseNormalizedReference(tag));
      const isDangling = fullTags.length === 0;
      if (!options.all && isDangling && parents.has(image.id) && dangling === undefined) continue;
      if (dangling === true && !isDangling) continue;
      if (dangling === false && isDangling) continue;
      const createdMs = image.created ? Date.parse(image.created) : 0;
      if (before.some((limit) => !(createdMs < limit))) continue;
      if (since.some((limit) => !(createdMs > limit))) continue;
      if (until.some((limit) => !(createdMs < limit))) continue;
      const digestRefs = (digests.get(image.id) ?? []).map((ref) => parseNormalizedReference(ref));
      let repoTags = refs.map((ref) => familiarString(ref)).sort();
      let repoDigests = digestRefs.map((ref) => familiarString(ref)).sort();
      if (patterns.length > 0) {
        // Docker keeps only the tags and digests that match, and drops the image when none does
        const matches = (ref: Reference) =>
          patterns.some((re) => re.test(familiarName(ref)) || re.test(familiarString(ref)));
        repoTags = refs
          .filter(matches)
          .map((ref) => familiarString(ref))
          .sort();
        repoDigests = digestRefs
          .filter(matches)
          .map((ref) => familiarString(ref))
          .sort();
        if (repoTags.length === 0 && repoDigests.length === 0) continue;
      }
      const labels = (await this.config(image.id)).config?.Labels ?? {};
      if (!(filters.label ?? []).every((spec) => labelMatches(labels, spec))) continue;
      out.push({
        Id: image.id,
        ParentId: image.parent ?? '',
        RepoTags: repoTags,
        RepoDigests: repoDigests,
        Created: unixSeconds(image.created),
        Size: image.size,
        SharedSize: -1,
        Labels: labels,
        Containers: -1,
      });
    }
    // Newest first by the full creation time: `Created` is in seconds, and images made within
    // one second (a script, a test) would otherwise come out in id order.
    const createdMsOf = new Map(
      images.map((image) => [image.id, image.created ? Date.parse(image.created) : 0]),
    );
    return out.sort(
      (a, b) => (createdMsOf.get(b.Id) ?? 0) - (createdMsOf.get(a.Id) ?? 0) || a.Id.localeCompare(b.Id),
    );
  }

  /** `docker image inspect`: Docker's JSON shape. */
  async inspect(refOrId: string): Promise<ImageInspect> {
    const image = this.resolve(refOrId);
    const config = await this.config(image.id);
    const tags = this.#records.tagsOf(image.id);
    const lastTag = tags.reduce((max, tag) => Math.max(max, tag.taggedAt), 0);
    const inspect: ImageInspect = {
      Id: image.id,
      RepoTags: this.repoTags(image.id),
      RepoDigests: this.repoDigests(image.id),
      Parent: image.parent ?? '',
      Comment: config.comment ?? '',
      Created: config.created ?? '',
      DockerVersion: config.docker_version ?? '',
      Author: config.author ?? '',
      Config: inspectConfig(config.config ?? {}),
      Architecture: config.architecture,
      Os: config.os,
      Size: image.size,
      GraphDriver: { Data: null, Name: 'overlayfs' },
      RootFS: { Type: 'layers', Layers: [...config.rootfs.diff_ids] },
      Metadata: { LastTagTime: lastTag > 0 ? new Date(lastTag).toISOString() : ZERO_TIME },
    };
    if (config.variant) inspect.Variant = config.variant;
    if (config['os.version']) inspect.OsVersion = config['os.version'];
    const manifestInfo = await this.#content.info(image.manifestDigest as Digest);
    inspect.Descriptor = {
      mediaType: image.manifestMediaType,
      digest: image.manifestDigest,
      size: manifestInfo.size,
    };
    return inspect;
  }

  /** `docker history`: newest first, one entry per config history entry, Docker's shape. */
  async history(refOrId: string): Promise<HistoryResponseItem[]> {
    const image = this.resolve(refOrId);
    const config = await this.config(image.id);
    const layers = await this.layers(image.id);
    const entries: HistoryResponseItem[] = [];
    let layerIndex = 0;
    const history: HistoryEntry[] = config.history?.length
      ? config.history
      : config.rootfs.diff_ids.map(() => (config.created ? { created: config.created } : {}));
    for (const entry of history) {
      let size = 0;
      if (!entry.empty_layer) {
        size = layers[layerIndex]?.size ?? 0;
        layerIndex++;
      }
      entries.unshift({
        Id: '<missing>',
        Created: unixSeconds(entry.created),
        CreatedBy: entry.created_by ?? '',
        Tags: null,
        Size: size,
        Comment: entry.comment ?? '',
      });
    }
    // Docker fills ids from the top: the image, then its local parents
    let current: ImageRecord | undefined = image;
    for (const entry of entries) {
      if (!current) break;
      entry.Id = current.id;
      const tags = this.repoTags(current.id);
      entry.Tags = tags.length > 0 ? tags : null;
      current = current.parent ? this.#records.get(current.parent) : undefined;
    }
    return entries;
  }

  /** The images half of `docker system df`: per-image shared and unique sizes, container counts. */
  async diskUsage(): Promise<ImagesDiskUsage> {
    const summaries = await this.list({ all: true });
    const counts = this.#records.contentUseCounts();
    const layerSizes = new Map<string, number>();
    const images: ImageSummary[] = [];
    for (const summary of summaries) {
      let shared = 0;
      for (const layer of await this.layers(summary.Id)) {
        layerSizes.set(layer.digest, layer.size);
        if ((counts.get(layer.digest) ?? 0) > 1) shared += layer.size;
      }
      images.push({ ...summary, SharedSize: shared, Containers: this.#containersUsing(summary.Id).length });
    }
    const contentSize = (await this.#content.list()).reduce((sum, info) => sum + info.size, 0);
    return {
      LayersSize: [...layerSizes.values()].reduce((sum, size) => sum + size, 0),
      Images: images,
      ContentSize: contentSize,
    };
  }
}

/** Docker's full container-config shape from an image config's `config`. */
function inspectConfig(config: ContainerConfig): InspectContainerConfig {
  // Key for key as Docker's container.Config marshals: its field order, `omitempty` fields only
  // when set, and map keys sorted (Go's encoding/json sorts them; a config keeps its own order).
  const out: InspectContainerConfig = {
    Hostname: '',
    Domainname: '',
    User: config.User ?? '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    ...(config.ExposedPorts
      ? { ExposedPorts: goMapOrder(config.ExposedPorts) as InspectContainerConfig['ExposedPorts'] & object }
      : {}),
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: config.Env ?? null,
    Cmd: config.Cmd ?? null,
    ...(config.Healthcheck ? { Healthcheck: healthConfig(config.Healthcheck) } : {}),
    ...(config.ArgsEscaped === true ? { ArgsEscaped: true } : {}),
    Image: '',
    Volumes: config.Volumes ? (goMapOrder(config.Volumes) as InspectContainerConfig['Volumes']) : null,
    WorkingDir: config.WorkingDir ?? '',
    Entrypoint: config.Entrypoint ?? null,
    OnBuild: config.OnBuild ?? null,
    Labels: config.Labels ? goMapOrder(config.Labels) : null,
  };
  if (config.StopSignal) out.StopSignal = config.StopSignal;
  if (config.Shell?.length) out.Shell = config.Shell;
  return out;
}

/** Docker's HealthConfig: its field order, every field `omitempty`. */
function healthConfig(health: NonNullable<ContainerConfig['Healthcheck']>): Record<string, unknown> {
  const fields = ['Test', 'Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const;
  const source = health as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    const value = source[field];
    if (value === undefined || value === null || value === 0 || (Array.isArray(value) && value.length === 0))
      continue;
    out[field] = value;
  }
  return out;
}

/**
 * Docker's `isSingleReference`: the names of an image are one tag, with any repo digests in that
 * tag's repository (or, with no tag, digests of one repository). `rmi ID` drops such names
 * itself; any other set of names makes it a conflict.
 */
function isSingleReference(names: ReadonlyArray<{ kind: 'tag' | 'digest'; reference: string }>): boolean {
  if (names.length <= 1) return names.length === 1;
  const repositoryOf = (reference: string) => familiarName(parseNormalizedReference(reference));
  let tag: string | undefined;
  const digestRepositories = new Set<string>();
  for (const name of names) {
    if (name.kind === 'digest') digestRepositories.add(repositoryOf(name.reference));
    else if (tag === undefined) tag = name.reference;
    else return false;
  }
  const repository = repositoryOf(tag ?? names[0]!.reference);
  return digestRepositories.size === 1 && digestRepositories.has(repository);
}

/** The digest of config bytes: what an image's id will be. */
export function imageIdOf(config: Uint8Array): Digest {
  return digestBytes(config);
}
