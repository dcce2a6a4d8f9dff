/**
 * Whether one OSV `affected[]` entry covers an installed version (the schema's evaluation rules):
 * the version is listed in `versions[]`, or falls in a range. A range's events are sorted by
 * version and walked in order: `introduced` at or below the version makes it affected, `fixed` at
 * or below it or `last_affected` below it makes it unaffected again. `introduced: "0"` is before
 * every version. `ECOSYSTEM` ranges use the ecosystem's order, `SEMVER` ranges semver's; `GIT`
 * ranges (commits) cannot match an installed package and are skipped.
 *
 * @example
 * matchAffected(affected, '3.0.11-1~deb12u1', compareDpkgVersions);
 * // { fixedVersion: '3.0.13-1~deb12u1' } or undefined when not affected
 */
import type { OsvAffected, OsvEvent } from './osv-record.ts';
import { compareSemver } from './semver-version.ts';
import type { VersionComparator } from './version-comparator.ts';

export interface AffectedMatch {
  /** The lowest `fixed` version above the installed one in the matching range, if any. */
  fixedVersion: string | undefined;
}

function eventVersion(event: OsvEvent): string | undefined {
  return event.introduced ?? event.fixed ?? event.last_affected;
}

function inRange(
  version: string,
  events: readonly OsvEvent[],
  compare: VersionComparator,
): AffectedMatch | undefined {
  const ordered = events
    .filter((event) => eventVersion(event) !== undefined && event.limit === undefined)
    .map((event) => ({ event, at: eventVersion(event)! }))
    .sort((a, b) => {
      if (a.event.introduced === '0') return b.event.introduced === '0' ? 0 : -1;
      if (b.event.introduced === '0') return 1;
      return compare(a.at, b.at);
    });
  let affected = false;
  for (const { event } of ordered) {
    if (event.introduced !== undefined) {
      if (event.introduced === '0' || compare(version, event.introduced) >= 0) affected = true;
    } else if (event.fixed !== undefined) {
      if (compare(version, event.fixed) >= 0) affected = false;
    } else if (event.last_affected !== undefined) {
      if (compare(version, event.last_affected) > 0) affected = false;
    }
  }
  if (!affected) return undefined;
  const fixed = ordered
    .map(({ event }) => event.fixed)
    .find((at) => at !== undefined && compare(version, at) < 0);
  return { fixedVersion: fixed };
}

/** The match when `version` is affected by this entry, else undefined. */
export function matchAffected(
  affected: OsvAffected,
  version: string,
  compare: VersionComparator | undefined,
): AffectedMatch | undefined {
  let listed = (affected.versions ?? []).includes(version);
  let fixedVersion: string | undefined;
  for (const range of affected.ranges ?? []) {
    const order = range.type === 'SEMVER' ? compareSemver : range.type === 'ECOSYSTEM' ? compare : undefined;
    if (!order) continue;
    const match = inRange(version, range.events, order);
    if (match) {
      listed = true;
      fixedVersion ??= match.fixedVersion;
    }
  }
  return listed ? { fixedVersion } : undefined;
}
