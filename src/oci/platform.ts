/**
 * Platforms (`os/arch[/variant]`) as containerd's `platforms` package normalizes and matches them:
 * parse and format specifiers, the host's platform, and picking the best manifest of an index.
 *
 * @example
 * parsePlatform('linux/arm64');            // { os: 'linux', architecture: 'arm64', variant: 'v8' }
 * formatPlatform(hostPlatform());          // 'linux/amd64'
 * selectPlatformManifest(index.manifests, parsePlatform('linux/arm/v7'));
 */
import { InvalidArgumentError } from '../errors/index.ts';
import { arrayOf, type Check, object, optional, string } from './json-shape.ts';

/** The `platform` object of an index entry (and the platform fields of an image config). */
export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string | undefined;
  'os.features'?: string[] | undefined;
  variant?: string | undefined;
  features?: string[] | undefined;
  [key: string]: unknown;
}

/** The shape check of a Platform (unknown fields are kept). */
export const PLATFORM_SHAPE: Check = object({
  architecture: string,
  os: string,
  'os.version': optional(string),
  'os.features': optional(arrayOf(string)),
  variant: optional(string),
  features: optional(arrayOf(string)),
});

const COMPONENT = /^[A-Za-z0-9_-]+$/;

/** Normalizes an OS name as containerd does (`macos` -> `darwin`, lower case). */
export function normalizeOs(os: string): string {
  const lower = os.toLowerCase();
  return lower === 'macos' ? 'darwin' : lower;
}

/**
 * Normalizes an architecture and variant as containerd does: `x86_64` -> `amd64`, `aarch64` ->
 * `arm64` (variant v8 by default), `armhf` -> `arm/v7`, `armel` -> `arm/v6`, `i386` -> `386`.
 */
export function normalizeArch(arch: string, variant = ''): { architecture: string; variant: string } {
  const a = arch.toLowerCase();
  const v = variant.toLowerCase();
  switch (a) {
    case 'i386':
      return { architecture: '386', variant: '' };
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return { architecture: 'amd64', variant: v === 'v1' ? '' : v };
    case 'aarch64':
    case 'arm64':
      return { architecture: 'arm64', variant: v === '8' || v === '' || v === 'v8' ? 'v8' : v };
    case 'armhf':
      return { architecture: 'arm', variant: 'v7' };
    case 'armel':
      return { architecture: 'arm', variant: 'v6' };
    case 'arm':
      switch (v) {
        case '':
        case '7':
          return { architecture: 'arm', variant: 'v7' };
        case '5':
        case '6':
        case '8':
          return { architecture: 'arm', variant: `v${v}` };
        default:
          return { architecture: 'arm', variant: v };
      }
    default:
      return { architecture: a, variant: v };
  }
}

/** Returns a normalized copy of `platform` (variant omitted when empty). */
export function normalizePlatform(platform: Platform): Platform {
  const { architecture, variant } = normalizeArch(platform.architecture, platform.variant ?? '');
  const out: Platform = { ...platform, os: normalizeOs(platform.os), architecture };
  if (variant) out.variant = variant;
  else delete out.variant;
  return out;
}

/**
 * Parses `os`, `arch`, `os/arch` or `os/arch/variant` and normalizes it. A single component is an
 * OS when it is a known one, else an architecture on the host's OS (containerd's rule).
 */
export function parsePlatform(specifier: string): Platform {
  const parts = specifier.split('/');
  if (parts.length > 3 || parts.some((p) => !COMPONENT.test(p))) {
    throw new InvalidArgumentError(
      `Cannot parse platform "${specifier}": expected os[/arch[/variant]] of letters, digits, - and _`,
    );
  }
  const [first, second, third] = parts as [string, string?, string?];
  if (second === undefined) {
    const os = normalizeOs(first);
    if (KNOWN_OS.has(os)) {
      const host = hostPlatform();
      return normalizePlatform({ os, architecture: host.architecture, ...variantOf(host) });
    }
    const host = hostPlatform();
    return normalizePlatform({ os: host.os, architecture: first });
  }
  return normalizePlatform({ os: first, architecture: second, ...(third ? { variant: third } : {}) });
}

function variantOf(platform: Platform): { variant?: string } {
  return platform.variant ? { variant: platform.variant } : {};
}

