/**
 * Container networking for one store root: bridge networks and their IPAM, the network namespace
 * of each attached container, published ports, and names through aardvark-dns. The container
 * service calls `attachContainer` before it creates the runtime container (the result's
 * `netnsPath` goes into the OCI spec) and `detachContainer` when the container has exited
 * (conmon's exit command), `removeContainer` when it is deleted. All three are idempotent.
 *
 * Lifecycle of an attach, each step recorded before the kernel work it stands for, so that a
 * crash anywhere leaves rows that the next open's sweep undoes:
 *
 *   sandbox row (attaching) -> addresses (IPAM, BEGIN IMMEDIATE) -> host ports (sandbox row)
 *   -> bridge (created with its network) -> netns + veths -> DNAT rules -> DNS files -> ready
 *
 * The common attach (one network, no --ip) takes a prepared spare namespace instead (netns-pool.ts):
 * sandbox row, address and veth come with it in one transaction (with the row of the spare
 * replacing it), no process is spawned (one iptables-restore with -p), and the root's pool keeper
 * makes the next spare in the background. A detach with `background` (the container service's)
 * removes the port rules and hands the namespace to the keeper, which deletes it while the exit
 * goes on; its address stays taken until it is gone (pool-keeper.ts: no fork of this process).
 *
 * Kernel names carry the root's tag (first 8 hex of sha256(root)), so two roots on one host
 * never touch each other's objects:
 *
 *   /run/netns/wharf-TAG-CID12     a container's namespace (made for it)
 *   /run/netns/wharf-TAG-RAND12    a pool namespace: a spare, or a container's taken from the pool
 *   /run/wharf/TAG/root            the root's path (lets a sweep find roots that are gone)
 *   /run/wharf/TAG/aardvark/       aardvark-dns's configuration (see aardvark.ts)
 *   bridge ifalias wharf:TAG:NETID12, rule comments wharf-net:TAG:NETID12 / wharf-ctr:TAG:CID12
 *
 * @example
 * const manager = await NetworkManager.open(db, root);
 * const result = await manager.attachContainer(id, { containerName: 'web', networkMode: 'bridge' });
 * // … create the container with { mode: 'path', path: result.netnsPath } …
 * await manager.detachContainer(id);
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  ConflictError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
} from '../../errors/index.ts';
import type { MetadataDatabase } from '../../metadata/database.ts';
import { EventLog } from '../../metadata/event-log.ts';
import { nodeCrypto } from '../../util/node-crypto.ts';
import { isProcessAlive } from '../../util/process-alive.ts';
import { randomHex } from '../../util/random-hex.ts';
import { containerPaths } from '../container-paths.ts';
import { type DnsEntry, dnsConfigDir, reloadDns, stopDns, writeNetworkDns } from './aardvark.ts';
import {
  addInterfaces,
  deleteBridge,
  deleteNamespace,
  enableIpForward,
  ensureBridge,
  hostVethName,
  type InterfaceTarget,
  linkAlias,
  linkExists,
  NETNS_DIR,
  netnsPath,
  removeInterface,
} from './bridge-driver.ts';
import { hostsEntries, hostsText, resolvConfText } from './etc-content.ts';
import {
  addNetworkRules,
  addPortRules,
  containerComment,
  networkComment,
  removeFirewallBaseIfUnused,
  removeNetworkRules,
  removePortRules,
  sweepRules,
} from './firewall.ts';
import { hostExec } from './host-exec.ts';
import { chooseHostPorts, portRequests } from './host-ports.ts';
import {
  type Cidr,
  cidrContains,
  cidrOverlaps,
  cidrWithin,
  formatCidr,
  formatIpv4,
  parseCidr,
  parseIpv4,
} from './ipv4.ts';
import { NetnsPool, poolSizeFromEnv } from './netns-pool.ts';
import {
  type EndpointRecord,
  type NetworkRecord,
  NetworkStore,
  type PublishedPort,
  type SandboxFiles,
  type SandboxRecord,
} from './network-store.ts';
import type { AttachedNetwork, AttachRequest, AttachResult } from './network-types.ts';
import { PoolKeeper } from './pool-keeper.ts';

export const DEFAULT_NETWORK = 'bridge';
/** The store root Docker-like installs use; its default bridge is `wharf0` on 10.88.0.0/16. */
export const DEFAULT_ROOT = '/var/lib/wharf';
export const RUN_BASE = '/run/wharf';
const RESERVED_NAMES = new Set(['bridge', 'host', 'none', 'default']);
const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/** Docker's option naming the Linux bridge of a network. */
export const BRIDGE_NAME_OPTION = 'com.docker.network.bridge.name';

export interface CreateNetworkOptions {
  name: string;
  driver?: string;
  subnet?: string;
  gateway?: string;
  ipRange?: string;
  internal?: boolean;
  labels?: Record<string, string>;
  options?: Record<string, string>;
}

interface NetworkRecordInput {
  id?: string;
  name: string;
  bridge: string;
  subnet: Cidr;
  gateway?: string;
  ipRange?: string;
  internal: boolean;
  dns: boolean;
  labels: Record<string, string>;
  options: Record<string, string>;
}

export interface ContainerNetworkState {
  sandbox?: SandboxRecord;
  endpoints: Array<EndpointRecord & { network: NetworkRecord }>;
}

/** The first 8 hex of sha256(root): names this root's kernel objects. */
export function rootTag(root: string): string {
  return nodeCrypto().createHash('sha256').update(root).digest('hex').slice(0, 8);
}

