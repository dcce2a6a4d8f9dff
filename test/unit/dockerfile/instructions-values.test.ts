// The value parsers behind instruction flags: --chmod, Go durations, booleans and integers,
// RAM sizes, CSV mount values, flag declarations. Items of dockerfile-behaviours.md as "#N".
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseChmod } from '../../../src/dockerfile/instructions/chmod.ts';
import { InstructionFlags, suggestCaseSensitive } from '../../../src/dockerfile/instructions/flags.ts';
import {
  csvFields,
  parseGoBool,
  parseGoDuration,
  parseGoInt,
  parseGoUint,
  ramInBytes,
} from '../../../src/dockerfile/instructions/go-values.ts';

describe('--chmod values', () => {
  it('#75 octal modes up to 07777 set the mode outright', () => {
    assert.equal(parseChmod('0644').apply(0o777, false), 0o644);
    assert.equal(parseChmod('777').apply(0, true), 0o777);
    assert.equal(parseChmod('0').apply(0o755, false), 0);
    assert.equal(parseChmod('4755').octal, 0o4755);
  });

  it("#76 non-octal numbers fail with BuildKit's message", () => {
    for (const bad of ['64a', '10000', '8', '0o755', '99999999999']) {
      assert.throws(
        () => parseChmod(bad),
        new RegExp(`invalid chmod parameter: '${bad}'. it should be octal string and between 0 and 07777`),
      );
    }
  });

  it('#77 symbolic modes follow chmod(1), X only for directories and executables', () => {
    // BSD setmode's rules, as BuildKit: GNU chmod differs on `o+t` (BSD ignores it) and on
    // `=rw,+X` (BSD tests X against the mode before the change).
    const cases: [string, number, boolean, number][] = [
      ['go-w', 0o666, false, 0o644],
      ['u=rw,g=r,o=r', 0o777, false, 0o644],
      ['a+X', 0o644, false, 0o644],
      ['a+X', 0o644, true, 0o755],
      ['a+X', 0o744, false, 0o755],
      ['u+rw,g+r,o-x,o+w', 0o001, false, 0o642],
      ['+x', 0o644, false, 0o755],
      ['u+x-w', 0o644, false, 0o544],
      ['go=', 0o777, false, 0o700],
      ['g=u', 0o750, false, 0o770],
      ['go=u-w', 0o755, false, 0o755],
      ['u+s', 0o755, false, 0o4755],
      ['+t', 0o755, true, 0o1755],
      ['o+t', 0o755, true, 0o755],
      ['=rw,+X', 0o711, false, 0o777],
    ];
    for (const [mode, before, isDir, after] of cases) {
      assert.equal(
        parseChmod(mode).apply(before, isDir).toString(8),
        after.toString(8),
        `${mode} on ${before.toString(8)}`,
      );
    }
  });

  it('#76 bad symbolic modes fail', () => {
    for (const bad of ['u+q', 'x', 'u', 'u+r,', 'a+rw,,', '+r u']) {
      assert.throws(() => parseChmod(bad), /invalid syntax/, bad);
    }
  });
});

describe('Go value parsers', () => {
  it('time.ParseDuration', () => {
    assert.equal(parseGoDuration('0'), 0n);
    assert.equal(parseGoDuration('1m30s'), 90_000_000_000n);
    assert.equal(parseGoDuration('1.5h'), 5_400_000_000_000n);
    assert.equal(parseGoDuration('.5s'), 500_000_000n);
    assert.equal(parseGoDuration('-1ms'), -1_000_000n);
    assert.equal(parseGoDuration('1µs'), 1000n);
    assert.equal(parseGoDuration('1μs'), 1000n);
    assert.equal(parseGoDuration('3ns2us'), 2003n);
    assert.throws(() => parseGoDuration(''), /^Error: time: invalid duration ""$/);
    assert.throws(() => parseGoDuration('1'), /time: missing unit in duration "1"/);
    assert.throws(() => parseGoDuration('1d'), /time: unknown unit "d" in duration "1d"/);
    assert.throws(() => parseGoDuration('.s'), /time: invalid duration ".s"/);
    assert.throws(() => parseGoDuration('9999999999h'), /time: invalid duration/);
    assert.throws(() => parseGoDuration('1é'), /time: unknown unit "\\xc3\\xa9" in duration "1\\xc3\\xa9"/);
  });

  it('strconv.ParseBool, ParseInt, ParseUint', () => {
    assert.deepEqual(['1', 't', 'TRUE', 'True', '0', 'f', 'False'].map(parseGoBool), [
      true,
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
    assert.throws(() => parseGoBool('yes'), /strconv.ParseBool: parsing "yes": invalid syntax/);
    assert.equal(parseGoInt('+3', 32), 3);
    assert.throws(() => parseGoInt('2147483648', 32), /value out of range/);
    assert.throws(() => parseGoInt('0x10', 32), /invalid syntax/);
    assert.equal(parseGoUint('0755', 8, 32), 0o755);
    assert.throws(() => parseGoUint('8', 8, 32), /invalid syntax/);
    assert.throws(() => parseGoUint('4294967296', 10, 32), /value out of range/);
  });

  it('go-units RAMInBytes', () => {
    assert.equal(ramInBytes('128m'), 128 * 1024 ** 2);
    assert.equal(ramInBytes('1.5GiB'), 1.5 * 1024 ** 3);
    assert.equal(ramInBytes('64 kb'), 64 * 1024);
    assert.equal(ramInBytes('100'), 100);
    assert.equal(ramInBytes('10b'), 10);
    assert.throws(() => ramInBytes('lots'), /invalid size: 'lots'/);
    assert.throws(() => ramInBytes('1x'), /invalid suffix: 'x'/);
    assert.throws(() => ramInBytes('1kbb'), /invalid suffix: 'kbb'/);
  });

  it('go-csvvalue fields', () => {
    assert.deepEqual(csvFields('a,b=c,"d,e"'), ['a', 'b=c', 'd,e']);
    assert.deepEqual(csvFields('"a""b",'), ['a"b', '']);
    assert.throws(() => csvFields(''), /^Error: EOF$/);
    assert.throws(() => csvFields('ab"c'), /parse error on line 1, column 3: bare " in non-quoted-field/);
    assert.throws(
      () => csvFields('"ab'),
      /parse error on line 1, column 2: extraneous or missing " in quoted-field/,
    );
    assert.throws(
      () => csvFields('"a"b'),
      /parse error on line 1, column 3: extraneous or missing " in quoted-field/,
    );
  });
});

describe('instruction flags (BFlags)', () => {
  it('parses bool, string and repeated flags; a bare -- ends them', () => {
    const f = new InstructionFlags(['--link', '--from=a=b', '--exclude=x', '--exclude=y', '--', '--ignored']);
    f.addBool('link', false);
    f.addString('from', '');
    f.addStrings('exclude');
    f.parse();
    assert.deepEqual(
      [f.bool('link'), f.string('from'), f.strings('exclude'), f.used()],
      [true, 'a=b', ['x', 'y'], ['link', 'from', 'exclude']],
    );
  });

  it('#47 suggests the closest flag, case-sensitively', () => {
    assert.equal(suggestCaseSensitive('mont', ['mount', 'network']), 'mount');
    assert.equal(suggestCaseSensitive('MONT', ['mount']), undefined);
    assert.equal(suggestCaseSensitive('mount', ['mount']), undefined);
    const f = new InstructionFlags(['-x']);
    assert.throws(() => f.parse(), /arg should start with -- : -x/);
  });
});
