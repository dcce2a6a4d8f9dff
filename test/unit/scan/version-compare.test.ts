import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareApkVersions } from '../../../src/scan/apk-version.ts';
import { compareDpkgVersions } from '../../../src/scan/dpkg-version.ts';
import { compareSemver } from '../../../src/scan/semver-version.ts';

const sign = (n: number) => Math.sign(n) || 0;

describe('compareDpkgVersions', () => {
  const cases: Array<[string, string, number]> = [
    ['1.0~rc1', '1.0', -1],
    ['1:0.9', '2.0', 1],
    ['1.0-1', '1.0-1+deb12u1', -1],
    ['2.30-1', '2.30-1.1', -1],
    ['1.0', '1.0', 0],
    ['0:1.0', '1.0', 0],
    ['1.0~~', '1.0~', -1],
    ['1.0~', '1.0', -1],
    ['1.0', '1.0a', -1],
    ['1.0a', '1.0+', -1],
    ['1.10', '1.9', 1],
    ['1.001', '1.1', 0],
    ['3.0.11-1~deb12u1', '3.0.13-1~deb12u1', -1],
    ['3.0.11-1~deb12u1', '3.0.11-1', -1],
    ['2.36-9+deb12u4', '2.36-9+deb12u10', -1],
    ['1.2.3-1ubuntu0.1', '1.2.3-1', 1],
  ];
  for (const [a, b, want] of cases) {
    it(`${a} ${want < 0 ? '<' : want > 0 ? '>' : '='} ${b}`, () => {
      assert.equal(sign(compareDpkgVersions(a, b)), want);
      assert.equal(sign(compareDpkgVersions(b, a)), -want || 0);
    });
  }
});

describe('compareApkVersions', () => {
  const cases: Array<[string, string, number]> = [
    ['1.2.3-r0', '1.2.3-r1', -1],
    ['1.2.3-r10', '1.2.3-r9', 1],
    ['1.0_rc1', '1.0', -1],
    ['1.0_alpha', '1.0_beta', -1],
    ['1.0_p1', '1.0', 1],
    ['1.0', '1.0a', -1],
    ['1.2', '1.2.1', -1],
    ['1.10', '1.9', 1],
    ['1.01', '1.1', -1],
    ['3.1.4-r5', '3.1.4-r5', 0],
    ['3.1.4-r5', '3.1.5-r0', -1],
    ['2.0_rc1-r0', '2.0_rc2-r0', -1],
  ];
  for (const [a, b, want] of cases) {
    it(`${a} ${want < 0 ? '<' : want > 0 ? '>' : '='} ${b}`, () => {
      assert.equal(sign(compareApkVersions(a, b)), want);
      assert.equal(sign(compareApkVersions(b, a)), -want || 0);
    });
  }
});

describe('compareSemver', () => {
  it('orders releases, pre-releases and ignores build metadata', () => {
    assert.equal(sign(compareSemver('1.0.0-rc.1', '1.0.0')), -1);
    assert.equal(sign(compareSemver('1.0.0-alpha', '1.0.0-alpha.1')), -1);
    assert.equal(sign(compareSemver('1.0.0-alpha.2', '1.0.0-alpha.10')), -1);
    assert.equal(sign(compareSemver('v2.1.0', '2.1.0+build5')), 0);
    assert.equal(sign(compareSemver('1.10.0', '1.9.9')), 1);
  });
});
