// The store root from `--root` and `WHARF_ROOT` (src/cli/context.ts storeRoot).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_ROOT, storeRoot } from '../../../src/cli/context.ts';
import { InvalidArgumentError } from '../../../src/errors/index.ts';

describe('storeRoot', () => {
  it('takes --root, else WHARF_ROOT, else the default; an empty WHARF_ROOT counts as unset', () => {
    assert.equal(storeRoot('/flag', '/env'), '/flag');
    assert.equal(storeRoot(undefined, '/env'), '/env');
    assert.equal(storeRoot(undefined, undefined), DEFAULT_ROOT);
    assert.equal(storeRoot(undefined, ''), DEFAULT_ROOT);
  });

  it('refuses an empty --root, saying what it needs', () => {
    assert.throws(
      () => storeRoot('', '/env'),
      (error: unknown) => {
        assert.ok(error instanceof InvalidArgumentError);
        assert.match(error.message, /--root needs a directory/);
        return true;
      },
    );
  });
});
