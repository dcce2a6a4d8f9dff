/**
 * Where a registry named in a reference is reached, as Docker decides it: `docker.io` is served by
 * `registry-1.docker.io` and its credentials are kept under `https://index.docker.io/v1/`;
 * loopback hosts (`localhost`, `127.0.0.0/8`, `[::1]`) and registries listed as insecure are
 * spoken to over plain HTTP, everything else over HTTPS.
 *
 * @example
 * resolveEndpoint('localhost:5000').baseUrl;  // 'http://localhost:5000'
 * resolveEndpoint('docker.io').baseUrl;       // 'https://registry-1.docker.io'
 * credentialKey('docker.io');                 // 'https://index.docker.io/v1/'
 */
import { isIPv4 } from 'node:net';
import { DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN } from '../oci/reference.ts';

/** The host that actually serves Docker Hub's registry API. */
export const DOCKER_HUB_HOST = 'registry-1.docker.io';
/** The key Docker's config.json uses for Docker Hub's credentials. */
export const DOCKER_HUB_CREDENTIAL_KEY = 'https://index.docker.io/v1/';

export interface RegistryEndpoint {
  /** The registry as references spell it: `docker.io`, `localhost:5000`. */
  domain: string;
  /** The host[:port] contacted. */
  host: string;
  scheme: 'http' | 'https';
  /** `scheme://host`, without a trailing slash. */
  baseUrl: string;
}

export interface EndpointOptions {
  /**
   * Registries to reach over plain HTTP: `host[:port]` entries, or IPv4 CIDRs (`10.0.0.0/8`),
   * like dockerd's `insecure-registries`.
   */
  insecureRegistries?: readonly string[];
}

/** The host of a `host[:port]` (brackets of an IPv6 literal kept). */
export function hostnameOf(domain: string): string {
  if (domain.startsWith('[')) {
    const close = domain.indexOf(']');
    return close < 0 ? domain : domain.slice(0, close + 1);
  }
  const colon = domain.lastIndexOf(':');
  return colon < 0 ? domain : domain.slice(0, colon);
}

/** True for `localhost`, `127.0.0.0/8` and `[::1]` (with or without a port). */
export function isLoopbackDomain(domain: string): boolean {
  const host = hostnameOf(domain).toLowerCase();
  if (host === 'localhost' || host === '[::1]' || host === '::1') return true;
  return isIPv4(host) && host.startsWith('127.');
}

function ipv4ToNumber(address: string): number {
  return address.split('.').reduce((value, part) => value * 256 + Number(part), 0);
}

function inCidr(host: string, cidr: string): boolean {
  const [network, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  if (!network || !isIPv4(network) || !isIPv4(host) || !Number.isInteger(bits) || bits < 0 || bits > 32)
    return false;
  // divide instead of shifting: JavaScript's bit operators are signed 32-bit
  const prefix = (value: number) => Math.floor(value / 2 ** (32 - bits));
  return prefix(ipv4ToNumber(host)) === prefix(ipv4ToNumber(network));
}

/** True when `domain` is on the insecure list (exact `host[:port]`, bare host, or a CIDR). */
export function isInsecureDomain(domain: string, insecure: readonly string[] = []): boolean {
  const host = hostnameOf(domain);
  for (const entry of insecure) {
    const value = entry
      .trim()
      .replace(/^https?:\/\//, '')
      .replace(/\/+$/, '');
    if (value === '') continue;
    if (value.includes('/') ? inCidr(host, value) : value === domain || value === host) return true;
  }
  return false;
}

/** The endpoint that serves `domain`'s registry API. */
export function resolveEndpoint(domain: string, options: EndpointOptions = {}): RegistryEndpoint {
  const host = domain === DEFAULT_DOMAIN || domain === LEGACY_DEFAULT_DOMAIN ? DOCKER_HUB_HOST : domain;
  const plain = isLoopbackDomain(domain) || isInsecureDomain(domain, options.insecureRegistries);
  const scheme = plain ? 'http' : 'https';
  return { domain, host, scheme, baseUrl: `${scheme}://${host}` };
}

/** The key under which Docker's config.json keeps `domain`'s credentials. */
export function credentialKey(domain: string): string {
  return domain === DEFAULT_DOMAIN || domain === LEGACY_DEFAULT_DOMAIN || domain === DOCKER_HUB_HOST
    ? DOCKER_HUB_CREDENTIAL_KEY
    : domain;
}

/**
 * The registry a config.json key or a `login` argument names, as Docker's `ConvertToHostname`
 * reads it: `https://index.docker.io/v1/` -> `docker.io`, `http://localhost:5000/v2/` ->
 * `localhost:5000`.
 */
export function domainOfKey(key: string): string {
  let value = key.trim().replace(/^https?:\/\//i, '');
  const slash = value.indexOf('/');
  if (slash >= 0) value = value.slice(0, slash);
  const lower = value.toLowerCase();
  if (lower === LEGACY_DEFAULT_DOMAIN || lower === DOCKER_HUB_HOST || lower === DEFAULT_DOMAIN)
    return DEFAULT_DOMAIN;
  return value;
}
