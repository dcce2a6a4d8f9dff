/**
 * The tar format of OCI layers (POSIX pax over ustar), encoded by hand rather than with tar-stream:
 * tar-stream reads and writes pax values as UTF-8 strings, which corrupts binary extended
 * attributes such as `security.capability` (a 0x80 byte becomes U+FFFD). Here pax values stay raw
 * bytes, records are sorted, and every numeric field has one spelling, so one header always gives
 * the same 512-byte blocks.
 *
 * @example
 * const blocks = encodeTarHeader({ name: 'etc/hosts', type: 'file', mode: 0o644, uid: 0, gid: 0,
 *   size: 12, mtime: 0, linkname: '', devmajor: 0, devminor: 0, xattrs: new Map() });
 */
import { InvalidArgumentError } from '../../errors/index.ts';

export const TAR_BLOCK = 512;

export type TarEntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

/** One tar entry's metadata, after pax and GNU long-name records are folded in. */
export interface TarHeader {
  /** Path inside the archive, no leading `./`; directories may end with `/`. */
  name: string;
  type: TarEntryType;
  /** Permission bits plus setuid/setgid/sticky (no file-type bits). */
  mode: number;
  uid: number;
  gid: number;
  /** Body length in bytes (0 for everything but files). */
  size: number;
  /** Modification time in whole seconds since the epoch. */
  mtime: number;
  /** Symlink target or hardlink target path. */
  linkname: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes (`SCHILY.xattr.*` pax records), raw values. */
  xattrs: Map<string, Buffer>;
}

const TYPE_FLAGS: Record<TarEntryType, number> = {
  file: 0x30, // '0'
  link: 0x31,
  symlink: 0x32,
  char: 0x33,
  block: 0x34,
  dir: 0x35,
  fifo: 0x36,
};

export const PAX_XATTR_PREFIX = 'SCHILY.xattr.';
const USTAR_MAGIC = Buffer.from('ustar\x0000', 'latin1');
const ZERO_BLOCK = Buffer.alloc(TAR_BLOCK);
/** The two zero blocks that end an archive. */
export const TAR_TRAILER = Buffer.alloc(TAR_BLOCK * 2);

/** Zero bytes that pad `size` up to the next block boundary. */
export function tarPadding(size: number): Buffer {
  const rest = size % TAR_BLOCK;
  return rest === 0 ? ZERO_BLOCK.subarray(0, 0) : ZERO_BLOCK.subarray(0, TAR_BLOCK - rest);
}

/** Encodes a header as one ustar block, preceded by a pax block when a field needs one. */
export function encodeTarHeader(header: TarHeader): Buffer {
  const pax = new Map<string, Buffer>();
  const split = splitUstarName(header.name);
  if (!split) pax.set('path', Buffer.from(header.name, 'utf8'));
  if (!fitsField(header.linkname, 100)) pax.set('linkpath', Buffer.from(header.linkname, 'utf8'));
  if (header.uid > MAX_OCTAL_7) pax.set('uid', Buffer.from(String(header.uid)));
  if (header.gid > MAX_OCTAL_7) pax.set('gid', Buffer.from(String(header.gid)));
  if (header.size > MAX_OCTAL_11) pax.set('size', Buffer.from(String(header.size)));
  if (header.mtime < 0 || header.mtime > MAX_OCTAL_11) pax.set('mtime', Buffer.from(String(header.mtime)));
  for (const [key, value] of header.xattrs) {
    if (key.includes('=') || key.includes('\0'))
      throw new InvalidArgumentError(`Cannot encode tar entry ${header.name}: invalid xattr name "${key}"`);
    pax.set(PAX_XATTR_PREFIX + key, value);
  }
  const ustar = Buffer.alloc(TAR_BLOCK);
  const [prefix, name] = split ?? ['', truncateUtf8(header.name, 100)];
  ustar.write(name, 0, 100, 'utf8');
  writeOctal(ustar, 100, 8, header.mode & 0o7777);
  writeOctal(ustar, 108, 8, header.uid > MAX_OCTAL_7 ? 0 : header.uid);
  writeOctal(ustar, 116, 8, header.gid > MAX_OCTAL_7 ? 0 : header.gid);
  writeOctal(ustar, 124, 12, header.size > MAX_OCTAL_11 ? 0 : header.size);
  writeOctal(ustar, 136, 12, header.mtime < 0 || header.mtime > MAX_OCTAL_11 ? 0 : header.mtime);
  ustar[156] = TYPE_FLAGS[header.type];
  ustar.write(
    fitsField(header.linkname, 100) ? header.linkname : truncateUtf8(header.linkname, 100),
    157,
    100,
  );
  USTAR_MAGIC.copy(ustar, 257);
  if (header.type === 'char' || header.type === 'block') {
    writeOctal(ustar, 329, 8, header.devmajor);
    writeOctal(ustar, 337, 8, header.devminor);
  }
  ustar.write(prefix, 345, 155, 'utf8');
  writeChecksum(ustar);
  if (pax.size === 0) return ustar;
  const records = encodePaxRecords(pax);
  const paxHeader = Buffer.alloc(TAR_BLOCK);
  // Go's archive/tar names pax headers this way; the name is informative only.
  paxHeader.write(truncateUtf8(paxHeaderName(header.name), 100), 0, 100, 'utf8');
  writeOctal(paxHeader, 100, 8, 0o644);
  writeOctal(paxHeader, 108, 8, 0);
  writeOctal(paxHeader, 116, 8, 0);
  writeOctal(paxHeader, 124, 12, records.length);
  writeOctal(paxHeader, 136, 12, 0);
  paxHeader[156] = 0x78; // 'x'
  USTAR_MAGIC.copy(paxHeader, 257);
  writeChecksum(paxHeader);
  return Buffer.concat([paxHeader, records, tarPadding(records.length), ustar]);
}

