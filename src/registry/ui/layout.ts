/**
 * The page shell of the registry's web UI: document head, the one inline stylesheet, the header
 * with breadcrumbs and who is viewing, and the security headers that go with every page. The
 * pages need no script at all, so the Content-Security-Policy allows none: only this stylesheet,
 * named by its hash (no `'unsafe-inline'`), and nothing else, not even images or forms.
 *
 * @example
 * const body = renderPage({ title: 'Repositories', crumbs: [], viewer: 'alice', content: html`<p>…</p>` });
 * reply.headers(UI_HEADERS).type('text/html; charset=utf-8').send(body);
 */
import { createHash } from 'node:crypto';
import { href, html, SafeHtml } from './html.ts';

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2733;background:#f5f7fa}
header{background:#1d3557;color:#fff;padding:.6em 1.5em;display:flex;gap:1em;align-items:baseline}
header a{color:#fff;text-decoration:none}header .who{margin-left:auto;font-size:.9em}
nav.crumbs{padding:.6em 1.5em;font-size:.95em}main{padding:0 1.5em 2em}
h1{font-size:1.3em;margin:.2em 0 .6em}h2{font-size:1.1em;margin:1.4em 0 .4em}
table{border-collapse:collapse;background:#fff;width:100%;margin-bottom:1em}
th,td{border-bottom:1px solid #dde3ea;padding:.35em .6em;text-align:left;vertical-align:top}
th{background:#eef2f6;font-weight:600}code,pre{font:12px/1.4 ui-monospace,monospace}
pre{background:#fff;border:1px solid #dde3ea;padding:.8em;overflow:auto;white-space:pre-wrap;word-break:break-all}
.badge{display:inline-block;padding:0 .5em;border-radius:.8em;font-size:.8em;background:#d8e2dc}
.badge.private{background:#ffd6a5}.badge.public{background:#caffbf}
.sev-critical{background:#ffadad}.sev-high{background:#ffd6a5}.sev-medium{background:#fdffb6}.sev-low{background:#caffbf}
.muted{color:#6b7785}.pager{margin:.5em 0}.num{text-align:right;white-space:nowrap}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;background:#fff;padding:.8em;border:1px solid #dde3ea}
dt{font-weight:600}dd{margin:0;word-break:break-all}
`;

/** Every UI answer's security headers; `Cache-Control: no-store` since pages depend on who asks. */
export const UI_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': [
    "default-src 'none'",
    `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  vary: 'Authorization',
};

export interface Crumb {
  label: string;
  /** Absent: the current page (no link). */
  href?: string;
}

export interface PageOptions {
  title: string;
  crumbs: readonly Crumb[];
  /** The signed-in user's name; undefined: anonymous (a "Log in" link is shown). */
  viewer: string | undefined;
  content: SafeHtml;
}

/** A whole HTML document. */
export function renderPage(options: PageOptions): string {
  const crumbs = [{ label: 'Repositories', href: '/ui/' }, ...options.crumbs].map((crumb, i, all) =>
    crumb.href !== undefined && i < all.length - 1
      ? html`<a href="${crumb.href}">${crumb.label}</a>`
      : html`<span>${crumb.label}</span>`,
  );
  const separated = crumbs.flatMap((crumb, i) => (i === 0 ? [crumb] : [html` / `, crumb]));
  const who =
    options.viewer === undefined
      ? html`<span class="who">anonymous &middot; <a href="/ui/login">Log in</a></span>`
      : html`<span class="who">signed in as <strong>${options.viewer}</strong></span>`;
  return html`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${options.title} &middot; Wharf registry</title><!-- the stylesheet is ours and constant: verbatim, so its hash matches the CSP --><style>${new SafeHtml(STYLE)}</style></head>
<body><header><a href="/ui/"><strong>Wharf registry</strong></a>${who}</header>
<nav class="crumbs">${separated}</nav>
<main>${options.content}</main></body></html>
`.toString();
}

/** "First page" and "Next page" links of a list paged by a `last` cursor, at the path `segments`. */
export function pager(
  segments: readonly string[],
  after: string | undefined,
  next: string | undefined,
): SafeHtml {
  if (after === undefined && next === undefined) return html``;
  const first = after !== undefined ? html`<a href="${href(segments)}">&laquo; First page</a> ` : '';
  const more =
    next !== undefined ? html`<a href="${href(segments, { last: next })}">Next page &raquo;</a>` : '';
  return html`<p class="pager">${first}${more}</p>`;
}
