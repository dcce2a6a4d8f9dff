/**
 * Synchronous file helpers the copiers share (the build's COPY, its copy reuse and context links,
 * the daemon's context sync, the container filesystem's diff and `cp`): they run per file on
 * trees of thousands of files, where a thread-pool round trip per call would cost more than the
 * call itself.
 *
 * @example
 * const stats = lstatOrUndefined('/ctx/app.js'); // undefined when it is not there
 * copyFdBytes(inputFd, outputFd);
 */
import { lstatSync, readSync, type Stats, writeSync } from 'node:fs';

/** `lstat` of `path`, or undefined when it (or a directory on its way) does not exist. */
export function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
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
