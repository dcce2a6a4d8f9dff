/**
 * `/_ping`, `/version`, `/info` and `/system/df`. Ping is what every client calls first: the
 * docker CLI reads `API-Version` to negotiate and `Builder-Version: 1` to use the classic
 * builder (BuildKit's `/session` does not exist here). `/version` and `/info` are Docker's
 * shapes filled from the daemon's `SystemBackend`; `/system/df` joins the disk usage parts of
 * the services that exist (images always; containers, volumes and build cache once wired).
 *
 * @example
 * const routes = systemRoutes({ system, diskUsage: { images: () => engine.images.df() } });
 */
import type { ImagesDiskUsage } from '../../image/docker-shapes.ts';
import { API_VERSION, compareApiVersions, MIN_API_VERSION } from '../api-version.ts';
import { type Handler, json, type Route } from '../route.ts';
import type { JsonObject } from './json-types.ts';

/** What the daemon knows of itself and its host, for `/version` and `/info`. */
export interface SystemDescription {
  /** Wharf's version (`docker version` shows it as the Engine's). */
  version: string;
  gitCommit?: string;
  buildTime?: string;
  /** Stable id of this daemon's store. */
  id: string;
  /** Host name. */
  name: string;
  kernelVersion: string;
  /** `Debian GNU/Linux 12 (bookworm)`. */
  operatingSystem: string;
  osVersion: string;
  /** Go's names: `amd64`, `arm64`. */
  arch: string;
  /** uname's: `x86_64`, `aarch64` (what `/info` reports as Architecture). */
  machine: string;
  ncpu: number;
  memTotal: number;
  /** The store root (`DockerRootDir`). */
  root: string;
  storageDriver: string;
  driverStatus: Array<[string, string]>;
  loggingDriver: string;
  cgroupDriver: string;
  cgroupVersion: string;
  /** Runtime name -> binary path. */
  runtimes: Record<string, string>;
  defaultRuntime: string;
  securityOptions: string[];
  initBinary: string;
  /** Extra components shown by `docker version` (runtime, conmon), with their versions. */
  components: Array<{ name: string; version: string; details?: Record<string, string> }>;
  warnings: string[];
  /** The runtime (Node) version, shown as "Go version". */
  runtimeVersion: string;
  experimental: boolean;
  debug: boolean;
  /** Open file descriptors of the daemon. */
  fileDescriptors: number;
  containers: { total: number; running: number; paused: number; stopped: number };
  images: number;
  /** Registries reached over plain HTTP (CIDRs or host:port). */
  insecureRegistries: string[];
}

export interface SystemBackend {
  describe(): Promise<SystemDescription>;
}

/** The parts of `docker system df`: each service reports its own. */
export interface DiskUsageBackend {
  images(): Promise<ImagesDiskUsage>;
  /** `ContainerSummary` entries with `SizeRw`/`SizeRootFs` (absent: none yet). */
  containers?(): Promise<JsonObject[]>;
  /** `Volume` entries with `UsageData` (absent: none yet). */
  volumes?(): Promise<JsonObject[]>;
  /** `BuildCache` entries (absent: none yet). */
  buildCache?(): Promise<JsonObject[]>;
}

export interface SystemRoutesBackends {
  system: SystemBackend;
  diskUsage?: DiskUsageBackend;
}

/** Headers of `/_ping` (and, minus the cache ones, of every response). */
export function pingHeaders(): Record<string, string> {
  return {
    'Api-Version': API_VERSION,
    'Builder-Version': '1',
    'Docker-Experimental': 'false',
    Ostype: 'linux',
    'Cache-Control': 'no-cache, no-store, must-revalidate',
    Pragma: 'no-cache',
  };
}

export function systemRoutes(backends: SystemRoutesBackends): Route[] {
  const ping: Handler = (context) =>
    context.method === 'HEAD'
      ? { kind: 'empty', status: 200, headers: { ...pingHeaders(), 'Content-Length': '0' } }
      : { kind: 'text', body: 'OK', contentType: 'text/plain; charset=utf-8', headers: pingHeaders() };

  return [
    { method: 'GET', path: '/_ping', handler: ping },
    { method: 'HEAD', path: '/_ping', handler: ping },
    {
      method: 'GET',
      path: '/version',
      handler: async () => json(versionShape(await backends.system.describe())),
    },
    {
      method: 'GET',
      path: '/info',
      handler: async () => json(infoShape(await backends.system.describe())),
    },
    {
      method: 'GET',
      path: '/system/df',
      handler: async (context) => {
        const parts = backends.diskUsage;
        if (!parts) return json({ LayersSize: 0, Images: [], Containers: [], Volumes: [], BuildCache: [] });
        const [images, containers, volumes, buildCache] = await Promise.all([
          parts.images(),
          parts.containers?.() ?? [],
          parts.volumes?.() ?? [],
          parts.buildCache?.() ?? [],
        ]);
        const legacy = compareApiVersions(context.apiVersion, '1.44') < 0;
        return json({
          LayersSize: images.LayersSize,
          Images: legacy
            ? images.Images.map((image) => ({ ...image, VirtualSize: image.Size }))
            : images.Images,
          Containers: containers,
          Volumes: volumes,
          BuildCache: buildCache,
        });
      },
    },
  ];
}

