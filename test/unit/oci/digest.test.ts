import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { digestBytes, isDigest, parseDigest } from '../../../src/oci/digest.ts';

describe('digest', () => {
  it('hashes bytes with sha256 and sha512', () => {
    assert.equal(digestBytes(''), 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.match(digestBytes('{}', 'sha512'), /^sha512:[a-f0-9]{128}$/);
  });
  it('rejects malformed and unsupported digests with the reason', () => {
    assert.throws(() => parseDigest('sha256:abc'), /64 lowercase hex/);
    assert.throws(() => parseDigest('md5:abc'), /unsupported algorithm "md5"/);
    assert.throws(() => parseDigest('nocolon'), /invalid format/);
    assert.equal(isDigest(`sha256:${'A'.repeat(64)}`), false);
    assert.equal(isDigest(`sha256:${'a'.repeat(64)}`), true);
  });
});
