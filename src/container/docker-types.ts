/**
 * Docker Engine API shapes for containers (API 1.43): the `Config` and `HostConfig` a create
 * request carries (and that Wharf stores as the container's definition), and the shapes `inspect`,
 * `ps` and `events` return. Field names and meanings are Docker's so that front doors (the CLI's
 * templates, the Engine API) only serialize them. Durations are nanoseconds, sizes bytes.
 *
 * @example
 * const config: ContainerConfig = { Image: 'busybox', Cmd: ['true'], Env: [], Labels: {} };
 */

import type { PortBindings } from './network/port-spec.ts';
import type { MountSpec } from './volume/mount-spec.ts';

/** `HEALTHCHECK`: `Test` is `["NONE"]`, `["CMD", arg...]` or `["CMD-SHELL", command]`. */
export interface HealthConfig {
  Test?: string[];
  /** Nanoseconds; 0 means the default (30 s). */
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  /** 0 means the default (3). */
  Retries?: number;
}

export interface ContainerConfig {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: Record<string, Record<string, never>>;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[];
  Cmd?: string[] | null;
  Healthcheck?: HealthConfig;
  ArgsEscaped?: boolean;
  Image: string;
  Volumes?: Record<string, Record<string, never>> | null;
  WorkingDir?: string;
  Entrypoint?: string[] | null;
  NetworkDisabled?: boolean;
  OnBuild?: string[] | null;
  Labels?: Record<string, string>;
  StopSignal?: string;
  /** Seconds. */
  StopTimeout?: number;
}

export interface RestartPolicy {
  /** '' and 'no' are the same. */
  Name: '' | 'no' | 'always' | 'unless-stopped' | 'on-failure';
  MaximumRetryCount: number;
}

export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
}

export interface LogConfig {
  Type: string;
  Config: Record<string, string>;
}

export interface HostConfig {
  NetworkMode: string;
  RestartPolicy: RestartPolicy;
  AutoRemove: boolean;
  LogConfig: LogConfig;
  CapAdd: string[] | null;
  CapDrop: string[] | null;
  Privileged: boolean;
  ReadonlyRootfs: boolean;
  SecurityOpt: string[] | null;
  Init?: boolean | null;
  /** Bytes. */
  ShmSize: number;
  Runtime: string;
  CgroupParent: string;
  GroupAdd?: string[] | null;
  OomScoreAdj?: number;
  Sysctls?: Record<string, string>;
  Tmpfs?: Record<string, string>;
  Binds?: string[] | null;
  /** `--mount` (the Engine API's `Mount`s). */
  Mounts?: MountSpec[] | null;
  /** `--volumes-from CONTAINER[:ro|rw]`. */
  VolumesFrom?: string[] | null;
  VolumeDriver?: string;
  /** `-p`: `PORT/PROTO` -> bindings (HostPort '' lets the kernel choose). */
  PortBindings?: PortBindings | null;
  /** `-P`: publish every exposed port on a port the kernel chooses. */
  PublishAllPorts?: boolean;
  Dns?: string[] | null;
  DnsSearch?: string[] | null;
  DnsOptions?: string[] | null;
  /** `--add-host NAME:IP` (`host-gateway` allowed). */
  ExtraHosts?: string[] | null;
  // Resources
  Memory: number;
  MemorySwap: number;
  MemoryReservation: number;
  NanoCpus: number;
  CpuShares: number;
  CpuPeriod: number;
  CpuQuota: number;
  CpusetCpus: string;
  PidsLimit?: number | null;
  Ulimits: Ulimit[] | null;
  Devices: DeviceMapping[] | null;
  OomKillDisable?: boolean | null;
}

/** `State.Health`. */
export interface HealthState {
  /** `starting`, `healthy`, `unhealthy` (`none` when the image has no check). */
  Status: 'starting' | 'healthy' | 'unhealthy' | 'none';
  FailingStreak: number;
  Log: HealthLogEntry[];
}

export interface HealthLogEntry {
  /** RFC 3339 with nanoseconds. */
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface ContainerStateJson {
  Status: string;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  Health?: HealthState;
}

/** What `docker inspect CONTAINER` prints (one element of its array). */
export interface ContainerInspect {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerStateJson;
  Image: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  LogPath: string;
  Name: string;
  RestartCount: number;
  Driver: string;
  Platform: string;
  MountLabel: string;
  ProcessLabel: string;
  AppArmorProfile: string;
  ExecIDs: string[] | null;
  HostConfig: HostConfig;
  GraphDriver: { Data: Record<string, string> | null; Name: string };
  SizeRw?: number;
  SizeRootFs?: number;
  Mounts: unknown[];
  Config: ContainerConfig;
  NetworkSettings: {
    Bridge: string;
    SandboxID: string;
    SandboxKey: string;
    Ports: Record<string, unknown>;
    Networks: Record<string, unknown>;
  };
}

/** One element of `GET /containers/json` (`docker ps`). */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  Command: string;
  /** Unix seconds. */
  Created: number;
  Ports: unknown[];
  SizeRw?: number;
  SizeRootFs?: number;
  Labels: Record<string, string>;
  State: string;
  /** `Up 2 minutes`, `Exited (0) 3 seconds ago`... */
  Status: string;
  HostConfig: { NetworkMode: string };
  NetworkSettings: { Networks: Record<string, unknown> };
  Mounts: unknown[];
}

/** One message of `GET /events`. */
export interface EventMessage {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  /** Unix seconds. */
  time: number;
  /** Nanoseconds (a bigint: JavaScript numbers cannot hold them exactly). */
  timeNano: bigint;
  // Deprecated fields Docker still sends for containers.
  status?: string;
  id?: string;
  from?: string;
}

/** The default HostConfig of a create request that says nothing. */
export function defaultHostConfig(): HostConfig {
  return {
    NetworkMode: 'none',
    RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
    AutoRemove: false,
    LogConfig: { Type: 'k8s-file', Config: {} },
    CapAdd: null,
    CapDrop: null,
    Privileged: false,
    ReadonlyRootfs: false,
    SecurityOpt: null,
    ShmSize: 64 * 1024 * 1024,
    Runtime: '',
    CgroupParent: '',
    Memory: 0,
    MemorySwap: 0,
    MemoryReservation: 0,
    NanoCpus: 0,
    CpuShares: 0,
    CpuPeriod: 0,
    CpuQuota: 0,
    CpusetCpus: '',
    PidsLimit: null,
    Ulimits: null,
    Devices: null,
  };
}
