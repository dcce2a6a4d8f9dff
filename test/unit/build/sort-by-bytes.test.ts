// sortByBytes (src/build/fs/sort-by-bytes.ts): Go's byte order of names, with JavaScript's own
// sort where the two agree.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sortByBytes } from '../../../src/build/fs/sort-by-bytes.ts';

const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

describe('sortByBytes', () => {
  it('orders names as their UTF-8 bytes compare, surrogate pairs included', () => {
    const cases = [
      ['b', 'a', 'B', '_', 'a.txt', 'a-b', 'é', 'z'],
      ['\uFF21', '\u{1F600}', 'a', '\uE000', 'file'],
      ['dir10', 'dir9', 'dir1', 'Dockerfile', '.dockerignore'],
    ];
    for (const names of cases) {
      assert.deepEqual(sortByBytes([...names]), [...names].sort(byBytes), names.join(' '));
    }
  });
});