/** Pax records (`"<len> <key>=<value>\n"`), sorted by key so the bytes never depend on insertion order. */
export function encodePaxRecords(records: Map<string, Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const key of [...records.keys()].sort()) {
    const value = records.get(key)!;
    const body = Buffer.byteLength(key) + value.length + 3; // ' ', '=', '\n'
    let length = body + String(body).length;
    if (String(length).length !== String(body).length) length = body + String(length).length;
    parts.push(Buffer.from(`${length} ${key}=`, 'utf8'), value, NEWLINE);
  }
  return Buffer.concat(parts);
}

/** Parses pax records; values stay raw bytes. Throws on malformed records. */
export function decodePaxRecords(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let offset = 0;
  while (offset < data.length) {
    if (data[offset] === 0) break; // padding
    const space = data.indexOf(0x20, offset);
    if (space < 0) throw new InvalidArgumentError('Cannot parse pax header: record without length');
    const length = Number.parseInt(data.toString('latin1', offset, space), 10);
    if (!Number.isSafeInteger(length) || length <= space - offset || offset + length > data.length)
      throw new InvalidArgumentError('Cannot parse pax header: bad record length');
    const record = data.subarray(space + 1, offset + length);
    if (record[record.length - 1] !== 0x0a)
      throw new InvalidArgumentError('Cannot parse pax header: record not ended by a newline');
    const equals = record.indexOf(0x3d);
    if (equals < 0) throw new InvalidArgumentError('Cannot parse pax header: record without "="');
    out.set(record.toString('utf8', 0, equals), Buffer.from(record.subarray(equals + 1, record.length - 1)));
    offset += length;
  }
  return out;
}

const NEWLINE = Buffer.from('\n');
const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

function fitsField(value: string, width: number): boolean {
  // ASCII only: non-ASCII names go through pax so readers never guess an encoding.
  return value.length <= width && /^[\x01-\x7f]*$/.test(value);
}

/** Splits a name into ustar prefix (<=155) and name (<=100) at a slash, or null when pax is needed. */
function splitUstarName(name: string): [string, string] | null {
  if (!/^[\x01-\x7f]*$/.test(name)) return null;
  if (name.length <= 100) return ['', name];
  // The split slash is dropped; the name part must be non-empty.
  for (let i = Math.min(name.length - 2, 155); i > 0; i--) {
    if (name[i] === '/' && name.length - i - 1 <= 100) {
      if (name.length - i - 1 === 0) return null;
      return [name.slice(0, i), name.slice(i + 1)];
    }
  }
  return null;
}

function paxHeaderName(name: string): string {
  const trimmed = name.endsWith('/') ? name.slice(0, -1) : name;
  const slash = trimmed.lastIndexOf('/');
  const dir = slash < 0 ? '.' : trimmed.slice(0, slash);
  return `${dir}/PaxHeaders.0/${trimmed.slice(slash + 1)}`;
}

function truncateUtf8(value: string, bytes: number): string {
  const buffer = Buffer.from(value, 'utf8');
  if (buffer.length <= bytes) return value;
  return buffer
    .subarray(0, bytes)
    .toString('latin1')
    .replace(/[^\x01-\x7f]/g, '_');
}

function writeOctal(block: Buffer, offset: number, width: number, value: number): void {
  // width-1 zero-padded octal digits then NUL, as Go's archive/tar writes them.
  block.write(value.toString(8).padStart(width - 1, '0'), offset, width - 1, 'latin1');
  block[offset + width - 1] = 0;
}

function writeChecksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) sum += block[i]!;
  block.write(sum.toString(8).padStart(6, '0'), 148, 6, 'latin1');
  block[154] = 0;
  block[155] = 0x20;
}
