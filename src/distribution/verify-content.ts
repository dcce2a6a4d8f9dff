/**
 * Verification of downloaded bytes against a descriptor, placed so that a mismatch is seen before
 * the consumer commits anything: the chunks pass through as they arrive (hashed on the way), and
 * where the source ends the wrapper compares digest and size and throws instead of ending. A
 * consumer that commits only when its loop ends normally (the content store's verified ingest, a
 * rename after the last write) therefore never commits bytes that do not match.
 *
 * @example
 * for await (const chunk of verifyContent(client.fetchBlob(repo, desc), desc)) file.write(chunk);
 */
import { InvalidArgumentError } from '../errors/index.ts';
import { algorithmOf, createDigester, type Digest } from '../oci/digest.ts';

export interface ExpectedContent {
  digest: Digest;
  /** The exact size; a longer source fails as soon as it passes it. */
  size?: number;
}

/** Passes `source` through, failing at its end (or when too long) unless it matches `expected`. */
export async function* verifyContent(
  source: AsyncIterable<Uint8Array>,
  expected: ExpectedContent,
  options: { onProgress?: (bytes: number) => void } = {},
): AsyncGenerator<Buffer> {
  const hasher = createDigester(algorithmOf(expected.digest));
  let size = 0;
  for await (const value of source) {
    const chunk = Buffer.isBuffer(value)
      ? value
      : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    size += chunk.byteLength;
    if (expected.size !== undefined && size > expected.size) {
      throw new InvalidArgumentError(
        `Cannot verify ${expected.digest}: more than the expected ${expected.size} bytes`,
      );
    }
    hasher.update(chunk);
    options.onProgress?.(size);
    yield chunk;
  }
  if (expected.size !== undefined && size !== expected.size) {
    throw new InvalidArgumentError(
      `Cannot verify ${expected.digest}: got ${size} bytes, expected ${expected.size}`,
    );
  }
  const actual = `${algorithmOf(expected.digest)}:${hasher.digest('hex')}`;
  if (actual !== expected.digest) {
    throw new InvalidArgumentError(`Cannot verify ${expected.digest}: the content's digest is ${actual}`);
  }
}
