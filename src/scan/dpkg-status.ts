/**
 * dpkg's database of installed packages, `/var/lib/dpkg/status`: RFC 822-like stanzas separated
 * by blank lines. A package counts when its `Status` is `install ok installed` (removed packages
 * whose config files remain say `deinstall ok config-files`). `Source:` is `NAME` or
 * `NAME (VERSION)` when the source version differs from the binary's; absent, both are the
 * binary's.
 *
 * @example
 * parseDpkgStatus('Package: libssl3\nStatus: install ok installed\nSource: openssl\nVersion: 3.0.11-1\n');
 * // [{ name: 'libssl3', version: '3.0.11-1', sourceName: 'openssl', sourceVersion: '3.0.11-1' }]
 */
import type { InstalledPackage } from './installed-package.ts';

export function parseDpkgStatus(text: string): InstalledPackage[] {
  const packages: InstalledPackage[] = [];
  for (const stanza of text.split(/\n[ \t]*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      // Continuation lines (Description, Conffiles) start with a space: not needed here.
      if (line === '' || line.startsWith(' ') || line.startsWith('\t')) continue;
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      fields.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    const name = fields.get('package');
    const version = fields.get('version');
    const status = (fields.get('status') ?? '').split(/\s+/);
    if (!name || !version || status[2] !== 'installed') continue;
    const source = /^(\S+)(?:\s*\(([^)]+)\))?/.exec(fields.get('source') ?? '');
    packages.push({
      name,
      version,
      sourceName: source?.[1] ?? name,
      sourceVersion: source?.[2]?.trim() ?? version,
    });
  }
  return packages;
}
