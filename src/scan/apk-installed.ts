/**
 * apk's database of installed packages, `/lib/apk/db/installed`: one block per package separated
 * by blank lines, one `X:value` line per field. `P:` is the name, `V:` the version, `o:` the
 * origin (the source package Alpine's advisories name); without an origin, the name.
 *
 * @example
 * parseApkInstalled('P:libcrypto3\nV:3.1.4-r5\no:openssl\n');
 * // [{ name: 'libcrypto3', version: '3.1.4-r5', sourceName: 'openssl', sourceVersion: '3.1.4-r5' }]
 */
import type { InstalledPackage } from './installed-package.ts';

export function parseApkInstalled(text: string): InstalledPackage[] {
  const packages: InstalledPackage[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    let name = '';
    let version = '';
    let origin = '';
    for (const line of block.split('\n')) {
      if (line.length < 2 || line[1] !== ':') continue;
      const value = line.slice(2).trim();
      if (line[0] === 'P') name = value;
      else if (line[0] === 'V') version = value;
      else if (line[0] === 'o') origin = value;
    }
    if (name && version) packages.push({ name, version, sourceName: origin || name, sourceVersion: version });
  }
  return packages;
}
