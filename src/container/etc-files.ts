/**
 * The per-container `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf` Docker bind-mounts in:
 *
 * - hostname: the container's hostname (its short id unless `-h`, the host's with `--network host`);
 * - hosts: Docker's loopback and IPv6 lines, then `ADDRESS\tHOSTNAME` lines for the container's
 *   own addresses (none with `--network none`); with `--network host`, the host's file;
 * - resolv.conf: the host's, with localhost nameservers dropped for a private network namespace
 *   (they would point into the container); Docker's public fallback when none is left. With
 *   `--network host` the host's file as it is.
 *
 * @example
 * hostsFile({ hostname: 'abc123def456', addresses: [] });
 */
import { readFileSync } from 'node:fs';

const DOCKER_HOSTS_HEADER = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

/** Docker's fallback nameservers when the host has only local ones. */
const FALLBACK_NAMESERVERS = ['8.8.8.8', '8.8.4.4'];

export function hostsFile(options: {
  hostname: string;
  domainname?: string;
  addresses: string[];
  extra?: string[];
}): string {
  const lines = [...DOCKER_HOSTS_HEADER, ...(options.extra ?? [])];
  const names = options.domainname
    ? `${options.hostname}.${options.domainname} ${options.hostname}`
    : options.hostname;
  for (const address of options.addresses) lines.push(`${address}\t${names}`);
  return `${lines.join('\n')}\n`;
}

/** Filters a host resolv.conf for a private network namespace (see the module comment). */
export function containerResolvConf(host: string): string {
  const lines = host.split('\n');
  const kept: string[] = [];
  let nameservers = 0;
  for (const line of lines) {
    const match = /^\s*nameserver\s+(\S+)/.exec(line);
    if (match) {
      const address = match[1]!;
      if (/^127\./.test(address) || address === '::1' || address === '0.0.0.0') continue;
      nameservers++;
    }
    kept.push(line);
  }
  let text = kept.join('\n').replace(/\n+$/, '');
  if (nameservers === 0) {
    text += `${text ? '\n' : ''}${FALLBACK_NAMESERVERS.map((ns) => `nameserver ${ns}`).join('\n')}`;
  }
  return `${text}\n`;
}

/**
 * The host's resolv.conf (empty when there is none). Read synchronously, as the other small
 * files of a create: a few hundred bytes take a fraction of a millisecond, a thread-pool round
 * trip 0.1-0.9 ms quiet and milliseconds while other processes keep the cores busy.
 */
export async function hostResolvConf(): Promise<string> {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

/** The host's /etc/hosts (Docker's header when there is none); synchronous as hostResolvConf. */
export async function hostHostsFile(): Promise<string> {
  try {
    return readFileSync('/etc/hosts', 'utf8');
  } catch {
    return `${DOCKER_HOSTS_HEADER.join('\n')}\n`;
  }
}
