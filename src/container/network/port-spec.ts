/**
 * Docker's `-p`/`--publish` grammar, turned into Docker's `ExposedPorts` and `PortBindings`
 * shapes (moby's `nat.ParsePortSpecs`):
 *
 *   80                      container port 80/tcp, host port chosen by the kernel
 *   8080:80                 host 8080 -> container 80, on every host address
 *   127.0.0.1:8080:80/udp   host 127.0.0.1:8080 -> container 80/udp
 *   127.0.0.1::80           host port chosen by the kernel, on 127.0.0.1 only
 *   8000-8002:80-82         three bindings, one per port
 *   8000-8010:80            one binding: the first free host port of 8000-8010
 *
 * Pure: the network layer decides the actual host ports when the container starts.
 *
 * @example
 * parsePortSpecs(['127.0.0.1:8080:80']).portBindings; // { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }] }
 */
import { InvalidArgumentError } from '../../errors/index.ts';
import { isIpv4 } from './ipv4.ts';

export type PortProtocol = 'tcp' | 'udp' | 'sctp';

/** Docker's `PortBinding`: `HostPort` is a port, a range `A-B`, or '' for kernel-chosen. */
export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

export type PortBindings = Record<string, PortBinding[]>;

export interface ParsedPortSpecs {
  exposedPorts: Record<string, Record<string, never>>;
  portBindings: PortBindings;
}

function parsePort(text: string, spec: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new InvalidArgumentError(`Cannot parse port specification "${spec}": invalid port "${text}"`);
  }
  return Number(text);
}

/** `A` or `A-B` -> [A, B]; '' -> [0, 0]. */
export function parsePortRange(text: string, spec: string): [number, number] {
  if (text === '') return [0, 0];
  const dash = text.indexOf('-');
  if (dash < 0) {
    const port = parsePort(text, spec);
    return [port, port];
  }
  const start = parsePort(text.slice(0, dash), spec);
  const end = parsePort(text.slice(dash + 1), spec);
  if (end < start) throw new InvalidArgumentError(`Cannot parse port specification "${spec}": invalid range`);
  return [start, end];
}

/** Splits `PORT[/PROTO]` (Docker's `nat.SplitProtoPort`). */
export function splitProtoPort(text: string): { port: string; protocol: PortProtocol } {
  const slash = text.indexOf('/');
  if (slash < 0) return { port: text, protocol: 'tcp' };
  const protocol = text.slice(slash + 1).toLowerCase();
  if (protocol !== 'tcp' && protocol !== 'udp' && protocol !== 'sctp') {
    throw new InvalidArgumentError(`Cannot parse port "${text}": invalid protocol "${protocol}"`);
  }
  return { port: text.slice(0, slash), protocol };
}

/** Parses one `-p` value into `(containerPort/proto, binding)` pairs. */
export function parsePortSpec(spec: string): Array<{ port: string; binding: PortBinding }> {
  const { port: rest, protocol } = splitProtoPort(spec.trim());
  let hostIp = '';
  let hostPart = '';
  let containerPart = rest;
  // IPv6 host addresses come bracketed: [::1]:8080:80
  const bracket = /^\[([^\]]+)\]:(.*)$/.exec(rest);
  if (bracket) {
    throw new InvalidArgumentError(
      `Cannot publish port "${spec}": IPv6 host addresses are not supported yet`,
    );
  }
  const parts = rest.split(':');
  if (parts.length === 2) {
    hostPart = parts[0]!;
    containerPart = parts[1]!;
  } else if (parts.length === 3) {
    hostIp = parts[0]!;
    hostPart = parts[1]!;
    containerPart = parts[2]!;
  } else if (parts.length > 3) {
    throw new InvalidArgumentError(`Cannot parse port specification "${spec}": too many colons`);
  }
  if (hostIp !== '' && !isIpv4(hostIp)) {
    throw new InvalidArgumentError(
      `Cannot parse port specification "${spec}": invalid IP address "${hostIp}"`,
    );
  }
  if (containerPart === '') {
    throw new InvalidArgumentError(`Cannot parse port specification "${spec}": no container port`);
  }
  const [cStart, cEnd] = parsePortRange(containerPart, spec);
  const [hStart, hEnd] = parsePortRange(hostPart, spec);
  const containerCount = cEnd - cStart + 1;
  const hostCount = hEnd - hStart + 1;
  if (hostPart !== '' && containerCount > 1 && hostCount !== containerCount) {
    throw new InvalidArgumentError(
      `Cannot parse port specification "${spec}": host and container port ranges differ in size`,
    );
  }
  const out: Array<{ port: string; binding: PortBinding }> = [];
  for (let i = 0; i < containerCount; i++) {
    let hostPort = '';
    if (hostPart !== '') {
      if (containerCount === 1 && hostCount > 1) hostPort = `${hStart}-${hEnd}`;
      else hostPort = String(hStart + i);
    }
    out.push({ port: `${cStart + i}/${protocol}`, binding: { HostIp: hostIp, HostPort: hostPort } });
  }
  return out;
}

/** Parses every `-p` value of a command line into Docker's `ExposedPorts` and `PortBindings`. */
export function parsePortSpecs(specs: readonly string[]): ParsedPortSpecs {
  const exposedPorts: Record<string, Record<string, never>> = {};
  const portBindings: PortBindings = {};
  for (const spec of specs) {
    for (const { port, binding } of parsePortSpec(spec)) {
      exposedPorts[port] = {};
      (portBindings[port] ??= []).push(binding);
    }
  }
  return { exposedPorts, portBindings };
}
