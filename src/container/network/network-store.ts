/**
 * Network records in the metadata database: networks, the containers connected to them
 * (endpoints, with the address IPAM gave each), and each attached container's sandbox (its
 * network namespace and published ports). The rows are also the journal of kernel work: a row
 * is written before the interfaces or rules it describes are made and deleted only after they
 * are gone, so a crash at any point leaves a row the next sweep finds.
 *
 *   networks        id TEXT PK (64 hex), name TEXT UNIQUE, driver TEXT ('bridge'),
 *                   bridge TEXT UNIQUE (the Linux bridge), subnet TEXT, gateway TEXT,
 *                   ip_range TEXT NULL, internal INTEGER, dns INTEGER (aardvark-dns serves it),
 *                   labels TEXT (JSON), options TEXT (JSON), created TEXT (RFC 3339)
 *   net_endpoints   container_id TEXT, network_id TEXT -> networks.id, container_name TEXT,
 *                   aliases TEXT (JSON), static_ip TEXT NULL (--ip), ip TEXT NULL (while attached),
 *                   mac TEXT NULL, host_veth TEXT NULL (the host end while attached; NULL in
 *                   rows older than the pool: hostVethName(container, network)),
 *                   PK (container_id, network_id), UNIQUE (network_id, ip)
 *   net_sandboxes   container_id TEXT PK, netns TEXT (path), boot_id TEXT, owner_pid INTEGER,
 *                   state TEXT ('attaching' | 'ready'), hostname TEXT, ports TEXT (JSON
 *                   PublishedPort[]), created INTEGER (ms), files TEXT (JSON SandboxFiles: what
 *                   /etc/hosts and /etc/resolv.conf are made from, to rewrite them on connect)
 *   net_pool        netns TEXT (name), host_veth TEXT, network_id TEXT, ip TEXT, mac TEXT,
 *                   state TEXT ('spare' | 'retired'), boot_id TEXT, pid INTEGER (the process
 *                   making or deleting it), created INTEGER (ms), PK (netns, host_veth):
 *                   namespaces no container owns (see netns-pool.ts); their addresses stay taken
 *
 * Addresses are allocated inside `BEGIN IMMEDIATE` (`db.write`), so two processes attaching at
 * once never get the same one; the UNIQUE index is the second guard. An address is free when no
 * endpoint and no pool row holds it.
 *
 * @example
 * const store = new NetworkStore(db);
 * store.findNetwork('bridge');
 */

import type { Statement } from 'better-sqlite3';
import {
  AlreadyExistsError,
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
} from '../../errors/index.ts';
import type { MetadataDatabase, Migration } from '../../metadata/database.ts';
import { cidrContains, cidrLast, formatIpv4, macForIpv4, parseCidr, parseIpv4 } from './ipv4.ts';
import type { PortProtocol } from './port-spec.ts';

