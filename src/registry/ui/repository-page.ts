/**
 * One repository's tags, a page at a time: each tag's manifest digest (linking to the manifest
 * page), media type, total size (config and layers of an image), the image's creation time from
 * its config, and the platforms of an index.
 *
 * @example
 * reply.send(renderRepositoryPage({ viewer, repository: 'team/app', visibility: 'private', page, after }));
 */
import type { PageOf, TagRow, Visibility } from './catalog-reader.ts';
import { formatSize, formatTime, shortDigest } from './format.ts';
import { href, html } from './html.ts';
import { pager, renderPage } from './layout.ts';

export interface RepositoryPageOptions {
  viewer: string | undefined;
  repository: string;
  visibility: Visibility;
  page: PageOf<TagRow[]>;
  after: string | undefined;
}

export function renderRepositoryPage(options: RepositoryPageOptions): string {
  const { repository, page } = options;
  const rows = page.items.map(({ tag, manifest }) => {
    const platforms =
      manifest.kind === 'index'
        ? manifest.children.map((child) => child.platform).filter((platform) => platform !== undefined)
        : manifest.configSummary
          ? [manifest.configSummary.platform]
          : [];
    return html`<tr><td><strong>${tag}</strong></td>
<td><a href="${href(['ui', 'r', repository, 'm', manifest.digest])}">${shortDigest(manifest.digest)}</a></td>
<td><code>${manifest.mediaType}</code>${manifest.artifactType !== undefined && manifest.kind !== 'image' ? html`<br><span class="muted">${manifest.artifactType}</span>` : ''}</td>
<td class="num">${formatSize(manifest.totalSize)}</td>
<td>${formatTime(manifest.configSummary?.created)}</td>
<td>${platforms.length > 0 ? platforms.join(', ') : html`<span class="muted">&mdash;</span>`}</td></tr>
`;
  });
  const table =
    page.items.length === 0
      ? html`<p class="muted">No tags.</p>`
      : html`<table><thead><tr><th>Tag</th><th>Digest</th><th>Media type</th><th class="num">Size</th><th>Created</th><th>Platforms</th></tr></thead>
<tbody>${rows}</tbody></table>`;
  return renderPage({
    title: repository,
    crumbs: [{ label: repository }],
    viewer: options.viewer,
    content: html`<h1>${repository} <span class="badge ${options.visibility}">${options.visibility}</span></h1>
${table}${pager(['ui', 'r', repository], options.after, page.next)}`,
  });
}
