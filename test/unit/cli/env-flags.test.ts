// --env-file and --label-file as docker/cli's kvfile.Parse reads them, with its error words.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readKeyValueFile } from '../../../src/cli/commands/env-flags.ts';

describe('readKeyValueFile', () => {
  let dir: string;
  const file = async (name: string, text: string) => {
    await writeFile(join(dir, name), text);
    return join(dir, name);
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-env-file-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps KEY=VALUE lines as written, looks bare keys up, drops comments and a BOM', async () => {
    process.env.WHARF_ENV_FLAGS_TEST = 'host';
    try {
      const path = await file(
        'a.env',
        '\uFEFFA=1\n  B= spaced \n# note\n\nWHARF_ENV_FLAGS_TEST\nUNSET_FOR_SURE_XYZ\r\n',
      );
      assert.deepEqual(readKeyValueFile(path, true), ['A=1', 'B= spaced ', 'WHARF_ENV_FLAGS_TEST=host']);
      // a label file has nothing to look a bare key up in: docker drops it
      assert.deepEqual(readKeyValueFile(path, false), ['A=1', 'B= spaced ']);
    } finally {
      delete process.env.WHARF_ENV_FLAGS_TEST;
    }
  });

  it("says why a file cannot be used, in docker/cli's words", async () => {
    const missing = join(dir, 'missing');
    assert.throws(() => readKeyValueFile(missing, true), {
      message: `open ${missing}: no such file or directory`,
    });
    assert.throws(() => readKeyValueFile(dir, true), {
      message: `invalid env file (${dir}): read ${dir}: is a directory`,
    });
    const spaced = await file('spaced.env', 'A B=1\n');
    assert.throws(() => readKeyValueFile(spaced, true), {
      message: `invalid env file (${spaced}): variable 'A B' contains whitespaces`,
    });
    const nameless = await file('nameless.env', '=1\n');
    assert.throws(() => readKeyValueFile(nameless, false), {
      message: `invalid env file (${nameless}): no variable name on line '=1'`,
    });
  });
});
