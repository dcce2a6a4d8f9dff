/**
 * A container record as Docker's API shows it: `inspect` (ContainerJSON), `ps` (the summary with
 * its human `Status`), and the status text rules (`Up 2 minutes (healthy)`, `Exited (137) 3
 * seconds ago`, `Restarting (1) Less than a second ago`, `Created`, `Removal In Progress`, `Dead`).
 *
 * @example
 * containerStatusText(record); // 'Up 5 seconds (Paused)'
 */
import type { Mount } from '../snapshot/snapshotter.ts';
import { humanDuration } from '../util/human-duration.ts';
import { containerPaths } from './container-paths.ts';
import type { ContainerRecord } from './container-records.ts';
import type {
  ContainerConfig,
  ContainerInspect,
  ContainerStateJson,
  ContainerSummary,
  HostConfig,
} from './docker-types.ts';
import { CONFIG, dockerShape, HOST_CONFIG } from './inspect-schema.ts';
import { parseTime, ZERO_TIME } from './timestamps.ts';
import { mountPointsOf, mountPointsView } from './volume/mount-points.ts';

type Json = Record<string, unknown>;

/** Docker's `State.String()` / the `Status` column of `ps`. */
export function containerStatusText(record: ContainerRecord, now = Date.now()): string {
  switch (record.state) {
    case 'running':
    case 'paused': {
      const started = parseTime(record.startedAt) ?? now;
      let text = `Up ${humanDuration(now - started)}`;
      if (record.state === 'paused') return `${text} (Paused)`;
      const health = record.health?.Status;
      if (health === 'starting') text += ' (health: starting)';
      else if (health === 'healthy' || health === 'unhealthy') text += ` (${health})`;
      return text;
    }
    case 'restarting': {
      const finished = parseTime(record.finishedAt) ?? now;
      return `Restarting (${record.exitCode}) ${humanDuration(now - finished)} ago`;
    }
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    case 'created':
      return 'Created';
    case 'exited': {
      const finished = parseTime(record.finishedAt);
      if (finished === undefined) return 'Created';
      return `Exited (${record.exitCode}) ${humanDuration(now - finished)} ago`;
    }
  }
}

function stateJson(record: ContainerRecord): ContainerStateJson {
  const running = record.state === 'running' || record.state === 'paused' || record.state === 'restarting';
  const state: ContainerStateJson = {
    Status: record.state,
    Running: running,
    Paused: record.state === 'paused',
    Restarting: record.state === 'restarting',
    OOMKilled: record.oomKilled,
    Dead: record.state === 'dead',
    Pid: record.state === 'running' || record.state === 'paused' ? record.pid : 0,
    ExitCode: record.exitCode,
    Error: record.error,
    StartedAt: record.startedAt || ZERO_TIME,
    FinishedAt: record.finishedAt || ZERO_TIME,
  };
  if (record.health) state.Health = structuredClone(record.health);
  return state;
}

/** overlayfs mount options as Docker's GraphDriver.Data (LowerDir, UpperDir, WorkDir, MergedDir). */
function graphDriverData(
  mounts: readonly Mount[] | undefined,
  merged: string,
): Record<string, string> | null {
  const overlay = mounts?.find((mount) => mount.type === 'overlay');
  if (!overlay) {
    const bind = mounts?.find((mount) => mount.type === 'bind');
    return bind ? { MergedDir: merged, UpperDir: bind.source } : null;
  }
  const data: Record<string, string> = {};
  for (const option of overlay.options) {
    const [key, value] = [option.slice(0, option.indexOf('=')), option.slice(option.indexOf('=') + 1)];
    if (key === 'lowerdir') data.LowerDir = value;
    else if (key === 'upperdir') data.UpperDir = value;
    else if (key === 'workdir') data.WorkDir = value;
  }
  data.MergedDir = merged;
  return data;
}

/** `docker inspect CONTAINER`. */
export function inspectView(
  record: ContainerRecord,
  root: string,
  extras: { mounts?: readonly Mount[]; sizeRw?: number; sizeRootFs?: number } = {},
): ContainerInspect {
  const paths = containerPaths(root, record.id);
  const { Config: config, HostConfig: hostConfig } = record.definition;
  const networkMode = hostConfig.NetworkMode || 'none';
  const view: ContainerInspect = {
    Id: record.id,
    Created: record.definition.Created,
    Path: record.definition.Path,
    Args: [...record.definition.Args],
    State: stateJson(record),
    Image: record.imageId,
    ResolvConfPath: paths.resolvConf,
    HostnamePath: paths.hostname,
    HostsPath: paths.hosts,
    LogPath: paths.log,
    Name: `/${record.name}`,
    RestartCount: record.restartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: dockerShape(
      structuredClone(hostConfig) as unknown as Json,
      HOST_CONFIG,
    ) as unknown as HostConfig,
    GraphDriver: { Data: graphDriverData(extras.mounts, paths.rootfs), Name: 'overlay2' },
    Mounts: mountPointsView(mountPointsOf(record.definition)),
    Config: dockerShape(structuredClone(config) as unknown as Json, CONFIG) as unknown as ContainerConfig,
    NetworkSettings: {
      Bridge: '',
      SandboxID: '',
      SandboxKey: '',
      Ports: {},
      Networks: {
        [networkMode]: {
          IPAMConfig: null,
          Links: null,
          Aliases: null,
          NetworkID: '',
          EndpointID: '',
          Gateway: '',
          IPAddress: '',
          IPPrefixLen: 0,
          IPv6Gateway: '',
          GlobalIPv6Address: '',
          GlobalIPv6PrefixLen: 0,
          MacAddress: '',
        },
      },
    },
  };
  if (extras.sizeRw !== undefined) view.SizeRw = extras.sizeRw;
  if (extras.sizeRootFs !== undefined) view.SizeRootFs = extras.sizeRootFs;
  return view;
}

/**
 * The `Command` of a list entry as Docker writes it (moby's container/view.go): the path, then
 * the arguments, each one with a space in it between single quotes, so `sh -c 'echo a b'` reads
 * back as one; nothing else is escaped.
 *
 * @example
 * listCommand('sh', ['-c', 'echo a b']); // "sh -c 'echo a b'"
 */
export function listCommand(path: string, args: readonly string[]): string {
  if (args.length === 0) return path;
  return `${path} ${args.map((arg) => (arg.includes(' ') ? `'${arg}'` : arg)).join(' ')}`;
}

/** One `docker ps` entry. */
export function summaryView(
  record: ContainerRecord,
  extras: { sizeRw?: number; sizeRootFs?: number; now?: number } = {},
): ContainerSummary {
  const { Config: config, HostConfig: hostConfig } = record.definition;
  const createdMs = parseTime(record.definition.Created) ?? 0;
  const summary: ContainerSummary = {
    Id: record.id,
    Names: [`/${record.name}`],
    Image: config.Image,
    ImageID: record.imageId,
    Command: listCommand(record.definition.Path, record.definition.Args),
    Created: Math.floor(createdMs / 1000),
    Ports: [],
    Labels: { ...(config.Labels ?? {}) },
    State: record.state,
    Status: containerStatusText(record, extras.now),
    HostConfig: { NetworkMode: hostConfig.NetworkMode || 'none' },
    NetworkSettings: { Networks: {} },
    Mounts: mountPointsView(mountPointsOf(record.definition)),
  };
  if (extras.sizeRw !== undefined) summary.SizeRw = extras.sizeRw;
  if (extras.sizeRootFs !== undefined) summary.SizeRootFs = extras.sizeRootFs;
  return summary;
}
