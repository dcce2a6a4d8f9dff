/**
 * `POST /containers/create`: Docker's create body (Config fields at the top, `HostConfig`,
 * `NetworkingConfig`) as the docker CLI 28 and other clients send it, turned into the container
 * service's create request. Parsing is lenient (unknown and newer fields are ignored, `null` is
 * "not set"), but a request that asks for something the container service cannot do (a
 * published port or a bind mount while no network or volume layer is plugged into it, a shared
 * PID namespace, `--link`) is refused with a 400 naming the flag, never silently dropped: a
 * container that runs without its `-p` is worse than one that does not run. With the layers
 * (the default wiring), ports, DNS, mounts and NetworkingConfig's aliases and `--ip` pass to
 * them.
 *
 * What the CLI sends for a bare `docker run busybox` is all defaults: `NetworkMode: "default"`,
 * `PortBindings: {}`, `Dns: []`, `Ulimits: []`, `PidsLimit: 0`, `ShmSize: 0`,
 * `MemorySwappiness: -1`... Those mean "nothing asked" and map to the service's defaults.
 *
 * @example
 * const request = createRequestFromBody({ Image: 'busybox', Cmd: ['true'], HostConfig: { AutoRemove: true } });
 * await containers.create({ ...request, name: 'web' });
 */
import type { EndpointConfig } from '../container/container-records.ts';
import type { CreateContainerRequest } from '../container/container-service.ts';
import type {
  ContainerConfig,
  DeviceMapping,
  HealthConfig,
  HostConfig,
  RestartPolicy,
  Ulimit,
} from '../container/docker-types.ts';
import { InvalidArgumentError } from '../errors/index.ts';

type Json = Record<string, unknown>;