export function currentBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/** Docker's EndpointID: stable per (container, network). */
export function endpointId(containerId: string, networkId: string): string {
  return nodeCrypto().createHash('sha256').update(`endpoint/${containerId}/${networkId}`).digest('hex');
}

const RUNNING_STATES = new Set(['running', 'paused', 'restarting']);

export interface NetworkManagerOptions {
  /** Spare namespaces kept per network (default: WHARF_NETNS_POOL, else 1; 0 turns the pool off). */
  poolSize?: number;
}

/** What the sandbox keeps of an attach request to write the container's files again later. */
function sandboxFiles(request: AttachRequest): SandboxFiles {
  const files: SandboxFiles = {};
  if (request.domainname) files.domainname = request.domainname;
  if (request.extraHosts?.length) files.extraHosts = request.extraHosts;
  if (request.dns?.length) files.dns = request.dns;
  if (request.dnsSearch?.length) files.dnsSearch = request.dnsSearch;
  if (request.dnsOptions?.length) files.dnsOptions = request.dnsOptions;
  return files;
}

export class NetworkManager {
  readonly store: NetworkStore;
  readonly root: string;
  readonly tag: string;
  readonly runDir: string;
  readonly #bootId: string;
  readonly #pool: NetnsPool;
  /** Networks whose pool an attach could not top up, tried again by `fillPools`. */
  readonly #refills = new Set<NetworkRecord>();

