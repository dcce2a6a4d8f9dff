/**
 * The operating system of an image, from `os-release(5)` (`/etc/os-release`, else
 * `/usr/lib/os-release`), and the OSV ecosystem its packages are published under: Debian by major
 * release (`Debian:12`), Alpine by minor branch (`Alpine:v3.19`), Ubuntu by release
 * (`Ubuntu:22.04`; osv.dev spells LTS ones `Ubuntu:22.04:LTS`, which the database matches too).
 *
 * @example
 * osvEcosystem(parseOsRelease('ID=alpine\nVERSION_ID=3.19.1\n')); // 'Alpine:v3.19'
 */

export interface OsRelease {
  /** `ID`, lower case (`debian`, `alpine`, `ubuntu`). */
  id: string;
  /** `VERSION_ID` (`12`, `3.19.1`, `22.04`), empty when absent (Debian testing). */
  versionId: string;
  /** `PRETTY_NAME`, for messages. */
  prettyName: string;
  /** `ID_LIKE` words (`debian` for Ubuntu). */
  idLike: string[];
}

/** Parses os-release's shell-like `KEY=value` lines (values may be single or double quoted). */
export function parseOsRelease(text: string): OsRelease {
  const values = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    let value = line.slice(eq + 1).trim();
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) {
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\([\\"$`])/g, '$1');
    }
    values.set(line.slice(0, eq), value);
  }
  return {
    id: (values.get('ID') ?? '').toLowerCase(),
    versionId: values.get('VERSION_ID') ?? '',
    prettyName: values.get('PRETTY_NAME') ?? values.get('NAME') ?? '',
    idLike: (values.get('ID_LIKE') ?? '').split(/\s+/).filter((word) => word !== ''),
  };
}

/** The OSV ecosystem of an OS release, or undefined when it is not one OSV scanning knows. */
export function osvEcosystem(os: OsRelease): string | undefined {
  const version = os.versionId;
  switch (os.id) {
    case 'debian': {
      const major = /^(\d+)/.exec(version)?.[1];
      return major === undefined ? undefined : `Debian:${major}`;
    }
    case 'alpine': {
      const branch = /^(\d+)\.(\d+)/.exec(version);
      return branch ? `Alpine:v${branch[1]}.${branch[2]}` : undefined;
    }
    case 'ubuntu':
      return /^\d+\.\d+$/.test(version) ? `Ubuntu:${version}` : undefined;
    default:
      return undefined;
  }
}
