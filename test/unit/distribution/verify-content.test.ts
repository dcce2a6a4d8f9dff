import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { verifyContent } from '../../../src/distribution/verify-content.ts';
import { digestBytes } from '../../../src/oci/digest.ts';

async function* chunks(...parts: string[]): AsyncGenerator<Buffer> {
  for (const part of parts) yield Buffer.from(part);
}

describe('verifyContent', () => {
  it('passes matching content through', async () => {
    const out: string[] = [];
    for await (const chunk of verifyContent(chunks('ab', 'cd'), { digest: digestBytes('abcd'), size: 4 }))
      out.push(chunk.toString());
    assert.deepEqual(out, ['ab', 'cd']);
  });

  it('throws where the source ends, not after, when the digest or size is wrong', async () => {
    const seen: string[] = [];
    await assert.rejects(async () => {
      for await (const chunk of verifyContent(chunks('ab', 'cd'), { digest: digestBytes('abce') }))
        seen.push(chunk.toString());
    }, /the content's digest is sha256:/);
    assert.deepEqual(seen, ['ab', 'cd'], 'the loop never ended normally');
    await assert.rejects(async () => {
      for await (const _ of verifyContent(chunks('abcdef'), { digest: digestBytes('abcdef'), size: 4 })) {
        // consume
      }
    }, /more than the expected 4 bytes/);
    await assert.rejects(async () => {
      for await (const _ of verifyContent(chunks('ab'), { digest: digestBytes('ab'), size: 4 })) {
        // consume
      }
    }, /got 2 bytes, expected 4/);
  });
});
