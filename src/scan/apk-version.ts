/**
 * Alpine (apk) version comparison, after apk-tools' rules (the Gentoo scheme): dot-separated
 * numbers, an optional letter, `_suffix[N]` parts (`_alpha` < `_beta` < `_pre` < `_rc` < none <
 * `_cvs` < `_svn` < `_git` < `_hg` < `_p`), an optional `~hash`, then `-rN`. A number after the
 * first with a leading zero compares as a decimal fraction (apk's rule: `1.01 < 1.1`).
 * A string that does not parse compares bytewise after every valid one.
 *
 * @example
 * compareApkVersions('1.2.3-r0', '1.2.3-r1'); // < 0
 * compareApkVersions('1.0_rc1', '1.0'); // < 0
 */

const SUFFIX_RANK: Readonly<Record<string, number>> = {
  alpha: -4,
  beta: -3,
  pre: -2,
  rc: -1,
  cvs: 1,
  svn: 2,
  git: 3,
  hg: 4,
  p: 5,
};

interface ApkVersion {
  numbers: string[];
  letter: string;
  suffixes: Array<{ rank: number; number: bigint }>;
  revision: bigint;
}

const PATTERN =
  /^(\d+(?:\.\d+)*)([a-z]?)((?:_(?:alpha|beta|pre|rc|cvs|svn|git|hg|p)\d*)*)(?:~[0-9a-f]+)?(?:-r(\d+))?$/;

function parse(version: string): ApkVersion | undefined {
  const match = PATTERN.exec(version.trim());
  if (!match) return undefined;
  const suffixes = [...(match[3] ?? '').matchAll(/_([a-z]+)(\d*)/g)].map((m) => ({
    rank: SUFFIX_RANK[m[1]!] ?? 0,
    number: BigInt(m[2] || '0'),
  }));
  return {
    numbers: match[1]!.split('.'),
    letter: match[2] ?? '',
    suffixes,
    revision: BigInt(match[4] ?? '0'),
  };
}

function compareNumber(a: string, b: string, first: boolean): number {
  if (!first && (a.startsWith('0') || b.startsWith('0'))) {
    // Fractional comparison: "01" vs "1" as 0.01 vs 0.1.
    const width = Math.max(a.length, b.length);
    const x = a.padEnd(width, '0');
    const y = b.padEnd(width, '0');
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function sign(n: bigint): number {
  return n < 0n ? -1 : n > 0n ? 1 : 0;
}

/** Negative, zero or positive as apk version `a` sorts before, equal to or after `b`. */
export function compareApkVersions(a: string, b: string): number {
  const x = parse(a);
  const y = parse(b);
  if (!x || !y) {
    if (x) return -1;
    if (y) return 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  const count = Math.min(x.numbers.length, y.numbers.length);
  for (let i = 0; i < count; i++) {
    const diff = compareNumber(x.numbers[i]!, y.numbers[i]!, i === 0);
    if (diff !== 0) return diff;
  }
  if (x.numbers.length !== y.numbers.length) return x.numbers.length - y.numbers.length;
  if (x.letter !== y.letter) return x.letter < y.letter ? -1 : 1;
  const suffixes = Math.max(x.suffixes.length, y.suffixes.length);
  for (let i = 0; i < suffixes; i++) {
    const s = x.suffixes[i] ?? { rank: 0, number: 0n };
    const t = y.suffixes[i] ?? { rank: 0, number: 0n };
    if (s.rank !== t.rank) return s.rank - t.rank;
    if (s.number !== t.number) return sign(s.number - t.number);
  }
  return sign(x.revision - y.revision);
}