  constructor(db: MetadataDatabase, root: string, options: NetworkManagerOptions = {}) {
    this.store = new NetworkStore(db);
    this.root = root;
    this.tag = rootTag(root);
    this.runDir = join(RUN_BASE, this.tag);
    this.#bootId = currentBootId();
    this.#pool = new NetnsPool({
      store: this.store,
      runDir: this.runDir,
      tag: this.tag,
      bootId: this.#bootId,
      size: options.poolSize ?? poolSizeFromEnv(),
    });
  }

  /** Opens the manager and undoes what crashed processes and reboots left (see `sweep`). */
  static async open(
    db: MetadataDatabase,
    root: string,
    options: NetworkManagerOptions = {},
  ): Promise<NetworkManager> {
    const manager = new NetworkManager(db, root, options);
    await manager.sweep();
    return manager;
  }

  /**
   * Tops up the pools an attach could not (a busy database, a full subnet): called when the
   * container's process runs. Nothing to do in the common case, where the attach that took a
   * spare recorded its replacement in the same transaction and handed it to the keeper.
   */
  fillPools(): void {
    for (const network of this.#refills) this.#pool.fill(network);
    this.#refills.clear();
  }

  get dnsDir(): string {
    return dnsConfigDir(this.runDir);
  }

  #netnsName(containerId: string): string {
    return `wharf-${this.tag}-${containerId.slice(0, 12)}`;
  }

  #bridgeAlias(network: NetworkRecord): string {
    return `wharf:${this.tag}:${network.id.slice(0, 12)}`;
  }

  #markRunDir(): void {
    mkdirSync(this.runDir, { recursive: true, mode: 0o700 });
    const file = join(this.runDir, 'root');
    if (!existsSync(file)) writeFileSync(file, this.root);
  }

  // ---- networks ----------------------------------------------------------------------------

  list(): NetworkRecord[] {
    return this.store.listNetworks();
  }

  /** By id, name or id prefix; `default` and `bridge` name the default network. */
  async get(ref: string): Promise<NetworkRecord> {
    if (ref === DEFAULT_NETWORK || ref === 'default') return this.ensureDefault();
    return this.store.getNetwork(ref);
  }

  /** The default `bridge` network, created (with its Linux bridge) on first use. */
  async ensureDefault(): Promise<NetworkRecord> {
    const existing = this.store.findNetwork(DEFAULT_NETWORK);
    if (existing) return existing;
    const isDefaultRoot = this.root === DEFAULT_ROOT;
    const bridge = isDefaultRoot ? 'wharf0' : `wh-${this.tag}`;
    const subnet = await this.#pickSubnet(
      isDefaultRoot || !linkExists('wharf0') ? [parseCidr('10.88.0.0/16')] : [],
    );
    try {
      return await this.#createRecord({
        name: DEFAULT_NETWORK,
        bridge,
        subnet,
        internal: false,
        dns: false,
        labels: {},
        options: {
          'com.docker.network.bridge.default_bridge': 'true',
          'com.docker.network.bridge.enable_icc': 'true',
          'com.docker.network.bridge.enable_ip_masquerade': 'true',
          [BRIDGE_NAME_OPTION]: bridge,
        },
      });
    } catch (error) {
      // another process created it first
      const raced = this.store.findNetwork(DEFAULT_NETWORK);
      if (raced) return raced;
      throw error;
    }
  }

  /** `network create`. */
  async create(options: CreateNetworkOptions): Promise<NetworkRecord> {
    if (!NAME_PATTERN.test(options.name)) {
      throw new InvalidArgumentError(
        `Cannot create network "${options.name}": names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*`,
      );
    }
    if (RESERVED_NAMES.has(options.name)) {
      throw new ConflictError(`Cannot create network "${options.name}": it is a pre-defined network`);
    }
    if ((options.driver ?? 'bridge') !== 'bridge') {
      throw new InvalidArgumentError(
        `Cannot create network with driver "${options.driver}": only "bridge" is supported`,
      );
    }
    if (this.store.findNetwork(options.name)?.name === options.name) {
      throw new ConflictError(`network with name ${options.name} already exists`);
    }
    const extra = { ...(options.options ?? {}) };
    const id = randomHex(32);
    const bridge = extra[BRIDGE_NAME_OPTION] || `wh-${id.slice(0, 12)}`;
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/.test(bridge)) {
      throw new InvalidArgumentError(`Cannot use bridge name "${bridge}": at most 15 letters, digits, _ . -`);
    }
    if (linkExists(bridge)) {
      throw new ConflictError(`Cannot create network ${options.name}: interface ${bridge} already exists`);
    }
    let subnet: Cidr;
    if (options.subnet) {
      subnet = parseCidr(options.subnet);
      if (subnet.prefix > 30)
        throw new InvalidArgumentError(`Cannot use subnet ${options.subnet}: it is too small`);
      const clash = this.store.listNetworks().find((n) => cidrOverlaps(parseCidr(n.subnet), subnet));
      if (clash) {
        throw new ConflictError(
          `Cannot create network ${options.name}: subnet ${options.subnet} overlaps network ${clash.name} (${clash.subnet})`,
        );
      }
      const route = (await this.#hostRoutes()).find((r) => cidrOverlaps(r, subnet));
      if (route) {
        throw new ConflictError(
          `Cannot create network ${options.name}: subnet ${options.subnet} overlaps a host route (${formatCidr(route)})`,
        );
      }
    } else {
      if (options.gateway || options.ipRange) {
        throw new InvalidArgumentError('Cannot use --gateway or --ip-range without --subnet');
      }
      subnet = await this.#pickSubnet([]);
    }
    if (options.ipRange) {
      const range = parseCidr(options.ipRange);
      if (!cidrWithin(range, subnet)) {
        throw new InvalidArgumentError(
          `Cannot use ip-range ${options.ipRange}: it is not inside ${formatCidr(subnet)}`,
        );
      }
    }
    extra[BRIDGE_NAME_OPTION] = bridge;
    const record: NetworkRecordInput = {
      id,
      name: options.name,
      bridge,
      subnet,
      internal: options.internal ?? false,
      dns: true,
      labels: options.labels ?? {},
      options: extra,
    };
    if (options.gateway) record.gateway = options.gateway;
    if (options.ipRange) record.ipRange = formatCidr(parseCidr(options.ipRange));
    return this.#createRecord(record);
  }

  async #createRecord(input: NetworkRecordInput): Promise<NetworkRecord> {
    const gateway = input.gateway ?? formatIpv4(input.subnet.network + 1);
    const gatewayValue = parseIpv4(gateway);
    if (!cidrContains(input.subnet, gatewayValue) || gatewayValue === input.subnet.network) {
      throw new InvalidArgumentError(
        `Cannot use gateway ${gateway}: it is not a host address of ${formatCidr(input.subnet)}`,
      );
    }
    const network: NetworkRecord = {
      id: input.id ?? randomHex(32),
      name: input.name,
      driver: 'bridge',
      bridge: input.bridge,
      subnet: formatCidr(input.subnet),
      gateway,
      internal: input.internal,
      dns: input.dns,
      labels: input.labels,
      options: input.options,
      created: new Date().toISOString(),
    };
    if (input.ipRange) network.ipRange = input.ipRange;
    this.store.insertNetwork(network);
    try {
      await this.#ensureKernelNetwork(network, true);
    } catch (error) {
      await this.#removeKernelNetwork(network).catch(() => undefined);
      this.store.deleteNetwork(network.id);
      throw error;
    }
    this.#event('create', network);
    return network;
  }

  /** Docker's network event: the actor is the network's id, with its `name` and `type` (driver). */
  #event(action: string, network: NetworkRecord, containerId?: string): void {
    new EventLog(this.store.db).tryAdd({
      type: 'network',
      action,
      actorId: network.id,
      attributes: {
        ...(containerId !== undefined ? { container: containerId } : {}),
        name: network.name,
        type: network.driver,
      },
    });
  }

  /** The bridge and its rules; `rules` forces rewriting the rules of an existing bridge. */
  async #ensureKernelNetwork(network: NetworkRecord, rules = false): Promise<void> {
    this.#markRunDir();
    const subnet = parseCidr(network.subnet);
    const created = await ensureBridge({
      bridge: network.bridge,
      alias: this.#bridgeAlias(network),
      gateway: network.gateway,
      prefix: subnet.prefix,
    });
    if (!network.internal) enableIpForward();
    if (created || rules) {
      await addNetworkRules({
        tag: this.tag,
        id: network.id,
        bridge: network.bridge,
        subnet: network.subnet,
        internal: network.internal,
      });
    }
  }

  async #removeKernelNetwork(network: NetworkRecord): Promise<void> {
    await this.#pool.drain((row) => row.networkId === network.id);
    await removeNetworkRules(this.tag, network.id);
    await deleteBridge(network.bridge, this.#bridgeAlias(network));
    writeNetworkDns(this.dnsDir, network.id, network.gateway, []);
  }

  /** `network rm`: refused while a container is attached (`force` detaches them first). */
  async remove(ref: string): Promise<NetworkRecord> {
    const network = this.store.getNetwork(ref);
    if (network.name === DEFAULT_NETWORK) {
      throw new FailedPreconditionError(`bridge is a pre-defined network and cannot be removed`);
    }
    const active = this.store.endpointsOfNetwork(network.id).filter((e) => e.ip !== undefined);
    if (active.length > 0) {
      throw new ConflictError(
        `error while removing network: network ${network.name} id ${network.id} has active endpoints (${active
          .map((e) => e.containerName)
          .join(', ')})`,
      );
    }
    await this.#removeKernelNetwork(network);
    this.store.deleteNetwork(network.id);
    this.#event('destroy', network);
    await reloadDns(this.dnsDir);
    return network;
  }

  /** `network prune`: every user network no container refers to. Returns the removed names. */
  async prune(filter: (network: NetworkRecord) => boolean = () => true): Promise<string[]> {
    const removed: string[] = [];
    for (const network of this.store.listNetworks()) {
      if (network.name === DEFAULT_NETWORK || !filter(network)) continue;
      if (this.store.endpointsOfNetwork(network.id).length > 0) continue;
      await this.#removeKernelNetwork(network);
      this.store.deleteNetwork(network.id);
      this.#event('destroy', network);
      removed.push(network.name);
    }
    if (removed.length) await reloadDns(this.dnsDir);
    await this.deepSweep();
    return removed;
  }

  async #hostRoutes(): Promise<Cidr[]> {
    const text = await hostExec('ip', ['-4', '-o', 'route', 'show', 'table', 'all'], {
      action: 'read host routes',
    });
    const routes: Cidr[] = [];
    for (const line of text.split('\n')) {
      const first = line.trim().split(/\s+/)[0] ?? '';
      const target = first === 'local' || first === 'broadcast' ? '' : first;
      if (!target || target === 'default' || target === 'unreachable') continue;
      try {
        routes.push(parseCidr(target.includes('/') ? target : `${target}/32`, { lenient: true }));
      } catch {
        // not an IPv4 destination
      }
    }
    return routes;
  }

  /** The first candidate (then 10.89.0.0/24, 10.89.1.0/24 …) free of host routes and networks. */
  async #pickSubnet(preferred: Cidr[]): Promise<Cidr> {
    const used = [
      ...(await this.#hostRoutes()),
      ...this.store.listNetworks().map((n) => parseCidr(n.subnet)),
    ];
    const free = (candidate: Cidr) => !used.some((u) => cidrOverlaps(u, candidate));
    for (const candidate of preferred) if (free(candidate)) return candidate;
    for (let second = 89; second < 255; second++) {
      for (let third = 0; third < 256; third++) {
        const candidate = { network: parseIpv4(`10.${second}.${third}.0`), prefix: 24 };
        if (free(candidate)) return candidate;
      }
    }
    throw new ConflictError('Cannot pick a subnet: every candidate overlaps a host route or a network');
  }

  // ---- containers --------------------------------------------------------------------------

  /** What a container is connected to, and its sandbox when attached. */
  containerState(containerId: string): ContainerNetworkState {
    const networks = new Map(this.store.listNetworks().map((n) => [n.id, n]));
    const endpoints = this.store
      .endpointsOfContainer(containerId)
      .flatMap((e) => (networks.has(e.networkId) ? [{ ...e, network: networks.get(e.networkId)! }] : []));
    const sandbox = this.store.findSandbox(containerId);
    return sandbox ? { sandbox, endpoints } : { endpoints };
  }

  /**
   * Sets up the container's network namespace on its networks and publishes its ports.
   * Idempotent: a second call for an attached container returns the same result.
   */
  async attachContainer(containerId: string, request: AttachRequest): Promise<AttachResult> {
    if (!/^[0-9a-f]{12,64}$/.test(containerId)) {
      throw new InvalidArgumentError(`Cannot attach container ${containerId}: not a container id`);
    }
    const existing = this.store.findSandbox(containerId);
    if (existing?.state === 'ready' && existing.bootId === this.#bootId && existsSync(existing.netns)) {
      return this.#result(containerId);
    }
    const result = await this.#attach(containerId, request, existing);
    // Docker's `connect` for each network the container joins as it starts
    for (const { network } of this.containerState(containerId).endpoints) {
      this.#event('connect', network, containerId);
    }
    return result;
  }

  async #attach(
    containerId: string,
    request: AttachRequest,
    existing: SandboxRecord | undefined,
  ): Promise<AttachResult> {
    // a half-made sandbox, or addresses left without one (a crash between the two), go first
    if (existing || this.store.endpointsOfContainer(containerId).some((e) => e.ip)) {
      await this.detachContainer(containerId);
    }
    const networks = await this.#recordEndpoints(containerId, request);
    const sandbox = {
      containerId,
      bootId: this.#bootId,
      ownerPid: process.pid,
      hostname: request.hostname || containerId.slice(0, 12),
      created: Date.now(),
      files: sandboxFiles(request),
    };
    const endpoints = this.store.endpointsOfContainer(containerId);
    const staticIps = networks.flatMap((network) => {
      const ip = endpoints.find((e) => e.networkId === network.id)?.staticIp;
      return ip ? [{ network, ip }] : [];
    });
    // one network, no --ip: a spare namespace of the pool does
    const poolable = networks.length === 1 && staticIps.length === 0 ? networks[0] : undefined;
    if (poolable) {
      // nothing to do after the claim (no port, no names): the sandbox row is ready at once
      const ready = !poolable.dns && !this.#publishes(request);
      const spare = await this.#pool.take(poolable, sandbox, ready ? 'ready' : 'attaching');
      if (spare) {
        // no process in the common case: the bridge is there (the spare is its port), and the
        // sysctls are read, written only when someone reset them
        try {
          await this.#ensureKernelNetwork(poolable);
        } catch (error) {
          await this.detachContainer(containerId).catch(() => undefined);
          throw error;
        }
        if (!ready) await this.#finishAttach(containerId, request, networks, spare.ip);
        if (this.#pool.short(poolable)) this.#refills.add(poolable);
        return this.#result(containerId);
      }
    }
    // retired namespaces the kernel has let go of give their addresses back (taking a spare
    // allocates nothing: the open's reap is enough for it)
    this.#pool.release();
    for (const { network, ip } of staticIps) await this.#freePoolAddress(network, ip);
    const name = this.#netnsName(containerId);
    this.store.beginSandbox({ ...sandbox, netns: netnsPath(name) });
    const interfaces: InterfaceTarget[] = [];
    try {
      let gatewaySet = false;
      networks.forEach((network, index) => {
        const hostVeth = hostVethName(containerId, network.id);
        const { ip, mac } = this.store.allocateAddress(containerId, network, hostVeth);
        const target: InterfaceTarget = {
          ifname: `eth${index}`,
          hostVeth,
          bridge: network.bridge,
          ip,
          prefix: parseCidr(network.subnet).prefix,
          mac,
        };
        if (!network.internal && !gatewaySet) {
          target.defaultGateway = network.gateway;
          gatewaySet = true;
        }
        interfaces.push(target);
      });
      for (const network of networks) await this.#ensureKernelNetwork(network);
      await addInterfaces(name, interfaces);
    } catch (error) {
      await this.detachContainer(containerId).catch(() => undefined);
      throw error;
    }
    await this.#finishAttach(containerId, request, networks, interfaces[0]?.ip);
    if (poolable && !this.#pool.fill(poolable)) this.#refills.add(poolable);
    return this.#result(containerId);
  }

  /** Whether the request publishes ports (`-p`, or `-P` with exposed ports); a bad one says yes. */
  #publishes(request: AttachRequest): boolean {
    try {
      const requests = portRequests({
        portBindings: request.portBindings,
        publishAllPorts: request.publishAllPorts,
        exposedPorts: request.exposedPorts,
      });
      return requests.length > 0;
    } catch {
      // #finishAttach meets the error again and undoes the attach, as for any failed step
      return true;
    }
  }

  /**
   * The steps after the namespace is wired: published ports (recorded, then their DNAT rules),
   * names, and the sandbox marked ready. Undoes the attach when one fails.
   */
  async #finishAttach(
    containerId: string,
    request: AttachRequest,
    networks: readonly NetworkRecord[],
    primaryIp: string | undefined,
  ): Promise<void> {
    try {
      const requests = portRequests({
        portBindings: request.portBindings,
        publishAllPorts: request.publishAllPorts,
        exposedPorts: request.exposedPorts,
      });
      const ports = requests.length
        ? await chooseHostPorts(requests, this.store.publishedPorts(containerId))
        : [];
      // recorded before the rules exist, so a crash leaves a row naming them
      if (ports.length) this.store.updateSandbox(containerId, { ports });
      if (ports.length && primaryIp) {
        await addPortRules({ tag: this.tag, containerId, containerIp: primaryIp, ports });
      }
      await this.#refreshDns(networks.filter((n) => n.dns));
      this.store.updateSandbox(containerId, { state: 'ready' });
    } catch (error) {
      await this.detachContainer(containerId).catch(() => undefined);
      throw error;
    }
  }

  /** A static address held by a pool namespace: that namespace is deleted now, freeing it. */
  async #freePoolAddress(network: NetworkRecord, ip: string): Promise<void> {
    const holder = this.store.poolHolder(network.id, ip);
    if (holder) await this.#pool.drain((row) => row.netns === holder.netns);
  }

  /** Makes sure the container has an endpoint row for each network of the request; returns them in order. */
  async #recordEndpoints(containerId: string, request: AttachRequest): Promise<NetworkRecord[]> {
    const mode =
      request.networkMode === 'default' || request.networkMode === '' ? DEFAULT_NETWORK : request.networkMode;
    if (mode === 'none' || mode === 'host' || mode.startsWith('container:')) {
      throw new InvalidArgumentError(
        `Cannot attach to network mode ${mode}: the container service handles it`,
      );
    }
    const wanted = new Map<string, { aliases: string[]; ip?: string }>();
    const order: NetworkRecord[] = [];
    const add = async (ref: string) => {
      const network = await this.get(ref);
      if (!order.some((n) => n.id === network.id)) order.push(network);
      return network;
    };
    const primary = await add(mode);
    for (const ref of Object.keys(request.endpoints ?? {})) await add(ref);
    for (const [ref, settings] of Object.entries(request.endpoints ?? {})) {
      const network = await this.get(ref);
      const entry: { aliases: string[]; ip?: string } = { aliases: settings.aliases ?? [] };
      if (settings.ipv4Address) entry.ip = settings.ipv4Address;
      wanted.set(network.id, entry);
    }
    for (const network of order) {
      const settings = wanted.get(network.id);
      if (network.name === DEFAULT_NETWORK && settings) {
        if (settings.aliases.length > 0) {
          throw new InvalidArgumentError(
            'network-scoped alias is supported only for containers in user defined networks',
          );
        }
        if (settings.ip) {
          throw new InvalidArgumentError(
            'user specified IP address is supported on user defined networks only',
          );
        }
      }
      const current = this.store.endpointsOfContainer(containerId).find((e) => e.networkId === network.id);
      if (current && !settings && current.containerName === request.containerName) continue;
      const endpoint: Omit<EndpointRecord, 'ip' | 'mac'> = {
        containerId,
        networkId: network.id,
        containerName: request.containerName,
        aliases: settings?.aliases ?? current?.aliases ?? [],
      };
      const staticIp = settings?.ip ?? current?.staticIp;
      if (staticIp) endpoint.staticIp = staticIp;
      this.store.upsertEndpoint(endpoint);
    }
    // networks joined earlier with `network connect` come after the requested ones
    const all = new Map(this.store.listNetworks().map((n) => [n.id, n]));
    for (const endpoint of this.store.endpointsOfContainer(containerId)) {
      const network = all.get(endpoint.networkId);
      if (network && !order.some((n) => n.id === network.id)) order.push(network);
    }
    order.sort((a, b) => (a.id === primary.id ? -1 : b.id === primary.id ? 1 : 0));
    return order;
  }

  #result(containerId: string): AttachResult {
    const sandbox = this.store.findSandbox(containerId);
    if (!sandbox) throw new NotFoundError(`Cannot find the network sandbox of container ${containerId}`);
    const state = this.containerState(containerId);
    const networks: AttachedNetwork[] = [];
    state.endpoints.forEach((endpoint, index) => {
      if (!endpoint.ip || !endpoint.mac) return;
      networks.push({
        networkId: endpoint.network.id,
        networkName: endpoint.network.name,
        ifname: `eth${index}`,
        ip: endpoint.ip,
        prefix: parseCidr(endpoint.network.subnet).prefix,
        gateway: endpoint.network.gateway,
        mac: endpoint.mac,
        aliases: endpoint.aliases,
        endpointId: endpointId(containerId, endpoint.network.id),
      });
    });
    const files = this.#files(sandbox, state);
    return {
      netnsPath: sandbox.netns,
      hostname: sandbox.hostname,
      networks,
      ports: sandbox.ports,
      hostsEntries: files.hostsEntries,
      hosts: hostsText(files.hostsEntries),
      resolvConf: files.resolvConf,
    };
  }

  /** The container's /etc/hosts lines and /etc/resolv.conf for its current addresses. */
  #files(
    sandbox: SandboxRecord,
    state: ContainerNetworkState,
  ): { hostsEntries: string[]; resolvConf: string } {
    const { files } = sandbox;
    const attached = state.endpoints.filter((e) => e.ip);
    const primary = state.endpoints[0]?.network;
    const entryOptions: Parameters<typeof hostsEntries>[0] = {
      hostname: sandbox.hostname,
      addresses: attached.map((e) => e.ip!),
      extraHosts: files.extraHosts ?? [],
    };
    if (files.domainname) entryOptions.domainname = files.domainname;
    if (primary) entryOptions.gateway = primary.gateway;
    let hostResolv = '';
    try {
      hostResolv = readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      // no host resolver: Docker's fallback servers
    }
    const dnsNetwork = attached.find((e) => e.network.dns)?.network;
    const resolvOptions: Parameters<typeof resolvConfText>[0] = { host: hostResolv };
    if (dnsNetwork) resolvOptions.embeddedDns = dnsNetwork.gateway;
    if (files.dns) resolvOptions.dns = files.dns;
    if (files.dnsSearch) resolvOptions.dnsSearch = files.dnsSearch;
    if (files.dnsOptions) resolvOptions.dnsOptions = files.dnsOptions;
    return { hostsEntries: hostsEntries(entryOptions), resolvConf: resolvConfText(resolvOptions) };
  }

  /**
   * After `network connect`/`disconnect` of a running container, its /etc/hosts gains (loses)
   * the line of that address, as Docker's does, other lines (edits included) kept; its
   * /etc/resolv.conf is written again when its first (last) network with names comes (goes), so
   * aardvark-dns answers it. Written in place: they are bind-mounted files.
   */
  #updateContainerFiles(
    containerId: string,
    change: { added?: string; removed?: string; dnsBefore: boolean },
  ): void {
    const sandbox = this.store.findSandbox(containerId);
    if (!sandbox) return;
    const paths = containerPaths(this.root, containerId);
    if (!existsSync(paths.hosts)) return;
    const state = this.containerState(containerId);
    const line = (ip: string) =>
      hostsEntries({
        hostname: sandbox.hostname,
        ...(sandbox.files.domainname ? { domainname: sandbox.files.domainname } : {}),
        addresses: [ip],
      })[0]!;
    let hosts = readFileSync(paths.hosts, 'utf8');
    if (change.removed) {
      const gone = line(change.removed);
      hosts = hosts
        .split('\n')
        .filter((l) => l !== gone)
        .join('\n');
    }
    if (change.added) hosts = `${hosts.replace(/\n*$/, '\n')}${line(change.added)}\n`;
    writeFileSync(paths.hosts, hosts);
    const dnsNow = state.endpoints.some((e) => e.ip && e.network.dns);
    if (dnsNow !== change.dnsBefore && existsSync(paths.resolvConf)) {
      writeFileSync(paths.resolvConf, this.#files(sandbox, state).resolvConf);
    }
  }

  /** Rewrites the aardvark-dns files of these networks from the database and reloads it. */
  async #refreshDns(networks: readonly NetworkRecord[]): Promise<void> {
    if (networks.length === 0) return;
    this.#markRunDir();
    const dir = this.dnsDir;
    const attached = new Set(this.store.listSandboxes().map((s) => s.containerId));
    // inside the write lock: two processes never write a network's file out of order
    this.store.db.write(() => {
      for (const network of networks) {
        const entries: DnsEntry[] = this.store
          .endpointsOfNetwork(network.id)
          .filter((e) => e.ip && attached.has(e.containerId))
          .map((e) => ({
            containerId: e.containerId,
            ip: e.ip!,
            names: [e.containerName, ...e.aliases, e.containerId.slice(0, 12)].filter(Boolean),
          }));
        // an empty file (gateway only) keeps the daemon up while the network exists, so the
        // next attach is a SIGHUP, not a new daemon
        writeNetworkDns(dir, network.id, network.gateway, entries, { keepEmpty: true });
      }
    });
    await reloadDns(dir);
  }

  /**
   * Undoes `attachContainer` (the container has exited). Idempotent. Port rules and rows go at
   * once; with `background` the namespace and its veths are deleted by the pool keeper while the caller
   * goes on (their addresses stay taken until they are gone), else before it returns.
   */
  async detachContainer(containerId: string, options: { background?: boolean } = {}): Promise<void> {
    const sandbox = this.store.findSandbox(containerId);
    const state = this.containerState(containerId);
    const hadAddresses = state.endpoints.some((e) => e.ip);
    if (!sandbox && !hadAddresses) return;
    // Docker's `disconnect` for each network the container leaves as it stops
    for (const { network } of state.endpoints) this.#event('disconnect', network, containerId);
    const dnsNetworks = state.endpoints.filter((e) => e.network.dns).map((e) => e.network);
    if (sandbox && sandbox.bootId === this.#bootId) {
      const primaryIp = state.endpoints[0]?.ip ?? '0.0.0.0';
      await removePortRules({ tag: this.tag, containerId, containerIp: primaryIp, ports: sandbox.ports });
      const netns = basename(sandbox.netns);
      const attached = state.endpoints.filter((e) => e.ip && e.mac);
      if (options.background && attached.length > 0) {
        const created = Date.now();
        this.#pool.retire(
          containerId,
          attached.map((e) => ({
            netns,
            hostVeth: e.hostVeth ?? hostVethName(containerId, e.networkId),
            networkId: e.networkId,
            ip: e.ip!,
            mac: e.mac!,
            bootId: this.#bootId,
            created,
          })),
        );
        await this.#refreshDns(dnsNetworks).catch(() => undefined);
        return;
      }
      const veths = state.endpoints.map((e) => e.hostVeth ?? hostVethName(containerId, e.networkId));
      await deleteNamespace(netns, veths);
    }
    this.store.releaseAddresses(containerId);
    await this.#refreshDns(dnsNetworks).catch(() => undefined);
    this.store.deleteSandbox(containerId);
  }

  /** The container is being deleted: detach it and forget its networks. */
  async removeContainer(containerId: string, options: { background?: boolean } = {}): Promise<void> {
    await this.detachContainer(containerId, options);
    this.store.deleteEndpointsOfContainer(containerId);
  }

  /**
   * `network connect`: recorded, and made live when the container is attached (a running
   * container also gets the address in its /etc/hosts, and aardvark-dns in its resolv.conf when
   * this is its first network with names).
   */
  async connect(
    networkRef: string,
    container: { id: string; name: string },
    settings: { aliases?: string[]; ipv4Address?: string } = {},
  ): Promise<void> {
    const network = await this.get(networkRef);
    if (network.name === DEFAULT_NETWORK && ((settings.aliases?.length ?? 0) > 0 || settings.ipv4Address)) {
      throw new InvalidArgumentError(
        'network-scoped alias and --ip are supported only on user defined networks',
      );
    }
    const current = this.store.endpointsOfContainer(container.id);
    if (current.some((e) => e.networkId === network.id)) {
      throw new ConflictError(
        `endpoint with name ${container.name} already exists in network ${network.name}`,
      );
    }
    const endpoint: Omit<EndpointRecord, 'ip' | 'mac'> = {
      containerId: container.id,
      networkId: network.id,
      containerName: container.name,
      aliases: settings.aliases ?? [],
    };
    if (settings.ipv4Address) endpoint.staticIp = settings.ipv4Address;
    this.store.upsertEndpoint(endpoint);
    const sandbox = this.store.findSandbox(container.id);
    if (sandbox?.state !== 'ready' || !existsSync(sandbox.netns)) return;
    const dnsBefore = this.containerState(container.id).endpoints.some((e) => e.ip && e.network.dns);
    const hostVeth = hostVethName(container.id, network.id);
    let ip: string;
    try {
      if (settings.ipv4Address) await this.#freePoolAddress(network, settings.ipv4Address);
      this.#pool.release();
      const allocated = this.store.allocateAddress(container.id, network, hostVeth);
      ip = allocated.ip;
      await this.#ensureKernelNetwork(network);
      const index = this.store
        .endpointsOfContainer(container.id)
        .findIndex((e) => e.networkId === network.id);
      await addInterfaces(basename(sandbox.netns), [
        {
          ifname: `eth${index}`,
          hostVeth,
          bridge: network.bridge,
          ip,
          prefix: parseCidr(network.subnet).prefix,
          mac: allocated.mac,
        },
      ]);
      if (network.dns) await this.#refreshDns([network]);
    } catch (error) {
      await removeInterface(hostVeth).catch(() => undefined);
      this.store.deleteEndpoint(container.id, network.id);
      throw error;
    }
    this.#updateContainerFiles(container.id, { added: ip, dnsBefore });
    this.#event('connect', network, container.id);
  }

  /** `network disconnect` (a running container's /etc/hosts loses the address's line). */
  async disconnect(
    networkRef: string,
    containerId: string,
    options: { force?: boolean } = {},
  ): Promise<void> {
    const network = await this.get(networkRef);
    const endpoint = this.store.endpointsOfContainer(containerId).find((e) => e.networkId === network.id);
    if (!endpoint) {
      if (options.force) return;
      throw new NotFoundError(
        `container ${containerId.slice(0, 12)} is not connected to network ${network.name}`,
      );
    }
    const dnsBefore = this.containerState(containerId).endpoints.some((e) => e.ip && e.network.dns);
    if (endpoint.ip) await removeInterface(endpoint.hostVeth ?? hostVethName(containerId, network.id));
    this.store.deleteEndpoint(containerId, network.id);
    if (network.dns) await this.#refreshDns([network]);
    if (endpoint.ip) {
      this.#updateContainerFiles(containerId, { removed: endpoint.ip, dnsBefore });
      this.#event('disconnect', network, containerId);
    }
  }

  /** The published ports of an attached container (`wharf port`). */
  ports(containerId: string): PublishedPort[] {
    return this.store.findSandbox(containerId)?.ports ?? [];
  }

  // ---- sweeping ------------------------------------------------------------------------------

  /**
   * Undoes attaches whose owner died half way and sandboxes of containers that are gone or no
   * longer running; after a reboot (another boot id) only forgets, the kernel state being gone.
   * Cheap (database only) unless something is stale.
   */
  async sweep(): Promise<number> {
    let swept = 0;
    for (const sandbox of this.store.listSandboxes()) {
      if (sandbox.bootId !== this.#bootId) {
        this.store.releaseAddresses(sandbox.containerId);
        this.store.deleteSandbox(sandbox.containerId);
        swept++;
        continue;
      }
      if (isProcessAlive(sandbox.ownerPid)) continue;
      const container = this.store.containerState(sandbox.containerId);
      const running = container?.state !== undefined && RUNNING_STATES.has(container.state);
      const orphan = sandbox.state === 'attaching' || !container || !running || !existsSync(sandbox.netns);
      if (!orphan) continue;
      await this.detachContainer(sandbox.containerId);
      swept++;
    }
    // repairs only: the retired rows that are gone are forgotten by whoever next allocates an
    // address (`release`), in its own transaction, so an open writes nothing in the common case
    this.#pool.reap();
    return swept;
  }

  /** Waits for the pool's work under way and forgets what it deleted (tests, before looking at the host). */
  async settle(): Promise<void> {
    await this.#pool.settle();
  }

  /** Deletes the spare and retired namespaces now (tests; `destroyAll` and network removal do it too). */
  async drainPool(): Promise<void> {
    await this.#pool.drain();
  }

  /**
   * The kernel-side sweep: namespaces, rules and bridges carrying this root's tag that no row
   * accounts for, and everything of roots whose directory is gone (test roots deleted without
   * cleaning up). Reads `iptables-save`, so it runs on `network prune`, not at every open.
   */
  async deepSweep(): Promise<void> {
    await this.sweep();
    const keepNetns = new Set([
      ...this.store.listSandboxes().map((s) => basename(s.netns)),
      ...this.#pool.names(),
    ]);
    const liveTags = new Set([this.tag]);
    const deadTags = new Set<string>();
    let tagDirs: string[] = [];
    try {
      tagDirs = readdirSync(RUN_BASE);
    } catch {
      // nothing was ever set up on this boot
    }
    for (const tag of tagDirs) {
      if (tag === this.tag) continue;
      let root = '';
      try {
        root = readFileSync(join(RUN_BASE, tag, 'root'), 'utf8');
      } catch {
        continue;
      }
      if (existsSync(join(root, 'wharf.db'))) liveTags.add(tag);
      else deadTags.add(tag);
    }
    let namespaces: string[] = [];
    try {
      namespaces = readdirSync(NETNS_DIR);
    } catch {
      // no namespaces
    }
    for (const name of namespaces) {
      const match = /^wharf-([0-9a-f]{8})-[0-9a-f]{12}$/.exec(name);
      if (!match) continue;
      const own = match[1] === this.tag && !keepNetns.has(name);
      if (own || deadTags.has(match[1]!)) await deleteNamespace(name, []);
    }
    const keepRules = new Set<string>([
      ...this.store.listNetworks().map((n) => networkComment(this.tag, n.id)),
      ...this.store.listSandboxes().map((s) => containerComment(this.tag, s.containerId)),
    ]);
    await sweepRules(this.tag, keepRules);
    for (const tag of deadTags) await sweepRules(tag, new Set());
    const networkIds = new Set(this.store.listNetworks().map((n) => n.id.slice(0, 12)));
    let links: string[] = [];
    try {
      links = readdirSync('/sys/class/net');
    } catch {
      // no sysfs
    }
    for (const link of links) {
      const alias = linkAlias(link);
      const match = alias ? /^wharf:([0-9a-f]{8}):([0-9a-f]{12})$/.exec(alias) : null;
      if (!match) continue;
      if ((match[1] === this.tag && !networkIds.has(match[2]!)) || deadTags.has(match[1]!)) {
        await deleteBridge(link, alias!);
      }
    }
    for (const tag of deadTags) {
      stopDns(dnsConfigDir(join(RUN_BASE, tag)));
      await new PoolKeeper(join(RUN_BASE, tag, 'netns-pool')).stop();
      rmSync(join(RUN_BASE, tag), { recursive: true, force: true });
    }
  }

  /**
   * Removes everything this root set up: sandboxes, networks (the default one too), rules,
   * bridges and the DNS daemon. For tests and a future `system reset`.
   */
  async destroyAll(): Promise<void> {
    for (const sandbox of this.store.listSandboxes()) await this.detachContainer(sandbox.containerId);
    await this.#pool.drain();
    for (const network of this.store.listNetworks()) {
      await this.#removeKernelNetwork(network);
      this.store.deleteNetwork(network.id);
    }
    await this.deepSweep();
    stopDns(this.dnsDir);
    await this.#pool.stopKeeper();
    rmSync(this.runDir, { recursive: true, force: true });
    await removeFirewallBaseIfUnused();
  }
}
