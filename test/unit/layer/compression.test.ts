import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { detectCompression, gzipParallel, openDecompressed } from '../../../src/image/layer/compression.ts';

async function gzip(chunks: Buffer[], options: Parameters<typeof gzipParallel>[1] = {}): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const chunk of gzipParallel(chunks, options)) out.push(chunk);
  return Buffer.concat(out);
}

function mixed(size: number): Buffer {
  const text = Buffer.from('the quick brown fox jumps over the lazy dog\n'.repeat(Math.ceil(size / 88)));
  return Buffer.concat([text, randomBytes(size - Math.min(size, text.length))]).subarray(0, size);
}

describe('compression', () => {
  it('detects formats by magic bytes', () => {
    assert.equal(detectCompression(Buffer.from([0x1f, 0x8b, 8])), 'gzip');
    assert.equal(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'zstd');
    assert.equal(detectCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0])), 'xz');
    assert.equal(detectCompression(Buffer.from('BZh9')), 'bzip2');
    assert.equal(detectCompression(Buffer.from('usr/')), 'none');
    assert.equal(detectCompression(Buffer.alloc(0)), 'none');
  });

  it('parallel gzip is standard gzip, whatever the sizes', async () => {
    for (const size of [0, 1, 1024 * 1024, 1024 * 1024 + 1, 3_500_000]) {
      const data = mixed(size);
      const compressed = await gzip([data]);
      assert.ok(gunzipSync(compressed).equals(data), `size ${size}`);
    }
  });

  it('gives the same bytes however the input is cut and however many threads run', async () => {
    const data = mixed(2_600_000);
    const whole = await gzip([data], { concurrency: 4 });
    const pieces: Buffer[] = [];
    for (let i = 0, n = 1; i < data.length; i += n, n = (n * 7 + 13) % 300_000)
      pieces.push(data.subarray(i, i + n));
    const cut = await gzip(pieces, { concurrency: 1 });
    assert.equal(
      createHash('sha256').update(cut).digest('hex'),
      createHash('sha256').update(whole).digest('hex'),
    );
  });

  it('decompresses what it detects, multi-member gzip included', async () => {
    const a = Buffer.from('first member\n');
    const b = Buffer.from('second member\n');
    const { compression, chunks } = await openDecompressed([gzipSync(a), gzipSync(b)]);
    assert.equal(compression, 'gzip');
    const out: Buffer[] = [];
    for await (const chunk of chunks) out.push(chunk);
    assert.equal(Buffer.concat(out).toString(), 'first member\nsecond member\n');
    const plain = await openDecompressed([Buffer.from('ab'), Buffer.from('cdefgh')]);
    assert.equal(plain.compression, 'none');
    const back: Buffer[] = [];
    for await (const chunk of plain.chunks) back.push(chunk);
    assert.equal(Buffer.concat(back).toString(), 'abcdefgh');
  });

  it('reports corrupt gzip as an invalid layer', async () => {
    const bad = gzipSync(Buffer.alloc(10000, 1));
    bad[20] = bad[20]! ^ 0xff;
    const { chunks } = await openDecompressed([bad]);
    await assert.rejects(async () => {
      for await (const _ of chunks);
    }, /Cannot decompress layer \(gzip\)/);
  });
});