export const NETWORK_MIGRATIONS: readonly Migration[] = [
  {
    name: 'network-1-networks-endpoints-sandboxes',
    up(db) {
      db.exec(`
        CREATE TABLE networks (
          id TEXT PRIMARY KEY,
          name TEXT NOT NULL UNIQUE,
          driver TEXT NOT NULL,
          bridge TEXT NOT NULL UNIQUE,
          subnet TEXT NOT NULL,
          gateway TEXT NOT NULL,
          ip_range TEXT,
          internal INTEGER NOT NULL DEFAULT 0,
          dns INTEGER NOT NULL DEFAULT 0,
          labels TEXT NOT NULL DEFAULT '{}',
          options TEXT NOT NULL DEFAULT '{}',
          created TEXT NOT NULL
        );
        CREATE TABLE net_endpoints (
          container_id TEXT NOT NULL,
          network_id TEXT NOT NULL REFERENCES networks(id),
          container_name TEXT NOT NULL,
          aliases TEXT NOT NULL DEFAULT '[]',
          static_ip TEXT,
          ip TEXT,
          mac TEXT,
          PRIMARY KEY (container_id, network_id)
        );
        CREATE UNIQUE INDEX net_endpoints_ip ON net_endpoints(network_id, ip);
        CREATE INDEX net_endpoints_network ON net_endpoints(network_id);
        CREATE TABLE net_sandboxes (
          container_id TEXT PRIMARY KEY,
          netns TEXT NOT NULL,
          boot_id TEXT NOT NULL,
          owner_pid INTEGER NOT NULL,
          state TEXT NOT NULL,
          hostname TEXT NOT NULL DEFAULT '',
          ports TEXT NOT NULL DEFAULT '[]',
          created INTEGER NOT NULL
        );
      `);
    },
  },
  {
    name: 'network-2-netns-pool',
    up(db) {
      db.exec(`
        CREATE TABLE net_pool (
          netns TEXT NOT NULL,
          host_veth TEXT NOT NULL,
          network_id TEXT NOT NULL,
          ip TEXT NOT NULL,
          mac TEXT NOT NULL,
          state TEXT NOT NULL,
          boot_id TEXT NOT NULL,
          pid INTEGER NOT NULL DEFAULT 0,
          created INTEGER NOT NULL,
          PRIMARY KEY (netns, host_veth)
        );
        CREATE INDEX net_pool_network ON net_pool(network_id, ip);
        ALTER TABLE net_endpoints ADD COLUMN host_veth TEXT;
        ALTER TABLE net_sandboxes ADD COLUMN files TEXT NOT NULL DEFAULT '{}';
      `);
    },
  },
];

export interface NetworkRecord {
  id: string;
  name: string;
  driver: 'bridge';
  bridge: string;
  subnet: string;
  gateway: string;
  ipRange?: string;
  internal: boolean;
  /** True when aardvark-dns answers names on it (user-defined networks; not the default bridge). */
  dns: boolean;
  labels: Record<string, string>;
  options: Record<string, string>;
  created: string;
}

export interface EndpointRecord {
  containerId: string;
  networkId: string;
  containerName: string;
  aliases: string[];
  staticIp?: string;
  /** Set while the container is attached. */
  ip?: string;
  mac?: string;
  /** The host end of the veth while attached (absent in rows made before the pool). */
  hostVeth?: string;
}

export interface PublishedPort {
  containerPort: number;
  protocol: PortProtocol;
  /** '' means every host address. */
  hostIp: string;
  hostPort: number;
}

/** What a container's /etc/hosts and /etc/resolv.conf are made from besides its addresses. */
export interface SandboxFiles {
  domainname?: string;
  extraHosts?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
}

export interface SandboxRecord {
  containerId: string;
  netns: string;
  bootId: string;
  ownerPid: number;
  state: 'attaching' | 'ready';
  hostname: string;
  ports: PublishedPort[];
  created: number;
  files: SandboxFiles;
}

/** A namespace no container owns: a prepared spare, or a retired one being deleted. */
export interface PoolRecord {
  /** The namespace's name under /run/netns. */
  netns: string;
  hostVeth: string;
  networkId: string;
  ip: string;
  mac: string;
  state: 'spare' | 'retired';
  bootId: string;
  /**
   * The process given the work of making (spare) or deleting (retired) it: the root's pool
   * keeper, or a one-shot process while another held the keeper's lock; 0 when none was started.
   */
  pid: number;
  created: number;
}

interface NetworkRow {
  id: string;
  name: string;
  driver: string;
  bridge: string;
  subnet: string;
  gateway: string;
  ip_range: string | null;
  internal: number;
  dns: number;
  labels: string;
  options: string;
  created: string;
}

interface EndpointRow {
  container_id: string;
  network_id: string;
  container_name: string;
  aliases: string;
  static_ip: string | null;
  ip: string | null;
  mac: string | null;
  host_veth: string | null;
}

interface SandboxRow {
  container_id: string;
  netns: string;
  boot_id: string;
  owner_pid: number;
  state: string;
  hostname: string;
  ports: string;
  created: number;
  files: string;
}

