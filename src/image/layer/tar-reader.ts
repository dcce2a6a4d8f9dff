/**
 * A streaming tar reader for layers: ustar, pax (values kept as raw bytes) and GNU long names.
 * The caller pulls headers with `next()` and, optionally, the current entry's body with `body()`;
 * any unread body is skipped by the next `next()`, so every entry is always drained. After the
 * end-of-archive blocks, `next()` reads the source to its end (whoever hashes the stream sees
 * every byte). The reader keeps no reference to a source chunk once it has asked for the next one,
 * so a source may recycle its buffers from then on.
 *
 * @example
 * const reader = new TarReader(stream);
 * for (let h = await reader.next(); h; h = await reader.next()) {
 *   if (h.type === 'file') for await (const chunk of reader.body()) use(chunk);
 * }
 */
import { InvalidArgumentError } from '../../errors/index.ts';
import {
  decodePaxRecords,
  PAX_XATTR_PREFIX,
  TAR_BLOCK,
  type TarEntryType,
  type TarHeader,
} from './tar-format.ts';

const EMPTY = Buffer.alloc(0);
/** Shared by every header without xattrs (most of them): never modified. */
const NO_XATTRS = new Map<string, Buffer>();
const MAX_META_SIZE = 16 * 1024 * 1024; // pax and long-name bodies are read into memory

export class TarReader {
  #source: AsyncIterator<Uint8Array> | Iterator<Uint8Array>;
  #chunk: Buffer = EMPTY;
  #pos = 0;
  #sourceDone = false;
  #bodyLeft = 0;
  #padLeft = 0;
  #ended = false;
  #current: TarHeader | null = null;

  constructor(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    this.#source =
      Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
  }

  /** The next entry's header, or null after the end of the archive. */
  async next(): Promise<TarHeader | null> {
    await this.#skipBody();
    if (this.#ended) return null;
    let pax: Map<string, Buffer> | undefined;
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      const block = await this.#read(TAR_BLOCK, true);
      if (block === null || isZero(block)) {
        if (pax || longName || longLink)
          throw new InvalidArgumentError('Cannot read tar: archive ends inside an entry');
        return this.#end();
      }
      verifyChecksum(block);
      const flag = block[156]!;
      const size = parseNumber(block, 124, 12);
      if (flag === 0x78 /* x */ || flag === 0x67 /* g */ || flag === 0x4c /* L */ || flag === 0x4b /* K */) {
        if (size > MAX_META_SIZE) throw new InvalidArgumentError('Cannot read tar: metadata entry too large');
        const data = await this.#read(size, false);
        await this.#read(padOf(size), false);
        if (flag === 0x78) pax = mergePax(pax, decodePaxRecords(data!));
        else if (flag === 0x4c) longName = cString(data!);
        else if (flag === 0x4b) longLink = cString(data!);
        // 'g' (global pax) records are ignored, as containerd and Docker do.
        continue;
      }
      const header = decodeHeader(block, flag, size, pax, longName, longLink);
      this.#current = header;
      // Only regular files carry data: like Go's archive/tar, header-only types ignore their size field.
      this.#bodyLeft = header.size;
      this.#padLeft = padOf(header.size);
      return header;
    }
  }

