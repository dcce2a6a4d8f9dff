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
  const pax = paxRecordsFor(header);
  if (pax.size === 0) {
    const ustar = Buffer.allocUnsafe(TAR_BLOCK);
    writeUstarBlock(header, ustar, 0);
    return ustar;
  }
  const records = encodePaxRecords(pax);
  const out = Buffer.allocUnsafe(TAR_BLOCK + records.length + tarPadding(records.length).length + TAR_BLOCK);
  // Go's archive/tar names pax headers this way; the name is informative only.
  writeBlock(
    out,
    0,
    truncateUtf8(paxHeaderName(header.name), 100),
    '',
    0o644,
    0,
    0,
    records.length,
    0,
    0x78,
    '',
    0,
    0,
    false,
  );
  records.copy(out, TAR_BLOCK);
  out.fill(0, TAR_BLOCK + records.length, out.length - TAR_BLOCK);
  writeUstarBlock(header, out, out.length - TAR_BLOCK);
  return out;
}

/**
 * Writes `header` at `target[offset..offset + 512)` when it fits a single ustar block (no pax
 * record needed) and returns true; returns false, writing nothing, otherwise. The diff writes
 * most headers this way, straight into its output buffer.
 */
export function writeTarHeaderInto(header: TarHeader, target: Buffer, offset: number): boolean {
  if (header.xattrs.size > 0 || !fitsSimply(header)) return false;
  writeUstarBlock(header, target, offset);
  return true;
}

/** The cheap test for the common case: ASCII name and link that fit, small numbers. */
function fitsSimply(header: TarHeader): boolean {
  return (
    header.name.length <= 100 &&
    isAscii(header.name) &&
    header.linkname.length <= 100 &&
    isAscii(header.linkname) &&
    header.uid <= MAX_OCTAL_7 &&
    header.gid <= MAX_OCTAL_7 &&
    header.size <= MAX_OCTAL_11 &&
    header.mtime >= 0 &&
    header.mtime <= MAX_OCTAL_11
  );
}

/** The pax records `header` needs (none for most entries). */
function paxRecordsFor(header: TarHeader): Map<string, Buffer> {
  const pax = new Map<string, Buffer>();
  if (header.xattrs.size === 0 && fitsSimply(header)) return pax;
  if (!splitUstarName(header.name)) pax.set('path', Buffer.from(header.name, 'utf8'));
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
  return pax;
}

/** The ustar block of `header` (fields too big for it are zero: a pax record carries them). */
function writeUstarBlock(header: TarHeader, target: Buffer, offset: number): void {
  const split = splitUstarName(header.name);
  const [prefix, name] = split ?? ['', truncateUtf8(header.name, 100)];
  const device = header.type === 'char' || header.type === 'block';
  writeBlock(
    target,
    offset,
    name,
    prefix,
    header.mode & 0o7777,
    header.uid > MAX_OCTAL_7 ? 0 : header.uid,
    header.gid > MAX_OCTAL_7 ? 0 : header.gid,
    header.size > MAX_OCTAL_11 ? 0 : header.size,
    header.mtime < 0 || header.mtime > MAX_OCTAL_11 ? 0 : header.mtime,
    TYPE_FLAGS[header.type],
    fitsField(header.linkname, 100) ? header.linkname : truncateUtf8(header.linkname, 100),
    device ? header.devmajor : 0,
    device ? header.devminor : 0,
    device,
  );
}

/**
 * One 512-byte header block from a template (zeros, the ustar magic, the checksum field as
 * spaces), numbers written as digits in place and the checksum summed over the block: no strings
 * or buffers made per header. Numeric fields are width-1 zero-padded octal digits then NUL, as
 * Go's archive/tar writes them; device numbers only for devices.
 */
function writeBlock(
  block: Buffer,
  at: number,
  name: string,
  prefix: string,
  mode: number,
  uid: number,
  gid: number,
  size: number,
  mtime: number,
  typeFlag: number,
  linkname: string,
  devmajor: number,
  devminor: number,
  device: boolean,
): void {
  HEADER_TEMPLATE.copy(block, at);
  // The checksum is the byte sum of the block: the template's, plus what is written over zeros.
  let sum = TEMPLATE_SUM;
  sum += writeText(block, at, 100, name);
  sum += writeOctal(block, at + 100, 8, mode);
  sum += writeOctal(block, at + 108, 8, uid);
  sum += writeOctal(block, at + 116, 8, gid);
  sum += writeOctal(block, at + 124, 12, size);
  sum += writeOctal(block, at + 136, 12, mtime);
  block[at + 156] = typeFlag;
  sum += typeFlag;
  sum += writeText(block, at + 157, 100, linkname);
  if (device) {
    sum += writeOctal(block, at + 329, 8, devmajor);
    sum += writeOctal(block, at + 337, 8, devminor);
  }
  sum += writeText(block, at + 345, 155, prefix);
  writeOctal(block, at + 148, 7, sum); // six digits and NUL...
  block[at + 155] = 0x20; // ...then a space, as Go and GNU tar end the checksum
}

/** A string into a zeroed fixed field (known to fit once encoded); returns the bytes' sum. */
function writeText(block: Buffer, at: number, width: number, value: string): number {
  if (value.length === 0) return 0;
  let sum = 0;
  if (value.length <= width && isAscii(value)) {
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      block[at + i] = c;
      sum += c;
    }
    return sum;
  }
  const written = block.write(value, at, width, 'utf8');
  for (let i = at; i < at + written; i++) sum += block[i]!;
  return sum;
}

/** The 512-byte block every header starts from. */
const HEADER_TEMPLATE = (() => {
  const block = Buffer.alloc(TAR_BLOCK);
  USTAR_MAGIC.copy(block, 257);
  block.fill(0x20, 148, 156);
  return block;
})();
const TEMPLATE_SUM = HEADER_TEMPLATE.reduce((a, b) => a + b, 0);

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
  return value.length <= width && isAscii(value);
}

/** No NUL, nothing above 0x7f (a loop: cheaper than a regular expression on short names). */
function isAscii(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0 || c > 0x7f) return false;
  }
  return true;
}

/** Splits a name into ustar prefix (<=155) and name (<=100) at a slash, or null when pax is needed. */
function splitUstarName(name: string): [string, string] | null {
  if (!isAscii(name)) return null;
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

/** width-1 zero-padded octal digits then NUL (the value was checked to fit); returns their sum. */
function writeOctal(block: Buffer, at: number, width: number, value: number): number {
  let v = value;
  let sum = 0;
  for (let i = at + width - 2; i >= at; i--) {
    const digit = 0x30 + (v % 8);
    block[i] = digit;
    sum += digit;
    v = Math.floor(v / 8);
  }
  block[at + width - 1] = 0;
  return sum;
}
