/**
 * The web UI's home: the repositories the viewer may see, grouped by project (public or private
 * shown), with their tag counts, a page at a time.
 *
 * @example
 * reply.send(renderIndexPage({ viewer: 'alice', page, after: undefined }));
 */
import type { PageOf, ProjectGroup } from './catalog-reader.ts';
import { TAG_COUNT_CAP } from './catalog-reader.ts';
import { href, html, type SafeHtml } from './html.ts';
import { pager, renderPage } from './layout.ts';

export interface IndexPageOptions {
  viewer: string | undefined;
  page: PageOf<ProjectGroup[]>;
  /** The cursor this page started after (a "first page" link is shown when set). */
  after: string | undefined;
}

export function renderIndexPage(options: IndexPageOptions): string {
  const { page } = options;
  const groups = page.items.map(projectSection);
  const empty =
    page.items.length === 0
      ? html`<p class="muted">No repositories to show${options.viewer === undefined ? html` (<a href="/ui/login">log in</a> to see private ones)` : ''}.</p>`
      : '';
  return renderPage({
    title: 'Repositories',
    crumbs: [],
    viewer: options.viewer,
    content: html`<h1>Repositories</h1>${empty}${groups}${pager(['ui', ''], options.after, page.next)}`,
  });
}

function projectSection(group: ProjectGroup): SafeHtml {
  const rows = group.repositories.map((repository) => {
    const count = repository.capped ? `${TAG_COUNT_CAP}+` : repository.tags;
    return html`<tr><td><a href="${href(['ui', 'r', repository.name])}">${repository.name}</a></td><td class="num">${count}</td></tr>\n`;
  });
  return html`<h2>${group.project} <span class="badge ${group.visibility}">${group.visibility}</span></h2>
<table><thead><tr><th>Repository</th><th class="num">Tags</th></tr></thead><tbody>${rows}</tbody></table>
`;
}
