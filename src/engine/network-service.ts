/**
 * The networks part of the engine: Docker's network resources (`network ls`, `inspect`,
 * `create`, `rm`, `prune`, `connect`, `disconnect`) and `port`, over the network manager of the
 * engine's root (src/container/network). Shapes are the Engine API's (`NetworkResource`,
 * `NetworkCreateResponse`, `NetworksPruneReport`), so the CLI and a future `/networks` route
 * only serialize them. `host` and `none` are listed as Docker lists them; they have no records.
 *
 * @example
 * const engine = await openLocalEngine({ root });
 * const networks = await openNetworkService(engine);
 * console.log(networks.list({}).map((n) => n.Name));
 */
import { createHash } from 'node:crypto';
import { ContainerRecords } from '../container/container-records.ts';
import { NetworkManager } from '../container/network/network-manager.ts';
import type { NetworkRecord, PublishedPort } from '../container/network/network-store.ts';
import {
  ConflictError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
} from '../errors/index.ts';
import { goMapOrder } from '../util/go-map-order.ts';
import type { LocalEngine } from './local-engine.ts';

export type NetworkFilters = Record<string, string[]>;

/** Docker's `NetworkResource` (API 1.43). */
export interface NetworkResource {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: string;
  EnableIPv6: boolean;
  IPAM: {
    Driver: string;
    Options: Record<string, string> | null;
    Config: Array<{ Subnet: string; Gateway: string; IPRange?: string }>;
  };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<
    string,
    { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }
  >;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

export interface NetworkCreateRequest {
  Name: string;
  Driver?: string;
  Internal?: boolean;
  IPAM?: { Config?: Array<{ Subnet?: string; Gateway?: string; IPRange?: string }> };
  Options?: Record<string, string>;
  Labels?: Record<string, string>;
  EnableIPv6?: boolean;
}

const BUILTIN = ['host', 'none'] as const;

function builtinId(root: string, name: string): string {
  return createHash('sha256').update(`wharf-network/${root}/${name}`).digest('hex');
}

/** Parses Docker's `until` filter: a Unix timestamp or an RFC 3339 date, or a Go duration ago. */
function parseUntil(value: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const duration = /^(\d+)(s|m|h)$/.exec(value);
  if (duration) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000 }[duration[2] as 's' | 'm' | 'h'];
    return now - Number(duration[1]) * unit;
  }
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) throw new InvalidArgumentError(`Cannot parse until filter "${value}"`);
  return parsed;
}

function labelsMatch(labels: Record<string, string>, wanted: readonly string[]): boolean {
  return wanted.every((entry) => {
    const eq = entry.indexOf('=');
    if (eq < 0) return entry in labels;
    return labels[entry.slice(0, eq)] === entry.slice(eq + 1);
  });
}

export class NetworkService {
  readonly manager: NetworkManager;
  readonly #root: string;

  constructor(manager: NetworkManager, root: string) {
    this.manager = manager;
    this.#root = root;
  }

