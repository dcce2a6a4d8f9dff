/**
 * One package installed in an image, as a package database lists it. OSV's distribution advisories
 * name source packages (Debian's `Source:`, Alpine's origin), so both names are kept: findings
 * show the binary package, matching uses the source.
 *
 * @example
 * const pkg: InstalledPackage = { name: 'libssl3', version: '3.0.11-1~deb12u1',
 *   sourceName: 'openssl', sourceVersion: '3.0.11-1~deb12u1' };
 */
export interface InstalledPackage {
  name: string;
  version: string;
  sourceName: string;
  sourceVersion: string;
}
