/**
 * The network layer (src/container/network) plugged into the container service as a
 * ContainerHooks: the calls docs/networking.md lists, at the steps of a container's life.
 *
 *   create   the network (and each NetworkingConfig endpoint's) must exist; `-p` with
 *            `--network none` is refused, as Docker refuses it
 *   start    attachContainer (`prepare`: side by side with mounting the rootfs) -> the spec
 *            joins its netns; /etc/hosts and /etc/resolv.conf are the layer's (names,
 *            --add-host, --dns...)
 *   exit     detachContainer (`stopped`: side by side with the runtime's cleanup; also after a
 *            failed start: it is idempotent)
 *   rm       removeContainer (forgets `network connect`s too)
 *   inspect  NetworkSettings; ps: Ports and NetworkSettings.Networks
 *
 * `none`, `host` and `container:X` never load the layer: `run --network none` pays nothing for
 * it. The manager is opened (a database sweep) on first use, once per service. With `none` and
 * `host`, `--dns`, `--dns-search`, `--dns-option` and `--add-host` still shape the container's
 * resolv.conf and hosts at each start, as Docker's do (see `#ownFiles`).
 *
 * At exit and removal the namespace is deleted in the background (the port rules and rows go at
 * once): `run --rm` does not wait for the kernel to tear veths down.
 *
 * @example
 * const service = new ContainerService({ ..., hooks: [new NetworkHooks(db, root)] });
 */
import { InvalidArgumentError } from '../errors/index.ts';
import type { MetadataDatabase } from '../metadata/database.ts';
import type { ContainerHooks, StartContribution } from './container-context.ts';
import type { ContainerDefinition, ContainerRecord } from './container-records.ts';
import type { ContainerInspect, ContainerSummary, HostConfig } from './docker-types.ts';
import type { NetworkManager } from './network/network-manager.ts';

/** False for the modes the container service handles itself (no call into the layer). */
export function isLayerNetworkMode(mode: string | undefined): boolean {
  const value = mode ?? '';
  return value !== 'none' && value !== 'host' && !value.startsWith('container:');
}

/** `default` and '' are Docker's names of the default `bridge` network. */
function primaryNetwork(mode: string): string {
  return mode === '' || mode === 'default' ? 'bridge' : mode;
}

function hasPorts(hostConfig: HostConfig): boolean {
  return Object.keys(hostConfig.PortBindings ?? {}).length > 0 || hostConfig.PublishAllPorts === true;
}

/** Empty endpoint settings: how Docker shows a network of a container that is not running. */
function idleEndpoint(aliases: string[] | null | undefined, ip: string | undefined) {
  return {
    IPAMConfig: ip ? { IPv4Address: ip } : null,
    Links: null,
    Aliases: aliases?.length ? aliases : null,
    MacAddress: '',
    DriverOpts: null,
    NetworkID: '',
    EndpointID: '',
    Gateway: '',
    IPAddress: '',
    IPPrefixLen: 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    DNSNames: null,
  };
}

export class NetworkHooks implements ContainerHooks {
  readonly #db: MetadataDatabase;
  readonly #root: string;
  #manager: Promise<NetworkManager> | undefined;

  constructor(db: MetadataDatabase, root: string) {
    this.#db = db;
    this.#root = root;
  }

