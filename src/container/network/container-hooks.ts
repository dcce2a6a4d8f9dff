/**
 * The seam between the container service and the network layer, in Docker's vocabulary: which
 * network modes need the layer, the attach request a container's Config/HostConfig make, and
 * the `NetworkSettings` (inspect) and `Ports` (ps) views of an attached container.
 *
 * The container service's calls, in order:
 *
 *   start   if (usesNetworkLayer(mode)) result = await manager.attachContainer(id, attachRequestOf(...))
 *           spec network = { mode: 'path', path: result.netnsPath }; write result.hosts and
 *           result.resolvConf to the container's hosts and resolv.conf files (bind-mounted)
 *   exit    await manager.detachContainer(id, { background: true })   (conmon's exit command:
 *           `container cleanup`; the namespace is deleted by the pool keeper, see netns-pool.ts)
 *   rm      await manager.removeContainer(id, { background: true })   (also forgets `network connect`s)
 *
 * @example
 * const request = attachRequestOf({ name: 'web', config, hostConfig });
 * const result = await manager.attachContainer(id, request);
 */
import type { HostConfig } from '../docker-types.ts';
import { DEFAULT_NETWORK, endpointId, type NetworkManager } from './network-manager.ts';
import type { AttachRequest } from './network-types.ts';

/** The Docker fields the network layer reads (a subset of Config, HostConfig, NetworkingConfig). */
export interface DockerNetworkFields {
  /** The container's name, with or without Docker's leading slash. */
  name: string;
  config: {
    Hostname?: string;
    Domainname?: string;
    ExposedPorts?: Record<string, unknown> | null;
  };
  hostConfig: Partial<
    Pick<
      HostConfig,
      'NetworkMode' | 'PortBindings' | 'PublishAllPorts' | 'Dns' | 'DnsSearch' | 'DnsOptions' | 'ExtraHosts'
    >
  >;
  /** `NetworkingConfig.EndpointsConfig` of the create request (aliases, --ip). */
  endpointsConfig?: Record<
    string,
    { Aliases?: string[] | null; IPAMConfig?: { IPv4Address?: string } | null }
  > | null;
}

/** False for `none`, `host` and `container:X`, which need no call into the network layer. */
export function usesNetworkLayer(networkMode: string | undefined): boolean {
  const mode = networkMode ?? '';
  return mode !== 'none' && mode !== 'host' && !mode.startsWith('container:');
}