/** `GET /version` (SystemVersion). */
export function versionShape(system: SystemDescription): JsonObject {
  const details = {
    ApiVersion: API_VERSION,
    Arch: system.arch,
    BuildTime: system.buildTime ?? '',
    Experimental: String(system.experimental),
    GitCommit: system.gitCommit ?? '',
    GoVersion: system.runtimeVersion,
    KernelVersion: system.kernelVersion,
    MinAPIVersion: MIN_API_VERSION,
    Os: 'linux',
  };
  return {
    Platform: { Name: `Wharf ${system.version}` },
    Components: [
      { Name: 'Engine', Version: system.version, Details: details },
      ...system.components.map((component) => ({
        Name: component.name,
        Version: component.version,
        Details: component.details ?? {},
      })),
    ],
    Version: system.version,
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: system.gitCommit ?? '',
    GoVersion: system.runtimeVersion,
    Os: 'linux',
    Arch: system.arch,
    KernelVersion: system.kernelVersion,
    Experimental: system.experimental,
    BuildTime: system.buildTime ?? '',
  };
}

/** `GET /info` (SystemInfo), every field Docker 1.41 has. */
export function infoShape(system: SystemDescription): JsonObject {
  const runtimes: Record<string, { path: string }> = {};
  for (const [name, path] of Object.entries(system.runtimes)) runtimes[name] = { path };
  return {
    ID: system.id,
    Containers: system.containers.total,
    ContainersRunning: system.containers.running,
    ContainersPaused: system.containers.paused,
    ContainersStopped: system.containers.stopped,
    Images: system.images,
    Driver: system.storageDriver,
    DriverStatus: system.driverStatus,
    Plugins: {
      Volume: ['local'],
      Network: ['bridge', 'host', 'none'],
      Authorization: null,
      Log: ['k8s-file'],
    },
    MemoryLimit: true,
    SwapLimit: true,
    KernelMemory: false,
    KernelMemoryTCP: false,
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    PidsLimit: true,
    OomKillDisable: true,
    IPv4Forwarding: true,
    BridgeNfIptables: false,
    BridgeNfIp6tables: false,
    Debug: system.debug,
    NFd: system.fileDescriptors,
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: system.loggingDriver,
    CgroupDriver: system.cgroupDriver,
    CgroupVersion: system.cgroupVersion,
    NEventsListener: 0,
    KernelVersion: system.kernelVersion,
    OperatingSystem: system.operatingSystem,
    OSVersion: system.osVersion,
    OSType: 'linux',
    Architecture: system.machine,
    IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: {
      AllowNondistributableArtifactsCIDRs: null,
      AllowNondistributableArtifactsHostnames: null,
      InsecureRegistryCIDRs: ['::1/128', '127.0.0.0/8', ...system.insecureRegistries],
      IndexConfigs: {
        'docker.io': { Name: 'docker.io', Mirrors: [], Secure: true, Official: true },
      },
      Mirrors: null,
    },
    NCPU: system.ncpu,
    MemTotal: system.memTotal,
    GenericResources: null,
    DockerRootDir: system.root,
    HttpProxy: process.env.HTTP_PROXY ?? process.env.http_proxy ?? '',
    HttpsProxy: process.env.HTTPS_PROXY ?? process.env.https_proxy ?? '',
    NoProxy: process.env.NO_PROXY ?? process.env.no_proxy ?? '',
    Name: system.name,
    Labels: [],
    ExperimentalBuild: system.experimental,
    ServerVersion: system.version,
    Runtimes: runtimes,
    DefaultRuntime: system.defaultRuntime,
    Swarm: {
      NodeID: '',
      NodeAddr: '',
      LocalNodeState: 'inactive',
      ControlAvailable: false,
      Error: '',
      RemoteManagers: null,
    },
    LiveRestoreEnabled: true,
    Isolation: '',
    InitBinary: system.initBinary,
    ContainerdCommit: { ID: '', Expected: '' },
    RuncCommit: { ID: '', Expected: '' },
    InitCommit: { ID: '', Expected: '' },
    SecurityOptions: system.securityOptions,
    Warnings: system.warnings.length > 0 ? system.warnings : null,
  };
}
