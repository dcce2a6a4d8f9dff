/**
 * The OCI runtime spec (config.json) of one run of a container: Docker's definition (Config and
 * HostConfig) turned into the options of the runtime's spec generator (src/runtime/spec.ts),
 * with the user resolved in the container's own files, the per-container /etc files bind-mounted,
 * and `--init`'s static tini bind-mounted at /sbin/docker-init as Docker does.
 *
 * @example
 * const spec = await containerRuntimeSpec(record, { rootfs, paths, host, user });
 */
import { InvalidArgumentError } from '../errors/index.ts';
import { listHostDevices, parseDeviceFlag, resolveDevice } from '../runtime/devices.ts';
import type { HostFacts } from '../runtime/host-facts.ts';
import type { RuntimeSpec } from '../runtime/oci-runtime-spec.ts';
import type { DockerSeccompProfile } from '../runtime/seccomp.ts';
import { buildRuntimeSpec, type MountRequest, type NetworkMode, type SpecOptions } from '../runtime/spec.ts';
import { processEnv } from './container-config.ts';
import type { ContainerPaths } from './container-paths.ts';
import type { ContainerRecord } from './container-records.ts';
import type { HostConfig } from './docker-types.ts';
import type { ResolvedUser } from './user-lookup.ts';

/** Where Docker puts its init, and the static binary Wharf mounts there. */
export const INIT_PATH = '/sbin/docker-init';
export const TINI_STATIC = '/usr/bin/tini-static';

/**
 * How a run gets its network: `host`, `none` (a namespace holding only `lo`), or `hooked` when a
 * network layer (a container hook) takes the mode: `bridge` (also '' and `default`, Docker's
 * default) and user networks by name or id. Without such a layer the default is `none` and
 * other modes are refused.
 */
export function networkModeOf(
  hostConfig: HostConfig,
  hooked: (mode: string) => boolean = () => false,
): 'none' | 'host' | 'hooked' {
  const mode = hostConfig.NetworkMode;
  if (mode === 'host') return 'host';
  if (mode === 'none') return 'none';
  if (mode.startsWith('container:')) {
    throw new InvalidArgumentError(
      `Cannot use network ${mode}: sharing a container's network is not supported yet`,
    );
  }
  if (hooked(mode === '' || mode === 'default' ? 'bridge' : mode)) return 'hooked';
  if (mode === '' || mode === 'default') return 'none';
  throw new InvalidArgumentError(
    `Cannot use network ${mode}: only "none" and "host" are supported without the network layer`,
  );
}

export interface SecurityOptions {
  noNewPrivileges: boolean;
  seccomp: 'default' | 'unconfined' | DockerSeccompProfile;
  unmaskSystemPaths: boolean;
}

/** Docker's `--security-opt` values (label and apparmor are accepted and ignored: no LSM here). */
export function parseSecurityOptions(options: readonly string[] | null | undefined): SecurityOptions {
  const result: SecurityOptions = { noNewPrivileges: false, seccomp: 'default', unmaskSystemPaths: false };
  for (const option of options ?? []) {
    const separator = /[=:]/.exec(option);
    const key = separator ? option.slice(0, separator.index) : option;
    const value = separator ? option.slice(separator.index + 1) : '';
    switch (key) {
      case 'no-new-privileges':
        if (value !== '' && value !== 'true' && value !== 'false') {
          throw new InvalidArgumentError(`Invalid --security-opt 2: "${option}"`);
        }
        result.noNewPrivileges = value !== 'false';
        break;
      case 'seccomp':
        if (value === 'unconfined') result.seccomp = 'unconfined';
        else if (value === '' || value === 'builtin' || value === 'default') result.seccomp = 'default';
        else {
          try {
            result.seccomp = JSON.parse(value) as DockerSeccompProfile;
          } catch (error) {
            throw new InvalidArgumentError(`Cannot use seccomp profile: invalid JSON`, { cause: error });
          }
        }
        break;
      case 'systempaths':
        if (value !== 'unconfined') throw new InvalidArgumentError(`Invalid --security-opt: "${option}"`);
        result.unmaskSystemPaths = true;
        break;
      case 'label':
      case 'apparmor':
        break;
      default:
        throw new InvalidArgumentError(`Invalid --security-opt: "${option}"`);
    }
  }
  return result;
}

export interface ContainerSpecInputs {
  paths: ContainerPaths;
  host: HostFacts;
  user: ResolvedUser;
  hostname: string;
  /** Terminal size for `-t` (rows, columns). */
  consoleSize?: { height: number; width: number };
  /** Mounts from hooks (volumes, binds). */
  extraMounts?: MountRequest[];
  /** The network namespace a hook prepared (otherwise none's new one, or the host's). */
  network?: NetworkMode;
}

