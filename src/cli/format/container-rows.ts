/**
 * The rows of `ps` / `container ls` and of `stats`, as Docker's `formatter/container.go` and
 * `formatter/stats.go` make them: default table columns, column names, and the fields a
 * `--format` template or `--format json` sees.
 *
 * @example
 * new ListingFormatter(containerListFormat('table', false, false)).render(rows, CONTAINER_HEADER);
 */
import type { ContainerSummary } from '../../container/docker-types.ts';
import { parseDockerTemplate } from './docker-template-funcs.ts';
import { DEFAULT_QUIET_FORMAT, FormatError, listingRow, TABLE_FORMAT } from './formatter.ts';
import { quote } from './go-fmt.ts';
import { type GoTemplate, TemplateExecError, TemplateParseError } from './go-template.ts';
import { GoNil } from './go-value.ts';
import { labelsColumn } from './labels-column.ts';
import { bytesSize, ellipsis, goTime, humanSize, timeAgo, truncateId } from './units.ts';

export const DEFAULT_CONTAINER_TABLE =
  'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

export const CONTAINER_HEADER = {
  ID: 'CONTAINER ID',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Names: 'NAMES',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  LocalVolumes: 'LOCAL VOLUMES',
  Networks: 'NETWORKS',
};

export interface ContainerRow {
  ID: string;
  Image: string;
  Command: string;
  CreatedAt: string;
  RunningFor: string;
  Ports: string;
  State: string;
  Status: string;
  Size: string;
  Names: string;
  Labels: string;
  Mounts: string;
  LocalVolumes: string;
  Networks: string;
  /** docker/cli 28's image platform of the container: nil, as the daemon sends no manifest descriptor. */
  Platform: GoNil;
  /** Docker's `{{.Label "key"}}`: one label's value. */
  Label: (name: string) => string;
}

/**
 * Docker's `NewContainerFormat`: `table` becomes the default columns (plus SIZE with `-s`),
 * `{{.ID}}` with `-q`.
 */
export function containerListFormat(source: string, quiet: boolean, size: boolean): string {
  if (quiet) return DEFAULT_QUIET_FORMAT;
  if (source === TABLE_FORMAT)
    return size ? `${DEFAULT_CONTAINER_TABLE}\t{{.Size}}` : DEFAULT_CONTAINER_TABLE;
  return source;
}

/**
 * One `ps` row. `trunc` is false with `--no-trunc`; `createdAt` false leaves CreatedAt empty
 * (Go's time zone rendering costs tens of milliseconds; only formats that show it pay).
 */
