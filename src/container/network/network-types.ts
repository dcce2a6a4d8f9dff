/**
 * What the container service hands the network layer when a container starts, and what it gets
 * back: the namespace to put in the OCI spec and the files to bind-mount.
 *
 * @example
 * const request: AttachRequest = { containerName: 'web', networkMode: 'bridge',
 *   portBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }] } };
 */
import type { PublishedPort } from './network-store.ts';
import type { PortBindings } from './port-spec.ts';

/** Per-network settings: Docker's `EndpointSettings` (the parts Wharf honours). */
export interface EndpointRequest {
  /** `--network-alias` (user-defined networks only). */
  aliases?: string[];
  /** `--ip` (user-defined networks only). */
  ipv4Address?: string;
}

export interface AttachRequest {
  /** The container's name (without the leading slash): the name peers resolve. */
  containerName: string;
  /**
   * `HostConfig.NetworkMode`: `bridge` (or `default`), or a user network's name or id. `none`,
   * `host` and `container:X` are the container service's to handle (no call here).
   */
  networkMode: string;
  /** `NetworkingConfig.EndpointsConfig`: settings per network, including extra networks to join. */
  endpoints?: Record<string, EndpointRequest>;
  /** Defaults to the first 12 characters of the id. */
  hostname?: string;
  domainname?: string;
  portBindings?: PortBindings;
  publishAllPorts?: boolean;
  /** The merged config's ExposedPorts (for `-P`). */
  exposedPorts?: Record<string, unknown>;
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** `--add-host NAME:IP` entries (`host-gateway` allowed). */
  extraHosts?: string[];
}

export interface AttachedNetwork {
  networkId: string;
  networkName: string;
  /** The interface inside the container: eth0, eth1... */
  ifname: string;
  ip: string;
  prefix: number;
  gateway: string;
  mac: string;
  aliases: string[];
  /** Docker's EndpointID (stable per container and network). */
  endpointId: string;
}

export interface AttachResult {
  /** The network namespace file: the spec's `{ mode: 'path', path }`. */
  netnsPath: string;
  hostname: string;
  networks: AttachedNetwork[];
  ports: PublishedPort[];
  /** The lines after Docker's header in /etc/hosts (extra hosts, own addresses). */
  hostsEntries: string[];
  /** The whole /etc/hosts. */
  hosts: string;
  /** The whole /etc/resolv.conf. */
  resolvConf: string;
}
