import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { isProcessAlive } from '../../../src/util/process-alive.ts';

describe('isProcessAlive', () => {
  it('sees this process, not an exited one, and never a pid below 1', () => {
    assert.equal(isProcessAlive(process.pid), true);
    const exited = spawnSync('true').pid;
    assert.ok(exited && exited > 0);
    assert.equal(isProcessAlive(exited), false);
    assert.equal(isProcessAlive(0), false);
    assert.equal(isProcessAlive(-1), false);
    assert.equal(isProcessAlive(Number.NaN), false);
  });
});
