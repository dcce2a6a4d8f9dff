/**
 * The daemon's configuration, from `wharf system service` flags: where to listen (Docker's `-H`
 * syntax), the store root, the pid file, the socket's group, logging. Listening is limited to
 * unix sockets and loopback TCP: the Engine API has no TLS and no authentication here, and
 * whoever reaches it is root on the host.
 *
 * @example
 * parseHost('unix:///run/wharf/wharf.sock'); // { kind: 'unix', path: '/run/wharf/wharf.sock' }
 * parseHost('tcp://127.0.0.1:2375');         // { kind: 'tcp', host: '127.0.0.1', port: 2375 }
 */
import { isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { InvalidArgumentError } from '../errors/index.ts';

export const DEFAULT_SOCKET = '/run/wharf/wharf.sock';
export const DEFAULT_HOST = `unix://${DEFAULT_SOCKET}`;

export type ListenAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export interface DaemonConfig {
  root: string;
  hosts: ListenAddress[];
  pidFile: string;
  /** Group owning the unix sockets (Docker's `--group`); none keeps root's. */
  socketGroup?: string;
  /** pino level: trace, debug, info, warn, error, fatal. */
  logLevel: string;
  /** Wharf's version, reported by `/version`. */
  version: string;
  /** How long requests in flight get to finish on SIGTERM before connections are dropped. */
  shutdownGraceMs: number;
}

const LOOPBACK_NAMES = new Set(['localhost', 'ip6-localhost']);

function isLoopback(host: string): boolean {
  if (LOOPBACK_NAMES.has(host)) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1';
  return false;
}

/** One `-H` value: `unix:///path`, a bare absolute path, or `tcp://HOST:PORT` on loopback. */
export function parseHost(value: string): ListenAddress {
  if (value.startsWith('/')) return { kind: 'unix', path: value };
  if (value.startsWith('unix://')) {
    const path = value.slice('unix://'.length);
    if (path === '') return { kind: 'unix', path: DEFAULT_SOCKET };
    return { kind: 'unix', path: resolve(path) };
  }
  if (value.startsWith('tcp://')) {
    const rest = value.slice('tcp://'.length).replace(/\/$/, '');
    const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(rest);
    const plain = /^([^:]*):(\d+)$/.exec(rest);
    const match = bracketed ?? plain;
    if (!match) throw new InvalidArgumentError(`Cannot listen on ${value}: expected tcp://HOST:PORT`);
    const host = match[1] || '127.0.0.1';
    const port = Number(match[2]);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new InvalidArgumentError(`Cannot listen on ${value}: invalid port`);
    }
    if (!isLoopback(host)) {
      throw new InvalidArgumentError(
        `Cannot listen on ${value}: the Engine API has no TLS or authentication, so only loopback addresses (127.0.0.1, ::1) are allowed`,
      );
    }
    return { kind: 'tcp', host, port };
  }
  throw new InvalidArgumentError(`Cannot listen on ${value}: expected unix:///PATH or tcp://127.0.0.1:PORT`);
}

/** The pid file beside the first unix socket (Docker's /var/run/docker.pid), else in the root. */
export function defaultPidFile(hosts: readonly ListenAddress[], root: string): string {
  const socket = hosts.find((host) => host.kind === 'unix');
  return socket ? join(dirname(socket.path), 'wharf.pid') : join(root, 'wharf.pid');
}

export function formatAddress(address: ListenAddress): string {
  return address.kind === 'unix'
    ? `unix://${address.path}`
    : `tcp://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}
