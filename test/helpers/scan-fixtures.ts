/**
 * What the scanning tests (test/integration/image/image-scan.test.ts for `wharf image scan`,
 * test/integration/registry/scan.test.ts for the registry's scans) build their images and their
 * OSV database from: a layer tar of named entries, a Debian dpkg status file with an openssl at a
 * chosen version, OSV records, and the openssl advisory both scan for with the finding it gives.
 *
 * @example
 * const layer = await layerTar([{ name: 'var/lib/dpkg/status', data: dpkgStatus('3.0.11-1~deb12u1') }]);
 * await writeOsvRecord(db, 'DSA-5585-1', OPENSSL_ADVISORY);
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import tar from 'tar-stream';

/** One entry of a layer tar: a file (the default), a symlink or a directory. */
export type LayerEntry = {
  name: string;
  data?: string | Buffer;
  linkname?: string;
  type?: 'file' | 'symlink' | 'directory';
};

/** Directory entries for `names`, in order. */
export function dirs(...names: string[]): LayerEntry[] {
  return names.map((name) => ({ name: `${name}/`, type: 'directory' }));
}

/** A tar of `entries`, in order (mode 644, or 755 for directories; mtime 0). */
export async function layerTar(entries: readonly LayerEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    const header = { name: entry.name, type, mode: type === 'directory' ? 0o755 : 0o644, mtime: new Date(0) };
    if (type === 'symlink') pack.entry({ ...header, linkname: entry.linkname ?? '' });
    else if (type === 'directory') pack.entry(header);
    else pack.entry(header, entry.data ?? '');
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A dpkg status file: bash, then libssl3 (source openssl) and openssl at `opensslVersion`. */
export function dpkgStatus(opensslVersion: string): string {
  return [
    'Package: bash',
    'Status: install ok installed',
    'Version: 5.2.15-2+b2',
    '',
    'Package: libssl3',
    'Status: install ok installed',
    'Source: openssl',
    `Version: ${opensslVersion}`,
    '',
    'Package: openssl',
    'Status: install ok installed',
    `Version: ${opensslVersion}`,
    '',
  ].join('\n');
}

/**
 * The three layers both scanning tests put over a base whose dpkg status lists openssl 3.0.11:
 * one deletes the status file (a whiteout), one hides var/lib/dpkg (an opaque directory), one
 * upgrades openssl to 3.0.13 (fixed).
 */
export async function dpkgStatusChanges(): Promise<{
  deleteStatus: Buffer;
  opaque: Buffer;
  upgrade: Buffer;
}> {
  const dpkgDirs = dirs('var', 'var/lib', 'var/lib/dpkg');
  return {
    deleteStatus: await layerTar([...dpkgDirs, { name: 'var/lib/dpkg/.wh.status' }]),
    opaque: await layerTar([
      ...dpkgDirs,
      { name: 'var/lib/dpkg/.wh..wh..opq' },
      { name: 'var/lib/dpkg/available', data: '' },
    ]),
    upgrade: await layerTar([
      ...dpkgDirs,
      { name: 'var/lib/dpkg/status', data: dpkgStatus('3.0.13-1~deb12u1') },
    ]),
  };
}

/** Writes the OSV record `id` (schema 1.6.0) into the database's `debian` directory. */
export async function writeOsvRecord(db: string, id: string, value: Record<string, unknown>): Promise<void> {
  await writeFile(
    join(db, 'debian', `${id}.json`),
    JSON.stringify({ schema_version: '1.6.0', id, ...value }),
  );
}

/** OSV's `affected` for package `name` in `ecosystem`, from version 0 until `fixed`. */
export function debianRange(name: string, fixed: string, ecosystem = 'Debian:12') {
  return [
    {
      package: { ecosystem, name },
      ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }],
    },
  ];
}

/** DSA-5585-1 (record id): openssl before 3.0.13-1~deb12u1, which dpkgStatus('3.0.11-1~deb12u1') has. */
export const OPENSSL_ADVISORY = {
  aliases: ['CVE-2023-5678'],
  summary: 'openssl - security update',
  database_specific: { severity: 'HIGH' },
  affected: debianRange('openssl', '3.0.13-1~deb12u1'),
};

/** What a scan reports for the `openssl` package of dpkgStatus('3.0.11-1~deb12u1') under OPENSSL_ADVISORY. */
export const OPENSSL_FINDING = {
  VulnerabilityID: 'DSA-5585-1',
  Aliases: ['CVE-2023-5678'],
  PkgName: 'openssl',
  SrcName: 'openssl',
  InstalledVersion: '3.0.11-1~deb12u1',
  FixedVersion: '3.0.13-1~deb12u1',
  Severity: 'HIGH',
  Summary: 'openssl - security update',
};
