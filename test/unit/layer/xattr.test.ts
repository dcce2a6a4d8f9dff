import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDump } from '../../../src/image/layer/xattr.ts';

describe('getfattr dumps', () => {
  it('parses quoted names and every value encoding', () => {
    const dump = [
      '# file: /x/we ird=na\\134me\\012x',
      'user.a=0saGVsbG8=',
      'user.hex=0x00ff80',
      'user.text="y"',
      'user.empty=0s',
      '',
      '# file: /x/\\303\\274',
      'trusted.overlay.opaque="y"',
      '',
    ].join('\n');
    const parsed = parseDump(dump);
    const first = parsed.get('/x/we ird=na\\me\nx')!;
    assert.equal(first.get('user.a')!.toString(), 'hello');
    assert.deepEqual([...first.get('user.hex')!], [0, 255, 128]);
    assert.equal(first.get('user.text')!.toString(), 'y');
    assert.equal(first.get('user.empty')!.length, 0);
    assert.equal(parsed.get('/x/ü')!.get('trusted.overlay.opaque')!.toString(), 'y');
  });
});
