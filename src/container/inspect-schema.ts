/**
 * The Go types behind `docker inspect CONTAINER` (moby's `container.InspectResponse`, API 1.48):
 * each struct's fields in Docker's order, with the Go kind of each and whether it is `omitempty`.
 *
 * Why it exists: Docker answers with every field of its structs, a nil slice as `null` and a
 * zero int as `0`, and the docker CLI runs `inspect -f` templates on the typed struct, where a
 * field no one set still exists (`{{.Config.StopSignal}}` is empty, `{{.HostConfig.Binds}}`
 * prints `[]`, `{{.Config.Entrypoint}}` prints `[]`). Wharf stores only what a create said, so
 * the view fills the rest from here (dockerShape), and the CLI's typed template view reads the
 * kinds from here too (cli/format/container-inspect-view.ts).
 *
 * @example
 * dockerShape({ NetworkMode: 'bridge' }, HOST_CONFIG).Binds; // null
 */

/**
 * A field's Go kind: scalars; `slice`, `map`, `ptr` (nil is `null`); `set` (map[string]struct{},
 * each value `{}`); `pair` ([2]uint, zero `[0, 0]`); `time` (a time.Time as RFC 3339 text); a
 * struct; or a slice / map / pointer of a struct.
 */
export type GoType =
  | 'string'
  | 'int'
  | 'bool'
  | 'slice'
  | 'map'
  | 'set'
  | 'ptr'
  | 'pair'
  | 'time'
  | GoStruct
  | { slice: GoStruct }
  | { map: GoStruct | { slice: GoStruct } }
  | { ptr: GoStruct };

export interface GoStruct {
  /** The Go type name, for template error messages (`container.Config`). */
  name: string;
  /** Field name -> kind, in Go's order; a name ending in `?` is `omitempty`. */
  fields: Record<string, GoType>;
}

const struct = (name: string, fields: Record<string, GoType>): GoStruct => ({ name, fields });

const PORT_BINDING = struct('nat.PortBinding', { HostIp: 'string', HostPort: 'string' });
/** nat.PortMap: `80/tcp` -> bindings (`null` for an exposed port nobody published). */
const PORT_MAP: GoType = { map: { slice: PORT_BINDING } };

const HEALTH_CONFIG = struct('container.HealthConfig', {
  'Test?': 'slice',
  'Interval?': 'int',
  'Timeout?': 'int',
  'StartPeriod?': 'int',
  'StartInterval?': 'int',
  'Retries?': 'int',
});

export const CONFIG = struct('container.Config', {
  Hostname: 'string',
  Domainname: 'string',
  User: 'string',
  AttachStdin: 'bool',
  AttachStdout: 'bool',
  AttachStderr: 'bool',
  'ExposedPorts?': 'set',
  Tty: 'bool',
  OpenStdin: 'bool',
  StdinOnce: 'bool',
  Env: 'slice',
  Cmd: 'slice',
  'Healthcheck?': { ptr: HEALTH_CONFIG },
  'ArgsEscaped?': 'bool',
  Image: 'string',
  Volumes: 'set',
  WorkingDir: 'string',
  Entrypoint: 'slice',
  'NetworkDisabled?': 'bool',
  'MacAddress?': 'string',
  OnBuild: 'slice',
  Labels: 'map',
  'StopSignal?': 'string',
  'StopTimeout?': 'ptr',
  'Shell?': 'slice',
});

const ULIMIT = struct('units.Ulimit', { Name: 'string', Hard: 'int', Soft: 'int' });
const DEVICE_MAPPING = struct('container.DeviceMapping', {
  PathOnHost: 'string',
  PathInContainer: 'string',
  CgroupPermissions: 'string',
});

