/**
 * One manifest: for an image its layers and its config (platform, creation time, entrypoint and
 * command, environment, labels, history); for an index its entries with their platforms, linking
 * to those the repository holds; its vulnerability report when the registry scans
 * (scan-section.ts); annotations; and the manifest's JSON, pretty-printed.
 *
 * @example
 * reply.send(renderManifestPage({ viewer, repository: 'team/app', summary, json, presentChildren }));
 */
import type { ScanView } from '../scan/scan-service.ts';
import type { ConfigSummary, ManifestSummary } from './catalog-reader.ts';
import { formatSize, formatTime } from './format.ts';
import { href, html, type SafeHtml } from './html.ts';
import { renderPage } from './layout.ts';
import { renderScanSection } from './scan-section.ts';

export interface ManifestPageOptions {
  viewer: string | undefined;
  repository: string;
  summary: ManifestSummary;
  /** The manifest's JSON, pretty-printed. */
  json: string;
  /** Index entries the repository holds (linked). */
  presentChildren: ReadonlySet<string>;
  /** The vulnerability report or its state; absent when the registry does not scan. */
  scan?: ScanView;
}

export function renderManifestPage(options: ManifestPageOptions): string {
  const { repository, summary } = options;
  const facts = html`<dl>
<dt>Digest</dt><dd><code>${summary.digest}</code></dd>
<dt>Media type</dt><dd><code>${summary.mediaType}</code></dd>
${summary.artifactType !== undefined ? html`<dt>Artifact type</dt><dd><code>${summary.artifactType}</code></dd>` : ''}
<dt>Manifest size</dt><dd>${formatSize(summary.size)}</dd>
${summary.totalSize !== undefined ? html`<dt>Total size</dt><dd>${formatSize(summary.totalSize)}</dd>` : ''}
${summary.subject !== undefined ? html`<dt>Subject</dt><dd><a href="${href(['ui', 'r', repository, 'm', summary.subject])}"><code>${summary.subject}</code></a></dd>` : ''}
</dl>`;
  const sections: SafeHtml[] = [facts];
  if (summary.kind === 'index') sections.push(children(options));
  if (summary.kind === 'image') {
    if (summary.configSummary) sections.push(config(summary.configSummary));
    sections.push(layers(summary));
  }
  if (summary.kind === 'unreadable') {
    sections.push(html`<p class="muted">This manifest could not be read as an image or an index.</p>`);
  }
  if (options.scan) sections.push(renderScanSection(options.scan));
  if (summary.annotations.length > 0) sections.push(html`<h2>Annotations</h2>${pairs(summary.annotations)}`);
  sections.push(html`<h2>Manifest</h2><pre>${options.json}</pre>`);
  return renderPage({
    title: `${repository}@${summary.digest}`,
    crumbs: [{ label: repository, href: href(['ui', 'r', repository]) }, { label: summary.digest }],
    viewer: options.viewer,
    content: html`<h1>${repository}</h1>${sections}`,
  });
}

function children(options: ManifestPageOptions): SafeHtml {
  const rows = options.summary.children.map(({ descriptor, platform }) => {
    const digest = options.presentChildren.has(descriptor.digest)
      ? html`<a href="${href(['ui', 'r', options.repository, 'm', descriptor.digest])}"><code>${descriptor.digest}</code></a>`
      : html`<code>${descriptor.digest}</code> <span class="muted">(not in this repository)</span>`;
    return html`<tr><td>${platform ?? html`<span class="muted">&mdash;</span>`}</td><td>${digest}</td><td><code>${descriptor.mediaType}</code></td><td class="num">${formatSize(descriptor.size)}</td></tr>
`;
  });
  return html`<h2>Manifests</h2><table><thead><tr><th>Platform</th><th>Digest</th><th>Media type</th><th class="num">Size</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function layers(summary: ManifestSummary): SafeHtml {
  const rows = summary.layers.map(
    (layer, i) =>
      html`<tr><td class="num">${i + 1}</td><td><code>${layer.digest}</code></td><td><code>${layer.mediaType}</code></td><td class="num">${formatSize(layer.size)}</td></tr>
`,
  );
  const configRow = summary.config
    ? html`<h2>Config</h2><table><thead><tr><th>Digest</th><th>Media type</th><th class="num">Size</th></tr></thead><tbody><tr><td><code>${summary.config.digest}</code></td><td><code>${summary.config.mediaType}</code></td><td class="num">${formatSize(summary.config.size)}</td></tr></tbody></table>`
    : '';
  return html`${configRow}<h2>Layers</h2><table><thead><tr><th class="num">#</th><th>Digest</th><th>Media type</th><th class="num">Size</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function config(summary: ConfigSummary): SafeHtml {
  const command = (words: string[] | undefined) =>
    words === undefined
      ? html`<span class="muted">&mdash;</span>`
      : html`<code>${JSON.stringify(words)}</code>`;
  const history = summary.history.map(
    (line) =>
      html`<tr><td>${formatTime(line.created)}</td><td><code>${line.createdBy ?? ''}</code>${line.comment ? html`<br><span class="muted">${line.comment}</span>` : ''}</td><td>${line.emptyLayer ? 'no' : 'yes'}</td></tr>
`,
  );
  return html`<h2>Image</h2><dl>
<dt>Platform</dt><dd>${summary.platform}</dd>
<dt>Created</dt><dd>${formatTime(summary.created)}</dd>
${summary.author !== undefined ? html`<dt>Author</dt><dd>${summary.author}</dd>` : ''}
${summary.user !== undefined ? html`<dt>User</dt><dd><code>${summary.user}</code></dd>` : ''}
${summary.workingDir !== undefined ? html`<dt>Working dir</dt><dd><code>${summary.workingDir}</code></dd>` : ''}
<dt>Entrypoint</dt><dd>${command(summary.entrypoint)}</dd>
<dt>Cmd</dt><dd>${command(summary.cmd)}</dd>
${summary.exposedPorts.length > 0 ? html`<dt>Exposed ports</dt><dd>${summary.exposedPorts.join(', ')}</dd>` : ''}
</dl>
${summary.env.length > 0 ? html`<h2>Environment</h2><table><tbody>${summary.env.map((entry) => html`<tr><td><code>${entry}</code></td></tr>`)}</tbody></table>` : ''}
${summary.labels.length > 0 ? html`<h2>Labels</h2>${pairs(summary.labels)}` : ''}
${history.length > 0 ? html`<h2>History</h2><table><thead><tr><th>Created</th><th>Created by</th><th>Layer</th></tr></thead><tbody>${history}</tbody></table>` : ''}`;
}

function pairs(entries: ReadonlyArray<[string, string]>): SafeHtml {
  return html`<table><thead><tr><th>Key</th><th>Value</th></tr></thead><tbody>${entries.map(([key, value]) => html`<tr><td><code>${key}</code></td><td><code>${value}</code></td></tr>`)}</tbody></table>`;
}
