/**
 * What the scanning tests (test/integration/image/image-scan.test.ts for `wharf image scan`,
 * test/integration/registry/scan.test.ts for the registry's scans) build their images from: a
 * layer tar of named entries, and a Debian dpkg status file with an openssl at a chosen version.
 *
 * @example
 * const layer = await layerTar([{ name: 'var/lib/dpkg/status', data: dpkgStatus('3.0.11-1~deb12u1') }]);
 */
import tar from 'tar-stream';

/** One entry of a layer tar: a file (the default), a symlink or a directory. */
export type LayerEntry = {
  name: string;
  data?: string | Buffer;
  linkname?: string;
  type?: 'file' | 'symlink' | 'directory';
};

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
