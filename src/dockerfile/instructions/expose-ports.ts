/**
 * EXPOSE port words to image-config port keys (`80/tcp`), as BuildKit's dispatchExpose parses
 * them (dockerfile2llb/convert_expose.go): `port[/proto]`, ranges `8000-8010`, and the tolerated
 * `[ip:]host:container` forms; the protocol defaults to tcp and is lowercased.
 */
import { isIP } from 'node:net';
import { goQuote } from '../parser/go-quote.ts';

/** A port word BuildKit would refuse; the message is BuildKit's. */
export class PortError extends Error {}

function parsePortNumber(raw: string): number {
  if (raw === '') throw new Error('value is empty');
  if (!/^[+-]?[0-9]+$/.test(raw)) throw new Error('invalid syntax');
  const n = Number(raw);
  if (!Number.isSafeInteger(n) && Math.abs(n) > 2 ** 63) throw new Error('value out of range');
  if (n < 0 || n > 65535) throw new Error('value out of range (0–65535)');
  return n;
}

function parsePortRange(ports: string): [number, number] {
  if (ports === '') throw new Error('empty string specified for ports');
  const dash = ports.indexOf('-');
  const start = dash < 0 ? ports : ports.slice(0, dash);
  const end = dash < 0 ? '' : ports.slice(dash + 1);
  let startPort: number;
  try {
    startPort = parsePortNumber(start);
  } catch (error) {
    throw new Error(`invalid start port '${start}': ${(error as Error).message}`);
  }
  if (dash < 0 || start === end) return [startPort, startPort];
  let endPort: number;
  try {
    endPort = parsePortNumber(end);
  } catch (error) {
    throw new Error(`invalid end port '${end}': ${(error as Error).message}`);
  }
  if (endPort < startPort) throw new Error(`invalid port range: ${ports}`);
  return [startPort, endPort];
}

function splitParts(raw: string): [string, string, string] {
  const parts = raw.split(':');
  if (parts.length === 1) return ['', '', parts[0]!];
  if (parts.length === 2) return ['', parts[0]!, parts[1]!];
  const n = parts.length;
  return [parts.slice(0, n - 2).join(':'), parts[n - 2]!, parts[n - 1]!];
}

/**
 * The config keys for one port word.
 *
 * @example
 * parseExposedPort('8000-8002/UDP'); // ['8000/udp', '8001/udp', '8002/udp']
 */
export function parseExposedPort(raw: string): string[] {
  let [ip, hostPort, containerPort] = splitParts(raw);
  const slash = containerPort.indexOf('/');
  const port = slash < 0 ? containerPort : containerPort.slice(0, slash);
  let proto = slash < 0 ? '' : containerPort.slice(slash + 1);
  if (port === '') throw new PortError(`invalid port: ${goQuote(raw)}: no port specified`);
  const lower = proto.toLowerCase();
  if (lower === '') proto = 'tcp';
  else if (lower !== 'tcp' && lower !== 'udp' && lower !== 'sctp') {
    throw new PortError(`invalid port: ${goQuote(raw)}: invalid proto: ${proto}`);
  }
  containerPort = port;
  if (ip.startsWith('[')) {
    const close = ip.indexOf(']');
    if (close < 0 || close !== ip.length - 1) throw new PortError(`invalid IP address ${ip}`);
    ip = ip.slice(1, close);
  }
  if (ip !== '' && isIP(ip) === 0) throw new PortError(`invalid IP address: ${ip}`);
  let start: number;
  let end: number;
  try {
    [start, end] = parsePortRange(containerPort);
  } catch {
    throw new PortError(`invalid containerPort: ${containerPort}`);
  }
  if (hostPort !== '') {
    let hostStart: number;
    let hostEnd: number;
    try {
      [hostStart, hostEnd] = parsePortRange(hostPort);
    } catch {
      throw new PortError(`invalid hostPort: ${hostPort}`);
    }
    if (end - start !== hostEnd - hostStart && end !== start) {
      throw new PortError(
        `invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`,
      );
    }
  }
  const keys: string[] = [];
  for (let p = start; p <= end; p++) keys.push(`${p}/${proto.toLowerCase()}`);
  return keys;
}

/** The config keys for several port words, in order. */
export function parseExposedPorts(ports: readonly string[]): string[] {
  return ports.flatMap((port) => parseExposedPort(port));
}
