/**
 * Random hex names and ids (an exec's id, a scratch or temp file's suffix) read straight from the
 * kernel's CSPRNG, /dev/urandom, the source crypto.randomBytes draws from too. Why not
 * crypto.randomBytes: requiring node:crypto costs 2-3 ms of a command's start-up here (it loads
 * most of Node's crypto layer), and the commands whose start-up is most of their cost (`exec`,
 * conmon's exit command) need a random name and no other cryptography.
 *
 * @example
 * randomHex(6); // '3f9a0c21b7e4'
 */
import { closeSync, openSync, readSync } from 'node:fs';

export function randomHex(bytes: number): string {
  const buffer = Buffer.allocUnsafe(bytes);
  const fd = openSync('/dev/urandom', 'r');
  try {
    for (let filled = 0; filled < bytes; ) filled += readSync(fd, buffer, filled, bytes - filled, null);
  } finally {
    closeSync(fd);
  }
  return buffer.toString('hex');
}