interface PoolRow {
  netns: string;
  host_veth: string;
  network_id: string;
  ip: string;
  mac: string;
  state: string;
  boot_id: string;
  pid: number;
  created: number;
}

function toNetwork(row: NetworkRow): NetworkRecord {
  const record: NetworkRecord = {
    id: row.id,
    name: row.name,
    driver: 'bridge',
    bridge: row.bridge,
    subnet: row.subnet,
    gateway: row.gateway,
    internal: row.internal === 1,
    dns: row.dns === 1,
    labels: JSON.parse(row.labels) as Record<string, string>,
    options: JSON.parse(row.options) as Record<string, string>,
    created: row.created,
  };
  if (row.ip_range) record.ipRange = row.ip_range;
  return record;
}

function toEndpoint(row: EndpointRow): EndpointRecord {
  const record: EndpointRecord = {
    containerId: row.container_id,
    networkId: row.network_id,
    containerName: row.container_name,
    aliases: JSON.parse(row.aliases) as string[],
  };
  if (row.static_ip) record.staticIp = row.static_ip;
  if (row.ip) record.ip = row.ip;
  if (row.mac) record.mac = row.mac;
  if (row.host_veth) record.hostVeth = row.host_veth;
  return record;
}

function toSandbox(row: SandboxRow): SandboxRecord {
  return {
    containerId: row.container_id,
    netns: row.netns,
    bootId: row.boot_id,
    ownerPid: row.owner_pid,
    state: row.state === 'ready' ? 'ready' : 'attaching',
    hostname: row.hostname,
    ports: JSON.parse(row.ports) as PublishedPort[],
    created: row.created,
    files: JSON.parse(row.files || '{}') as SandboxFiles,
  };
}

function toPool(row: PoolRow): PoolRecord {
  return {
    netns: row.netns,
    hostVeth: row.host_veth,
    networkId: row.network_id,
    ip: row.ip,
    mac: row.mac,
    state: row.state === 'spare' ? 'spare' : 'retired',
    bootId: row.boot_id,
    pid: row.pid,
    created: row.created,
  };
}

export class NetworkStore {
  readonly #db: MetadataDatabase;
  /** Prepared statements by SQL text: a `run` makes about forty queries, each prepared once. */
  readonly #statements = new Map<string, Statement>();

  constructor(db: MetadataDatabase) {
    this.#db = db;
    db.migrate(NETWORK_MIGRATIONS);
  }

  get db(): MetadataDatabase {
    return this.#db;
  }

