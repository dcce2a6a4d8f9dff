/**
 * HTML that is safe by construction: the `html` tag escapes every interpolated value unless it is
 * already SafeHtml (the result of another `html` template). Templates put values only in text
 * and in double-quoted attributes, where escaping `& < > " '` is enough; URLs are built with
 * `href` below, which also refuses anything but a same-origin path.
 *
 * @example
 * const name = '<script>alert(1)</script>';
 * html`<td>${name}</td>`.toString(); // '<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>'
 */

/** A string known to be well-formed, escaped HTML. */
export class SafeHtml {
  readonly #html: string;

  constructor(markup: string) {
    this.#html = markup;
  }

  toString(): string {
    return this.#html;
  }
}

/** What a template accepts: markup as is, text escaped, arrays concatenated, nothing for absent values. */
export type HtmlValue = SafeHtml | string | number | boolean | undefined | null | readonly HtmlValue[];

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** `text` with the five HTML-significant characters replaced by entities. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => ESCAPES[character] ?? character);
}

function render(value: HtmlValue): string {
  if (value === undefined || value === null || value === false || value === true) return '';
  if (value instanceof SafeHtml) return value.toString();
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** The template tag: literal parts are trusted markup, interpolations are escaped. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '');
  return new SafeHtml(out);
}

/**
 * A same-origin URL from a path and query, each path segment percent-encoded (slashes in
 * `segments` are kept as separators), for use in `href="${...}"`.
 *
 * @example
 * href(['ui', 'r', 'team/app'], { last: 'v1' }); // '/ui/r/team/app?last=v1'
 */
export function href(segments: readonly string[], query: Record<string, string | undefined> = {}): string {
  const path = segments
    .flatMap((segment) => segment.split('/'))
    .map((part) => encodeURIComponent(part))
    .join('/');
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) search.set(key, value);
  const text = search.toString();
  return `/${path}${text ? `?${text}` : ''}`;
}
