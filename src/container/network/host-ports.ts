/**
 * Chooses the host ports of a container's published ports. DNAT rules bind nothing, so a port
 * already in use would silently shadow its listener: each port is first checked against the
 * ports this store's other containers publish, then bound for a moment on its host address (a
 * listener or a socket of another program makes that fail). Port 0 and `-P` bind port 0 and
 * take the port the kernel gives, as Docker does.
 *
 * @example
 * await chooseHostPorts([{ containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPortStart: 0, hostPortEnd: 0 }], []);
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { ConflictError, InvalidArgumentError } from '../../errors/index.ts';
import type { PublishedPort } from './network-store.ts';
import { type PortBindings, type PortProtocol, parsePortRange, splitProtoPort } from './port-spec.ts';

export interface PortRequest {
  containerPort: number;
  protocol: PortProtocol;
  hostIp: string;
  /** 0 and 0: any port the kernel gives. */
  hostPortStart: number;
  hostPortEnd: number;
}

/** Docker's PortBindings (and, with publishAll, every exposed port) as requests. */
export function portRequests(options: {
  portBindings?: PortBindings | undefined;
  publishAllPorts?: boolean | undefined;
  exposedPorts?: Record<string, unknown> | undefined;
}): PortRequest[] {
  const requests: PortRequest[] = [];
  const bound = new Set<string>();
  for (const [key, bindings] of Object.entries(options.portBindings ?? {})) {
    const { port, protocol } = splitProtoPort(key);
    const [containerPort] = parsePortRange(port, key);
    bound.add(`${containerPort}/${protocol}`);
    for (const binding of bindings ?? [{ HostIp: '', HostPort: '' }]) {
      const [start, end] = parsePortRange(binding.HostPort ?? '', `${binding.HostPort}:${key}`);
      requests.push({
        containerPort,
        protocol,
        hostIp: binding.HostIp ?? '',
        hostPortStart: start,
        hostPortEnd: end,
      });
    }
  }
  if (options.publishAllPorts) {
    for (const key of Object.keys(options.exposedPorts ?? {})) {
      const { port, protocol } = splitProtoPort(key);
      const [start, end] = parsePortRange(port, key);
      for (let containerPort = start; containerPort <= end; containerPort++) {
        if (bound.has(`${containerPort}/${protocol}`)) continue;
        requests.push({ containerPort, protocol, hostIp: '', hostPortStart: 0, hostPortEnd: 0 });
      }
    }
  }
  for (const request of requests) {
    if (request.protocol === 'sctp') {
      throw new InvalidArgumentError(`Cannot publish ${request.containerPort}/sctp: SCTP is not supported`);
    }
  }
  return requests;
}

/** Binds `port` (0: any) on `host` for a moment; resolves with the bound port, or undefined when taken. */
function probe(protocol: PortProtocol, host: string, port: number): Promise<number | undefined> {
  const address = host === '' ? '0.0.0.0' : host;
  return new Promise((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') resolve(undefined);
      else if (error.code === 'EADDRNOTAVAIL') {
        reject(new InvalidArgumentError(`Cannot publish on ${address}: it is not an address of this host`));
      } else reject(error);
    };
    if (protocol === 'udp') {
      const socket = createSocket('udp4');
      socket.once('error', fail);
      socket.bind(port, address, () => {
        const bound = socket.address().port;
        socket.close(() => resolve(bound));
      });
    } else {
      const server = createServer();
      server.once('error', fail);
      server.listen({ port, host: address, exclusive: true }, () => {
        const info = server.address();
        const bound = typeof info === 'object' && info ? info.port : port;
        server.close(() => resolve(bound));
      });
    }
  });
}

function overlaps(a: { hostIp: string; protocol: string; hostPort: number }, b: PublishedPort): boolean {
  if (a.protocol !== b.protocol || a.hostPort !== b.hostPort) return false;
  const anyA = a.hostIp === '' || a.hostIp === '0.0.0.0';
  const anyB = b.hostIp === '' || b.hostIp === '0.0.0.0';
  return anyA || anyB || a.hostIp === b.hostIp;
}

/** Decides each request's host port, refusing ports already published or in use. */
export async function chooseHostPorts(
  requests: readonly PortRequest[],
  taken: readonly PublishedPort[],
): Promise<PublishedPort[]> {
  const chosen: PublishedPort[] = [];
  const isTaken = (candidate: { hostIp: string; protocol: string; hostPort: number }) =>
    taken.some((t) => overlaps(candidate, t)) || chosen.some((c) => overlaps(candidate, c));
  for (const request of requests) {
    const base = { containerPort: request.containerPort, protocol: request.protocol, hostIp: request.hostIp };
    let hostPort: number | undefined;
    if (request.hostPortStart === 0) {
      for (let attempt = 0; attempt < 20 && hostPort === undefined; attempt++) {
        const port = await probe(request.protocol, request.hostIp, 0);
        if (port !== undefined && !isTaken({ ...base, hostPort: port })) hostPort = port;
      }
    } else {
      for (let port = request.hostPortStart; port <= request.hostPortEnd && hostPort === undefined; port++) {
        if (isTaken({ ...base, hostPort: port })) continue;
        if ((await probe(request.protocol, request.hostIp, port)) !== undefined) hostPort = port;
      }
    }
    if (hostPort === undefined) {
      const range =
        request.hostPortStart === request.hostPortEnd
          ? `${request.hostPortStart}`
          : `${request.hostPortStart}-${request.hostPortEnd}`;
      throw new ConflictError(
        `Bind for ${request.hostIp || '0.0.0.0'}:${range} failed: port is already allocated`,
      );
    }
    chosen.push({ ...base, hostPort });
  }
  return chosen;
}
