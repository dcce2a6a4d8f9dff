/**
 * Synchronous file helpers the copiers share (the build's COPY, its copy reuse and context links,
 * the daemon's context sync, the container filesystem's diff and `cp`): they run per file on
 * trees of thousands of files, where a thread-pool round trip per call would cost more than the
 * call itself.
 *
 * @example
 * const stats = lstatOrUndefined('/ctx/app.js'); // undefined when it is not there
 * copyFdBytes(inputFd, outputFd);
 * const exit = readTextIfPresent(exitFile); // undefined until conmon writes it
 */
import { existsSync, lstatSync, readFileSync, readSync, type Stats, unlinkSync, writeSync } from 'node:fs';

/** `lstat` of `path`, or undefined when it (or a directory on its way) does not exist. */
export function lstatOrUndefined(path: string): Stats | undefined {
  try {
    // a missing path returns undefined rather than throwing: see readTextIfPresent
    return lstatSync(path, { throwIfNoEntry: false });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}

/**
 * The text of `path`, or undefined when there is no such file. A miss, the usual case of the
 * files a start or an exec looks for (a run's exit file, a stale state file), costs a stat: a
 * sync call that fails throws, and building that error took 0.1-0.2 ms in a CLI's cold code.
 */
export function readTextIfPresent(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    // removed between the two calls
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Unlinks the file or symbolic link (dangling too) `path` when it is there; a miss costs an
 * lstat, not a thrown error (readTextIfPresent).
 */
export function unlinkIfPresent(path: string): void {
  if (!lstatOrUndefined(path)) return;
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** One buffer for every copy: the copies are synchronous, so never two at once. */
const BUFFER = Buffer.allocUnsafe(1 << 20);

/** Copies what is left to read of `input` to `output` (both open file descriptors), 1 MiB at a time. */
export function copyFdBytes(input: number, output: number): void {
  for (;;) {
    const n = readSync(input, BUFFER, 0, BUFFER.length, null);
    if (n === 0) return;
    let off = 0;
    while (off < n) off += writeSync(output, BUFFER, off, n - off);
  }
}
