// Random names from /dev/urandom (src/util/random-hex.ts): hex of the asked length, no repeats,
// and randomBelow covering its whole range and nothing outside it (what crypto.randomInt gave
// the container names before).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomBelow, randomHex } from '../../../src/util/random-hex.ts';

describe('randomHex', () => {
  it('gives 2 hex digits per byte, different every time', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const hex = randomHex(32);
      assert.match(hex, /^[0-9a-f]{64}$/);
      seen.add(hex);
    }
    assert.equal(seen.size, 200);
  });
});

describe('randomBelow', () => {
  it('stays in [0, max) and reaches every value', () => {
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 5000; i++) {
      const value = randomBelow(10);
      assert.ok(Number.isInteger(value) && value >= 0 && value < 10, `${value}`);
      counts[value]!++;
    }
    // 500 expected per value; a fair draw leaves each within 350-650 (about 7 sigma)
    for (const [value, count] of counts.entries())
      assert.ok(count > 350 && count < 650, `${value}: ${count}`);
    assert.equal(randomBelow(1), 0);
  });

  it('refuses a range it cannot draw from', () => {
    for (const max of [0, -1, 1.5, 2 ** 32 + 1, Number.NaN]) {
      assert.throws(() => randomBelow(max), RangeError, String(max));
    }
  });
});
