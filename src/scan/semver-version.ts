/**
 * Semantic Versioning 2.0 precedence (semver.org §11), for OSV `SEMVER` ranges and ecosystems
 * without a comparator of their own: major.minor.patch numerically, a pre-release sorts before its
 * release, pre-release identifiers compare numerically or bytewise, build metadata is ignored.
 * A leading `v` is accepted; missing minor or patch count as 0.
 *
 * @example
 * compareSemver('1.0.0-rc.1', '1.0.0'); // < 0
 */

function split(version: string): { core: bigint[]; pre: string[] } {
  const text = version.trim().replace(/^v/, '').split('+')[0]!;
  const dash = text.indexOf('-');
  const core = (dash >= 0 ? text.slice(0, dash) : text)
    .split('.')
    .map((part) => (/^\d+$/.test(part) ? BigInt(part) : 0n));
  while (core.length < 3) core.push(0n);
  return { core, pre: dash >= 0 ? text.slice(dash + 1).split('.') : [] };
}

function compareIdentifier(a: string, b: string): number {
  const an = /^\d+$/.test(a);
  const bn = /^\d+$/.test(b);
  if (an && bn) {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (an) return -1;
  if (bn) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Negative, zero or positive as `a` has lower, equal or higher precedence than `b`. */
export function compareSemver(a: string, b: string): number {
  const x = split(a);
  const y = split(b);
  for (let i = 0; i < Math.max(x.core.length, y.core.length); i++) {
    const s = x.core[i] ?? 0n;
    const t = y.core[i] ?? 0n;
    if (s !== t) return s < t ? -1 : 1;
  }
  if (x.pre.length === 0 || y.pre.length === 0) return y.pre.length - x.pre.length;
  for (let i = 0; i < Math.min(x.pre.length, y.pre.length); i++) {
    const diff = compareIdentifier(x.pre[i]!, y.pre[i]!);
    if (diff !== 0) return diff;
  }
  return x.pre.length - y.pre.length;
}
