/**
 * The filesystem StorageDriver: driver paths map to files under one root directory. Whole
 * objects (`putContent`) are written to a temp file in `<root>/.tmp`, fsynced and renamed into
 * place, then the directory is fsynced; `move` is a rename plus a directory fsync. Whatever a
 * kill -9 interrupts is left in `.tmp` (swept when the driver opens) or at an upload path,
 * never half-written at a final path.
 *
 * @example
 * const driver = await FilesystemDriver.open('/var/lib/wharf/registry/storage');
 * await driver.putContent('/blobs/sha256/ab/ab12...', bytes);
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { isErrno, NotFoundError } from '../../errors/index.ts';
import { fsyncDirectory } from '../../util/atomic-write.ts';
import {
  checkStoragePath,
  type FileInfo,
  type FileWriter,
  type ReaderOptions,
  type StorageDriver,
  type WriterOptions,
} from './storage-driver.ts';

/** The driver's own scratch directory under the root; not part of the driver's path space. */
const TEMP_DIR = '.tmp';
/** Writers gather small network chunks into one `writev` of about this many bytes. */
const WRITE_BATCH_BYTES = 1 << 20;
/**
 * While a writer streams, every this many bytes it starts an fdatasync in the background, so the
 * disk writes overlap the network and `commit`'s final fsync has little left to flush.
 */
const BACKGROUND_SYNC_BYTES = 8 << 20;
/** Read-stream buffer: large reads keep a blob GET near disk speed. */
const READ_HIGH_WATER_MARK = 1 << 20;

export class FilesystemDriver implements StorageDriver {
  readonly name = 'filesystem';
  readonly #root: string;
  readonly #tempDir: string;

  private constructor(root: string) {
    this.#root = root;
    this.#tempDir = join(root, TEMP_DIR);
  }