export const HOST_CONFIG = struct('container.HostConfig', {
  Binds: 'slice',
  ContainerIDFile: 'string',
  LogConfig: struct('container.LogConfig', { Type: 'string', Config: 'map' }),
  NetworkMode: 'string',
  PortBindings: PORT_MAP,
  RestartPolicy: struct('container.RestartPolicy', { Name: 'string', MaximumRetryCount: 'int' }),
  AutoRemove: 'bool',
  VolumeDriver: 'string',
  VolumesFrom: 'slice',
  ConsoleSize: 'pair',
  'Annotations?': 'map',
  CapAdd: 'slice',
  CapDrop: 'slice',
  CgroupnsMode: 'string',
  Dns: 'slice',
  DnsOptions: 'slice',
  DnsSearch: 'slice',
  ExtraHosts: 'slice',
  GroupAdd: 'slice',
  IpcMode: 'string',
  Cgroup: 'string',
  Links: 'slice',
  OomScoreAdj: 'int',
  PidMode: 'string',
  Privileged: 'bool',
  PublishAllPorts: 'bool',
  ReadonlyRootfs: 'bool',
  SecurityOpt: 'slice',
  'StorageOpt?': 'map',
  'Tmpfs?': 'map',
  UTSMode: 'string',
  UsernsMode: 'string',
  ShmSize: 'int',
  'Sysctls?': 'map',
  'Runtime?': 'string',
  Isolation: 'string',
  // Resources, embedded
  CpuShares: 'int',
  Memory: 'int',
  NanoCpus: 'int',
  CgroupParent: 'string',
  BlkioWeight: 'int',
  BlkioWeightDevice: 'slice',
  BlkioDeviceReadBps: 'slice',
  BlkioDeviceWriteBps: 'slice',
  BlkioDeviceReadIOps: 'slice',
  BlkioDeviceWriteIOps: 'slice',
  CpuPeriod: 'int',
  CpuQuota: 'int',
  CpuRealtimePeriod: 'int',
  CpuRealtimeRuntime: 'int',
  CpusetCpus: 'string',
  CpusetMems: 'string',
  Devices: { slice: DEVICE_MAPPING },
  DeviceCgroupRules: 'slice',
  DeviceRequests: 'slice',
  'KernelMemory?': 'int',
  'KernelMemoryTCP?': 'int',
  MemoryReservation: 'int',
  MemorySwap: 'int',
  MemorySwappiness: 'ptr',
  OomKillDisable: 'ptr',
  PidsLimit: 'ptr',
  Ulimits: { slice: ULIMIT },
  CpuCount: 'int',
  CpuPercent: 'int',
  IOMaximumIOps: 'int',
  IOMaximumBandwidth: 'int',
  // after Resources
  'Mounts?': 'slice',
  MaskedPaths: 'slice',
  ReadonlyPaths: 'slice',
  'Init?': 'ptr',
});

const HEALTH = struct('container.Health', {
  Status: 'string',
  FailingStreak: 'int',
  Log: {
    slice: struct('container.HealthcheckResult', {
      Start: 'time',
      End: 'time',
      ExitCode: 'int',
      Output: 'string',
    }),
  },
});

const STATE = struct('container.State', {
  Status: 'string',
  Running: 'bool',
  Paused: 'bool',
  Restarting: 'bool',
  OOMKilled: 'bool',
  Dead: 'bool',
  Pid: 'int',
  ExitCode: 'int',
  Error: 'string',
  StartedAt: 'string',
  FinishedAt: 'string',
  'Health?': { ptr: HEALTH },
});

const MOUNT_POINT = struct('container.MountPoint', {
  Type: 'string',
  'Name?': 'string',
  Source: 'string',
  Destination: 'string',
  'Driver?': 'string',
  Mode: 'string',
  RW: 'bool',
  Propagation: 'string',
});

const ENDPOINT_SETTINGS = struct('network.EndpointSettings', {
  IPAMConfig: 'ptr',
  Links: 'slice',
  Aliases: 'slice',
  DriverOpts: 'map',
  GwPriority: 'int',
  NetworkID: 'string',
  EndpointID: 'string',
  Gateway: 'string',
  IPAddress: 'string',
  IPPrefixLen: 'int',
  IPv6Gateway: 'string',
  GlobalIPv6Address: 'string',
  GlobalIPv6PrefixLen: 'int',
  MacAddress: 'string',
  DNSNames: 'slice',
});

