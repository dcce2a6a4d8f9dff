/**
 * The registry's storage driver: a dumb, path-keyed byte store, as distribution's
 * `storagedriver.StorageDriver`. It knows nothing of blobs, digests or repositories; the layout
 * (which path holds what) lives in `layout.ts` only, and the meaning in the metadata store.
 *
 * Paths are absolute, slash-separated, and made of `[A-Za-z0-9._-]` components (`/blobs/sha256/ab/
 * ab12...`); drivers refuse anything else, so no path can escape the driver's root.
 *
 * The lifecycle of content, the story every implementation must tell the same way:
 * - `putContent` writes a small object whole and atomically: readers see the old bytes or the
 *   new, never a torn object, and after it resolves the bytes are durable.
 * - `writer(path)` starts (or, with `append`, resumes) a large object; `write` appends bytes;
 *   `size` counts everything written so far, including what was there when resumed; `close`
 *   leaves the bytes in place for a later `writer(path, { append: true })`; `commit` makes them
 *   durable; `cancel` removes them. The bytes are readable at `path` while being written, which is
 *   why writers only ever target upload paths, never final blob paths.
 * - `move(from, to)` makes `to` hold `from`'s bytes atomically (replacing any old `to`) and makes
 *   that durable: the way finished uploads become blobs. An S3 driver copies then deletes; the
 *   bytes at `to` are still complete or absent, never partial.
 * - `reader(path, { offset, length })` streams a byte range; `stat` gives size and mtime;
 *   `list` gives the direct children of a directory path; `delete` removes a path recursively.
 * - Missing paths make every method (except `delete`, which is idempotent) throw NotFoundError.
 *
 * @example
 * const w = await driver.writer('/uploads/1234/data');
 * await w.write(chunk);
 * await w.commit();
 * await driver.move('/uploads/1234/data', '/blobs/sha256/ab/ab12...');
 */
import type { Readable } from 'node:stream';
import { InvalidArgumentError } from '../../errors/index.ts';

export interface FileInfo {
  path: string;
  size: number;
  modTime: Date;
  isDirectory: boolean;
}

export interface ReaderOptions {
  /** First byte to read (default 0). */
  offset?: number;
  /** How many bytes to read from `offset` (default: to the end). */
  length?: number;
}

export interface WriterOptions {
  /** Resume: keep existing bytes and append after them (default: start empty). */
  append?: boolean;
}

/** An open writer on one path; not safe for concurrent use. */
export interface FileWriter {
  /** Bytes in the object so far (existing bytes when appending, plus everything written). */
  readonly size: number;
  /** Appends bytes; resolves when the driver has taken them (not necessarily durable yet). */
  write(chunk: Uint8Array): Promise<void>;
  /** Flushes and releases the writer, keeping the bytes for a later append. */
  close(): Promise<void>;
  /** Flushes, makes the bytes durable and releases the writer. */
  commit(): Promise<void>;
  /** Releases the writer and removes the bytes written at its path. */
  cancel(): Promise<void>;
}

export interface StorageDriver {
  /** The driver's name, for logs (`filesystem`, `s3`...). */
  readonly name: string;
  getContent(path: string): Promise<Buffer>;
  putContent(path: string, content: Uint8Array): Promise<void>;
  reader(path: string, options?: ReaderOptions): Promise<Readable>;
  writer(path: string, options?: WriterOptions): Promise<FileWriter>;
  stat(path: string): Promise<FileInfo>;
  /** Names (not paths) of the direct children of a directory path, sorted. */
  list(path: string): Promise<string[]>;
  move(sourcePath: string, destPath: string): Promise<void>;
  delete(path: string): Promise<void>;
}

const PATH_COMPONENT = /^[A-Za-z0-9._-]+$/;

/** Checks a driver path (`/a/b/c`): absolute, no empty, `.` or `..` components. */
export function checkStoragePath(path: string): string[] {
  if (!path.startsWith('/'))
    throw new InvalidArgumentError(`Cannot use storage path "${path}": must be absolute`);
  if (path === '/') return [];
  const components = path.slice(1).split('/');
  for (const component of components) {
    if (!PATH_COMPONENT.test(component) || component === '.' || component === '..') {
      throw new InvalidArgumentError(`Cannot use storage path "${path}": invalid component "${component}"`);
    }
  }
  return components;
}