function object(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

function string(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function number(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function strings(value: unknown, field: string): string[] | undefined {
  if (value === null || value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
    throw new InvalidArgumentError(`Cannot create a container: ${field} must be a list of strings`);
  }
  return value as string[];
}

function stringMap(value: unknown, field: string): Record<string, string> | undefined {
  if (value === null || value === undefined) return undefined;
  const map = object(value);
  if (!map || Object.values(map).some((item) => typeof item !== 'string')) {
    throw new InvalidArgumentError(`Cannot create a container: ${field} must map strings to strings`);
  }
  return map as Record<string, string>;
}

/** True when a field holds something (a non-empty list, map or string, a true, a non-zero). */
function isSet(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

/**
 * HostConfig fields of the volume and network layers: the container service takes them once such
 * a layer is plugged into it (its hooks, which read and check them at create); without one they
 * are refused with the flag users know them by.
 */
const LAYER_HOST_FIELDS: ReadonlyArray<[field: string, flag: string]> = [
  ['PortBindings', '-p/--publish'],
  ['PublishAllPorts', '-P/--publish-all'],
  ['Binds', '-v/--volume'],
  ['Mounts', '--mount'],
  ['VolumesFrom', '--volumes-from'],
  ['VolumeDriver', '--volume-driver'],
  ['Dns', '--dns'],
  ['DnsOptions', '--dns-option'],
  ['DnsSearch', '--dns-search'],
  ['ExtraHosts', '--add-host'],
];

/** HostConfig fields nothing in Wharf implements yet: asked for, they get a 400. */
const UNSUPPORTED_HOST_FIELDS: ReadonlyArray<[field: string, flag: string]> = [
  ['Links', '--link'],
  ['PidMode', '--pid'],
  ['IpcMode', '--ipc'],
  ['UTSMode', '--uts'],
  ['UsernsMode', '--userns'],
  ['DeviceRequests', '--gpus'],
  ['DeviceCgroupRules', '--device-cgroup-rule'],
  ['BlkioWeight', '--blkio-weight'],
  ['BlkioWeightDevice', '--blkio-weight-device'],
  ['BlkioDeviceReadBps', '--device-read-bps'],
  ['BlkioDeviceWriteBps', '--device-write-bps'],
  ['BlkioDeviceReadIOps', '--device-read-iops'],
  ['BlkioDeviceWriteIOps', '--device-write-iops'],
  ['CpusetMems', '--cpuset-mems'],
  ['CpuRealtimePeriod', '--cpu-rt-period'],
  ['CpuRealtimeRuntime', '--cpu-rt-runtime'],
  ['KernelMemory', '--kernel-memory'],
];

export interface CreateMappingOptions {
  /** The service has volume/network layers plugged in: their fields pass through to them. */
  layers: boolean;
}

function refuse(what: string): never {
  throw new InvalidArgumentError(
    `Cannot create the container: ${what} is not supported by this Wharf daemon yet`,
  );
}

function healthcheck(value: unknown): HealthConfig | undefined {
  const health = object(value);
  if (!health) return undefined;
  const out: HealthConfig = {};
  const test = strings(health.Test, 'Healthcheck.Test');
  if (test) out.Test = test;
  for (const key of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const) {
    const n = number(health[key]);
    if (n !== undefined) out[key] = n;
  }
  return out;
}

function emptyObjectMap(value: unknown): Record<string, Record<string, never>> | undefined {
  const map = object(value);
  if (!map || Object.keys(map).length === 0) return undefined;
  const out: Record<string, Record<string, never>> = {};
  for (const key of Object.keys(map)) out[key] = {};
  return out;
}

/** The Config part (top-level fields of the body). */
function containerConfig(body: Json, options: CreateMappingOptions): ContainerConfig {
  const image = string(body.Image) ?? '';
  if (image === '') throw new InvalidArgumentError('Cannot create a container: no image was given (Image)');
  const config: ContainerConfig = { Image: image };
  for (const key of ['Hostname', 'Domainname', 'User', 'WorkingDir', 'StopSignal'] as const) {
    const value = string(body[key]);
    if (value) config[key] = value;
  }
  for (const key of [
    'AttachStdin',
    'AttachStdout',
    'AttachStderr',
    'Tty',
    'OpenStdin',
    'StdinOnce',
    'ArgsEscaped',
    'NetworkDisabled',
  ] as const) {
    if (typeof body[key] === 'boolean') config[key] = body[key];
  }
  // dockerd closes a container's stdin when its attached client leaves only without a TTY; with
  // one, `run -it`, detach and `attach` again must find the shell still reading (conmon closes
  // the stdin at the first client's exit unless told to leave it open)
  if (config.Tty && config.StdinOnce) config.StdinOnce = false;
  if (config.WorkingDir && !config.WorkingDir.startsWith('/')) {
    throw new InvalidArgumentError(
      `the working directory '${config.WorkingDir}' is invalid, it needs to be an absolute path`,
    );
  }
  const env = strings(body.Env, 'Env');
  if (env) config.Env = env;
  // null and absent both mean "the image's"; an empty list is an explicit override
  const cmd = strings(body.Cmd, 'Cmd');
  if (cmd) config.Cmd = cmd;
  const entrypoint = strings(body.Entrypoint, 'Entrypoint');
  if (entrypoint) config.Entrypoint = entrypoint;
  const labels = stringMap(body.Labels, 'Labels');
  if (labels) config.Labels = labels;
  const exposed = emptyObjectMap(body.ExposedPorts);
  if (exposed) config.ExposedPorts = exposed;
  const health = healthcheck(body.Healthcheck);
  if (health) config.Healthcheck = health;
  const stopTimeout = number(body.StopTimeout);
  if (stopTimeout !== undefined) config.StopTimeout = stopTimeout;
  const onBuild = strings(body.OnBuild, 'OnBuild');
  if (onBuild?.length) config.OnBuild = onBuild;
  if (isSet(body.Volumes)) {
    if (!options.layers) refuse('an anonymous volume (-v /path, Volumes)');
    config.Volumes = emptyObjectMap(body.Volumes) ?? null;
  }
  return config;
}

function restartPolicy(value: unknown): RestartPolicy | undefined {
  const policy = object(value);
  if (!policy) return undefined;
  const name = string(policy.Name) ?? '';
  return {
    Name: (name === '' ? 'no' : name) as RestartPolicy['Name'],
    MaximumRetryCount: number(policy.MaximumRetryCount) ?? 0,
  };
}

function ulimits(value: unknown): Ulimit[] | null {
  if (!Array.isArray(value) || value.length === 0) return null;
  return value.map((item) => {
    const limit = object(item);
    const name = string(limit?.Name);
    const soft = number(limit?.Soft);
    const hard = number(limit?.Hard);
    if (!name || soft === undefined || hard === undefined) {
      throw new InvalidArgumentError('Cannot create a container: each Ulimit needs Name, Soft and Hard');
    }
    return { Name: name, Soft: soft, Hard: hard };
  });
}

function devices(value: unknown): DeviceMapping[] | null {
  if (!Array.isArray(value) || value.length === 0) return null;
  return value.map((item) => {
    const device = object(item);
    const host = string(device?.PathOnHost) ?? '';
    if (host === '') throw new InvalidArgumentError('Cannot create a container: a device needs PathOnHost');
    return {
      PathOnHost: host,
      PathInContainer: string(device?.PathInContainer) || host,
      CgroupPermissions: string(device?.CgroupPermissions) || 'rwm',
    };
  });
}

const LOG_DRIVERS = new Set(['', 'k8s-file', 'json-file', 'local']);

/** The HostConfig part: what is set replaces the service's default. */
function hostConfigOf(value: unknown, options: CreateMappingOptions): Partial<HostConfig> {
  const host = object(value) ?? {};
  for (const [field, flag] of [...UNSUPPORTED_HOST_FIELDS, ...(options.layers ? [] : LAYER_HOST_FIELDS)]) {
    // private namespaces are what `--pid`/`--ipc` unset mean
    if ((field === 'IpcMode' || field === 'PidMode') && host[field] === 'private') continue;
    if (isSet(host[field])) refuse(`${flag} (HostConfig.${field})`);
  }
  const out: Partial<HostConfig> = {};
  const networkMode = string(host.NetworkMode);
  if (networkMode) out.NetworkMode = networkMode;
  const policy = restartPolicy(host.RestartPolicy);
  if (policy) out.RestartPolicy = policy;
  if (typeof host.AutoRemove === 'boolean') out.AutoRemove = host.AutoRemove;
  const log = object(host.LogConfig);
  if (log) {
    const type = string(log.Type) ?? '';
    if (!LOG_DRIVERS.has(type)) {
      throw new InvalidArgumentError(`Cannot use log driver ${type}: Wharf logs through conmon (k8s-file)`);
    }
    out.LogConfig = { Type: 'k8s-file', Config: stringMap(log.Config, 'LogConfig.Config') ?? {} };
  }
  for (const key of ['CapAdd', 'CapDrop', 'SecurityOpt', 'GroupAdd'] as const) {
    const list = strings(host[key], `HostConfig.${key}`);
    if (list?.length) out[key] = list;
  }
  for (const key of ['Privileged', 'ReadonlyRootfs'] as const) {
    if (typeof host[key] === 'boolean') out[key] = host[key];
  }
  if (typeof host.Init === 'boolean') out.Init = host.Init;
  if (typeof host.OomKillDisable === 'boolean' && host.OomKillDisable) out.OomKillDisable = true;
  for (const key of ['Runtime', 'CgroupParent', 'CpusetCpus'] as const) {
    const text = string(host[key]);
    if (text) out[key] = text;
  }
  for (const key of [
    'ShmSize',
    'Memory',
    'MemoryReservation',
    'NanoCpus',
    'CpuShares',
    'CpuPeriod',
    'CpuQuota',
    'OomScoreAdj',
  ] as const) {
    const n = number(host[key]);
    if (n !== undefined && n !== 0) out[key] = n;
  }
  const swap = number(host.MemorySwap);
  if (swap !== undefined && swap !== 0) out.MemorySwap = swap;
  // 0 and null: no limit asked; -1: unlimited (the service's null)
  const pids = number(host.PidsLimit);
  if (pids !== undefined && pids > 0) out.PidsLimit = pids;
  if (out.NanoCpus && (out.CpuPeriod || out.CpuQuota)) {
    throw new InvalidArgumentError('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  }
  const sysctls = stringMap(host.Sysctls, 'HostConfig.Sysctls');
  if (sysctls && Object.keys(sysctls).length > 0) out.Sysctls = sysctls;
  const tmpfs = stringMap(host.Tmpfs, 'HostConfig.Tmpfs');
  if (tmpfs && Object.keys(tmpfs).length > 0) out.Tmpfs = tmpfs;
  const limits = ulimits(host.Ulimits);
  if (limits) out.Ulimits = limits;
  const mapped = devices(host.Devices);
  if (mapped) out.Devices = mapped;
  if (options.layers) {
    for (const [field] of LAYER_HOST_FIELDS) if (isSet(host[field])) (out as Json)[field] = host[field];
    for (const key of ['Binds', 'VolumesFrom', 'Dns', 'DnsSearch', 'DnsOptions', 'ExtraHosts'] as const) {
      const list = strings(host[key], `HostConfig.${key}`);
      if (list?.length) out[key] = list;
      else delete out[key];
    }
    const bindings = portBindings(host.PortBindings);
    if (bindings) out.PortBindings = bindings;
    else delete out.PortBindings;
    if (host.PublishAllPorts !== true) delete out.PublishAllPorts;
    if (isSet(host.Mounts) && !Array.isArray(host.Mounts)) {
      throw new InvalidArgumentError('Cannot create a container: HostConfig.Mounts must be a list');
    }
  }
  return out;
}

/** `PortBindings` as clients send them: `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`, nulls allowed. */
function portBindings(value: unknown): HostConfig['PortBindings'] | undefined {
  const map = object(value);
  if (!map) return undefined;
  const out: NonNullable<HostConfig['PortBindings']> = {};
  for (const [port, list] of Object.entries(map)) {
    const bindings = Array.isArray(list) && list.length > 0 ? list : [{}];
    out[port] = bindings.map((item) => {
      const binding = object(item) ?? {};
      const hostPort = binding.HostPort;
      return {
        HostIp: string(binding.HostIp) ?? '',
        HostPort: typeof hostPort === 'number' ? String(hostPort) : (string(hostPort) ?? ''),
      };
    });
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** `NetworkingConfig.EndpointsConfig`: the aliases and `--ip` per network (other fields are the daemon's to fill). */
function endpointsConfig(body: Json): Record<string, EndpointConfig> | undefined {
  const endpoints = object(object(body.NetworkingConfig)?.EndpointsConfig);
  if (!endpoints) return undefined;
  const out: Record<string, EndpointConfig> = {};
  for (const [name, value] of Object.entries(endpoints)) {
    const endpoint = object(value) ?? {};
    const settings: EndpointConfig = {};
    const aliases = strings(endpoint.Aliases, `EndpointsConfig.${name}.Aliases`);
    if (aliases?.length) settings.Aliases = aliases;
    const address = string(object(endpoint.IPAMConfig)?.IPv4Address);
    if (address) settings.IPAMConfig = { IPv4Address: address };
    out[name] = settings;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The network the body names: HostConfig.NetworkMode, else the first endpoint of
 * NetworkingConfig. Without a network layer only one endpoint is taken (none or host).
 */
function checkNetworking(body: Json, hostConfig: Partial<HostConfig>, options: CreateMappingOptions): void {
  const endpoints = object(object(body.NetworkingConfig)?.EndpointsConfig);
  const names = Object.keys(endpoints ?? {});
  if (names.length > 1 && !options.layers) {
    throw new InvalidArgumentError(
      'Container cannot be connected to network endpoints: only one network at create is supported',
    );
  }
  if (!hostConfig.NetworkMode && names[0]) hostConfig.NetworkMode = names[0];
}

/** The console size the CLI sends with `-t` (`[height, width]`), for the first start. */
export function consoleSizeOf(body: Json): { height: number; width: number } | undefined {
  const size = object(body.HostConfig)?.ConsoleSize;
  if (!Array.isArray(size) || size.length !== 2) return undefined;
  const [height, width] = size.map(Number);
  return height && width && height > 0 && width > 0 ? { height, width } : undefined;
}

/** Docker's create body as the service's request (see the module comment). */
export function createRequestFromBody(
  body: Json,
  options: CreateMappingOptions = { layers: false },
): CreateContainerRequest {
  const config = containerConfig(body, options);
  const hostConfig = hostConfigOf(body.HostConfig, options);
  checkNetworking(body, hostConfig, options);
  const request: CreateContainerRequest = { config, hostConfig };
  const endpoints = options.layers ? endpointsConfig(body) : undefined;
  if (endpoints) request.networkingConfig = { EndpointsConfig: endpoints };
  return request;
}
