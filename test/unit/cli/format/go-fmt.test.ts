// Expected strings are what Go's fmt and strconv print for the same calls.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatFloat, quote, sprint, sprintf, sprintln } from '../../../../src/cli/format/go-fmt.ts';
import { GoFloat, goStruct, NIL_MAP, NIL_SLICE } from '../../../../src/cli/format/go-value.ts';

describe('formatFloat (strconv.FormatFloat)', () => {
  const cases: [number, 'e' | 'f' | 'g', number, string][] = [
    [1e6, 'g', -1, '1e+06'],
    [123456, 'g', -1, '123456'],
    [1234567, 'g', -1, '1.234567e+06'],
    [0.0001, 'g', -1, '0.0001'],
    [0.00001, 'g', -1, '1e-05'],
    [0.1, 'g', -1, '0.1'],
    [0, 'g', -1, '0'],
    [-2.5, 'g', -1, '-2.5'],
    [1.23456, 'f', 2, '1.23'],
    [0.25, 'f', 1, '0.2'], // exact tie: half to even
    [0.35, 'f', 1, '0.3'], // 0.35 is 0.34999... in binary
    [2.5, 'f', 0, '2'],
    [3.5, 'f', 0, '4'],
    [1234.5678, 'e', 3, '1.235e+03'],
    [0, 'e', 2, '0.00e+00'],
    [999.999, 'g', 3, '1e+03'],
    [7.234567, 'g', 3, '7.23'],
    [1, 'g', 3, '1'],
    [100, 'g', 3, '100'],
    [1e21, 'g', -1, '1e+21'],
    [Number.NaN, 'g', -1, 'NaN'],
    [Number.POSITIVE_INFINITY, 'g', -1, '+Inf'],
  ];
  for (const [x, fmt, prec, text] of cases) {
    it(`${x} %${fmt} prec ${prec} is ${text}`, () => assert.equal(formatFloat(x, fmt, prec), text));
  }
});

describe('sprintf (fmt.Sprintf)', () => {
  const cases: [string, unknown[], string][] = [
    ['%s|%v|%d', ['a', 'b', 42], 'a|b|42'],
    ['%-10s|', ['left'], 'left      |'],
    ['%10s|', ['right'], '     right|'],
    ['%5d|%-5d|%05d', [42, 42, -42], '   42|42   |-0042'],
    ['%+d % d', [5, 5], '+5  5'],
    ['%x %X %o %b %#x', [255, 255, 8, 5, 255], 'ff FF 10 101 0xff'],
    ['%q', ['say "hi"\n'], '"say \\"hi\\"\\n"'],
    ['%q', [97], "'a'"],
    ['%c|%U', [0x4e16, 0x4e16], '世|U+4E16'],
    ['%.2s', ['abcdef'], 'ab'],
    ['%x', ['hi'], '6869'],
    ['%t', [true], 'true'],
    ['%v', [[1, 'a', true]], '[1 a true]'],
    ['%d', [[1, 2]], '[1 2]'],
    ['%q', [['a', 'b']], '["a" "b"]'],
    ['%v', [{ b: 2, a: 1 }], 'map[a:1 b:2]'],
    [
      '%v|%+v',
      [goStruct('T', { Name: 'x', N: 1 }), goStruct('T', { Name: 'x', N: 1 })],
      '{x 1}|{Name:x N:1}',
    ],
    ['%v %v %v', [null, NIL_SLICE, NIL_MAP], '<nil> [] map[]'],
    ['%v %.1f %e', [new GoFloat(1e6), 2.25, 1234.5678], '1e+06 2.2 1.234568e+03'],
    ['%6.2f|%-8.3f|', [1.23456, 2.5], '  1.23|2.500   |'],
    ['%T %T %T %T', ['s', 1, 1.5, [1]], 'string int float64 []interface {}'],
    ['100%%', [], '100%'],
    ['%*d', [5, 42], '   42'],
    ['%[2]s %[1]s', ['a', 'b'], 'b a'],
    // Go's in-band errors
    ['%d', ['x'], '%!d(string=x)'],
    ['%s', [5], '%!s(int=5)'],
    ['%d %d', [1], '1 %!d(MISSING)'],
    ['%d', [1, 'x'], '1%!(EXTRA string=x)'],
    ['%z', [1], '%!z(int=1)'],
    ['abc%', [], 'abc%!(NOVERB)'],
  ];
  for (const [format, args, text] of cases) {
    it(`${JSON.stringify(format)} ${JSON.stringify(args)}`, () => assert.equal(sprintf(format, args), text));
  }
});

describe('sprint and sprintln', () => {
  it('puts spaces between operands only when neither is a string', () => {
    assert.equal(sprint([1, 2, 'a', 3, 'b', 'c']), '1 2a3bc');
    assert.equal(sprintln([1, 'a', 'b']), '1 a b\n');
  });
});

describe('quote (strconv.Quote)', () => {
  it('escapes as Go does', () => {
    assert.equal(quote('a\tb'), '"a\\tb"');
    assert.equal(quote('\x00\x7f'), '"\\x00\\x7f"');
    assert.equal(quote('héllo'), '"héllo"');
    assert.equal(quote('héllo', true), '"h\\u00e9llo"');
  });
});
