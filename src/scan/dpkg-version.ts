/**
 * Debian version comparison, as dpkg's `verrevcmp` does it (deb-version(7)): an epoch (number
 * before the first `:`, default 0), an upstream version, and a revision (after the last `-`,
 * default empty). Upstream and revision compare by alternating runs: non-digit runs char by char,
 * where `~` sorts before everything (even the end of the string), letters before other
 * characters; digit runs numerically.
 *
 * @example
 * compareDpkgVersions('1.0~rc1', '1.0'); // < 0
 * compareDpkgVersions('1:0.9', '2.0'); // > 0
 */

interface DpkgVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

function parse(version: string): DpkgVersion {
  const text = version.trim();
  const colon = text.indexOf(':');
  const epochText = colon >= 0 ? text.slice(0, colon) : '';
  const epoch = /^\d+$/.test(epochText) ? Number(epochText) : 0;
  const rest = colon >= 0 ? text.slice(colon + 1) : text;
  const dash = rest.lastIndexOf('-');
  return dash >= 0
    ? { epoch, upstream: rest.slice(0, dash), revision: rest.slice(dash + 1) }
    : { epoch, upstream: rest, revision: '' };
}

/** dpkg's `order()`: `~` first, then the end of a run, then letters, then everything else. */
function order(c: string | undefined): number {
  if (c === undefined) return 0;
  if (c === '~') return -1;
  if (/\d/.test(c)) return 0;
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
  return c.charCodeAt(0) + 256;
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

function compareDigits(a: string, b: string): number {
  const x = a.replace(/^0+/, '');
  const y = b.replace(/^0+/, '');
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** dpkg's `verrevcmp` over one part (upstream or revision). */
function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const ac = i < a.length && !isDigit(a[i]) ? a[i] : undefined;
      const bc = j < b.length && !isDigit(b[j]) ? b[j] : undefined;
      const diff = order(ac) - order(bc);
      if (diff !== 0) return diff;
      if (ac !== undefined) i++;
      if (bc !== undefined) j++;
    }
    let di = i;
    while (isDigit(a[di])) di++;
    let dj = j;
    while (isDigit(b[dj])) dj++;
    const diff = compareDigits(a.slice(i, di), b.slice(j, dj));
    if (diff !== 0) return diff;
    i = di;
    j = dj;
  }
  return 0;
}

/** Negative, zero or positive as Debian version `a` sorts before, equal to or after `b`. */
export function compareDpkgVersions(a: string, b: string): number {
  const x = parse(a);
  const y = parse(b);
  if (x.epoch !== y.epoch) return x.epoch - y.epoch;
  return verrevcmp(x.upstream, y.upstream) || verrevcmp(x.revision, y.revision);
}
