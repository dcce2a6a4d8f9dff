import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { crc32, deflateRawSync, gunzipSync, constants as zc } from 'node:zlib';
import { crc32Combine, parallelGzip } from '../../../src/util/parallel-gzip.ts';

const BLOCK = 1024 * 1024;
const MODULE = fileURLToPath(new URL('../../../src/util/parallel-gzip.ts', import.meta.url));

/** Text, then random bytes, then zeros: every kind of block deflate meets. */
function mixed(size: number): Buffer {
  const out = Buffer.alloc(size);
  const text = Buffer.from('the quick brown fox jumps over the lazy dog\n'.repeat(30_000));
  text.copy(out, 0, 0, Math.min(size, text.length));
  if (size > text.length) randomBytes(Math.min(size - text.length, 1_500_000)).copy(out, text.length);
  return out;
}

/** The documented format, built the slow way: one gzip member of 1 MiB raw deflate blocks. */
function reference(data: Buffer, level = 1): Buffer {
  const parts = [Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, level === 1 ? 4 : level === 9 ? 2 : 0, 0xff])];
  for (let at = 0; at < data.length; at += BLOCK) {
    const dictionary = at === 0 ? undefined : data.subarray(at - 32 * 1024, at);
    parts.push(
      deflateRawSync(data.subarray(at, at + BLOCK), {
        level,
        finishFlush: zc.Z_SYNC_FLUSH,
        ...(dictionary ? { dictionary } : {}),
      }),
    );
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data), 0);
  trailer.writeUInt32LE(data.length % 2 ** 32, 4);
  parts.push(Buffer.from([3, 0]), trailer);
  return Buffer.concat(parts);
}

async function gzip(
  chunks: Iterable<Buffer> | AsyncIterable<Buffer>,
  options: Parameters<typeof parallelGzip>[1] = {},
): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const chunk of parallelGzip(chunks, options)) out.push(chunk);
  return Buffer.concat(out);
}

function* cut(data: Buffer): Generator<Buffer> {
  for (let i = 0, n = 1; i < data.length; i += n, n = (n * 7 + 13) % 400_000) yield data.subarray(i, i + n);
}

describe('parallel gzip', () => {
  it('combines CRC-32s as if computed over the concatenation', () => {
    for (const [a, b] of [
      [0, 0],
      [0, 7],
      [7, 0],
      [1, 1],
      [1000, BLOCK],
      [BLOCK, 3],
      [12_345, 70_001],
    ] as const) {
      const x = randomBytes(a);
      const y = randomBytes(b);
      assert.equal(crc32Combine(crc32(x), crc32(y), b), crc32(Buffer.concat([x, y])), `${a} + ${b}`);
    }
  });

  it('writes exactly the documented block format, whatever the threads and the cutting', async () => {
    const data = mixed(3 * BLOCK + 12_345);
    const expected = reference(data);
    assert.ok((await gzip([data])).equals(expected), 'default concurrency');
    assert.ok((await gzip(cut(data), { concurrency: 1 })).equals(expected), 'one worker, cut input');
    assert.ok((await gzip(cut(data), { concurrency: 3 })).equals(expected), 'three workers, cut input');
    assert.ok(gunzipSync(expected).equals(data));
    const level6 = await gzip([data], { level: 6 });
    assert.ok(level6.equals(reference(data, 6)), 'level 6');
  });

  it('copies each chunk before asking for the next, so a source may reuse its buffer', async () => {
    const data = mixed(2 * BLOCK + 777);
    function* reusing(size: number): Generator<Buffer> {
      const buffer = Buffer.alloc(size);
      for (let at = 0; at < data.length; at += size) {
        const n = data.copy(buffer, 0, at, at + size);
        yield buffer.subarray(0, n);
        buffer.fill(0xee); // what a reusing source does to the last chunk it handed out
      }
    }
    assert.ok((await gzip(reusing(300_000))).equals(reference(data)), 'chunks smaller than a block');
    assert.ok((await gzip(reusing(BLOCK))).equals(reference(data)), 'chunks of a block');
    const small = mixed(5000);
    const stored = await gzip(
      (function* () {
        const buffer = Buffer.from(small);
        yield buffer;
        buffer.fill(0);
      })(),
      { storeIncompressible: true },
    );
    assert.ok(gunzipSync(stored).equals(small), 'a single short block');
  });

  it('compresses inputs of at most one block without workers, in the same format', async () => {
    for (const size of [0, 1, 1000, BLOCK]) {
      const data = mixed(size);
      assert.ok((await gzip([data])).equals(reference(data)), `size ${size}`);
    }
  });

  it('runs compressions side by side and after one abandoned midway', async () => {
    const a = mixed(4 * BLOCK);
    const b = Buffer.from(a).reverse();
    // Abandoned after its first output: its blocks still in flight must not disturb later calls.
    for await (const _ of parallelGzip([a], { concurrency: 2 })) break;
    const [ga, gb] = await Promise.all([gzip([a], { concurrency: 2 }), gzip(cut(b), { concurrency: 2 })]);
    assert.ok(ga.equals(reference(a)));
    assert.ok(gb.equals(reference(b)));
  });

  it('passes on a failing source, and the next compression still works', async () => {
    const data = mixed(3 * BLOCK);
    async function* failing(): AsyncGenerator<Buffer> {
      yield data;
      throw new Error('source broke');
    }
    await assert.rejects(gzip(failing()), /source broke/);
    assert.ok((await gzip([data])).equals(reference(data)));
  });

  it('lets the process exit when done: idle workers hold nothing open', () => {
    const script = `
      import { parallelGzip } from ${JSON.stringify(MODULE)};
      const data = Buffer.alloc(5 * 1024 * 1024, 'abc');
      for await (const _ of parallelGzip([data], { concurrency: 4 })) break;
      let size = 0;
      for await (const chunk of parallelGzip([data], { concurrency: 4 })) size += chunk.length;
      console.log(size > 0 ? 'ok' : 'empty');
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(child.error, undefined, 'the process did not exit by itself');
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), 'ok');
  });
});
