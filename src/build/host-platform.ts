/**
 * The platform the builder runs on, in OCI terms, without loading the zod schemas of
 * src/oci/platform.ts: a fully cached `wharf build` must start fast, and that module is 750 KB of
 * compiled JavaScript with zod. Same mapping as `hostPlatform()` there.
 *
 * @example
 * buildHostPlatform(); // { os: 'linux', architecture: 'amd64' }
 */
import type { Platform } from '../oci/platform.ts';

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

export function buildHostPlatform(): Platform {
  const architecture = NODE_ARCH[process.arch] ?? process.arch;
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  if (architecture === 'arm') {
    const armVersion = (process.config.variables as { arm_version?: string }).arm_version;
    return { os, architecture, variant: armVersion ? `v${armVersion}` : 'v7' };
  }
  if (architecture === 'arm64') return { os, architecture, variant: 'v8' };
  return { os, architecture };
}