const NETWORK_SETTINGS = struct('container.NetworkSettings', {
  Bridge: 'string',
  SandboxID: 'string',
  SandboxKey: 'string',
  Ports: PORT_MAP,
  HairpinMode: 'bool',
  LinkLocalIPv6Address: 'string',
  LinkLocalIPv6PrefixLen: 'int',
  SecondaryIPAddresses: 'slice',
  SecondaryIPv6Addresses: 'slice',
  EndpointID: 'string',
  Gateway: 'string',
  GlobalIPv6Address: 'string',
  GlobalIPv6PrefixLen: 'int',
  IPAddress: 'string',
  IPPrefixLen: 'int',
  IPv6Gateway: 'string',
  MacAddress: 'string',
  Networks: { map: ENDPOINT_SETTINGS },
});

/** `docker inspect CONTAINER`'s object. */
export const CONTAINER_INSPECT = struct('container.InspectResponse', {
  Id: 'string',
  Created: 'string',
  Path: 'string',
  Args: 'slice',
  State: { ptr: STATE },
  Image: 'string',
  ResolvConfPath: 'string',
  HostnamePath: 'string',
  HostsPath: 'string',
  LogPath: 'string',
  'Node?': 'ptr',
  Name: 'string',
  RestartCount: 'int',
  Driver: 'string',
  Platform: 'string',
  'ImageManifestDescriptor?': 'ptr',
  MountLabel: 'string',
  ProcessLabel: 'string',
  AppArmorProfile: 'string',
  ExecIDs: 'slice',
  HostConfig: { ptr: HOST_CONFIG },
  GraphDriver: struct('storage.DriverData', { Data: 'map', Name: 'string' }),
  'SizeRw?': 'ptr',
  'SizeRootFs?': 'ptr',
  Mounts: { slice: MOUNT_POINT },
  Config: { ptr: CONFIG },
  NetworkSettings: { ptr: NETWORK_SETTINGS },
});

/** A field's name without its `?`, and whether it is `omitempty`. */
export function fieldName(key: string): { name: string; omitEmpty: boolean } {
  return key.endsWith('?') ? { name: key.slice(0, -1), omitEmpty: true } : { name: key, omitEmpty: false };
}

/** The JSON Go writes for a field of kind `type` that holds its zero value. */
export function zeroJson(type: GoType): unknown {
  if (type === 'string' || type === 'time') return type === 'time' ? '0001-01-01T00:00:00Z' : '';
  if (type === 'int') return 0;
  if (type === 'bool') return false;
  if (type === 'pair') return [0, 0];
  if (typeof type === 'object' && 'fields' in type) return dockerShape({}, type);
  return null;
}

/**
 * `value` (a stored Config or HostConfig) as Docker writes that struct: its fields in Go's order,
 * a missing one as its zero value (an `omitempty` one left out), nested structs alike; fields Go
 * does not have are kept after them.
 */
export function dockerShape(value: Record<string, unknown>, type: GoStruct): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, fieldType] of Object.entries(type.fields)) {
    const { name, omitEmpty } = fieldName(key);
    const present = value[name];
    if (present === undefined || (omitEmpty && isEmptyJson(present))) {
      if (!omitEmpty) out[name] = zeroJson(fieldType);
    } else if (
      typeof fieldType === 'object' &&
      'fields' in fieldType &&
      present !== null &&
      typeof present === 'object' &&
      !Array.isArray(present)
    ) {
      out[name] = dockerShape(present as Record<string, unknown>, fieldType);
    } else {
      out[name] = present;
    }
  }
  const known = new Set(Object.keys(type.fields).map((key) => fieldName(key).name));
  for (const [name, present] of Object.entries(value)) if (!known.has(name)) out[name] = present;
  return out;
}

/** Go's `omitempty` test on decoded JSON: false, 0, "", null, and empty arrays and objects. */
function isEmptyJson(value: unknown): boolean {
  if (value === null || value === false || value === 0 || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === 'object' && Object.keys(value).length === 0;
}
