import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { digestBytes } from '../../../src/oci/digest.ts';
import { ingestVerified, sweepIngestTemps } from '../../../src/util/verified-ingest.ts';

describe('ingestVerified', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-ingest-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes content whose digest and size match', async () => {
    const data = Buffer.from('hello wharf');
    const target = join(dir, 'ok');
    const result = await ingestVerified(Readable.from([data]), target, {
      expected: digestBytes(data),
      size: data.length,
    });
    assert.equal(result.size, data.length);
    assert.equal(readFileSync(target, 'utf8'), 'hello wharf');
  });

  it('leaves nothing visible on a digest mismatch', async () => {
    const target = join(dir, 'bad');
    await assert.rejects(
      ingestVerified(Readable.from([Buffer.from('x')]), target, { expected: digestBytes('y') }),
      /does not match expected/,
    );
    assert.equal(existsSync(target), false);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.startsWith('.ingest-')),
      [],
    );
  });

  it('refuses content longer than the expected size before writing it all', async () => {
    const target = join(dir, 'long');
    await assert.rejects(
      ingestVerified(Readable.from([Buffer.alloc(10)]), target, { size: 5 }),
      /more than the expected/,
    );
    assert.equal(existsSync(target), false);
  });

  it('computes the target from the digest when asked', async () => {
    const result = await ingestVerified(
      Readable.from([Buffer.from('abc')]),
      (d) => join(dir, d.replace(':', '-')),
      {
        tempDir: dir,
      },
    );
    assert.equal(readFileSync(join(dir, result.digest.replace(':', '-')), 'utf8'), 'abc');
    assert.equal(await sweepIngestTemps(dir, 0), 0);
  });
});
