// Expected values are go-units' own examples (duration_test.go, size_test.go) and Docker's
// stringid/Ellipsis behaviour.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bytesSize,
  displayWidth,
  ellipsis,
  humanDuration,
  humanSize,
  rfc3339,
  timeAgo,
  truncateId,
} from '../../../../src/cli/format/units.ts';

const second = 1000;
const minute = 60 * second;
const hour = 60 * minute;
const day = 24 * hour;
const week = 7 * day;
const month = 30 * day;
const year = 365 * day;

describe('humanDuration (go-units HumanDuration)', () => {
  const cases: [number, string][] = [
    [450, 'Less than a second'],
    [1 * second, '1 second'],
    [45 * second, '45 seconds'],
    [59 * second, '59 seconds'],
    [60 * second, 'About a minute'],
    [3 * minute, '3 minutes'],
    [35 * minute + 40 * second, '35 minutes'],
    [59 * minute, '59 minutes'],
    [1 * hour, 'About an hour'],
    [1 * hour + 29 * minute, 'About an hour'],
    [1 * hour + 31 * minute, '2 hours'],
    [3 * hour + 29 * minute, '3 hours'],
    [3 * hour + 31 * minute, '4 hours'],
    [3 * hour + 60 * minute, '4 hours'],
    [24 * hour, '24 hours'],
    [1 * day + 12 * hour, '36 hours'],
    [2 * day, '2 days'],
    [13 * day + 5 * hour, '13 days'],
    [2 * week, '2 weeks'],
    [2 * week + 4 * day, '2 weeks'],
    [4 * week + 3 * day, '4 weeks'],
    [1 * month, '4 weeks'],
    [1 * month + 2 * week, '6 weeks'],
    [2 * month, '2 months'],
    [5 * month + 2 * week, '5 months'],
    [24 * month, '24 months'],
    [24 * month + 2 * week, '2 years'],
    [3 * year + 2 * month, '3 years'],
  ];
  for (const [ms, text] of cases) {
    it(`${ms} ms is "${text}"`, () => assert.equal(humanDuration(ms), text));
  }
  it('says "ago" for past dates and copes with clock skew', () => {
    const now = new Date('2024-01-01T12:00:00Z');
    assert.equal(timeAgo(new Date('2024-01-01T10:00:00Z'), now), '2 hours ago');
    assert.equal(timeAgo(new Date('2024-01-01T12:00:05Z'), now), 'Less than a second ago');
  });
});

describe('humanSize (go-units HumanSize / HumanSizeWithPrecision)', () => {
  const cases: [number, number, string][] = [
    [1000, 4, '1kB'],
    [1024, 4, '1.024kB'],
    [1000000, 4, '1MB'],
    [1048576, 4, '1.049MB'],
    [2e6, 4, '2MB'],
    [3.42e9, 4, '3.42GB'],
    [5.372e12, 4, '5.372TB'],
    [2.22e15, 4, '2.22PB'],
    [1e28, 4, '1e+04YB'],
    [0, 3, '0B'],
    [10, 3, '10B'],
    [4_261_364, 3, '4.26MB'],
    [72_900_000, 3, '72.9MB'],
    // Go's %.3g rounds 999.999 up to 1e+03, and go-units prints it as is.
    [999_999, 3, '1e+03kB'],
    // Exact ties round half to even: 1125 B is 1.125 kB exactly.
    [1125, 3, '1.12kB'],
    [1135, 3, '1.14kB'],
  ];
  for (const [size, precision, text] of cases) {
    it(`${size} at ${precision} digits is ${text}`, () => assert.equal(humanSize(size, precision), text));
  }
});

describe('bytesSize (go-units BytesSize)', () => {
  it('uses binary units', () => {
    assert.equal(bytesSize(1024), '1KiB');
    assert.equal(bytesSize(1048576), '1MiB');
    assert.equal(bytesSize(3.42 * 1024 ** 3), '3.42GiB');
    assert.equal(bytesSize(5.372 * 1024 ** 4), '5.372TiB');
    assert.equal(bytesSize(1024 ** 5 * 1024 ** 5), '1.049e+06YiB');
  });
});

describe('truncateId (stringid.TruncateID)', () => {
  it('drops the algorithm and keeps 12 characters', () => {
    assert.equal(
      truncateId('sha256:f7e2b70d04ae3f516c08c24d88de0f82699aaf3ee98af6eb208bd234136142b7'),
      'f7e2b70d04ae',
    );
    assert.equal(truncateId('abcdef'), 'abcdef');
    assert.equal(truncateId('imageID1'), 'imageID1');
  });
});

describe('ellipsis and display width', () => {
  it('cuts to a display width with a trailing ellipsis', () => {
    assert.equal(ellipsis('/bin/sh -c #(nop) ADD file in /', 10), '/bin/sh -…');
    assert.equal(ellipsis('short', 10), 'short');
    assert.equal(ellipsis('abc', 1), 'a');
    assert.equal(ellipsis('你好世界', 5), '你好…');
  });
  it('counts East Asian wide characters as two columns', () => {
    assert.equal(displayWidth('abc'), 3);
    assert.equal(displayWidth('你好'), 4);
    assert.equal(displayWidth('é'), 1);
  });
});

describe('rfc3339', () => {
  it('renders the local zone as Go does', () => {
    const text = rfc3339(new Date('2017-01-01T12:00:03Z'));
    if (new Date('2017-01-01T12:00:03Z').getTimezoneOffset() === 0)
      assert.equal(text, '2017-01-01T12:00:03Z');
    else assert.match(text, /^2017-01-01T\d\d:\d\d:03[+-]\d\d:\d\d$/);
  });
});
