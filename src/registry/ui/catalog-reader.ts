/**
 * What the web UI shows, read from the registry's metadata and content: pages of repositories
 * with tag counts, pages of tags with what their manifests hold, and one manifest in full. Every
 * list is a page (`limit` entries after a cursor, one more fetched to know whether a next page
 * exists), so a page costs the same however big the registry grows. Summaries of manifests and
 * image configs are cached by digest: content-addressed bytes never change.
 *
 * The reader does not decide access: callers pass the projects a viewer may see, and check
 * `canPull` before asking about one repository.
 *
 * @example
 * const reader = new CatalogReader({ metadata, manifests, blobs, projectIsPublic });
 * const page = await reader.repositories({ projects: ['team'], limit: 100 });
 */
import type { Descriptor } from '../../oci/descriptor.ts';
import type { Digest } from '../../oci/digest.ts';
import { type ImageConfig, parseImageConfig } from '../../oci/image-config.ts';
import { type ParsedManifest, parseManifest } from '../../oci/manifest.ts';
import { isConfigMediaType } from '../../oci/media-types.ts';
import { formatPlatform, type Platform } from '../../oci/platform.ts';
import type { BlobService } from '../blob-service.ts';
import type { ManifestService } from '../manifest-service.ts';
import type { ManifestRecord, MetadataStore } from '../metadata/metadata-store.ts';
import { projectOf } from '../project-name.ts';

/** Tag counts stop at this many (shown as `1000+`). */
export const TAG_COUNT_CAP = 1000;
/** Configs larger than this are not read for a summary. */
const CONFIG_READ_LIMIT = 4 * 1024 * 1024;
const SUMMARY_CACHE_ENTRIES = 2000;

export type Visibility = 'public' | 'private' | 'unregistered';

export interface CatalogReaderOptions {
  metadata: MetadataStore;
  manifests: ManifestService;
  blobs: BlobService;
  /** Whether a project is public; undefined when no such project is recorded (open registries). */
  projectIsPublic(project: string): Promise<boolean | undefined>;
}

export interface RepositoryRow {
  name: string;
  tags: number;
  /** The count reached TAG_COUNT_CAP. */
  capped: boolean;
}

export interface ProjectGroup {
  project: string;
  visibility: Visibility;
  repositories: RepositoryRow[];
}

export interface PageOf<T> {
  items: T;
  /** The cursor of the next page (the last entry of this one), when there is one. */
  next?: string;
}

/** The outline of an image config. */
export interface ConfigSummary {
  platform: string;
  created?: string;
  author?: string;
  user?: string;
  workingDir?: string;
  entrypoint?: string[];
  cmd?: string[];
  env: string[];
  labels: Array<[string, string]>;
  exposedPorts: string[];
  history: Array<{ created?: string; createdBy?: string; comment?: string; emptyLayer: boolean }>;
}

/** What one manifest holds, as the tag list and the manifest page show it. */
export interface ManifestSummary {
  digest: Digest;
  mediaType: string;
  /** Bytes of the manifest itself. */
  size: number;
  kind: 'image' | 'index' | 'unreadable';
  artifactType?: string;
  /** Image: config plus layers. */
  totalSize?: number;
  config?: Descriptor;
  configSummary?: ConfigSummary;
  layers: Descriptor[];
  /** Index: the entries, with their platforms formatted. */
  children: Array<{ descriptor: Descriptor; platform?: string }>;
  annotations: Array<[string, string]>;
  subject?: Digest;
}

export interface TagRow {
  tag: string;
  manifest: ManifestSummary;
}

export class CatalogReader {
  readonly #metadata: MetadataStore;
  readonly #manifests: ManifestService;
  readonly #blobs: BlobService;
  readonly #projectIsPublic: (project: string) => Promise<boolean | undefined>;
  readonly #summaries = new Map<string, ManifestSummary>();

  constructor(options: CatalogReaderOptions) {
    this.#metadata = options.metadata;
    this.#manifests = options.manifests;
    this.#blobs = options.blobs;
    this.#projectIsPublic = options.projectIsPublic;
  }

  /** One page of repositories (of `projects` only, unless undefined), grouped by project. */
  async repositories(options: {
    projects: readonly string[] | undefined;
    limit: number;
    after?: string;
  }): Promise<PageOf<ProjectGroup[]>> {
    const page: Parameters<MetadataStore['listRepositories']>[0] = { limit: options.limit + 1 };
    if (options.after !== undefined) page.after = options.after;
    if (options.projects !== undefined) page.projects = options.projects;
    const names = await this.#metadata.listRepositories(page);
    const more = names.length > options.limit;
    const shown = names.slice(0, options.limit);
    const groups: ProjectGroup[] = [];
    for (const name of shown) {
      const project = projectOf(name);
      let group = groups.at(-1);
      if (group?.project !== project) {
        group = { project, visibility: await this.visibility(project), repositories: [] };
        groups.push(group);
      }
      const tags = await this.#metadata.countTags(name, TAG_COUNT_CAP);
      group.repositories.push({ name, tags, capped: tags >= TAG_COUNT_CAP });
    }
    const result: PageOf<ProjectGroup[]> = { items: groups };
    if (more && shown.length > 0) result.next = shown[shown.length - 1]!;
    return result;
  }

  async visibility(project: string): Promise<Visibility> {
    const isPublic = await this.#projectIsPublic(project);
    return isPublic === undefined ? 'unregistered' : isPublic ? 'public' : 'private';
  }

