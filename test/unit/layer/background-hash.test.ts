import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { BackgroundHash } from '../../../src/image/layer/background-hash.ts';

const sha256 = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

describe('BackgroundHash', () => {
  it('gives sha256 for small and large inputs, in any chunking', async () => {
    for (const size of [0, 1, 4 * 1024 * 1024, 4 * 1024 * 1024 + 1, 23 * 1024 * 1024 + 17]) {
      const data = randomBytes(size);
      const hash = new BackgroundHash();
      for (
        let offset = 0, step = 1;
        offset < data.length;
        offset += step, step = (step * 5 + 7) % 3_000_000
      ) {
        const chunk = Buffer.from(data.subarray(offset, offset + step));
        hash.update(chunk);
        chunk.fill(0); // the caller may reuse its buffer at once
      }
      assert.equal(await hash.digest(), sha256(data), `size ${size}`);
    }
  });

  it('runs several hashes at once and recovers from an abandoned one', async () => {
    const abandoned = new BackgroundHash();
    abandoned.update(randomBytes(9 * 1024 * 1024));
    abandoned.dispose();
    const inputs = [
      randomBytes(12 * 1024 * 1024),
      randomBytes(6 * 1024 * 1024),
      randomBytes(30 * 1024 * 1024),
    ];
    const hashes = inputs.map(() => new BackgroundHash());
    for (let offset = 0; offset < 30 * 1024 * 1024; offset += 1024 * 1024) {
      inputs.forEach((input, i) => {
        if (offset < input.length) hashes[i]!.update(input.subarray(offset, offset + 1024 * 1024));
      });
    }
    assert.deepEqual(await Promise.all(hashes.map((h) => h.digest())), inputs.map(sha256));
  });

  it('hashes what a producer writes in place', async () => {
    const data = randomBytes(10 * 1024 * 1024 + 5);
    const hash = new BackgroundHash();
    for (let offset = 0; offset < data.length; ) {
      const slot = hash.claim();
      const n = data.copy(slot, 0, offset, offset + slot.length);
      hash.publishClaimed(n);
      offset += n;
    }
    assert.equal(await hash.digest(), sha256(data));
  });
});