  /** The root's network manager, loaded and opened on first use (the open sweeps crashed attaches). */
  #open(): Promise<NetworkManager> {
    if (!this.#manager) {
      const opening = import('./network/network-manager.ts').then(({ NetworkManager }) =>
        NetworkManager.open(this.#db, this.#root),
      );
      this.#manager = opening;
      opening.catch(() => {
        if (this.#manager === opening) this.#manager = undefined;
      });
    }
    return this.#manager;
  }

  acceptsNetworkMode(mode: string): boolean {
    return isLayerNetworkMode(mode);
  }

  async create(definition: ContainerDefinition): Promise<void> {
    const hostConfig = definition.HostConfig;
    const mode = hostConfig.NetworkMode;
    const endpoints = Object.keys(definition.EndpointsConfig ?? {});
    if (!isLayerNetworkMode(mode)) {
      if (mode === 'none' && hasPorts(hostConfig)) {
        throw new InvalidArgumentError(
          'conflicting options: port publishing and the container type network mode',
        );
      }
      if (endpoints.some((name) => name !== mode)) {
        throw new InvalidArgumentError(
          `Cannot create the container: a container on network ${mode} cannot be connected to other networks`,
        );
      }
      return;
    }
    const manager = await this.#open();
    await manager.get(primaryNetwork(mode));
    for (const name of endpoints) {
      const network = await manager.get(primaryNetwork(name));
      if (network.name !== 'bridge') continue;
      // Docker's refusals, at create rather than at the first start
      const settings = definition.EndpointsConfig?.[name];
      if (settings?.Aliases?.length) {
        throw new InvalidArgumentError(
          'network-scoped alias is supported only for containers in user defined networks',
        );
      }
      if (settings?.IPAMConfig?.IPv4Address) {
        throw new InvalidArgumentError(
          'user specified IP address is supported on user defined networks only',
        );
      }
    }
  }

  /** Needs none of the container's files: attached while its root filesystem is mounted. */
  async prepare(record: ContainerRecord): Promise<StartContribution | undefined> {
    const { Config: config, HostConfig: hostConfig } = record.definition;
    if (!isLayerNetworkMode(hostConfig.NetworkMode)) return this.#ownFiles(record);
    const [manager, { attachRequestOf }] = await Promise.all([
      this.#open(),
      import('./network/container-hooks.ts'),
    ]);
    const result = await manager.attachContainer(
      record.id,
      attachRequestOf({
        name: record.name,
        config,
        hostConfig: { ...hostConfig, NetworkMode: primaryNetwork(hostConfig.NetworkMode) },
        endpointsConfig: record.definition.EndpointsConfig ?? null,
      }),
    );
    return {
      network: { mode: 'path', path: result.netnsPath },
      hosts: result.hosts,
      resolvConf: result.resolvConf,
    };
  }

  /**
   * `--network host` and `none` (the container service wrote the host's files at create): Docker
   * applies `--dns`, `--dns-search` and `--dns-option` to resolv.conf (with host networking the
   * host's file is used as it is only when none is given), and `--add-host` makes a hosts file of
   * Docker's header and those entries. Nothing to do, and nothing loaded, without those flags.
   */
  async #ownFiles(record: ContainerRecord): Promise<StartContribution | undefined> {
    const { Config: config, HostConfig: hostConfig } = record.definition;
    const mode = hostConfig.NetworkMode;
    if (mode !== 'host' && mode !== 'none') return undefined;
    const dns = hostConfig.Dns ?? [];
    const dnsSearch = hostConfig.DnsSearch ?? [];
    const dnsOptions = hostConfig.DnsOptions ?? [];
    const extraHosts = hostConfig.ExtraHosts ?? [];
    const resolv = dns.length > 0 || dnsSearch.length > 0 || dnsOptions.length > 0;
    if (!resolv && extraHosts.length === 0) return undefined;
    const [{ hostsEntries, hostsText, resolvConfText }, { readFile }] = await Promise.all([
      import('./network/etc-content.ts'),
      import('node:fs/promises'),
    ]);
    const contribution: StartContribution = {};
    if (resolv) {
      contribution.resolvConf = resolvConfText({
        host: await readFile('/etc/resolv.conf', 'utf8').catch(() => ''),
        dns,
        dnsSearch,
        dnsOptions,
        hostNetwork: mode === 'host',
      });
    }
    if (extraHosts.length > 0) {
      contribution.hosts = hostsText(
        hostsEntries({ hostname: config.Hostname ?? record.id.slice(0, 12), addresses: [], extraHosts }),
      );
    }
    return contribution;
  }

