import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseContentRange, parseRangeHeader } from '../../../src/registry/http/ranges.ts';

describe('parseRangeHeader', () => {
  it('resolves single byte ranges against the size', () => {
    assert.deepEqual(parseRangeHeader(undefined, 10), { kind: 'full' });
    assert.deepEqual(parseRangeHeader('bytes=2-5', 10), { kind: 'partial', start: 2, end: 5 });
    assert.deepEqual(parseRangeHeader('bytes=2-', 10), { kind: 'partial', start: 2, end: 9 });
    assert.deepEqual(parseRangeHeader('bytes=-3', 10), { kind: 'partial', start: 7, end: 9 });
    assert.deepEqual(parseRangeHeader('bytes=-30', 10), { kind: 'partial', start: 0, end: 9 });
    assert.deepEqual(parseRangeHeader('bytes=8-100', 10), { kind: 'partial', start: 8, end: 9 });
  });
  it('calls unsatisfiable ranges so (416)', () => {
    for (const header of ['bytes=5-0', 'bytes=10-', 'bytes=10-20', 'bytes=-0', 'bytes=-']) {
      assert.deepEqual(parseRangeHeader(header, 10), { kind: 'unsatisfiable' }, header);
    }
    assert.deepEqual(parseRangeHeader('bytes=0-0', 0), { kind: 'unsatisfiable' });
  });
  it('ignores what it does not understand (the whole blob is sent)', () => {
    for (const header of ['bytes=0-1,3-4', 'items=0-1', 'garbage']) {
      assert.deepEqual(parseRangeHeader(header, 10), { kind: 'full' }, header);
    }
  });
});

describe('parseContentRange', () => {
  it('takes the spec form and the prefixes Docker clients send', () => {
    assert.deepEqual(parseContentRange('0-1023'), { start: 0, end: 1023 });
    assert.deepEqual(parseContentRange('bytes 10-20/*'), { start: 10, end: 20 });
    assert.deepEqual(parseContentRange('bytes=10-20/100'), { start: 10, end: 20 });
    assert.equal(parseContentRange('10-'), undefined);
    assert.equal(parseContentRange('a-b'), undefined);
  });
});
