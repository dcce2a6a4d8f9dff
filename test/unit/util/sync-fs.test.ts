import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  copyFdBytes,
  lstatOrUndefined,
  readTextIfPresent,
  unlinkIfPresent,
} from '../../../src/util/sync-fs.ts';

describe('sync-fs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-sync-fs-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('lstatOrUndefined: stats when present, undefined when missing or under a file, throws otherwise', () => {
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    assert.equal(lstatOrUndefined(file)?.size, 1);
    assert.equal(lstatOrUndefined(join(dir, 'missing')), undefined);
    assert.equal(lstatOrUndefined(join(file, 'below-a-file')), undefined); // ENOTDIR
    assert.throws(() => lstatOrUndefined(`${dir}/${'n'.repeat(300)}`), { code: 'ENAMETOOLONG' });
  });

  it('readTextIfPresent: the text when the file is there, undefined when it is not', () => {
    const file = join(dir, 'exit');
    writeFileSync(file, '137');
    assert.equal(readTextIfPresent(file), '137');
    assert.equal(readTextIfPresent(join(dir, 'no-exit')), undefined);
    assert.throws(() => readTextIfPresent(dir), { code: 'EISDIR' });
  });

  it('unlinkIfPresent: removes a file and a dangling symbolic link, ignores a missing path', () => {
    const file = join(dir, 'stale');
    writeFileSync(file, '');
    unlinkIfPresent(file);
    assert.equal(existsSync(file), false);
    const link = join(dir, 'dangling');
    symlinkSync(join(dir, 'nowhere'), link);
    unlinkIfPresent(link);
    assert.throws(() => lstatSync(link), { code: 'ENOENT' });
    unlinkIfPresent(join(dir, 'never-there'));
    unlinkIfPresent(join(file, 'below-a-missing-file'));
  });

  it('copyFdBytes copies every byte of a file larger than its buffer', () => {
    const data = randomBytes((1 << 20) * 2 + 12345);
    const source = join(dir, 'source');
    const target = join(dir, 'target');
    writeFileSync(source, data);
    const input = openSync(source, 'r');
    const output = openSync(target, 'w');
    try {
      copyFdBytes(input, output);
    } finally {
      closeSync(input);
      closeSync(output);
    }
    assert.ok(readFileSync(target).equals(data));
  });
});
