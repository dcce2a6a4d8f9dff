/**
 * Values as the web UI prints them: sizes in SI units as `docker images` shows them (with the
 * exact byte count in a tooltip), times in UTC, digests shortened with the full one in a tooltip.
 *
 * @example
 * formatSize(2_500_000).toString(); // '<span title="2500000 bytes">2.5 MB</span>'
 */
import { html, type SafeHtml } from './html.ts';

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];

/** `1234567` as `1.23 MB` (SI, as Docker prints sizes). */
export function humanSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

export function formatSize(bytes: number | undefined): SafeHtml {
  if (bytes === undefined) return html`<span class="muted">&mdash;</span>`;
  return html`<span title="${bytes} bytes">${humanSize(bytes)}</span>`;
}

/** An RFC 3339 time as `YYYY-MM-DD HH:MM:SS UTC`; text that is not a time is shown as given. */
export function formatTime(value: string | undefined): SafeHtml {
  if (value === undefined) return html`<span class="muted">&mdash;</span>`;
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) return html`${value}`;
  return html`<span title="${value}">${time
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$|Z$/, ' UTC')}</span>`;
}

/** `sha256:0123456789ab…` with the full digest in a tooltip. */
export function shortDigest(digest: string): SafeHtml {
  const colon = digest.indexOf(':');
  const short = colon < 0 ? digest : digest.slice(0, colon + 13);
  return html`<code title="${digest}">${short}</code>`;
}
