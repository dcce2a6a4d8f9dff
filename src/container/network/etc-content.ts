/**
 * The `/etc/hosts` and `/etc/resolv.conf` a networked container gets, as Docker writes them:
 *
 * - hosts: Docker's loopback and IPv6 lines, then `--add-host` entries (`host-gateway` is the
 *   gateway of the container's first network), then `IP\tHOSTNAME` for each of its addresses;
 * - resolv.conf on the default bridge: the host's, without loopback nameservers (they would point
 *   into the container), Docker's public fallback when none is left; `--dns`, `--dns-search` and
 *   `--dns-option` replace the host's lines of their kind;
 * - resolv.conf on a user-defined network: aardvark-dns on the gateway first (names of peers),
 *   then `--dns` servers if any; search and options as above.
 * - with `--network host` (`hostNetwork`), only when a `--dns*` flag is given (else the host's file
 *   as it is): the host's lines with those flags applied, loopback nameservers kept (they are the
 *   host's own, reachable from the host's namespace), no fallback servers.
 *
 * Pure: the host's files arrive as text.
 *
 * @example
 * resolvConfText({ host: 'nameserver 1.1.1.1\n', embeddedDns: '10.89.0.1' });
 */
import { InvalidArgumentError } from '../../errors/index.ts';
import { isIpv4 } from './ipv4.ts';

const HOSTS_HEADER = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

/** Docker's fallback when the host has only local nameservers. */
const FALLBACK_NAMESERVERS = ['8.8.8.8', '8.8.4.4'];

/** Parses `--add-host NAME:IP` (or `NAME=IP`); `host-gateway` becomes `gateway`. */
export function parseExtraHost(spec: string, gateway: string | undefined): { name: string; ip: string } {
  const separator = spec.includes('=') ? spec.indexOf('=') : spec.indexOf(':');
  if (separator <= 0) throw new InvalidArgumentError(`Cannot parse --add-host "${spec}": expected NAME:IP`);
  const name = spec.slice(0, separator);
  let ip = spec.slice(separator + 1);
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  if (ip === 'host-gateway') {
    if (!gateway)
      throw new InvalidArgumentError(`Cannot use host-gateway in "${spec}": the container has no network`);
    ip = gateway;
  }
  if (!isIpv4(ip) && !ip.includes(':')) {
    throw new InvalidArgumentError(`Cannot parse --add-host "${spec}": invalid IP address "${ip}"`);
  }
  return { name, ip };
}

/** The lines after Docker's header: extra hosts, then the container's own addresses. */
export function hostsEntries(options: {
  hostname: string;
  domainname?: string;
  addresses: readonly string[];
  extraHosts?: readonly string[];
  gateway?: string;
}): string[] {
  const lines = (options.extraHosts ?? []).map((spec) => {
    const { name, ip } = parseExtraHost(spec, options.gateway);
    return `${ip}\t${name}`;
  });
  const names = options.domainname
    ? `${options.hostname}.${options.domainname} ${options.hostname}`
    : options.hostname;
  for (const address of options.addresses) lines.push(`${address}\t${names}`);
  return lines;
}

export function hostsText(entries: readonly string[]): string {
  return `${[...HOSTS_HEADER, ...entries].join('\n')}\n`;
}

export interface ResolvConfOptions {
  /** The host's /etc/resolv.conf. */
  host: string;
  /** aardvark-dns's address on a user-defined network. */
  embeddedDns?: string;
  dns?: readonly string[];
  dnsSearch?: readonly string[];
  dnsOptions?: readonly string[];
  /** The container shares the host's network namespace (`--network host`). */
  hostNetwork?: boolean;
}

function isLoopback(address: string): boolean {
  return /^127\./.test(address) || address === '::1' || address === '0.0.0.0';
}

export function resolvConfText(options: ResolvConfOptions): string {
  const nameservers: string[] = [];
  const search: string[] = [];
  const opts: string[] = [];
  const other: string[] = [];
  for (const raw of options.host.split('\n')) {
    const line = raw.trim();
    const [key, ...values] = line.split(/\s+/);
    if (key === 'nameserver' && values[0]) {
      if (options.hostNetwork || !isLoopback(values[0])) nameservers.push(values[0]);
    } else if (key === 'search' || key === 'domain') search.push(...values);
    else if (key === 'options') opts.push(...values);
    else if (line && !line.startsWith('#') && !line.startsWith(';')) other.push(line);
  }
  let servers: string[];
  if (options.embeddedDns) servers = [options.embeddedDns, ...(options.dns ?? [])];
  else if (options.dns && options.dns.length > 0) servers = [...options.dns];
  else servers = nameservers.length > 0 || options.hostNetwork ? nameservers : FALLBACK_NAMESERVERS;
  const searchOut =
    options.dnsSearch && options.dnsSearch.length > 0 ? options.dnsSearch.filter((s) => s !== '.') : search;
  const optsOut = options.dnsOptions && options.dnsOptions.length > 0 ? options.dnsOptions : opts;
  const lines = [...other];
  if (searchOut.length) lines.push(`search ${searchOut.join(' ')}`);
  for (const server of servers) lines.push(`nameserver ${server}`);
  if (optsOut.length) lines.push(`options ${optsOut.join(' ')}`);
  return `${lines.join('\n')}\n`;
}
