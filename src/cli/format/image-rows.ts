/**
 * The rows of `images` / `image ls` (and of `system df -v`), as Docker's `formatter/image.go`
 * makes them: one row per repository and tag (and per digest with `--digests`), `<none>` for
 * dangling images, the default table columns, the column names, and the JSON fields of
 * `--format json` (`Containers CreatedAt CreatedSince Digest ID Repository SharedSize Size Tag
 * UniqueSize VirtualSize`, as the docker CLI 28 prints them).
 */
import { familiarName, parseNormalizedReference } from '../../oci/reference.ts';
import { DEFAULT_QUIET_FORMAT, listingRow, TABLE_FORMAT } from './formatter.ts';
import { goTime, humanSize, timeAgo, truncateId } from './units.ts';

/** The fields of Docker's `ImageSummary` that listings show. */
export interface ImageSummaryLike {
  Id: string;
  RepoTags: readonly string[] | null;
  RepoDigests: readonly string[] | null;
  /** Unix seconds. */
  Created: number;
  Size: number;
  /** -1 when not computed. */
  SharedSize: number;
  /** -1 when not computed. */
  Containers: number;
}

export interface ImageRow {
  ID: string;
  Repository: string;
  Tag: string;
  Digest: string;
  CreatedSince: string;
  CreatedAt: string;
  Size: string;
  Containers: string;
  SharedSize: string;
  UniqueSize: string;
  /** Docker 28's deprecated twin of Size: 4 significant digits instead of 3 (`1.984MB`). */
  VirtualSize: string;
}

export const DEFAULT_IMAGE_TABLE =
  'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';
export const DEFAULT_IMAGE_TABLE_WITH_DIGEST =
  'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';

/** Column names by field: the data Docker renders a table's header row from. */
export const IMAGE_HEADER = {
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  Containers: 'CONTAINERS',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
  VirtualSize: 'SIZE',
};

/** Go's zero time in Unix seconds: Docker shows no "created" for it. */
const GO_ZERO_TIME = -62135596800;

/**
 * Docker's `NewImageFormat`: `table` becomes the default columns (with DIGEST for `--digests`,
 * `{{.ID}}` for `-q`); `raw` becomes `key: value` blocks; a custom table gets a DIGEST column
 * appended for `--digests`.
 *
 * @example
 * imageListFormat('table', false, false) === DEFAULT_IMAGE_TABLE;
 */
export function imageListFormat(source: string, quiet: boolean, digests: boolean): string {
  if (source === TABLE_FORMAT) {
    if (quiet) return DEFAULT_QUIET_FORMAT;
    return digests ? DEFAULT_IMAGE_TABLE_WITH_DIGEST : DEFAULT_IMAGE_TABLE;
  }
  if (source === 'raw') {
    if (quiet) return 'image_id: {{.ID}}';
    const digest = digests ? 'digest: {{.Digest}}\n' : '';
    return `repository: {{ .Repository }}\ntag: {{.Tag}}\n${digest}image_id: {{.ID}}\ncreated_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n`;
  }
  if (source.startsWith(TABLE_FORMAT) && digests && !source.includes('{{.Digest}}'))
    return `${source}\t{{.Digest}}`;
  return source;
}

/** An image with no tags (or only Docker's `<none>:<none>` placeholder). */
export function isDangling(image: Pick<ImageSummaryLike, 'RepoTags' | 'RepoDigests'>): boolean {
  const tags = image.RepoTags ?? [];
  const digests = image.RepoDigests ?? [];
  if (tags.length === 0 && digests.length === 0) return true;
  return (
    tags.length === 1 && tags[0] === '<none>:<none>' && digests.length === 1 && digests[0] === '<none>@<none>'
  );
}

export interface ImageRowOptions {
  /** Truncate ids to 12 characters (not with `--no-trunc`). */
  trunc: boolean;
  /** `--digests`: one row per digest of each tag, and rows for digest-only references. */
  digests: boolean;
  /** The format in use: a `{{.Digest}}` in it also fills the Digest column. */
  format: string;
  now?: Date;
}

/** One listing row, as Docker's `imageContext`. */
export function imageRow(
  image: ImageSummaryLike,
  repository: string,
  tag: string,
  digest: string,
  options: Pick<ImageRowOptions, 'trunc' | 'now'>,
): ImageRow {
  const created = new Date(image.Created * 1000);
  return listingRow('*formatter.imageContext', {
    ID: options.trunc ? truncateId(image.Id) : image.Id,
    Repository: repository,
    Tag: tag,
    Digest: digest,
    CreatedSince: image.Created === GO_ZERO_TIME ? '' : timeAgo(created, options.now),
    // Made when a format reads it: its zone name needs Intl, whose first use costs ~18 ms, and
    // the default table (or `-q`) never shows it.
    get CreatedAt() {
      return goTime(created);
    },
    Size: humanSize(image.Size, 3),
    Containers: image.Containers === -1 ? 'N/A' : String(image.Containers),
    SharedSize: image.SharedSize === -1 ? 'N/A' : humanSize(image.SharedSize),
    UniqueSize:
      image.Size === -1 || image.SharedSize === -1 ? 'N/A' : humanSize(image.Size - image.SharedSize),
    VirtualSize: humanSize(image.Size),
  });
}

function splitReference(text: string): { repository: string; tag?: string; digest?: string } | undefined {
  try {
    const ref = parseNormalizedReference(text);
    return {
      repository: familiarName(ref),
      ...(ref.tag !== undefined ? { tag: ref.tag } : {}),
      ...(ref.digest !== undefined ? { digest: String(ref.digest) } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * The rows of a list of images, in Docker's order: for each image, its tags grouped by
 * repository, then digest-only repositories.
 */
export function imageRows(images: readonly ImageSummaryLike[], options: ImageRowOptions): ImageRow[] {
  const rows: ImageRow[] = [];
  const needDigest = options.digests || options.format.includes('{{.Digest}}');
  for (const image of images) {
    if (isDangling(image)) {
      rows.push(imageRow(image, '<none>', '<none>', '<none>', options));
      continue;
    }
    const repoTags = new Map<string, string[]>();
    const repoDigests = new Map<string, string[]>();
    for (const text of image.RepoTags ?? []) {
      const ref = splitReference(text);
      if (ref?.tag === undefined) continue;
      repoTags.set(ref.repository, [...(repoTags.get(ref.repository) ?? []), ref.tag]);
    }
    for (const text of image.RepoDigests ?? []) {
      const ref = splitReference(text);
      if (ref?.digest === undefined) continue;
      repoDigests.set(ref.repository, [...(repoDigests.get(ref.repository) ?? []), ref.digest]);
    }
    for (const [repository, tags] of repoTags) {
      const digests = needDigest ? (repoDigests.get(repository) ?? []) : [];
      // Digests of a tagged repository show beside its tags, not as rows of their own.
      repoDigests.delete(repository);
      for (const tag of tags) {
        if (digests.length === 0) rows.push(imageRow(image, repository, tag, '<none>', options));
        for (const digest of digests) rows.push(imageRow(image, repository, tag, digest, options));
      }
    }
    for (const [repository, digests] of repoDigests) {
      if (options.digests)
        for (const digest of digests) rows.push(imageRow(image, repository, '<none>', digest, options));
      else rows.push(imageRow(image, repository, '<none>', '', options));
    }
  }
  return rows;
}
