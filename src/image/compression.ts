/**
 * Sniffing and undoing the compression of tarballs and layers: gzip in-process (zlib), zstd, xz
 * and bzip2 through Debian's binaries (Node 20 has no zstd). Used by import and load, which take
 * whatever `docker import`/`docker load` take.
 *
 * @example
 * const { compression, stream } = await sniffCompression(createReadStream(path));
 * const tar = decompress(stream, compression);
 */
import { spawn } from 'node:child_process';
import { PassThrough, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { InvalidArgumentError, UnavailableError } from '../errors/index.ts';

export type Compression = 'none' | 'gzip' | 'zstd' | 'xz' | 'bzip2';

/** The compression a stream's first bytes announce. */
export function detectCompression(head: Uint8Array): Compression {
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
  if (b.length >= 4 && b.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (b.length >= 6 && b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])))
    return 'xz';
  if (b.length >= 3 && b.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  return 'none';
}

/**
 * Reads at least `count` bytes (fewer at the end of the stream) and returns them with a stream
 * that still yields every byte, the peeked ones first.
 */
export async function peekBytes(
  source: AsyncIterable<Uint8Array> | Readable,
  count: number,
): Promise<{ head: Buffer; stream: Readable }> {
  const iterator = (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let length = 0;
  let done = false;
  while (length < count) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    const chunk = Buffer.from(next.value);
    chunks.push(chunk);
    length += chunk.length;
  }
  const head = Buffer.concat(chunks);
  async function* replay(): AsyncGenerator<Uint8Array> {
    if (head.length) yield head;
    if (done) return;
    while (true) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return { head, stream: Readable.from(replay(), { objectMode: false }) };
}

/**
 * Reads the first bytes of `source` to detect its compression and returns a stream that still
 * yields every byte.
 */
export async function sniffCompression(
  source: AsyncIterable<Uint8Array> | Readable,
): Promise<{ compression: Compression; stream: Readable }> {
  const { head, stream } = await peekBytes(source, 8);
  return { compression: detectCompression(head), stream };
}

/**
 * True when `block` (the first 512 bytes of a stream) is a tar header with a valid checksum, or
 * the zero block of an empty archive.
 */
export function looksLikeTar(block: Uint8Array): boolean {
  if (block.byteLength < 512) return false;
  const header = Buffer.from(block.buffer, block.byteOffset, 512);
  if (header.every((byte) => byte === 0)) return true;
  const stored = Number.parseInt(
    header
      .subarray(148, 156)
      .toString('latin1')
      .replace(/[\0 ]+$/, '')
      .trim(),
    8,
  );
  if (Number.isNaN(stored)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  return sum === stored;
}

const TOOLS: Record<Exclude<Compression, 'none' | 'gzip'>, [string, string[]]> = {
  zstd: ['zstd', ['-dc', '-q']],
  xz: ['xz', ['-dc']],
  bzip2: ['bzip2', ['-dc']],
};

/** The decompressed bytes of `source`. Errors of the decompressor surface on the returned stream. */
export function decompress(source: Readable, compression: Compression): Readable {
  if (compression === 'none') return source;
  if (compression === 'gzip') {
    const gunzip = createGunzip();
    source.on('error', (error) => gunzip.destroy(error));
    gunzip.on('error', () => source.destroy());
    return source.pipe(gunzip);
  }
  const [command, args] = TOOLS[compression];
  const out = new PassThrough();
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.on('error', (error) => {
    out.destroy(
      new UnavailableError(
        `Cannot decompress ${compression}: ${command} is not available (${error.message})`,
        {
          cause: error,
        },
      ),
    );
  });
  child.stdin.on('error', () => {
    // EPIPE when the tool exits early: reported through its exit status
  });
  source.on('error', (error) => {
    child.kill();
    out.destroy(error);
  });
  source.pipe(child.stdin);
  child.stdout.pipe(out, { end: false });
  let stdoutEnded = false;
  let exit: number | null | undefined;
  const finish = () => {
    if (!stdoutEnded || exit === undefined) return;
    if (exit === 0) out.end();
    else
      out.destroy(
        new InvalidArgumentError(`Cannot decompress ${compression}: ${stderr.trim() || `exit ${exit}`}`),
      );
  };
  child.stdout.on('end', () => {
    stdoutEnded = true;
    finish();
  });
  child.on('close', (code) => {
    exit = code;
    finish();
  });
  out.on('close', () => {
    if (exit === undefined) child.kill();
  });
  return out;
}
