/**
 * Layer compression: detection by magic bytes, streaming decompression (gzip with zlib, zstd, xz
 * and bzip2 through Debian's binaries, since Node 20's zlib has no zstd), and a parallel gzip
 * writer.
 *
 * Why a parallel writer: one zlib stream compresses at about 36 MB/s (random data) to 65 MB/s
 * (typical files) here, which would make every push or save as slow as `gzip -1`. The writer is
 * the shared block-parallel gzip of src/util/parallel-gzip.ts (pigz's scheme; the same input
 * always gives the same bytes, whatever the timing), with every block deflated.
 *
 * @example
 * const { compression, chunks } = await openDecompressed(fs.createReadStream('layer.tar.gz'));
 * const gz = gzipParallel(tarChunks, { level: 1 });
 */
import { spawn } from 'node:child_process';
import { pipeline, Readable, type Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { InvalidArgumentError } from '../../errors/index.ts';
import { parallelGzip } from '../../util/parallel-gzip.ts';

export type Compression = 'gzip' | 'zstd' | 'xz' | 'bzip2' | 'none';

const MAGIC: [Compression, number[]][] = [
  ['gzip', [0x1f, 0x8b]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['bzip2', [0x42, 0x5a, 0x68]],
];

/** The compression the first bytes of a blob announce ('none' for a plain tar). */
export function detectCompression(head: Uint8Array): Compression {
  for (const [name, magic] of MAGIC) {
    if (head.length >= magic.length && magic.every((b, i) => head[i] === b)) return name;
  }
  return 'none';
}

export interface Decompressed {
  compression: Compression;
  /** The uncompressed bytes. Iterate once; stopping early releases the decompressor. */
  chunks: AsyncIterable<Buffer>;
}

/** Detects the compression of `source` from its first bytes and returns its uncompressed bytes. */
export async function openDecompressed(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<Decompressed> {
  const iterator: AsyncIterator<Uint8Array> | Iterator<Uint8Array> =
    Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
  const head: Buffer[] = [];
  let headLength = 0;
  let ended = false;
  while (headLength < 6) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    const chunk = toBuffer(next.value);
    head.push(chunk);
    headLength += chunk.length;
  }
  const compression = detectCompression(Buffer.concat(head));
  async function* replay(): AsyncGenerator<Buffer> {
    try {
      yield* head;
      if (ended) return;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield toBuffer(next.value);
      }
    } finally {
      if (!ended) await iterator.return?.();
    }
  }
  switch (compression) {
    case 'none':
      return { compression, chunks: replay() };
    case 'gzip':
      return {
        compression,
        chunks: throughTransform(replay(), createGunzip({ chunkSize: 256 * 1024 }), 'gzip'),
      };
    case 'zstd':
      return { compression, chunks: throughProcess('zstd', ['-d', '-c', '-q'], replay()) };
    case 'xz':
      return { compression, chunks: throughProcess('xz', ['-d', '-c', '-q'], replay()) };
    case 'bzip2':
      return { compression, chunks: throughProcess('bzip2', ['-d', '-c', '-q'], replay()) };
  }
}

export interface GzipOptions {
  /** zlib level, 1 (fastest, the default: layers are compressed when pushed or saved) to 9. */
  level?: number;
  /** Blocks compressed at once; default: the number of CPUs. */
  concurrency?: number;
}

/**
 * gzip-compresses `source` on several threads (the shared block-parallel gzip, every block
 * deflated); the output is one standard gzip member.
 */
export function gzipParallel(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: GzipOptions = {},
): AsyncGenerator<Buffer> {
  return parallelGzip(source, options);
}

function toBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function throughTransform(
  source: AsyncIterable<Buffer>,
  transform: Transform,
  name: string,
): AsyncIterable<Buffer> {
  const input = Readable.from(source, { objectMode: false });
  pipeline(input, transform, () => {});
  return (async function* () {
    try {
      for await (const chunk of transform) yield chunk as Buffer;
    } catch (error) {
      throw new InvalidArgumentError(`Cannot decompress layer (${name}): ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      if (!transform.destroyed) transform.destroy();
    }
  })();
}

async function* throughProcess(
  command: string,
  args: string[],
  source: AsyncIterable<Buffer>,
): AsyncGenerator<Buffer> {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (c: Buffer) => stderr.push(c));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  exited.catch(() => {});
  // A failed write (the decompressor quit early) is reported through the exit code.
  pipeline(Readable.from(source, { objectMode: false }), child.stdin, () => {});
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    const code = await exited;
    if (code !== 0) {
      const message = Buffer.concat(stderr).toString('utf8').trim();
      throw new InvalidArgumentError(
        `Cannot decompress layer (${command}): ${message || `exit code ${code}`}`,
      );
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new InvalidArgumentError(`Cannot decompress layer: ${command} is not installed`, {
        cause: error,
      });
    throw error;
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