  /**
   * Detached while the runtime forgets the container and its root filesystem is unmounted; the
   * namespace itself is deleted in the background.
   */
  /** The container runs: replace the pool's spare its attach took (off the start's path). */
  running(record: ContainerRecord): void {
    if (!isLayerNetworkMode(record.definition.HostConfig.NetworkMode) || !this.#manager) return;
    void this.#manager.then((manager) => manager.fillPools()).catch(() => undefined);
  }

  async stopped(record: ContainerRecord): Promise<void> {
    if (!isLayerNetworkMode(record.definition.HostConfig.NetworkMode)) return;
    await (await this.#open()).detachContainer(record.id, { background: true });
  }

  async remove(record: ContainerRecord): Promise<void> {
    if (!isLayerNetworkMode(record.definition.HostConfig.NetworkMode)) return;
    await (await this.#open()).removeContainer(record.id, { background: true });
  }

  async inspect(record: ContainerRecord, view: ContainerInspect): Promise<void> {
    const { Config: config, HostConfig: hostConfig } = record.definition;
    if (!isLayerNetworkMode(hostConfig.NetworkMode)) return;
    const [manager, { networkSettingsOf }] = await Promise.all([
      this.#open(),
      import('./network/container-hooks.ts'),
    ]);
    const settings = networkSettingsOf(manager, record.id, config.ExposedPorts);
    this.#completeNetworks(record, settings.Networks);
    // as Docker: ports (exposed ones too) only while the container has its network
    if (!settings.SandboxKey) settings.Ports = {};
    view.NetworkSettings = settings;
  }

  async summary(record: ContainerRecord, summary: ContainerSummary): Promise<void> {
    const { Config: config, HostConfig: hostConfig } = record.definition;
    if (!isLayerNetworkMode(hostConfig.NetworkMode)) return;
    const [manager, { networkSettingsOf, portSummariesOf }] = await Promise.all([
      this.#open(),
      import('./network/container-hooks.ts'),
    ]);
    const networks = networkSettingsOf(manager, record.id, config.ExposedPorts).Networks;
    this.#completeNetworks(record, networks);
    summary.NetworkSettings = { Networks: networks };
    const ports: Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }> =
      portSummariesOf(manager, record.id);
    // while it has its network, Docker lists the exposed ports that are not published too
    if (manager.store.findSandbox(record.id)) {
      const published = new Set(ports.map((port) => `${port.PrivatePort}/${port.Type}`));
      for (const key of Object.keys(config.ExposedPorts ?? {})) {
        const [port = '', type = 'tcp'] = key.split('/');
        if (!published.has(`${port}/${type}`)) ports.push({ PrivatePort: Number(port), Type: type });
      }
    }
    summary.Ports = ports;
  }

  /**
   * The networks of a container that never started (its endpoint rows are made by the first
   * attach) as Docker shows them, and the short id among the aliases of user networks, which
   * Docker adds before API 1.45 (docker-compose 1.29 checks it to know a container is set up).
   */
  #completeNetworks(record: ContainerRecord, networks: Record<string, { Aliases: string[] | null }>): void {
    const endpoints = record.definition.EndpointsConfig ?? {};
    const primary = primaryNetwork(record.definition.HostConfig.NetworkMode);
    if (record.generation === 0 || Object.keys(networks).length === 0) {
      for (const name of [primary, ...Object.keys(endpoints)]) {
        const key = primaryNetwork(name);
        if (networks[key]) continue;
        const settings = endpoints[name] ?? endpoints[key];
        networks[key] = idleEndpoint(settings?.Aliases, settings?.IPAMConfig?.IPv4Address);
      }
    }
    const shortId = record.id.slice(0, 12);
    for (const [name, settings] of Object.entries(networks)) {
      if (name === 'bridge' || settings.Aliases?.includes(shortId)) continue;
      settings.Aliases = [...(settings.Aliases ?? []), shortId];
    }
  }
}
