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

/**
 * A uniform random integer in [0, max) for max up to 2^32, like crypto.randomInt: 32 random bits,
 * drawn again when they fall in the last partial run of `max` (so no value is likelier).
 *
 * @example
 * randomBelow(10); // 7
 */
export function randomBelow(max: number): number {
  if (!Number.isInteger(max) || max < 1 || max > 0x1_0000_0000) {
    throw new RangeError(`randomBelow: max must be an integer from 1 to 2^32, not ${max}`);
  }
  const limit = Math.floor(0x1_0000_0000 / max) * max;
  for (;;) {
    const value = Number.parseInt(randomHex(4), 16);
    if (value < limit) return value % max;
  }
}
