// The filesystem StorageDriver runs the shared driver conformance suite, plus the crash
// leftovers only it has: temp files swept when it opens.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FilesystemDriver } from '../../../src/registry/storage/filesystem-driver.ts';
import { storageDriverSuite } from './storage-driver-suite.ts';

storageDriverSuite('filesystem', async () => {
  const root = await mkdtemp(join(tmpdir(), 'wharf-fs-driver-'));
  return {
    driver: await FilesystemDriver.open(root),
    dispose: () => rm(root, { recursive: true, force: true }),
  };
});

describe('FilesystemDriver', () => {
  it('sweeps temp files a killed process left, and keeps them out of list("/")', async () => {
    const root = await mkdtemp(join(tmpdir(), 'wharf-fs-driver-'));
    try {
      const first = await FilesystemDriver.open(root);
      await first.putContent('/kept', Buffer.from('x'));
      await writeFile(join(root, '.tmp', 'put-leftover'), 'half a blob');
      const second = await FilesystemDriver.open(root);
      assert.deepEqual(await readdir(join(root, '.tmp')), []);
      assert.deepEqual(await second.list('/'), ['kept']);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
