/**
 * Docker-format seccomp profiles and their resolution into the OCI `linux.seccomp` object.
 *
 * A Docker profile is conditional: a rule group may apply only with some capabilities, on some
 * architectures, or from some kernel version on (`includes`), or never in those cases
 * (`excludes`). Resolution picks the rule groups that apply to one container, exactly as moby's
 * `setupSeccomp` does, and names the host architecture with its sub-architectures.
 *
 * @example
 * const seccomp = resolveSeccompProfile(dockerDefaultSeccompProfile, {
 *   capabilities: ['CAP_CHOWN'], arch: 'amd64', kernel: [6, 1],
 * });
 */
import { InvalidArgumentError } from '../errors/index.ts';
import type { RuntimeSeccomp, RuntimeSeccompArg, RuntimeSeccompSyscall } from './oci-runtime-spec.ts';

export interface DockerSeccompCondition {
  caps?: string[];
  /** libseccomp's names: `amd64`, `x86`, `x32`, `arm64`, `s390x`... */
  arches?: string[];
  /** `MAJOR.MINOR`. */
  minKernel?: string;
}

export interface DockerSeccompRule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: RuntimeSeccompArg[];
  comment?: string;
  includes?: DockerSeccompCondition;
  excludes?: DockerSeccompCondition;
}

export interface DockerSeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  archMap: { architecture: string; subArchitectures: string[] }[];
  syscalls: DockerSeccompRule[];
}

export interface SeccompTarget {
  /** The container's bounding set (`CAP_*` names). */
  capabilities: readonly string[];
  /** Node's `process.arch` naming (`x64`, `arm64`...) or libseccomp's (`amd64`). */
  arch: string;
  /** The host kernel's [major, minor]. */
  kernel: readonly [number, number];
}

// Node's process.arch -> libseccomp's architecture name (moby's goToNative, keyed by Node's names).
const NODE_TO_LIBSECCOMP: Record<string, string> = {
  x64: 'amd64',
  ia32: 'x86',
  arm: 'arm',
  arm64: 'arm64',
  loong64: 'loong64',
  mips: 'mips',
  mipsel: 'mipsel',
  ppc: 'ppc',
  ppc64: 'ppc64le',
  riscv64: 'riscv64',
  s390: 's390',
  s390x: 's390x',
};

// libseccomp's architecture name -> the OCI SCMP_ARCH_* constant (moby's nativeToSeccomp).
const LIBSECCOMP_TO_OCI: Record<string, string> = {
  x86: 'SCMP_ARCH_X86',
  amd64: 'SCMP_ARCH_X86_64',
  arm: 'SCMP_ARCH_ARM',
  arm64: 'SCMP_ARCH_AARCH64',
  loong64: 'SCMP_ARCH_LOONGARCH64',
  mips64: 'SCMP_ARCH_MIPS64',
  mips64n32: 'SCMP_ARCH_MIPS64N32',
  mipsel64: 'SCMP_ARCH_MIPSEL64',
  mips3l64n32: 'SCMP_ARCH_MIPSEL64N32',
  mipsle: 'SCMP_ARCH_MIPSEL',
  ppc: 'SCMP_ARCH_PPC',
  ppc64: 'SCMP_ARCH_PPC64',
  ppc64le: 'SCMP_ARCH_PPC64LE',
  riscv64: 'SCMP_ARCH_RISCV64',
  s390: 'SCMP_ARCH_S390',
  s390x: 'SCMP_ARCH_S390X',
};

function parseKernelVersion(text: string): [number, number] {
  const match = /^(\d+)\.(\d+)/.exec(text);
  if (!match) throw new InvalidArgumentError(`Cannot read seccomp profile: bad minKernel "${text}"`);
  return [Number(match[1]), Number(match[2])];
}

function kernelAtLeast(kernel: readonly [number, number], wanted: string): boolean {
  const [major, minor] = parseKernelVersion(wanted);
  return kernel[0] > major || (kernel[0] === major && kernel[1] >= minor);
}

function applies(rule: DockerSeccompRule, arch: string, target: SeccompTarget): boolean {
  const caps = new Set(target.capabilities);
  const { excludes, includes } = rule;
  if (excludes) {
    if (excludes.arches?.includes(arch)) return false;
    if (excludes.caps?.some((cap) => caps.has(cap))) return false;
    if (excludes.minKernel && kernelAtLeast(target.kernel, excludes.minKernel)) return false;
  }
  if (includes) {
    if (includes.arches?.length && !includes.arches.includes(arch)) return false;
    if (includes.caps?.length && !includes.caps.every((cap) => caps.has(cap))) return false;
    if (includes.minKernel && !kernelAtLeast(target.kernel, includes.minKernel)) return false;
  }
  return true;
}

/** The OCI seccomp object for one container from a Docker-format profile. */
export function resolveSeccompProfile(profile: DockerSeccompProfile, target: SeccompTarget): RuntimeSeccomp {
  const arch = NODE_TO_LIBSECCOMP[target.arch] ?? target.arch;
  const ociArch = LIBSECCOMP_TO_OCI[arch];
  const architectures: string[] = [];
  const entry = profile.archMap.find((candidate) => candidate.architecture === ociArch);
  if (entry) architectures.push(entry.architecture, ...entry.subArchitectures);
  const syscalls: RuntimeSeccompSyscall[] = [];
  for (const rule of profile.syscalls) {
    if (!applies(rule, arch, target)) continue;
    const syscall: RuntimeSeccompSyscall = { names: [...rule.names], action: rule.action };
    if (rule.errnoRet !== undefined) syscall.errnoRet = rule.errnoRet;
    if (rule.args?.length) syscall.args = rule.args.map((arg) => ({ ...arg }));
    syscalls.push(syscall);
  }
  const seccomp: RuntimeSeccomp = { defaultAction: profile.defaultAction, architectures, syscalls };
  if (profile.defaultErrnoRet !== undefined) seccomp.defaultErrnoRet = profile.defaultErrnoRet;
  return seccomp;
}
