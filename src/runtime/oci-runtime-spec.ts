/**
 * The parts of the OCI runtime specification (config.json, runtime-spec 1.0.2) that Wharf writes
 * and reads. Field names and meanings follow the spec; optional fields are left out rather than
 * set to empty values, as runc and crun treat some empty values differently from absent ones.
 *
 * @example
 * const root: RuntimeSpecRoot = { path: 'rootfs', readonly: false };
 */

export interface RuntimeSpec {
  ociVersion: string;
  process: RuntimeProcess;
  root: RuntimeSpecRoot;
  hostname?: string;
  mounts: RuntimeMount[];
  linux: RuntimeLinux;
  annotations?: Record<string, string>;
}

export interface RuntimeSpecRoot {
  path: string;
  readonly: boolean;
}

/** `process` in config.json, and the whole of the process.json given to `runtime exec --process`. */
export interface RuntimeProcess {
  terminal: boolean;
  consoleSize?: { height: number; width: number };
  user: RuntimeUser;
  args: string[];
  env: string[];
  cwd: string;
  capabilities?: RuntimeCapabilities;
  rlimits?: RuntimeRlimit[];
  noNewPrivileges?: boolean;
  oomScoreAdj?: number;
  apparmorProfile?: string;
}

export interface RuntimeUser {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
}

export interface RuntimeCapabilities {
  bounding: string[];
  effective: string[];
  permitted: string[];
  inheritable?: string[];
  ambient?: string[];
}

export interface RuntimeRlimit {
  /** `RLIMIT_NOFILE`, `RLIMIT_NPROC`... */
  type: string;
  /** `Infinity` is RLIM_INFINITY (see serializeRuntimeSpec). */
  soft: number;
  hard: number;
}

export interface RuntimeMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

export type NamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup';

export interface RuntimeNamespace {
  type: NamespaceType;
  /** Join this existing namespace (a `/proc/PID/ns/net` or a bind-mounted netns file) instead of a new one. */
  path?: string;
}

export interface RuntimeDevice {
  path: string;
  type: 'c' | 'b' | 'u' | 'p';
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface RuntimeDeviceCgroupRule {
  allow: boolean;
  /** `c`, `b`, or `a` (all); absent means all. */
  type?: 'c' | 'b' | 'a';
  major?: number;
  minor?: number;
  access?: string;
}

export interface RuntimeResources {
  devices?: RuntimeDeviceCgroupRule[];
  memory?: {
    limit?: number;
    reservation?: number;
    /** Memory plus swap, as cgroup v1's `memory.memsw.limit_in_bytes`; -1 for unlimited. */
    swap?: number;
    swappiness?: number;
    disableOOMKiller?: boolean;
  };
  cpu?: {
    shares?: number;
    quota?: number;
    period?: number;
    cpus?: string;
    mems?: string;
  };
  pids?: { limit: number };
}

export interface RuntimeSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface RuntimeSeccompSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: RuntimeSeccompArg[];
}

export interface RuntimeSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls?: RuntimeSeccompSyscall[];
}

export interface RuntimeLinux {
  namespaces: RuntimeNamespace[];
  devices?: RuntimeDevice[];
  cgroupsPath?: string;
  resources?: RuntimeResources;
  sysctl?: Record<string, string>;
  seccomp?: RuntimeSeccomp;
  rootfsPropagation?: string;
  maskedPaths?: string[];
  readonlyPaths?: string[];
}

/** What `runtime state ID` prints (runtime-spec "state"), with the status values runc and crun use. */
export interface RuntimeState {
  ociVersion: string;
  id: string;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  /** 0 once the container has stopped. */
  pid: number;
  bundle: string;
  annotations?: Record<string, string>;
}