const KNOWN_OS = new Set([
  'aix',
  'android',
  'darwin',
  'dragonfly',
  'freebsd',
  'hurd',
  'illumos',
  'ios',
  'js',
  'linux',
  'nacl',
  'netbsd',
  'openbsd',
  'plan9',
  'solaris',
  'windows',
  'zos',
]);

/** `os/arch[/variant]`; amd64's absent variant and arm64's default v8 are left out, as Docker prints them. */
export function formatPlatform(platform: Platform): string {
  const p = normalizePlatform(platform);
  const showVariant = p.variant && !(p.architecture === 'arm64' && p.variant === 'v8');
  return showVariant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

const NODE_ARCH: Readonly<Record<string, string>> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips: 'mips',
  mipsel: 'mipsle',
};

/** The platform this process runs on, in OCI terms (`process.platform`/`process.arch`, no I/O). */
export function hostPlatform(): Platform {
  const architecture = NODE_ARCH[process.arch] ?? process.arch;
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  if (architecture === 'arm') {
    const armVersion = (process.config.variables as { arm_version?: string }).arm_version;
    return normalizePlatform({ os, architecture, variant: armVersion ? `v${armVersion}` : 'v7' });
  }
  return normalizePlatform({ os, architecture });
}

/**
 * The variants a CPU of `want`'s variant also runs, best first: arm64 v8.x runs v8, arm v7 runs
 * v6 and v5, amd64 v3 runs v2, v1. The empty variant is always acceptable last.
 */
function compatibleVariants(want: Platform): string[] {
  const variant = want.variant ?? '';
  const level = (prefix: string) => Number.parseInt(variant.slice(prefix.length), 10);
  if (want.architecture === 'amd64') {
    const n = variant.startsWith('v') ? level('v') : 1;
    const out: string[] = [];
    for (let i = n; i >= 2; i--) out.push(`v${i}`);
    return [...out, ''];
  }
  if (want.architecture === 'arm') {
    const n = variant.startsWith('v') ? level('v') : 7;
    const out: string[] = [];
    for (let i = n; i >= 5; i--) out.push(`v${i}`);
    return [...out, ''];
  }
  if (want.architecture === 'arm64') {
    // v8.x and v9.x CPUs run v8 code
    const out = variant && variant !== 'v8' ? [variant, 'v8'] : ['v8'];
    return [...out, ''];
  }
  return variant ? [variant, ''] : [''];
}

/**
 * A rank for how well `candidate` fits `want` (lower is better), or undefined when it cannot run:
 * same OS and architecture, then the best compatible variant (containerd's "Only" matcher).
 */
export function platformMatchRank(candidate: Platform, want: Platform): number | undefined {
  const c = normalizePlatform(candidate);
  const w = normalizePlatform(want);
  if (c.os !== w.os || c.architecture !== w.architecture) return undefined;
  const variants = compatibleVariants(w);
  const index = variants.indexOf(c.variant ?? '');
  return index < 0 ? undefined : index;
}

/** True when an image of `candidate`'s platform runs on `want` (variants included). */
export function platformMatches(candidate: Platform, want: Platform): boolean {
  return platformMatchRank(candidate, want) !== undefined;
}

/**
 * Picks the entry of an index's `manifests` that best fits `want` (default: the host), skipping
 * entries without a platform (attestations, artifacts). Ties keep index order, as containerd does.
 * Returns undefined when no entry fits.
 *
 * @example
 * const chosen = selectPlatformManifest(index.manifests, parsePlatform('linux/arm64'));
 */
export function selectPlatformManifest<T extends { platform?: Platform | undefined }>(
  manifests: readonly T[],
  want: Platform = hostPlatform(),
): T | undefined {
  let best: T | undefined;
  let bestRank = Number.POSITIVE_INFINITY;
  for (const entry of manifests) {
    if (!entry.platform) continue;
    // BuildKit marks attestation manifests with platform unknown/unknown
    if (entry.platform.os === 'unknown') continue;
    const rank = platformMatchRank(entry.platform, want);
    if (rank !== undefined && rank < bestRank) {
      best = entry;
      bestRank = rank;
    }
  }
  return best;
}