  /**
   * Opens (creating) the root and removes temp files a killed process left behind. A second
   * process on a storage a server is using (`wharf registry gc`) passes `sweepTemp: false`: the
   * server's temp files are live.
   */
  static async open(root: string, options: { sweepTemp?: boolean } = {}): Promise<FilesystemDriver> {
    const driver = new FilesystemDriver(root);
    if (options.sweepTemp ?? true) await rm(driver.#tempDir, { recursive: true, force: true });
    await mkdir(driver.#tempDir, { recursive: true });
    return driver;
  }

  /** The directory on disk behind the driver path `/` (for diagnostics and tests). */
  get root(): string {
    return this.#root;
  }

  #resolve(path: string): string {
    return join(this.#root, ...checkStoragePath(path));
  }

  async getContent(path: string): Promise<Buffer> {
    try {
      return await readFile(this.#resolve(path));
    } catch (error) {
      throw notFoundOr(error, path);
    }
  }

  async putContent(path: string, content: Uint8Array): Promise<void> {
    const target = this.#resolve(path);
    const temp = join(this.#tempDir, `put-${randomBytes(8).toString('hex')}`);
    const handle = await open(temp, 'wx', 0o644);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } catch (error) {
      await handle.close().catch(() => {});
      await rm(temp, { force: true });
      throw error;
    }
    await handle.close();
    try {
      await renameCreatingParent(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    await fsyncDirectory(dirname(target));
  }

  async reader(path: string, options: ReaderOptions = {}): Promise<Readable> {
    let handle: FileHandle;
    try {
      handle = await open(this.#resolve(path), 'r');
    } catch (error) {
      throw notFoundOr(error, path);
    }
    const start = options.offset ?? 0;
    const streamOptions: { start: number; end?: number; highWaterMark: number; autoClose: boolean } = {
      start,
      highWaterMark: READ_HIGH_WATER_MARK,
      autoClose: true,
    };
    if (options.length !== undefined) {
      if (options.length === 0) {
        // createReadStream has no empty range (end is inclusive): an empty stream instead.
        await handle.close();
        return Readable.from([]);
      }
      streamOptions.end = start + options.length - 1;
    }
    return handle.createReadStream(streamOptions);
  }

  async writer(path: string, options: WriterOptions = {}): Promise<FileWriter> {
    const target = this.#resolve(path);
    await makeDirectoryDurably(dirname(target));
    const handle = await open(target, options.append ? 'a' : 'w', 0o644);
    let size = 0;
    if (options.append) {
      try {
        size = (await handle.stat()).size;
      } catch (error) {
        await handle.close();
        throw error;
      }
    }
    return new FilesystemWriter(handle, target, size);
  }

  async stat(path: string): Promise<FileInfo> {
    try {
      const info = await stat(this.#resolve(path));
      return { path, size: info.size, modTime: info.mtime, isDirectory: info.isDirectory() };
    } catch (error) {
      throw notFoundOr(error, path);
    }
  }

  async list(path: string): Promise<string[]> {
    try {
      const names = await readdir(this.#resolve(path));
      return (path === '/' ? names.filter((name) => name !== TEMP_DIR) : names).sort();
    } catch (error) {
      throw notFoundOr(error, path);
    }
  }

  async move(sourcePath: string, destPath: string): Promise<void> {
    const source = this.#resolve(sourcePath);
    const dest = this.#resolve(destPath);
    try {
      await renameCreatingParent(source, dest);
    } catch (error) {
      throw notFoundOr(error, sourcePath);
    }
    await fsyncDirectory(dirname(dest));
  }

  async delete(path: string): Promise<void> {
    const target = this.#resolve(path);
    try {
      // Blobs are files: one unlink, not rm's walk (the collector removes thousands).
      await unlink(target);
      return;
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return;
      if (!isErrno(error, 'EISDIR') && !isErrno(error, 'EPERM')) throw error;
    }
    await rm(target, { recursive: true, force: true });
  }
}

class FilesystemWriter implements FileWriter {
  readonly #handle: FileHandle;
  readonly #path: string;
  #size: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #unsyncedBytes = 0;
  #backgroundSync: Promise<void> | undefined;
  #backgroundError: unknown;
  #done = false;

  constructor(handle: FileHandle, path: string, size: number) {
    this.#handle = handle;
    this.#path = path;
    this.#size = size;
  }

  get size(): number {
    return this.#size;
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.#done) throw new Error(`Cannot write ${this.#path}: the writer is closed`);
    if (chunk.byteLength === 0) return;
    this.#pending.push(
      Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
    );
    this.#pendingBytes += chunk.byteLength;
    this.#size += chunk.byteLength;
    if (this.#pendingBytes >= WRITE_BATCH_BYTES) await this.#flush();
  }

  async #flush(): Promise<void> {
    let buffers = this.#pending;
    let remaining = this.#pendingBytes;
    this.#pending = [];
    this.#pendingBytes = 0;
    while (remaining > 0) {
      const { bytesWritten } = await this.#handle.writev(buffers);
      remaining -= bytesWritten;
      this.#unsyncedBytes += bytesWritten;
      if (remaining > 0) buffers = skipBytes(buffers, bytesWritten);
    }
    if (this.#unsyncedBytes >= BACKGROUND_SYNC_BYTES && this.#backgroundSync === undefined) {
      this.#unsyncedBytes = 0;
      this.#backgroundSync = this.#handle
        .datasync()
        .catch((error: unknown) => {
          this.#backgroundError ??= error;
        })
        .finally(() => {
          this.#backgroundSync = undefined;
        });
    }
  }

  /** Waits for a background fdatasync (the handle must not close under it). */
  async #settleBackgroundSync(): Promise<void> {
    await this.#backgroundSync;
  }

  async close(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    try {
      await this.#flush();
    } finally {
      await this.#settleBackgroundSync();
      await this.#handle.close();
    }
  }

  async commit(): Promise<void> {
    if (this.#done) throw new Error(`Cannot commit ${this.#path}: the writer is closed`);
    this.#done = true;
    try {
      await this.#flush();
      await this.#settleBackgroundSync();
      if (this.#backgroundError !== undefined) throw this.#backgroundError;
      await this.#handle.sync();
    } finally {
      await this.#settleBackgroundSync();
      await this.#handle.close();
    }
  }

  async cancel(): Promise<void> {
    if (!this.#done) {
      this.#done = true;
      this.#pending = [];
      await this.#settleBackgroundSync();
      await this.#handle.close().catch(() => {});
    }
    await rm(this.#path, { force: true });
  }
}

/** The buffers left after the first `count` bytes were written (a short writev). */
function skipBytes(buffers: Buffer[], count: number): Buffer[] {
  const rest: Buffer[] = [];
  let skip = count;
  for (const buffer of buffers) {
    if (skip >= buffer.byteLength) {
      skip -= buffer.byteLength;
      continue;
    }
    rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
    skip = 0;
  }
  return rest;
}

async function renameCreatingParent(source: string, dest: string): Promise<void> {
  try {
    await rename(source, dest);
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
    // Either the source is missing (rethrown below) or the destination's directory is.
    await stat(source);
    await makeDirectoryDurably(dirname(dest));
    await rename(source, dest);
  }
}

/** mkdir -p, then fsyncs the parents whose entries changed, so the new directories survive a crash. */
async function makeDirectoryDurably(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  for (let current = dir; ; current = dirname(current)) {
    await fsyncDirectory(dirname(current));
    if (current === first || dirname(current) === current) break;
  }
}

function notFoundOr(error: unknown, path: string): unknown {
  if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) {
    return new NotFoundError(`Cannot find ${path} in the storage`, { cause: error });
  }
  return error;
}
