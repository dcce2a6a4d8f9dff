import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { gzipForPush, looksIncompressible } from '../../../src/distribution/push-compressor.ts';

async function gzip(data: Buffer, pieces = 7): Promise<Buffer> {
  async function* source(): AsyncGenerator<Buffer> {
    const step = Math.ceil(data.length / pieces);
    for (let i = 0; i < data.length; i += step) yield data.subarray(i, i + step);
  }
  const out: Buffer[] = [];
  for await (const chunk of gzipForPush(source())) out.push(chunk);
  return Buffer.concat(out);
}

describe('gzipForPush', () => {
  const text = Buffer.from('COPY . /app\nRUN npm ci --omit=dev\n'.repeat(120_000));
  const random = randomBytes(3 * 1024 * 1024 + 12_345);

  it('tells random bytes from text', () => {
    assert.equal(looksIncompressible(random.subarray(0, 1024 * 1024)), true);
    assert.equal(looksIncompressible(text.subarray(0, 1024 * 1024)), false);
  });

  it('gives one gzip member that any gunzip reads back, for text, random and mixed input', async () => {
    for (const input of [
      text,
      random,
      Buffer.concat([text, random, text.subarray(0, 5000)]),
      Buffer.alloc(0),
    ]) {
      const compressed = await gzip(input);
      assert.deepEqual(gunzipSync(compressed), input);
    }
  });

  it('stores random blocks (no growth to speak of) and compresses text', async () => {
    const randomOut = await gzip(random);
    assert.ok(randomOut.length < random.length * 1.001, `${randomOut.length} for ${random.length}`);
    assert.ok((await gzip(text)).length < text.length / 10);
  });

  it('is deterministic whatever the chunking of the input', async () => {
    const input = Buffer.concat([text.subarray(0, 2_500_000), random]);
    assert.deepEqual(await gzip(input, 3), await gzip(input, 101));
  });
});