  /** One page of a repository's tags with their manifests' summaries; undefined for an unknown repository. */
  async tags(
    repository: string,
    options: { limit: number; after?: string },
  ): Promise<PageOf<TagRow[]> | undefined> {
    const page: { limit: number; after?: string } = { limit: options.limit + 1 };
    if (options.after !== undefined) page.after = options.after;
    const names = await this.#metadata.listTags(repository, page);
    if (names === undefined) return undefined;
    const more = names.length > options.limit;
    const shown = names.slice(0, options.limit);
    const rows: TagRow[] = [];
    for (const tag of shown) {
      const record = await this.#metadata.getManifest(repository, { tag });
      // The tag moved or went between the two reads: skip it rather than fail the page.
      if (!record) continue;
      rows.push({ tag, manifest: await this.#summary(repository, record) });
    }
    const result: PageOf<TagRow[]> = { items: rows };
    if (more && shown.length > 0) result.next = shown[shown.length - 1]!;
    return result;
  }

  /** One manifest in full (summary, pretty JSON); undefined when the repository does not hold it. */
  async manifest(
    repository: string,
    digest: Digest,
  ): Promise<{ summary: ManifestSummary; json: string; presentChildren: Set<string> } | undefined> {
    const record = await this.#metadata.getManifest(repository, { digest });
    if (!record) return undefined;
    const summary = await this.#summary(repository, record);
    const bytes = await this.#manifests.payload(record);
    let json: string;
    try {
      json = JSON.stringify(JSON.parse(bytes.toString('utf8')), null, 2);
    } catch {
      json = bytes.toString('utf8');
    }
    const presentChildren = new Set<string>();
    for (const child of summary.children) {
      if (await this.#metadata.getManifest(repository, { digest: child.descriptor.digest })) {
        presentChildren.add(child.descriptor.digest);
      }
    }
    return { summary, json, presentChildren };
  }

  async #summary(repository: string, record: ManifestRecord): Promise<ManifestSummary> {
    const cached = this.#summaries.get(record.digest);
    if (cached) return cached;
    const summary = await this.#summarize(repository, record);
    if (this.#summaries.size >= SUMMARY_CACHE_ENTRIES) {
      const oldest = this.#summaries.keys().next().value;
      if (oldest !== undefined) this.#summaries.delete(oldest);
    }
    this.#summaries.set(record.digest, summary);
    return summary;
  }

  async #summarize(repository: string, record: ManifestRecord): Promise<ManifestSummary> {
    const summary: ManifestSummary = {
      digest: record.digest,
      mediaType: record.mediaType,
      size: record.size,
      kind: 'unreadable',
      layers: [],
      children: [],
      annotations: Object.entries(record.annotations ?? {}),
    };
    if (record.artifactType !== undefined) summary.artifactType = record.artifactType;
    if (record.subject !== undefined) summary.subject = record.subject;
    let parsed: ParsedManifest;
    try {
      parsed = parseManifest(await this.#manifests.payload(record), record.mediaType);
    } catch {
      return summary;
    }
    if (parsed.kind === 'index') {
      summary.kind = 'index';
      summary.children = parsed.manifests.map((descriptor) => {
        const child: ManifestSummary['children'][number] = { descriptor };
        const platform = platformOf(descriptor.platform);
        if (platform !== undefined) child.platform = platform;
        return child;
      });
      return summary;
    }
    summary.kind = 'image';
    summary.config = parsed.config;
    summary.layers = parsed.layers;
    summary.totalSize = parsed.layers.reduce((total, layer) => total + layer.size, parsed.config.size);
    if (isConfigMediaType(parsed.config.mediaType)) {
      const config = await this.#readConfig(repository, parsed.config);
      if (config) summary.configSummary = summarizeConfig(config);
    }
    return summary;
  }

  async #readConfig(repository: string, descriptor: Descriptor): Promise<ImageConfig | undefined> {
    if (descriptor.size > CONFIG_READ_LIMIT) return undefined;
    const blob = await this.#blobs.stat(repository, descriptor.digest);
    if (!blob) return undefined;
    try {
      const stream = await this.#blobs.open(blob, { offset: 0, length: blob.size });
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      return parseImageConfig(Buffer.concat(chunks));
    } catch {
      // A config that is missing or not one after all: the page shows the manifest without it.
      return undefined;
    }
  }
}

function summarizeConfig(config: ImageConfig): ConfigSummary {
  const container = config.config ?? {};
  const summary: ConfigSummary = {
    platform: formatPlatform({
      os: config.os,
      architecture: config.architecture,
      ...(config.variant ? { variant: config.variant } : {}),
    }),
    env: container.Env ?? [],
    labels: Object.entries(container.Labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    exposedPorts: Object.keys(container.ExposedPorts ?? {}),
    history: (config.history ?? []).map((entry) => {
      const line: ConfigSummary['history'][number] = { emptyLayer: entry.empty_layer === true };
      if (entry.created !== undefined) line.created = entry.created;
      if (entry.created_by !== undefined) line.createdBy = entry.created_by;
      if (entry.comment !== undefined) line.comment = entry.comment;
      return line;
    }),
  };
  if (config.created !== undefined) summary.created = config.created;
  if (config.author !== undefined) summary.author = config.author;
  if (container.User) summary.user = container.User;
  if (container.WorkingDir) summary.workingDir = container.WorkingDir;
  if (container.Entrypoint) summary.entrypoint = container.Entrypoint;
  if (container.Cmd) summary.cmd = container.Cmd;
  return summary;
}

function platformOf(platform: Platform | undefined): string | undefined {
  if (!platform || typeof platform.os !== 'string' || typeof platform.architecture !== 'string')
    return undefined;
  try {
    return formatPlatform(platform);
  } catch {
    return `${platform.os}/${platform.architecture}`;
  }
}