  /** The statement of `text`, prepared on first use (statements that pluck have their own text). */
  #sql(text: string): Statement {
    let statement = this.#statements.get(text);
    if (!statement) {
      statement = this.#db.sql.prepare(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }

  listNetworks(): NetworkRecord[] {
    const rows = this.#sql('SELECT * FROM networks ORDER BY created, name').all() as NetworkRow[];
    return rows.map(toNetwork);
  }

  /** By full id, exact name, or unique id prefix (Docker's lookup order). */
  findNetwork(ref: string): NetworkRecord | undefined {
    const exact = this.#sql('SELECT * FROM networks WHERE id = ? OR name = ?').all(ref, ref) as NetworkRow[];
    const byId = exact.find((row) => row.id === ref) ?? exact.find((row) => row.name === ref);
    if (byId) return toNetwork(byId);
    if (!/^[0-9a-f]+$/.test(ref)) return undefined;
    const prefixed = this.#sql("SELECT * FROM networks WHERE id LIKE ? || '%'").all(ref) as NetworkRow[];
    if (prefixed.length > 1) {
      throw new ConflictError(`Cannot find network ${ref}: the id prefix is ambiguous`);
    }
    return prefixed[0] ? toNetwork(prefixed[0]) : undefined;
  }

  getNetwork(ref: string): NetworkRecord {
    const network = this.findNetwork(ref);
    if (!network) throw new NotFoundError(`network ${ref} not found`);
    return network;
  }

  insertNetwork(network: NetworkRecord): void {
    this.#db.write(() => {
      if (this.#sql('SELECT 1 FROM networks WHERE name = ?').get(network.name)) {
        throw new AlreadyExistsError(`network with name ${network.name} already exists`);
      }
      if (this.#sql('SELECT 1 FROM networks WHERE bridge = ?').get(network.bridge)) {
        throw new ConflictError(`Cannot create network ${network.name}: bridge ${network.bridge} is in use`);
      }
      this.#sql(
        `INSERT INTO networks (id, name, driver, bridge, subnet, gateway, ip_range, internal, dns, labels,
             options, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        network.id,
        network.name,
        network.driver,
        network.bridge,
        network.subnet,
        network.gateway,
        network.ipRange ?? null,
        network.internal ? 1 : 0,
        network.dns ? 1 : 0,
        JSON.stringify(network.labels),
        JSON.stringify(network.options),
        network.created,
      );
    });
  }

  deleteNetwork(id: string): void {
    this.#db.write(() => {
      this.#sql('DELETE FROM net_endpoints WHERE network_id = ?').run(id);
      this.#sql('DELETE FROM networks WHERE id = ?').run(id);
    });
  }

  endpointsOfNetwork(networkId: string): EndpointRecord[] {
    const rows = this.#sql('SELECT * FROM net_endpoints WHERE network_id = ? ORDER BY container_name').all(
      networkId,
    ) as EndpointRow[];
    return rows.map(toEndpoint);
  }

  endpointsOfContainer(containerId: string): EndpointRecord[] {
    const rows = this.#sql('SELECT * FROM net_endpoints WHERE container_id = ? ORDER BY rowid').all(
      containerId,
    ) as EndpointRow[];
    return rows.map(toEndpoint);
  }

  allEndpoints(): EndpointRecord[] {
    return (this.#sql('SELECT * FROM net_endpoints').all() as EndpointRow[]).map(toEndpoint);
  }

  /** Records that a container is connected to a network (no address yet). Replaces its settings. */
  upsertEndpoint(endpoint: Omit<EndpointRecord, 'ip' | 'mac'>): void {
    this.#db.write(() => {
      this.#sql(
        `INSERT INTO net_endpoints (container_id, network_id, container_name, aliases, static_ip)
           VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (container_id, network_id) DO UPDATE SET container_name = excluded.container_name,
             aliases = excluded.aliases, static_ip = excluded.static_ip`,
      ).run(
        endpoint.containerId,
        endpoint.networkId,
        endpoint.containerName,
        JSON.stringify(endpoint.aliases),
        endpoint.staticIp ?? null,
      );
    });
  }

  deleteEndpoint(containerId: string, networkId: string): void {
    this.#db.write(() =>
      this.#sql('DELETE FROM net_endpoints WHERE container_id = ? AND network_id = ?').run(
        containerId,
        networkId,
      ),
    );
  }

  deleteEndpointsOfContainer(containerId: string): void {
    this.#db.write(() => this.#sql('DELETE FROM net_endpoints WHERE container_id = ?').run(containerId));
  }

  /**
   * The lowest free address of the network's ip-range (or `staticIp`, which must be free),
   * skipping the network, gateway and broadcast addresses and every address an endpoint or a
   * pool namespace holds. Call inside `db.write`.
   */
  #chooseAddress(network: NetworkRecord, staticIp: string | null): { ip: string; mac: string } {
    const used = new Set(
      (
        this.#sql(
          `SELECT ip FROM net_endpoints WHERE network_id = ? AND ip IS NOT NULL
             UNION ALL SELECT ip FROM net_pool WHERE network_id = ?`,
        )
          .pluck()
          .all(network.id, network.id) as string[]
      ).map(parseIpv4),
    );
    const subnet = parseCidr(network.subnet);
    const gateway = parseIpv4(network.gateway);
    let chosen: number | undefined;
    if (staticIp) {
      const wanted = parseIpv4(staticIp);
      if (!cidrContains(subnet, wanted) || wanted === gateway) {
        throw new InvalidArgumentError(
          `Cannot use address ${staticIp}: it is not a free address of ${network.subnet}`,
        );
      }
      if (used.has(wanted)) {
        throw new ConflictError(`Cannot use address ${staticIp}: it is already in use on ${network.name}`);
      }
      chosen = wanted;
    } else {
      const range = network.ipRange ? parseCidr(network.ipRange) : subnet;
      const first = Math.max(range.network, subnet.network + 1);
      const last = Math.min(cidrLast(range), cidrLast(subnet) - 1);
      for (let candidate = first; candidate <= last; candidate++) {
        if (candidate !== gateway && !used.has(candidate)) {
          chosen = candidate;
          break;
        }
      }
    }
    if (chosen === undefined) {
      throw new ConflictError(`Cannot allocate an address on ${network.name}: no free address is left`);
    }
    return { ip: formatIpv4(chosen), mac: macForIpv4(chosen) };
  }

  /**
   * Gives the endpoint an address (its static one, or the lowest free one) unless it has one,
   * and records its host veth. Runs in `BEGIN IMMEDIATE`: the read of used addresses and the
   * write are one step.
   */
  allocateAddress(
    containerId: string,
    network: NetworkRecord,
    hostVeth?: string,
  ): { ip: string; mac: string } {
    return this.#db.write(() => {
      const row = this.#sql('SELECT * FROM net_endpoints WHERE container_id = ? AND network_id = ?').get(
        containerId,
        network.id,
      ) as EndpointRow | undefined;
      if (!row)
        throw new NotFoundError(`Cannot allocate an address: ${containerId} is not on ${network.name}`);
      if (row.ip && row.mac) return { ip: row.ip, mac: row.mac };
      const { ip, mac } = this.#chooseAddress(network, row.static_ip);
      this.#sql(
        'UPDATE net_endpoints SET ip = ?, mac = ?, host_veth = ? WHERE container_id = ? AND network_id = ?',
      ).run(ip, mac, hostVeth ?? null, containerId, network.id);
      return { ip, mac };
    });
  }

  releaseAddresses(containerId: string, networkId?: string): void {
    this.#db.write(() => {
      if (networkId === undefined) {
        this.#sql(
          'UPDATE net_endpoints SET ip = NULL, mac = NULL, host_veth = NULL WHERE container_id = ?',
        ).run(containerId);
      } else {
        this.#sql(
          'UPDATE net_endpoints SET ip = NULL, mac = NULL, host_veth = NULL WHERE container_id = ? AND network_id = ?',
        ).run(containerId, networkId);
      }
    });
  }

  // ---- the namespace pool (netns-pool.ts) ----

  listPool(networkId?: string): PoolRecord[] {
    const rows = (
      networkId === undefined
        ? this.#sql('SELECT * FROM net_pool ORDER BY created').all()
        : this.#sql('SELECT * FROM net_pool WHERE network_id = ? ORDER BY created').all(networkId)
    ) as PoolRow[];
    return rows.map(toPool);
  }

  /** The pool row holding this address of the network, if any. */
  poolHolder(networkId: string, ip: string): PoolRecord | undefined {
    const row = this.#sql('SELECT * FROM net_pool WHERE network_id = ? AND ip = ?').get(networkId, ip) as
      | PoolRow
      | undefined;
    return row ? toPool(row) : undefined;
  }

  /**
   * Records a spare namespace about to be made, with a free address of the network; `pid` is the
   * process that will make it, when known already.
   */
  insertSpare(spare: {
    netns: string;
    hostVeth: string;
    network: NetworkRecord;
    bootId: string;
    pid?: number;
    /** Pool rows to delete first, in the same transaction (retired namespaces that are gone). */
    forget?: readonly string[];
  }): PoolRecord {
    return this.#db.write(() => {
      this.deletePools(spare.forget ?? []);
      const { ip, mac } = this.#chooseAddress(spare.network, null);
      const record: PoolRecord = {
        netns: spare.netns,
        hostVeth: spare.hostVeth,
        networkId: spare.network.id,
        ip,
        mac,
        state: 'spare',
        bootId: spare.bootId,
        pid: spare.pid ?? 0,
        created: Date.now(),
      };
      this.#insertPool(record);
      return record;
    });
  }

  #insertPool(record: PoolRecord): void {
    this.#sql(
      `INSERT INTO net_pool (netns, host_veth, network_id, ip, mac, state, boot_id, pid, created)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      record.netns,
      record.hostVeth,
      record.networkId,
      record.ip,
      record.mac,
      record.state,
      record.bootId,
      record.pid,
      record.created,
    );
  }

