/**
 * The version order of an OSV ecosystem: Debian and Ubuntu use dpkg's, Alpine apk's, and the
 * language ecosystems (npm, crates.io, Go...) semantic versioning, which OSV's `SEMVER` ranges
 * always use. Undefined for an ecosystem whose order is not known here (its ranges are skipped;
 * only exact `versions[]` entries can match).
 *
 * @example
 * comparatorFor('Debian:12')?.('1.0~rc1', '1.0'); // < 0
 */
import { compareApkVersions } from './apk-version.ts';
import { compareDpkgVersions } from './dpkg-version.ts';
import { compareSemver } from './semver-version.ts';

export type VersionComparator = (a: string, b: string) => number;

const SEMVER_ECOSYSTEMS = new Set(['npm', 'crates.io', 'Go', 'Hex', 'Pub', 'SwiftURL']);

export function comparatorFor(ecosystem: string): VersionComparator | undefined {
  const base = ecosystem.split(':')[0]!;
  if (base === 'Debian' || base === 'Ubuntu') return compareDpkgVersions;
  if (base === 'Alpine') return compareApkVersions;
  if (SEMVER_ECOSYSTEMS.has(base)) return compareSemver;
  return undefined;
}
