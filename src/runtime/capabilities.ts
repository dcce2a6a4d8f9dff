/**
 * Linux capabilities: the names by bit number, Docker's default set, and Docker's rules for
 * `--cap-add` / `--cap-drop` (names with or without `CAP_`, any case, `ALL`).
 *
 * @example
 * resolveCapabilities({ add: ['net_admin'], drop: ['ALL'], available: ALL_CAPABILITIES });
 * // -> ['CAP_NET_ADMIN']
 */
import { InvalidArgumentError } from '../errors/index.ts';

/** Every capability the kernel knows, indexed by bit number (linux/capability.h). */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** Docker's default set (moby daemon/pkg/oci/caps/defaults.go), in Docker's order. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** The capability names in a `/proc/PID/status` mask such as `CapBnd:\t000001fffeffffff`. */
export function capabilitiesFromMask(hexMask: string): string[] {
  const mask = BigInt(`0x${hexMask.trim()}`);
  return ALL_CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

/** `net_admin`, `NET_ADMIN` and `CAP_NET_ADMIN` all name CAP_NET_ADMIN; `all` stays `ALL`. */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL') return 'ALL';
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!ALL_CAPABILITIES.includes(full)) {
    throw new InvalidArgumentError(`Cannot use capability "${name}": unknown capability`);
  }
  return full;
}

export interface CapabilityChanges {
  add?: readonly string[];
  drop?: readonly string[];
  /** The host's bounding set: a container cannot hold more, and `ALL` means these. */
  available: readonly string[];
}

/**
 * Docker's TweakCapabilities: start from the default set (or nothing after `--cap-drop ALL`, or
 * everything after `--cap-add ALL`), drop, then add. Adding a capability the host lacks fails
 * here with a clear reason instead of as an EPERM from the runtime.
 */
export function resolveCapabilities(changes: CapabilityChanges): string[] {
  const add = (changes.add ?? []).map(normalizeCapability);
  const drop = (changes.drop ?? []).map(normalizeCapability);
  const available = new Set(changes.available);
  let base: string[];
  if (add.includes('ALL')) base = ALL_CAPABILITIES.filter((cap) => available.has(cap));
  else if (drop.includes('ALL')) base = [];
  else base = DEFAULT_CAPABILITIES.filter((cap) => available.has(cap));
  const result = base.filter((cap) => !drop.includes(cap));
  // With `--cap-add ALL` the other names add nothing and the drops win, as in Docker.
  if (add.includes('ALL')) return result;
  for (const cap of add) {
    if (result.includes(cap)) continue;
    if (!available.has(cap)) {
      throw new InvalidArgumentError(
        `Cannot add capability ${cap}: the host's bounding set does not have it`,
      );
    }
    result.push(cap);
  }
  return result;
}