  /**
   * `next()` without a promise when the rest of the current entry and a plain header are already
   * buffered (most entries of a layer); undefined when `next()` must be awaited instead.
   */
  nextSync(): TarHeader | undefined {
    if (this.#ended) return undefined;
    const at = this.#pos + this.#bodyLeft + this.#padLeft;
    if (this.#chunk.length - at < TAR_BLOCK) return undefined;
    const block = this.#chunk.subarray(at, at + TAR_BLOCK);
    const flag = block[156]!;
    if (flag === 0x78 || flag === 0x67 || flag === 0x4c || flag === 0x4b || block[0] === 0) return undefined;
    this.#pos = at + TAR_BLOCK;
    verifyChecksum(block);
    const header = decodeHeader(block, flag, parseNumber(block, 124, 12), undefined, undefined, undefined);
    this.#current = header;
    this.#bodyLeft = header.size;
    this.#padLeft = padOf(header.size);
    return header;
  }

  /**
   * The rest of the current entry's data when it is all buffered (consumed: valid until the next
   * read), else undefined and nothing is consumed.
   */
  bufferedBody(): Buffer | undefined {
    if (this.#chunk.length - this.#pos < this.#bodyLeft) return undefined;
    const body = this.#chunk.subarray(this.#pos, this.#pos + this.#bodyLeft);
    this.#pos += this.#bodyLeft;
    this.#bodyLeft = 0;
    return body;
  }

  /** Stops reading: releases the source (and whatever decompressor feeds it). */
  async close(): Promise<void> {
    this.#ended = true;
    this.#bodyLeft = 0;
    this.#padLeft = 0;
    if (!this.#sourceDone) {
      this.#sourceDone = true;
      await this.#source.return?.();
    }
  }

  /**
   * Calls `fn` with each chunk of the current entry's data, synchronously while the data is already
   * buffered (the common case for small files: no promise per chunk).
   */
  async forEachBodyChunk(fn: (chunk: Buffer) => void): Promise<void> {
    while (this.#bodyLeft > 0) {
      if (this.#pos >= this.#chunk.length && !(await this.#fill())) {
        throw new InvalidArgumentError(`Cannot read tar: entry ${this.#current?.name} is truncated`);
      }
      const take = Math.min(this.#bodyLeft, this.#chunk.length - this.#pos);
      const out = this.#chunk.subarray(this.#pos, this.#pos + take);
      this.#pos += take;
      this.#bodyLeft -= take;
      fn(out);
    }
  }

  /** The current entry's data, chunk by chunk (each chunk valid until the next read). */
  async *body(): AsyncGenerator<Buffer, void, undefined> {
    while (this.#bodyLeft > 0) {
      if (this.#pos >= this.#chunk.length && !(await this.#fill())) {
        throw new InvalidArgumentError(`Cannot read tar: entry ${this.#current?.name} is truncated`);
      }
      const take = Math.min(this.#bodyLeft, this.#chunk.length - this.#pos);
      const out = this.#chunk.subarray(this.#pos, this.#pos + take);
      this.#pos += take;
      this.#bodyLeft -= take;
      yield out;
    }
  }

  async #skipBody(): Promise<void> {
    while (this.#bodyLeft > 0) {
      if (this.#pos >= this.#chunk.length && !(await this.#fill())) {
        throw new InvalidArgumentError(`Cannot read tar: entry ${this.#current?.name} is truncated`);
      }
      const take = Math.min(this.#bodyLeft, this.#chunk.length - this.#pos);
      this.#pos += take;
      this.#bodyLeft -= take;
    }
    if (this.#padLeft > 0) {
      await this.#read(this.#padLeft, false);
      this.#padLeft = 0;
    }
  }

  async #end(): Promise<null> {
    this.#ended = true;
    this.#current = null;
    // Drain the rest (second zero block, record padding) so the whole stream is consumed.
    this.#pos = this.#chunk.length;
    while (await this.#fill()) this.#pos = this.#chunk.length;
    return null;
  }

  async #fill(): Promise<boolean> {
    if (this.#sourceDone) return false;
    const result = await this.#source.next();
    if (result.done) {
      this.#sourceDone = true;
      return false;
    }
    const value = result.value;
    this.#chunk = Buffer.isBuffer(value)
      ? value
      : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    this.#pos = 0;
    return true;
  }

  /** Reads exactly `n` bytes; at a clean end of input returns null when `eofOk`. */
  async #read(n: number, eofOk: boolean): Promise<Buffer | null> {
    if (n === 0) return EMPTY;
    if (this.#chunk.length - this.#pos >= n) {
      const out = this.#chunk.subarray(this.#pos, this.#pos + n);
      this.#pos += n;
      return out;
    }
    const parts: Buffer[] = [];
    let have = 0;
    while (have < n) {
      if (this.#pos >= this.#chunk.length && !(await this.#fill())) {
        if (eofOk && have === 0) return null;
        throw new InvalidArgumentError('Cannot read tar: unexpected end of archive');
      }
      const take = Math.min(n - have, this.#chunk.length - this.#pos);
      // Copied: once the next chunk is requested, the source may reuse or hand off this one.
      parts.push(Buffer.from(this.#chunk.subarray(this.#pos, this.#pos + take)));
      this.#pos += take;
      have += take;
    }
    return Buffer.concat(parts, n);
  }
}

function decodeHeader(
  block: Buffer,
  flag: number,
  size: number,
  pax: Map<string, Buffer> | undefined,
  longName: string | undefined,
  longLink: string | undefined,
): TarHeader {
  let name = longName ?? ustarName(block);
  let linkname = longLink ?? cString(block.subarray(157, 257));
  let uid = parseNumber(block, 108, 8);
  let gid = parseNumber(block, 116, 8);
  let mtime = parseNumber(block, 136, 12);
  let xattrs: Map<string, Buffer> = NO_XATTRS;
  if (pax) {
    for (const [key, value] of pax) {
      if (key === 'path') name = value.toString('utf8');
      else if (key === 'linkpath') linkname = value.toString('utf8');
      else if (key === 'size') size = parseDecimal(key, value);
      else if (key === 'uid') uid = parseDecimal(key, value);
      else if (key === 'gid') gid = parseDecimal(key, value);
      else if (key === 'mtime') mtime = Math.floor(Number.parseFloat(value.toString('latin1')));
      else if (key.startsWith(PAX_XATTR_PREFIX)) {
        if (xattrs === NO_XATTRS) xattrs = new Map();
        xattrs.set(key.slice(PAX_XATTR_PREFIX.length), value);
      } else if (key.startsWith('GNU.sparse.'))
        throw new InvalidArgumentError(`Cannot read tar: entry ${name} is a sparse file (unsupported)`);
    }
  }
  if (name.includes('\0') || linkname.includes('\0'))
    throw new InvalidArgumentError(`Cannot read tar: entry name contains a NUL byte`);
  if (!Number.isFinite(mtime)) mtime = 0;
  let type: TarEntryType;
  switch (flag) {
    case 0:
    case 0x30:
    case 0x37: // contiguous file: a regular file
      type = name.endsWith('/') && flag === 0 ? 'dir' : 'file';
      break;
    case 0x31:
      type = 'link';
      break;
    case 0x32:
      type = 'symlink';
      break;
    case 0x33:
      type = 'char';
      break;
    case 0x34:
      type = 'block';
      break;
    case 0x35:
      type = 'dir';
      break;
    case 0x36:
      type = 'fifo';
      break;
    default:
      throw new InvalidArgumentError(
        `Cannot read tar: entry ${name} has unsupported type '${String.fromCharCode(flag)}'`,
      );
  }
  return {
    name,
    type,
    mode: parseNumber(block, 100, 8) & 0o7777,
    uid,
    gid,
    size: type === 'file' ? size : 0,
    mtime,
    linkname,
    devmajor: type === 'char' || type === 'block' ? parseNumber(block, 329, 8) : 0,
    devminor: type === 'char' || type === 'block' ? parseNumber(block, 337, 8) : 0,
    xattrs,
  };
}

function mergePax(into: Map<string, Buffer> | undefined, from: Map<string, Buffer>): Map<string, Buffer> {
  if (!into) return from;
  for (const [k, v] of from) into.set(k, v);
  return into;
}

function ustarName(block: Buffer): string {
  const name = cString(block.subarray(0, 100));
  // ustar (magic "ustar\0") has a prefix field; GNU's "ustar  " uses those bytes for other things.
  if (block[345] !== 0 && isPosixUstar(block)) {
    return `${cString(block.subarray(345, 500))}/${name}`;
  }
  return name;
}

/** Magic "ustar\0" at 257 (POSIX); GNU writes "ustar  \0". */
function isPosixUstar(block: Buffer): boolean {
  return (
    block[257] === 0x75 &&
    block[258] === 0x73 &&
    block[259] === 0x74 &&
    block[260] === 0x61 &&
    block[261] === 0x72 &&
    block[262] === 0
  );
}

function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.toString('utf8', 0, end < 0 ? bytes.length : end);
}

function parseNumber(block: Buffer, offset: number, width: number): number {
  const first = block[offset]!;
  if (first & 0x80) {
    // base-256 (GNU): big-endian two's complement, first byte's high bit is the marker.
    if (first === 0xff) throw new InvalidArgumentError('Cannot read tar: negative numeric field');
    let value = first & 0x7f;
    for (let i = 1; i < width; i++) value = value * 256 + block[offset + i]!;
    if (!Number.isSafeInteger(value))
      throw new InvalidArgumentError('Cannot read tar: numeric field too large');
    return value;
  }
  // Octal digits, optionally surrounded by spaces and ended by NUL or space (every tar's habits).
  let i = offset;
  const end = offset + width;
  while (i < end && block[i] === 0x20) i++;
  let value = 0;
  let digits = 0;
  for (; i < end; i++) {
    const b = block[i]!;
    if (b >= 0x30 && b <= 0x37) {
      value = value * 8 + (b - 0x30);
      digits++;
    } else if (b === 0 || b === 0x20) break;
    else
      throw new InvalidArgumentError(
        `Cannot read tar: bad octal field "${block.toString('latin1', offset, end)}"`,
      );
  }
  for (; i < end; i++) {
    const b = block[i]!;
    if (b !== 0 && b !== 0x20)
      throw new InvalidArgumentError(
        `Cannot read tar: bad octal field "${block.toString('latin1', offset, end)}"`,
      );
  }
  return digits === 0 ? 0 : value;
}

function parseDecimal(key: string, value: Buffer): number {
  const text = value.toString('latin1');
  if (!/^[0-9]+$/.test(text)) throw new InvalidArgumentError(`Cannot read tar: bad pax ${key} "${text}"`);
  const n = Number.parseInt(text, 10);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`Cannot read tar: pax ${key} too large`);
  return n;
}

function verifyChecksum(block: Buffer): void {
  const stored = parseNumber(block, 148, 8);
  let unsigned = 0;
  if ((block.byteOffset & 3) === 0) {
    // Four bytes at a time: two 16-bit lanes per accumulator never overflow in 128 words.
    const words = new Uint32Array(block.buffer, block.byteOffset, TAR_BLOCK / 4);
    let even = 0;
    let odd = 0;
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      even += w & 0x00ff00ff;
      odd += (w >>> 8) & 0x00ff00ff;
    }
    unsigned = (even & 0xffff) + (even >>> 16) + (odd & 0xffff) + (odd >>> 16);
  } else {
    for (let i = 0; i < TAR_BLOCK; i++) unsigned += block[i]!;
  }
  // The checksum field itself counts as eight spaces.
  for (let i = 148; i < 156; i++) unsigned -= block[i]!;
  unsigned += 8 * 0x20;
  if (stored === unsigned) return;
  // Some old tars summed signed bytes.
  let high = 0;
  for (let i = 0; i < TAR_BLOCK; i++) if (block[i]! & 0x80 && (i < 148 || i >= 156)) high++;
  if (stored !== unsigned - 256 * high)
    throw new InvalidArgumentError('Cannot read tar: header checksum mismatch (corrupt or not a tar)');
}

function isZero(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

function padOf(size: number): number {
  const rest = size % TAR_BLOCK;
  return rest === 0 ? 0 : TAR_BLOCK - rest;
}