/** The config.json of a run of `record` (see the module comment). */
export async function containerRuntimeSpec(
  record: ContainerRecord,
  inputs: ContainerSpecInputs,
): Promise<RuntimeSpec> {
  const { Config: config, HostConfig: hostConfig } = record.definition;
  const mode = networkModeOf(hostConfig, () => inputs.network !== undefined);
  const network: NetworkMode = inputs.network ?? { mode: mode === 'host' ? 'host' : 'none' };
  const security = parseSecurityOptions(hostConfig.SecurityOpt);
  const args = [record.definition.Path, ...record.definition.Args];
  const mounts: MountRequest[] = [
    { type: 'bind', source: inputs.paths.hostname, destination: '/etc/hostname' },
    { type: 'bind', source: inputs.paths.hosts, destination: '/etc/hosts' },
    { type: 'bind', source: inputs.paths.resolvConf, destination: '/etc/resolv.conf' },
  ];
  if (hostConfig.Init) {
    mounts.push({ type: 'bind', source: TINI_STATIC, destination: INIT_PATH, readonly: true });
    args.unshift(INIT_PATH, '--');
  }
  // volumes, binds and tmpfs (`--tmpfs` too: the volume layer resolves it), parents first;
  // a stable sort keeps a user's mount at /etc/hosts after Wharf's own
  mounts.push(...(inputs.extraMounts ?? []));
  sortByDepth(mounts);
  const devices = [];
  for (const mapping of hostConfig.Devices ?? []) {
    devices.push(
      await resolveDevice({
        hostPath: mapping.PathOnHost,
        containerPath: mapping.PathInContainer || mapping.PathOnHost,
        permissions: mapping.CgroupPermissions || 'rwm',
      }),
    );
  }
  const options: SpecOptions = {
    args,
    env: processEnv(config, { hostname: inputs.hostname, home: inputs.user.home }),
    cwd: config.WorkingDir || '/',
    user: { uid: inputs.user.uid, gid: inputs.user.gid, additionalGids: inputs.user.additionalGids },
    terminal: config.Tty === true,
    rootfs: inputs.paths.rootfs,
    readonlyRootfs: hostConfig.ReadonlyRootfs,
    hostname: inputs.hostname,
    mounts,
    network,
    capAdd: hostConfig.CapAdd ?? [],
    capDrop: hostConfig.CapDrop ?? [],
    privileged: hostConfig.Privileged,
    noNewPrivileges: security.noNewPrivileges,
    rlimits: (hostConfig.Ulimits ?? []).map((u) => ({ name: u.Name, soft: u.Soft, hard: u.Hard })),
    shmSize: hostConfig.ShmSize || 64 * 1024 * 1024,
    devices,
    resources: resourcesOf(hostConfig),
    cgroupsPath: record.definition.CgroupsPath,
    seccomp: security.seccomp,
    unmaskSystemPaths: security.unmaskSystemPaths,
    host: inputs.host,
  };
  if (inputs.consoleSize) options.consoleSize = inputs.consoleSize;
  if (hostConfig.Privileged) options.hostDevices = await listHostDevices();
  if (hostConfig.OomScoreAdj) options.oomScoreAdj = hostConfig.OomScoreAdj;
  if (hostConfig.Sysctls && Object.keys(hostConfig.Sysctls).length > 0) options.sysctls = hostConfig.Sysctls;
  return buildRuntimeSpec(options);
}

/** HostConfig's resource fields as the spec generator's (also for `update`). */
export function resourcesOf(hostConfig: HostConfig): NonNullable<SpecOptions['resources']> {
  const resources: NonNullable<SpecOptions['resources']> = {};
  if (hostConfig.Memory > 0) resources.memory = hostConfig.Memory;
  if (hostConfig.MemorySwap !== 0 && hostConfig.Memory > 0) resources.memorySwap = hostConfig.MemorySwap;
  if (hostConfig.MemoryReservation > 0) resources.memoryReservation = hostConfig.MemoryReservation;
  if (hostConfig.NanoCpus > 0) resources.cpus = hostConfig.NanoCpus / 1e9;
  if (hostConfig.CpuPeriod > 0) resources.cpuPeriod = hostConfig.CpuPeriod;
  if (hostConfig.CpuQuota > 0) resources.cpuQuota = hostConfig.CpuQuota;
  if (hostConfig.CpuShares > 0) resources.cpuShares = hostConfig.CpuShares;
  if (hostConfig.CpusetCpus) resources.cpusetCpus = hostConfig.CpusetCpus;
  if (hostConfig.PidsLimit !== undefined && hostConfig.PidsLimit !== null && hostConfig.PidsLimit > 0) {
    resources.pidsLimit = hostConfig.PidsLimit;
  }
  return resources;
}

/** Docker's sortMounts: fewer path components first (stable), so a parent is mounted before its children. */
function sortByDepth(mounts: MountRequest[]): void {
  const depth = (path: string) => path.split('/').filter(Boolean).length;
  mounts.sort((a, b) => depth(a.destination) - depth(b.destination));
}

/** Parses Docker's `--device` flag into HostConfig's shape. */
export function deviceMapping(flag: string): {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
} {
  const request = parseDeviceFlag(flag);
  return {
    PathOnHost: request.hostPath,
    PathInContainer: request.containerPath ?? request.hostPath,
    CgroupPermissions: request.permissions ?? 'rwm',
  };
}