export function attachRequestOf(fields: DockerNetworkFields): AttachRequest {
  const { config, hostConfig } = fields;
  const request: AttachRequest = {
    containerName: fields.name.replace(/^\//, ''),
    networkMode: hostConfig.NetworkMode || DEFAULT_NETWORK,
  };
  if (config.Hostname) request.hostname = config.Hostname;
  if (config.Domainname) request.domainname = config.Domainname;
  if (hostConfig.PortBindings) request.portBindings = hostConfig.PortBindings;
  if (hostConfig.PublishAllPorts) request.publishAllPorts = true;
  if (config.ExposedPorts) request.exposedPorts = config.ExposedPorts;
  if (hostConfig.Dns?.length) request.dns = hostConfig.Dns;
  if (hostConfig.DnsSearch?.length) request.dnsSearch = hostConfig.DnsSearch;
  if (hostConfig.DnsOptions?.length) request.dnsOptions = hostConfig.DnsOptions;
  if (hostConfig.ExtraHosts?.length) request.extraHosts = hostConfig.ExtraHosts;
  if (fields.endpointsConfig) {
    request.endpoints = {};
    for (const [network, settings] of Object.entries(fields.endpointsConfig)) {
      const endpoint: { aliases?: string[]; ipv4Address?: string } = {};
      if (settings.Aliases?.length) endpoint.aliases = settings.Aliases;
      if (settings.IPAMConfig?.IPv4Address) endpoint.ipv4Address = settings.IPAMConfig.IPv4Address;
      request.endpoints[network] = endpoint;
    }
  }
  return request;
}

/** Docker's `EndpointSettings` in `NetworkSettings.Networks`. */
export interface EndpointSettingsView {
  IPAMConfig: { IPv4Address: string } | null;
  Links: null;
  Aliases: string[] | null;
  MacAddress: string;
  DriverOpts: null;
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  DNSNames: string[] | null;
}

/** Docker's `NetworkSettings` of `container inspect`. */
export interface NetworkSettingsView {
  Bridge: string;
  SandboxID: string;
  SandboxKey: string;
  Ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null>;
  HairpinMode: boolean;
  LinkLocalIPv6Address: string;
  LinkLocalIPv6PrefixLen: number;
  SecondaryIPAddresses: null;
  SecondaryIPv6Addresses: null;
  EndpointID: string;
  Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  MacAddress: string;
  Networks: Record<string, EndpointSettingsView>;
}

/**
 * The container's `NetworkSettings` (addresses only while attached, as Docker shows them).
 * `exposedPorts` (the merged Config.ExposedPorts) lists unpublished ports as `null`.
 */
export function networkSettingsOf(
  manager: NetworkManager,
  containerId: string,
  exposedPorts?: Record<string, unknown> | null,
): NetworkSettingsView {
  const state = manager.containerState(containerId);
  const sandbox = state.sandbox;
  const ports: NetworkSettingsView['Ports'] = {};
  for (const key of Object.keys(exposedPorts ?? {})) ports[key.includes('/') ? key : `${key}/tcp`] = null;
  for (const port of sandbox?.ports ?? []) {
    const key = `${port.containerPort}/${port.protocol}`;
    const list = ports[key] ?? [];
    list.push({ HostIp: port.hostIp || '0.0.0.0', HostPort: String(port.hostPort) });
    ports[key] = list;
  }
  const networks: Record<string, EndpointSettingsView> = {};
  for (const endpoint of state.endpoints) {
    const attached = sandbox !== undefined && endpoint.ip !== undefined;
    const dnsNames = endpoint.network.dns
      ? [endpoint.containerName, containerId.slice(0, 12), ...endpoint.aliases]
      : null;
    networks[endpoint.network.name] = {
      IPAMConfig: endpoint.staticIp ? { IPv4Address: endpoint.staticIp } : null,
      Links: null,
      Aliases: endpoint.aliases.length ? endpoint.aliases : null,
      MacAddress: attached ? (endpoint.mac ?? '') : '',
      DriverOpts: null,
      NetworkID: endpoint.network.id,
      EndpointID: attached ? endpointId(containerId, endpoint.network.id) : '',
      Gateway: attached ? endpoint.network.gateway : '',
      IPAddress: attached ? (endpoint.ip ?? '') : '',
      IPPrefixLen: attached ? Number(endpoint.network.subnet.split('/')[1]) : 0,
      IPv6Gateway: '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      DNSNames: attached ? dnsNames : null,
    };
  }
  // Docker fills the top-level (deprecated) fields from the default bridge only
  const bridge = networks[DEFAULT_NETWORK];
  return {
    Bridge: '',
    SandboxID: sandbox ? endpointId(containerId, 'sandbox') : '',
    SandboxKey: sandbox?.netns ?? '',
    Ports: ports,
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: bridge?.EndpointID ?? '',
    Gateway: bridge?.Gateway ?? '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    IPAddress: bridge?.IPAddress ?? '',
    IPPrefixLen: bridge?.IPPrefixLen ?? 0,
    IPv6Gateway: '',
    MacAddress: bridge?.MacAddress ?? '',
    Networks: networks,
  };
}

/** Docker's `Port` entries of `GET /containers/json` (`docker ps`). */
export function portSummariesOf(
  manager: NetworkManager,
  containerId: string,
): Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }> {
  return manager.ports(containerId).map((port) => ({
    IP: port.hostIp || '0.0.0.0',
    PrivatePort: port.containerPort,
    PublicPort: port.hostPort,
    Type: port.protocol,
  }));
}
