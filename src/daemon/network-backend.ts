/**
 * The `/networks` routes over the engine's network service: Docker's request bodies (create,
 * connect, disconnect) read leniently and turned into the service's arguments; its answers are
 * already Docker's `Network` shapes. The service is opened on first use (opening sweeps what
 * crashed processes left, which a daemon that serves no network request need not pay).
 *
 * @example
 * const networks = new DaemonNetworks(engine);
 * await networks.create({ Name: 'app_default', Driver: 'bridge', Labels: {} });
 */
import type { LocalEngine } from '../engine/local-engine.ts';
import {
  type NetworkCreateRequest,
  type NetworkService,
  openNetworkService,
} from '../engine/network-service.ts';
import type { Filters, JsonObject } from '../engine-api/routes/json-types.ts';
import type { NetworkBackend } from '../engine-api/routes/network-routes.ts';
import { InvalidArgumentError, NotFoundError } from '../errors/index.ts';

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(body: JsonObject, field: string, action: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string')
    throw new InvalidArgumentError(`Cannot ${action}: ${field} must be a string`);
  return value;
}

function stringMap(value: unknown, field: string, action: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw new InvalidArgumentError(`Cannot ${action}: ${field} must be an object`);
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string')
      throw new InvalidArgumentError(`Cannot ${action}: ${field}.${key} must be a string`);
    out[key] = item;
  }
  return out;
}

/** Docker's NetworkCreateRequest, with nulls where clients send them (compose sends many). */
export function networkCreateRequest(body: JsonObject): NetworkCreateRequest {
  const action = 'create a network';
  const name = text(body, 'Name', action);
  if (!name) throw new InvalidArgumentError(`Cannot ${action}: Name is required`);
  const request: NetworkCreateRequest = { Name: name };
  const driver = text(body, 'Driver', action);
  if (driver) request.Driver = driver;
  if (body.Internal === true) request.Internal = true;
  if (body.EnableIPv6 === true) request.EnableIPv6 = true;
  const options = stringMap(body.Options, 'Options', action);
  if (options) request.Options = options;
  const labels = stringMap(body.Labels, 'Labels', action);
  if (labels) request.Labels = labels;
  const ipam = body.IPAM;
  if (isObject(ipam)) {
    const ipamDriver = text(ipam, 'Driver', action);
    if (ipamDriver && ipamDriver !== 'default') {
      throw new InvalidArgumentError(`Cannot ${action}: IPAM driver ${ipamDriver} is not supported`);
    }
    if (Array.isArray(ipam.Config)) {
      request.IPAM = {
        Config: ipam.Config.filter(isObject).map((config) => {
          const entry: { Subnet?: string; Gateway?: string; IPRange?: string } = {};
          const subnet = text(config, 'Subnet', action);
          const gateway = text(config, 'Gateway', action);
          const range = text(config, 'IPRange', action);
          if (subnet) entry.Subnet = subnet;
          if (gateway) entry.Gateway = gateway;
          if (range) entry.IPRange = range;
          return entry;
        }),
      };
    }
  }
  return request;
}

export class DaemonNetworks implements NetworkBackend {
  readonly #engine: LocalEngine;
  #service: Promise<NetworkService> | undefined;

  constructor(engine: LocalEngine) {
    this.#engine = engine;
  }

  #open(): Promise<NetworkService> {
    this.#service ??= openNetworkService(this.#engine);
    this.#service.catch(() => {
      this.#service = undefined;
    });
    return this.#service;
  }

  async list(filters: Filters): Promise<JsonObject[]> {
    return (await (await this.#open()).list(filters)) as unknown as JsonObject[];
  }

  async inspect(id: string, options: { verbose: boolean; scope?: string }): Promise<JsonObject> {
    // every Wharf network is local: asking for another scope finds none (as dockerd answers)
    if (options.scope !== undefined && options.scope !== 'local') {
      throw new NotFoundError(`network ${id} not found`);
    }
    return (await (await this.#open()).inspect(id)) as unknown as JsonObject;
  }

  async create(body: JsonObject): Promise<{ Id: string; Warning: string }> {
    const request = networkCreateRequest(body);
    return (await this.#open()).create(request);
  }

  async remove(id: string): Promise<void> {
    await (await this.#open()).remove(id);
  }

  async connect(id: string, body: JsonObject): Promise<void> {
    const action = 'connect a container to a network';
    const container = text(body, 'Container', action);
    if (!container) throw new InvalidArgumentError(`Cannot ${action}: Container is required`);
    const settings: { aliases?: string[]; ipv4Address?: string } = {};
    const endpoint = body.EndpointConfig;
    if (isObject(endpoint)) {
      if (Array.isArray(endpoint.Aliases)) {
        const aliases = endpoint.Aliases.filter((alias): alias is string => typeof alias === 'string');
        if (aliases.length > 0) settings.aliases = aliases;
      }
      const ipam = endpoint.IPAMConfig;
      if (isObject(ipam)) {
        const address = text(ipam, 'IPv4Address', action);
        if (address) settings.ipv4Address = address;
      }
    }
    await (await this.#open()).connect(id, container, settings);
  }

  async disconnect(id: string, body: JsonObject): Promise<void> {
    const action = 'disconnect a container from a network';
    const container = text(body, 'Container', action);
    if (!container) throw new InvalidArgumentError(`Cannot ${action}: Container is required`);
    await (await this.#open()).disconnect(id, container, body.Force === true);
  }

  async prune(filters: Filters): Promise<{ NetworksDeleted: string[] | null }> {
    const { NetworksDeleted } = await (await this.#open()).prune(filters);
    return { NetworksDeleted: NetworksDeleted.length > 0 ? NetworksDeleted : null };
  }
}
