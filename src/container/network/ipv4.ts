/**
 * IPv4 addresses and CIDR blocks as unsigned 32-bit numbers: parsing, formatting, containment and
 * overlap, the arithmetic IPAM and the subnet picker need. Pure. (Wharf's networks are IPv4 only
 * for now; see docs/networking.md.)
 *
 * @example
 * const net = parseCidr('10.88.0.0/16');
 * formatIpv4(net.network + 2); // '10.88.0.2'
 * cidrContains(net, parseIpv4('10.88.3.4')); // true
 */
import { InvalidArgumentError } from '../../errors/index.ts';

export interface Cidr {
  /** The network address (host bits cleared). */
  network: number;
  prefix: number;
}

export function parseIpv4(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4) throw new InvalidArgumentError(`Cannot parse IPv4 address "${text}"`);
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) {
      throw new InvalidArgumentError(`Cannot parse IPv4 address "${text}"`);
    }
    value = value * 256 + Number(part);
  }
  return value;
}

export function isIpv4(text: string): boolean {
  try {
    parseIpv4(text);
    return true;
  } catch {
    return false;
  }
}

export function formatIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses `A.B.C.D/N`; host bits must be zero unless `lenient` (then they are cleared). */
export function parseCidr(text: string, options: { lenient?: boolean } = {}): Cidr {
  const match = /^([\d.]+)\/(\d{1,2})$/.exec(text.trim());
  if (!match || Number(match[2]) > 32) {
    throw new InvalidArgumentError(`Cannot parse subnet "${text}": expected A.B.C.D/N (IPv4)`);
  }
  const prefix = Number(match[2]);
  const address = parseIpv4(match[1]!);
  const network = (address & maskOf(prefix)) >>> 0;
  if (network !== address && !options.lenient) {
    throw new InvalidArgumentError(
      `Cannot use subnet "${text}": host bits are set (did you mean ${formatCidr({ network, prefix })}?)`,
    );
  }
  return { network, prefix };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIpv4(cidr.network)}/${cidr.prefix}`;
}

/** The number of addresses in the block. */
export function cidrSize(cidr: Cidr): number {
  return 2 ** (32 - cidr.prefix);
}

/** The last address of the block (its broadcast address). */
export function cidrLast(cidr: Cidr): number {
  return cidr.network + cidrSize(cidr) - 1;
}

export function cidrContains(cidr: Cidr, address: number): boolean {
  return address >= cidr.network && address <= cidrLast(cidr);
}

/** True when `inner` lies wholly inside `outer`. */
export function cidrWithin(inner: Cidr, outer: Cidr): boolean {
  return cidrContains(outer, inner.network) && cidrContains(outer, cidrLast(inner));
}

export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  return a.network <= cidrLast(b) && b.network <= cidrLast(a);
}

/** A locally administered MAC derived from the address, as Docker does (`02:42:` + the four bytes). */
export function macForIpv4(address: number): string {
  const bytes = [0x02, 0x42, address >>> 24, (address >>> 16) & 255, (address >>> 8) & 255, address & 255];
  return bytes.map((byte) => byte.toString(16).padStart(2, '0')).join(':');
}
