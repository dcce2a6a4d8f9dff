import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { wharfBin } from '../../helpers/wharf.ts';

describe('wharf binary', () => {
  it('prints its version', () => {
    assert.match(
      execFileSync(wharfBin, ['--version'], { encoding: 'utf8' }),
      /^Wharf version \d+\.\d+\.\d+\n$/,
    );
  });
  it('fails cleanly on an unknown command', () => {
    assert.throws(
      () => execFileSync(wharfBin, ['no-such-verb'], { stdio: 'pipe' }),
      (error: { status: number; stderr: Buffer }) => {
        assert.notEqual(error.status, 0);
        assert.doesNotMatch(error.stderr.toString(), /at .*\.m?js:\d+/);
        return true;
      },
    );
  });
});
