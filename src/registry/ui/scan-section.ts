/**
 * The "Vulnerabilities" section of a manifest page: the stored report's summary (counts by
 * severity, OS, packages, when and against which database it was scanned), an index's platforms,
 * and the findings table; or why there is none (not scanned, queued, running, failed). Every value
 * of the report comes from image content and the OSV files, so all of it goes through `html`.
 *
 * @example
 * sections.push(renderScanSection(await scans.view(digest)));
 */
import { SEVERITIES } from '../../scan/severity.ts';
import type { ScanView } from '../scan/scan-service.ts';
import { formatTime, shortDigest } from './format.ts';
import { html, type SafeHtml } from './html.ts';

/** Findings shown at most (a full Debian image can have thousands; the API has them all). */
const MAX_ROWS = 1000;

export function renderScanSection(view: ScanView): SafeHtml {
  const heading = html`<h2>Vulnerabilities</h2>`;
  switch (view.status) {
    case 'not scanned':
      return html`${heading}<p class="muted">Not scanned.</p>`;
    case 'queued':
    case 'running':
      return html`${heading}<p class="muted">Not scanned yet: a scan is ${view.status}.</p>`;
    case 'failed':
      return html`${heading}<p>The scan failed: <code>${view.error}</code></p>`;
  }
  const { report } = view;
  const summary = report.Summary;
  const badges = SEVERITIES.map(
    (severity) =>
      html` <span class="badge sev-${severity.toLowerCase()}">${severity} ${summary[severity]}</span>`,
  );
  const os = report.OS ? report.OS.PrettyName || `${report.OS.ID} ${report.OS.VersionID}` : undefined;
  const rescan =
    view.rescan === undefined
      ? ''
      : view.rescan.status === 'failed'
        ? html`<p>A newer scan failed: <code>${view.rescan.error}</code></p>`
        : html`<p class="muted">A newer scan is ${view.rescan.status}.</p>`;
  const facts = html`<p><strong>Total: ${summary.Total}</strong>${badges}</p>${rescan}<dl>
<dt>Scanned</dt><dd>${formatTime(view.scannedAt.toISOString())}</dd>
<dt>Database</dt><dd><code>${view.database}</code></dd>
<dt>OS</dt><dd>${os ?? html`<span class="muted">unknown (no os-release)</span>`}${report.Ecosystem === null ? html` <span class="muted">(not an OS the scanner knows: no packages checked)</span>` : html` <code>${report.Ecosystem}</code>`}</dd>
<dt>Packages</dt><dd>${report.PackageCount}${report.PackageDatabase === null ? '' : html` <span class="muted">(${report.PackageDatabase})</span>`}</dd>
</dl>`;
  const platforms =
    report.Platforms === undefined
      ? ''
      : html`<table><thead><tr><th>Platform</th><th>Digest</th><th class="num">Total</th>${SEVERITIES.map((s) => html`<th class="num">${s}</th>`)}</tr></thead><tbody>${report.Platforms.map(
          (platform) =>
            html`<tr><td>${platform.Platform}</td><td>${shortDigest(platform.Digest)}</td><td class="num">${platform.Summary.Total}</td>${SEVERITIES.map((s) => html`<td class="num">${platform.Summary[s]}</td>`)}</tr>
`,
        )}</tbody></table>`;
  if (report.Vulnerabilities.length === 0)
    return html`${heading}${facts}${platforms}<p>No known vulnerabilities.</p>`;
  const rows = report.Vulnerabilities.slice(0, MAX_ROWS).map(
    (v) =>
      html`<tr><td><span class="badge sev-${v.Severity.toLowerCase()}">${v.Severity}</span></td><td><code>${v.PkgName}</code>${v.SrcName !== v.PkgName ? html`<br><span class="muted">${v.SrcName}</span>` : ''}</td><td><code>${v.InstalledVersion}</code></td><td>${v.FixedVersion === '' ? html`<span class="muted">&mdash;</span>` : html`<code>${v.FixedVersion}</code>`}</td><td><code>${v.VulnerabilityID}</code>${v.Aliases.length > 0 ? html`<br><span class="muted">${v.Aliases.join(', ')}</span>` : ''}</td><td>${v.Summary}</td></tr>
`,
  );
  const more =
    report.Vulnerabilities.length > MAX_ROWS
      ? html`<p class="muted">${report.Vulnerabilities.length - MAX_ROWS} more: the API lists them all.</p>`
      : '';
  return html`${heading}${facts}${platforms}<table><thead><tr><th>Severity</th><th>Package</th><th>Installed</th><th>Fixed</th><th>Vulnerability</th><th>Summary</th></tr></thead><tbody>${rows}</tbody></table>${more}`;
}