  #resource(network: NetworkRecord): NetworkResource {
    const containers: NetworkResource['Containers'] = {};
    const prefix = network.subnet.split('/')[1];
    for (const endpoint of this.manager.store.endpointsOfNetwork(network.id)) {
      if (!endpoint.ip) continue;
      containers[endpoint.containerId] = {
        Name: endpoint.containerName,
        EndpointID: createHash('sha256')
          .update(`endpoint/${endpoint.containerId}/${network.id}`)
          .digest('hex'),
        MacAddress: endpoint.mac ?? '',
        IPv4Address: `${endpoint.ip}/${prefix}`,
        IPv6Address: '',
      };
    }
    const config: { Subnet: string; Gateway: string; IPRange?: string } = {
      Subnet: network.subnet,
      Gateway: network.gateway,
    };
    if (network.ipRange) config.IPRange = network.ipRange;
    return {
      Name: network.name,
      Id: network.id,
      Created: network.created,
      Scope: 'local',
      Driver: network.driver,
      EnableIPv6: false,
      IPAM: { Driver: 'default', Options: network.name === 'bridge' ? null : {}, Config: [config] },
      Internal: network.internal,
      Attachable: false,
      Ingress: false,
      ConfigFrom: { Network: '' },
      ConfigOnly: false,
      Containers: containers,
      // Go's encoding/json writes map keys sorted; Docker's inspect shows them so
      Options: goMapOrder(network.options),
      Labels: goMapOrder(network.labels),
    };
  }

  #builtin(name: (typeof BUILTIN)[number]): NetworkResource {
    return {
      Name: name,
      Id: builtinId(this.#root, name),
      Created: '0001-01-01T00:00:00Z',
      Scope: 'local',
      Driver: name === 'host' ? 'host' : 'null',
      EnableIPv6: false,
      IPAM: { Driver: 'default', Options: null, Config: [] },
      Internal: false,
      Attachable: false,
      Ingress: false,
      ConfigFrom: { Network: '' },
      ConfigOnly: false,
      Containers: {},
      Options: {},
      Labels: {},
    };
  }

  async #all(): Promise<NetworkResource[]> {
    await this.manager.ensureDefault();
    const records = this.manager.list().map((n) => this.#resource(n));
    const bridge = records.filter((r) => r.Name === 'bridge');
    const rest = records.filter((r) => r.Name !== 'bridge');
    return [...bridge, ...BUILTIN.map((name) => this.#builtin(name)), ...rest];
  }

  /** `network ls`, with Docker's filters (driver, id, label, name, scope, type, dangling). */
  async list(filters: NetworkFilters = {}): Promise<NetworkResource[]> {
    const known = new Set(['driver', 'id', 'label', 'name', 'scope', 'type', 'dangling']);
    for (const key of Object.keys(filters)) {
      if (!known.has(key)) throw new InvalidArgumentError(`invalid filter '${key}'`);
    }
    const any = (key: string, test: (value: string) => boolean) => {
      const values = filters[key];
      return !values || values.length === 0 || values.some(test);
    };
    return (await this.#all()).filter((network) => {
      const builtin = network.Name === 'bridge' || network.Name === 'host' || network.Name === 'none';
      return (
        any('driver', (v) => network.Driver === v) &&
        any('id', (v) => network.Id.startsWith(v)) &&
        any('name', (v) => network.Name.includes(v)) &&
        any('scope', (v) => v === 'local') &&
        any('type', (v) => (v === 'builtin' ? builtin : v === 'custom' ? !builtin : false)) &&
        any(
          'dangling',
          (v) => (v === 'true' || v === '1') === (!builtin && Object.keys(network.Containers).length === 0),
        ) &&
        labelsMatch(network.Labels, filters.label ?? [])
      );
    });
  }

  /** `network inspect`: by name, id or id prefix. */
  async inspect(ref: string): Promise<NetworkResource> {
    const builtin = BUILTIN.find((name) => name === ref || builtinId(this.#root, name).startsWith(ref));
    if (builtin && (builtin === ref || ref.length >= 3)) return this.#builtin(builtin);
    return this.#resource(await this.manager.get(ref));
  }

  /** `network create` (Docker's `NetworkCreateResponse`). */
  async create(request: NetworkCreateRequest): Promise<{ Id: string; Warning: string }> {
    if (request.EnableIPv6)
      throw new InvalidArgumentError('Cannot create network: IPv6 is not supported yet');
    const configs = request.IPAM?.Config ?? [];
    if (configs.length > 1)
      throw new InvalidArgumentError('Cannot create network: only one IPv4 subnet is supported');
    const ipam = configs[0] ?? {};
    const options: Parameters<NetworkManager['create']>[0] = {
      name: request.Name,
      internal: request.Internal ?? false,
      labels: request.Labels ?? {},
      options: request.Options ?? {},
    };
    if (request.Driver) options.driver = request.Driver;
    if (ipam.Subnet) options.subnet = ipam.Subnet;
    if (ipam.Gateway) options.gateway = ipam.Gateway;
    if (ipam.IPRange) options.ipRange = ipam.IPRange;
    const network = await this.manager.create(options);
    return { Id: network.id, Warning: '' };
  }

  /** `network rm`. */
  async remove(ref: string): Promise<void> {
    if ((BUILTIN as readonly string[]).includes(ref)) {
      throw new FailedPreconditionError(`${ref} is a pre-defined network and cannot be removed`);
    }
    await this.manager.remove(ref);
  }

  /** `network prune` (filters: label, label!, until). */
  async prune(filters: NetworkFilters = {}): Promise<{ NetworksDeleted: string[] }> {
    for (const key of Object.keys(filters)) {
      if (!['label', 'label!', 'until'].includes(key))
        throw new InvalidArgumentError(`invalid filter '${key}'`);
    }
    const until = filters.until?.[0] ? parseUntil(filters.until[0]) : undefined;
    const deleted = await this.manager.prune((network) => {
      if (until !== undefined && Date.parse(network.created) >= until) return false;
      if (!labelsMatch(network.labels, filters.label ?? [])) return false;
      if ((filters['label!'] ?? []).length > 0 && labelsMatch(network.labels, filters['label!'] ?? []))
        return false;
      return true;
    });
    return { NetworksDeleted: deleted };
  }

  #container(ref: string): { id: string; name: string } {
    const container = this.manager.store.resolveContainer(ref);
    if (!container) throw new NotFoundError(`No such container: ${ref}`);
    return container;
  }

  /** `network connect`. */
  async connect(
    networkRef: string,
    containerRef: string,
    settings: { aliases?: string[]; ipv4Address?: string },
  ): Promise<void> {
    if ((BUILTIN as readonly string[]).includes(networkRef)) {
      throw new FailedPreconditionError(
        `Cannot connect to network ${networkRef}: container cannot be disconnected from host network or connected to host network`,
      );
    }
    const container = this.#container(containerRef);
    // as dockerd: a container in none or host mode (or sharing one) has no network of its own to extend
    let mode: string | undefined;
    try {
      mode = new ContainerRecords(this.manager.store.db).get(container.id)?.definition.HostConfig
        ?.NetworkMode;
    } catch {
      // a row without a definition (not made by the container service): nothing to refuse
    }
    if (mode === 'none') {
      throw new ConflictError(
        'container cannot be connected to multiple networks with one of the networks in private (none) mode',
      );
    }
    if (mode === 'host' || mode?.startsWith('container:')) {
      throw new ConflictError(
        'container sharing network namespace with another container or host cannot be connected to any other network',
      );
    }
    await this.manager.connect(networkRef, container, settings);
  }

  /** `network disconnect`. */
  async disconnect(networkRef: string, containerRef: string, force = false): Promise<void> {
    await this.manager.disconnect(networkRef, this.#container(containerRef).id, { force });
  }

  /** `port CONTAINER [PORT[/PROTO]]`: the container's published ports. */
  ports(containerRef: string, filter?: string): PublishedPort[] {
    const container = this.#container(containerRef);
    const ports = this.manager.ports(container.id);
    if (!filter) return ports;
    const [port, protocol = 'tcp'] = filter.split('/');
    const matching = ports.filter((p) => String(p.containerPort) === port && p.protocol === protocol);
    if (matching.length === 0) {
      throw new NotFoundError(`No public port '${port}/${protocol}' published for ${containerRef}`);
    }
    return matching;
  }
}

/** The network service of an engine's root (sweeps what crashed processes left). */
export async function openNetworkService(engine: LocalEngine): Promise<NetworkService> {
  return new NetworkService(await NetworkManager.open(engine.db, engine.root), engine.root);
}