  setPoolPid(netns: string, pid: number): void {
    this.#db.write(() => this.#sql('UPDATE net_pool SET pid = ? WHERE netns = ?').run(pid, netns));
  }

  /** A spare given up: retired (its address stays taken until its objects are gone). */
  retirePool(netns: string, at: number): void {
    this.#db.write(() =>
      this.#sql("UPDATE net_pool SET state = 'retired', created = ? WHERE netns = ?").run(at, netns),
    );
  }

  deletePool(netns: string): void {
    this.#db.write(() => this.#sql('DELETE FROM net_pool WHERE netns = ?').run(netns));
  }

  /** Forgets these pool namespaces in one transaction. */
  deletePools(netns: readonly string[]): void {
    if (netns.length === 0) return;
    this.#db.write(() => {
      const statement = this.#sql('DELETE FROM net_pool WHERE netns = ?');
      for (const name of netns) statement.run(name);
    });
  }

  /**
   * Hands a spare namespace to a container: in one transaction the spare's row goes, the
   * container's endpoint takes its address and veth, and its sandbox row is made (`attaching`,
   * or `ready` when the attach has nothing left to do: no ports, no names). False when another
   * process took the spare first.
   */
  claimSpare(
    spare: PoolRecord,
    sandbox: Omit<SandboxRecord, 'state' | 'ports' | 'netns'>,
    netnsPath: string,
    state: SandboxRecord['state'] = 'attaching',
  ): boolean {
    return this.#db.write(() => {
      const taken = this.#sql(
        "DELETE FROM net_pool WHERE netns = ? AND host_veth = ? AND state = 'spare'",
      ).run(spare.netns, spare.hostVeth);
      if (taken.changes !== 1) return false;
      const endpoint = this.#sql(
        `UPDATE net_endpoints SET ip = ?, mac = ?, host_veth = ?
           WHERE container_id = ? AND network_id = ? AND ip IS NULL`,
      ).run(spare.ip, spare.mac, spare.hostVeth, sandbox.containerId, spare.networkId);
      if (endpoint.changes !== 1) {
        throw new ConflictError(`Cannot attach ${sandbox.containerId}: its endpoint changed meanwhile`);
      }
      if (!this.beginSandbox({ ...sandbox, netns: netnsPath }, state)) {
        throw new ConflictError(
          `Cannot attach ${sandbox.containerId}: it is being attached by another process`,
        );
      }
      return true;
    });
  }

  /**
   * A detached sandbox whose namespace is deleted in the background: in one transaction its
   * interfaces become `retired` pool rows (keeping their addresses taken until the kernel has
   * let go of them), the endpoints lose their addresses and the sandbox row goes. `pid` is the
   * process that will delete them, when known already.
   */
  retireSandbox(containerId: string, retired: readonly Omit<PoolRecord, 'state' | 'pid'>[], pid = 0): void {
    this.#db.write(() => {
      for (const record of retired) {
        this.#sql('DELETE FROM net_pool WHERE netns = ? AND host_veth = ?').run(
          record.netns,
          record.hostVeth,
        );
        this.#insertPool({ ...record, state: 'retired', pid });
      }
      this.releaseAddresses(containerId);
      this.deleteSandbox(containerId);
    });
  }

  findSandbox(containerId: string): SandboxRecord | undefined {
    const row = this.#sql('SELECT * FROM net_sandboxes WHERE container_id = ?').get(containerId) as
      | SandboxRow
      | undefined;
    return row ? toSandbox(row) : undefined;
  }

  listSandboxes(): SandboxRecord[] {
    return (this.#sql('SELECT * FROM net_sandboxes').all() as SandboxRow[]).map(toSandbox);
  }

  /** Inserts the sandbox row (`attaching` unless told); false when one exists already. */
  beginSandbox(
    sandbox: Omit<SandboxRecord, 'state' | 'ports'>,
    state: SandboxRecord['state'] = 'attaching',
  ): boolean {
    return this.#db.write(() => {
      const result = this.#sql(
        `INSERT OR IGNORE INTO net_sandboxes (container_id, netns, boot_id, owner_pid, state, hostname, ports,
             created, files) VALUES (?, ?, ?, ?, ?, ?, '[]', ?, ?)`,
      ).run(
        sandbox.containerId,
        sandbox.netns,
        sandbox.bootId,
        sandbox.ownerPid,
        state,
        sandbox.hostname,
        sandbox.created,
        JSON.stringify(sandbox.files),
      );
      return result.changes === 1;
    });
  }

  updateSandbox(
    containerId: string,
    fields: { state?: 'attaching' | 'ready'; ports?: PublishedPort[] },
  ): void {
    this.#db.write(() => {
      if (fields.state)
        this.#sql('UPDATE net_sandboxes SET state = ? WHERE container_id = ?').run(fields.state, containerId);
      if (fields.ports) {
        this.#sql('UPDATE net_sandboxes SET ports = ? WHERE container_id = ?').run(
          JSON.stringify(fields.ports),
          containerId,
        );
      }
    });
  }

  deleteSandbox(containerId: string): void {
    this.#db.write(() => this.#sql('DELETE FROM net_sandboxes WHERE container_id = ?').run(containerId));
  }

  /** Host ports other sandboxes of this root publish (to refuse duplicates before the kernel would). */
  publishedPorts(exceptContainerId?: string): Array<PublishedPort & { containerId: string }> {
    const out: Array<PublishedPort & { containerId: string }> = [];
    for (const sandbox of this.listSandboxes()) {
      if (sandbox.containerId === exceptContainerId) continue;
      for (const port of sandbox.ports) out.push({ ...port, containerId: sandbox.containerId });
    }
    return out;
  }

  /** The state of a container in the containers table, or undefined when it has no row. */
  containerState(containerId: string): { name: string; state: string | undefined } | undefined {
    const columns = this.#sql("SELECT name FROM pragma_table_info('containers')").pluck().all() as string[];
    const hasState = columns.includes('state');
    const row = this.#sql(`SELECT name${hasState ? ', state' : ''} FROM containers WHERE id = ?`).get(
      containerId,
    ) as { name: string | null; state?: string } | undefined;
    if (!row) return undefined;
    return { name: row.name ?? '', state: row.state };
  }

  /** Resolves a container reference (id, name, unique id prefix) through the containers table. */
  resolveContainer(ref: string): { id: string; name: string } | undefined {
    const name = ref.startsWith('/') ? ref.slice(1) : ref;
    const exact = this.#sql('SELECT id, name FROM containers WHERE id = ? OR name = ?').get(ref, name) as
      | { id: string; name: string | null }
      | undefined;
    if (exact) return { id: exact.id, name: exact.name ?? '' };
    if (!/^[0-9a-f]+$/.test(ref)) return undefined;
    const rows = this.#sql("SELECT id, name FROM containers WHERE id LIKE ? || '%' LIMIT 2").all(
      ref,
    ) as Array<{
      id: string;
      name: string | null;
    }>;
    if (rows.length > 1) throw new ConflictError(`Cannot find container ${ref}: the id prefix is ambiguous`);
    return rows[0] ? { id: rows[0].id, name: rows[0].name ?? '' } : undefined;
  }
}