export function containerRow(
  summary: ContainerSummary,
  options: { trunc: boolean; now?: Date; createdAt?: boolean },
): ContainerRow {
  const created = new Date(summary.Created * 1000);
  let command = summary.Command;
  if (options.trunc) command = ellipsis(command, 20);
  const labels = labelsColumn(summary.Labels);
  const mounts = summary.Mounts as Array<{ Name?: string; Source: string; Driver?: string }>;
  const networkNames = Object.keys(summary.NetworkSettings.Networks).sort();
  // docker/cli's Size(): 0B when the sizes were not asked for (`--format json` without -s)
  let size = humanSize(summary.SizeRw ?? 0, 3);
  if (summary.SizeRootFs !== undefined && summary.SizeRootFs > 0) {
    size += ` (virtual ${humanSize(summary.SizeRootFs, 3)})`;
  }
  return listingRow('*formatter.ContainerContext', {
    ID: options.trunc ? truncateId(summary.Id) : summary.Id,
    Image: summary.Image,
    Command: quote(command),
    CreatedAt: options.createdAt === false ? '' : goTime(created),
    RunningFor: timeAgo(created, options.now),
    Ports: displayablePorts(summary.Ports as PortSummary[]),
    State: summary.State,
    Status: summary.Status,
    Size: size,
    Names: summary.Names.map((name) => name.replace(/^\//, '')).join(','),
    Labels: labels,
    Mounts: mounts
      .map((m) => (options.trunc ? ellipsis(m.Name || m.Source, 15) : m.Name || m.Source))
      .join(','),
    LocalVolumes: String(mounts.filter((m) => m.Driver === 'local').length),
    Networks: networkNames.length > 0 ? networkNames.join(',') : summary.HostConfig.NetworkMode,
    Platform: new GoNil('ptr', '*formatter.platformContext'),
    Label: (name: string) => summary.Labels[name] ?? '',
  });
}

/**
 * docker/cli's check of a `ps --format` before anything is listed: the format as typed is parsed
 * (`failed to parse template: ...`) and run once on an empty row (`failed to execute template:
 * ...`), so a bad field fails even when no container would be shown.
 *
 * @example
 * checkContainerFormat('{{.Nope}}'); // throws FormatError('failed to execute template: ...')
 */
export function checkContainerFormat(format: string): void {
  let template: GoTemplate;
  try {
    template = parseDockerTemplate(format);
  } catch (error) {
    if (error instanceof TemplateParseError)
      throw new FormatError(`failed to parse template: ${error.message}`);
    throw error;
  }
  const empty: ContainerSummary = {
    Id: '',
    Names: [],
    Image: '',
    ImageID: '',
    Command: '',
    Created: 0,
    Ports: [],
    Labels: {},
    State: '',
    Status: '',
    HostConfig: { NetworkMode: '' },
    NetworkSettings: { Networks: {} },
    Mounts: [],
  };
  try {
    template.execute(containerRow(empty, { trunc: true, createdAt: false }));
  } catch (error) {
    if (error instanceof TemplateExecError)
      throw new FormatError(`failed to execute template: ${error.message}`);
    throw error;
  }
}

/** A `Port` of `GET /containers/json`. */
interface PortSummary {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

/**
 * docker/cli's `DisplayablePorts`: `0.0.0.0:8080->80/tcp, 443/tcp`; ports published on the same
 * number (and unpublished ones) in consecutive runs are grouped (`8000-8002/tcp`).
 */
export function displayablePorts(ports: readonly PortSummary[]): string {
  const sorted = [...ports].sort(
    (a, b) =>
      a.PrivatePort - b.PrivatePort ||
      (a.IP ?? '').localeCompare(b.IP ?? '') ||
      (a.PublicPort ?? 0) - (b.PublicPort ?? 0) ||
      a.Type.localeCompare(b.Type),
  );
  const groups = new Map<string, { first: number; last: number }>();
  const result: string[] = [];
  const mappings: string[] = [];
  const form = (key: string, first: number, last: number) => {
    const slash = key.lastIndexOf('/');
    const ip = slash >= 0 ? key.slice(0, slash) : '';
    const type = slash >= 0 ? key.slice(slash + 1) : key;
    let group = first === last ? String(first) : `${first}-${last}`;
    if (ip) group = `${ip.includes(':') ? `[${ip}]` : ip}:${group}->${group}`;
    return `${group}/${type}`;
  };
  for (const port of sorted) {
    let key = port.Type;
    if (port.IP) {
      if (port.PublicPort !== port.PrivatePort) {
        const host = port.IP.includes(':') ? `[${port.IP}]` : port.IP;
        mappings.push(`${host}:${port.PublicPort}->${port.PrivatePort}/${port.Type}`);
        continue;
      }
      key = `${port.IP}/${port.Type}`;
    }
    const group = groups.get(key);
    if (!group) groups.set(key, { first: port.PrivatePort, last: port.PrivatePort });
    else if (port.PrivatePort === group.last + 1) group.last = port.PrivatePort;
    else {
      result.push(form(key, group.first, group.last));
      groups.set(key, { first: port.PrivatePort, last: port.PrivatePort });
    }
  }
  for (const [key, group] of groups) result.push(form(key, group.first, group.last));
  return [...result, ...mappings].join(', ');
}

export const DEFAULT_STATS_TABLE =
  'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';

export const STATS_HEADER = {
  ID: 'CONTAINER ID',
  Container: 'CONTAINER',
  Name: 'NAME',
  CPUPerc: 'CPU %',
  MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %',
  NetIO: 'NET I/O',
  BlockIO: 'BLOCK I/O',
  PIDs: 'PIDS',
};

export interface StatsNumbers {
  id: string;
  name: string;
  /** As the user named it. */
  container: string;
  cpuPercent: number;
  memoryUsage: number;
  memoryLimit: number;
  memoryPercent: number;
  pids: number;
  /** Bytes received and sent by the container's interfaces (Docker sums them all). */
  networkRx: number;
  networkTx: number;
  /** Bytes of block I/O read and written (Docker sums the `Read`/`Write` ops of all devices). */
  blockRead: number;
  blockWrite: number;
  running: boolean;
}

/** One `stats` row (Docker's `statsContext`); a stopped container shows `--` and zeros. */
export function statsRow(stats: StatsNumbers, options: { trunc: boolean }) {
  const percent = (value: number) => (stats.running ? `${value.toFixed(2)}%` : '--');
  return listingRow('*formatter.statsContext', {
    ID: options.trunc ? truncateId(stats.id) : stats.id,
    Container: stats.container,
    Name: stats.running || stats.name ? stats.name : '--',
    CPUPerc: percent(stats.cpuPercent),
    MemUsage: stats.running ? `${bytesSize(stats.memoryUsage)} / ${bytesSize(stats.memoryLimit)}` : '-- / --',
    MemPerc: percent(stats.memoryPercent),
    NetIO: stats.running ? `${humanSize(stats.networkRx, 3)} / ${humanSize(stats.networkTx, 3)}` : '--',
    BlockIO: stats.running ? `${humanSize(stats.blockRead, 3)} / ${humanSize(stats.blockWrite, 3)}` : '--',
    PIDs: stats.running ? String(stats.pids) : '--',
  });
}
