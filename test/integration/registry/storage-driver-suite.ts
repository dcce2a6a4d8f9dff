/**
 * The StorageDriver conformance suite: the lifecycle every driver must tell the same way
 * (src/registry/storage/storage-driver.ts). Each implementation runs it with a factory for a fresh,
 * empty driver; an S3 driver would add one line calling `storageDriverSuite`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { NotFoundError } from '../../../src/errors/index.ts';
import type { StorageDriver } from '../../../src/registry/storage/storage-driver.ts';

export interface DriverFixture {
  driver: StorageDriver;
  dispose(): Promise<void>;
}

async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

export function storageDriverSuite(name: string, create: () => Promise<DriverFixture>): void {
  const withDriver = (fn: (driver: StorageDriver) => Promise<void>) => async () => {
    const fixture = await create();
    try {
      await fn(fixture.driver);
    } finally {
      await fixture.dispose();
    }
  };

  describe(`StorageDriver conformance: ${name}`, () => {
    it(
      'puts and gets whole objects, replacing old content',
      withDriver(async (driver) => {
        await driver.putContent('/a/b/c', Buffer.from('one'));
        assert.deepEqual(await driver.getContent('/a/b/c'), Buffer.from('one'));
        await driver.putContent('/a/b/c', Buffer.from('two, longer'));
        assert.deepEqual(await driver.getContent('/a/b/c'), Buffer.from('two, longer'));
        await driver.putContent('/empty', Buffer.alloc(0));
        assert.equal((await driver.getContent('/empty')).byteLength, 0);
      }),
    );

    it(
      'throws NotFoundError for missing paths (delete is idempotent)',
      withDriver(async (driver) => {
        await assert.rejects(driver.getContent('/missing'), NotFoundError);
        await assert.rejects(driver.reader('/missing'), NotFoundError);
        await assert.rejects(driver.stat('/missing'), NotFoundError);
        await assert.rejects(driver.list('/missing'), NotFoundError);
        await assert.rejects(driver.move('/missing', '/elsewhere'), NotFoundError);
        await driver.delete('/missing');
      }),
    );

    it(
      'refuses paths that could escape the root',
      withDriver(async (driver) => {
        for (const path of ['relative', '/a/../b', '/a//b', '/a/./b', '/a/b/', '/a b']) {
          await assert.rejects(driver.putContent(path, Buffer.from('x')), /Cannot use storage path/, path);
        }
      }),
    );

    it(
      'reads byte ranges',
      withDriver(async (driver) => {
        const bytes = randomBytes(5000);
        await driver.putContent('/range', bytes);
        assert.deepEqual(await readAll(await driver.reader('/range')), bytes);
        assert.deepEqual(
          await readAll(await driver.reader('/range', { offset: 1000 })),
          bytes.subarray(1000),
        );
        assert.deepEqual(
          await readAll(await driver.reader('/range', { offset: 10, length: 20 })),
          bytes.subarray(10, 30),
        );
        assert.equal((await readAll(await driver.reader('/range', { offset: 10, length: 0 }))).byteLength, 0);
      }),
    );

    it(
      'writes, closes and resumes by appending; size counts everything',
      withDriver(async (driver) => {
        const first = await driver.writer('/uploads/x/data');
        assert.equal(first.size, 0);
        await first.write(Buffer.from('hello '));
        assert.equal(first.size, 6);
        await first.close();
        assert.deepEqual(await driver.getContent('/uploads/x/data'), Buffer.from('hello '));
        const resumed = await driver.writer('/uploads/x/data', { append: true });
        assert.equal(resumed.size, 6);
        const big = randomBytes(3 << 20);
        await resumed.write(Buffer.from('world'));
        await resumed.write(big);
        assert.equal(resumed.size, 11 + big.byteLength);
        await resumed.commit();
        assert.deepEqual(
          await driver.getContent('/uploads/x/data'),
          Buffer.concat([Buffer.from('hello world'), big]),
        );
        assert.equal((await driver.stat('/uploads/x/data')).size, 11 + big.byteLength);
        const fresh = await driver.writer('/uploads/x/data');
        assert.equal(fresh.size, 0, 'without append a writer starts empty');
        await fresh.close();
        assert.equal((await driver.stat('/uploads/x/data')).size, 0);
      }),
    );

    it(
      'cancels a writer, removing its bytes',
      withDriver(async (driver) => {
        const writer = await driver.writer('/uploads/y/data');
        await writer.write(Buffer.from('doomed'));
        await writer.cancel();
        await assert.rejects(driver.stat('/uploads/y/data'), NotFoundError);
      }),
    );

    it(
      'moves objects atomically, replacing the destination',
      withDriver(async (driver) => {
        await driver.putContent('/src/one', Buffer.from('new'));
        await driver.putContent('/dst/deep/one', Buffer.from('old'));
        await driver.move('/src/one', '/dst/deep/one');
        assert.deepEqual(await driver.getContent('/dst/deep/one'), Buffer.from('new'));
        await assert.rejects(driver.stat('/src/one'), NotFoundError);
        await driver.putContent('/src/two', Buffer.from('two'));
        await driver.move('/src/two', '/fresh/dir/two');
        assert.deepEqual(await driver.getContent('/fresh/dir/two'), Buffer.from('two'));
      }),
    );

    it(
      'stats and lists directories; deletes recursively',
      withDriver(async (driver) => {
        await driver.putContent('/d/b', Buffer.from('b'));
        await driver.putContent('/d/a', Buffer.from('aa'));
        await driver.putContent('/d/sub/c', Buffer.from('c'));
        assert.deepEqual(await driver.list('/d'), ['a', 'b', 'sub']);
        const info = await driver.stat('/d/a');
        assert.equal(info.size, 2);
        assert.equal(info.isDirectory, false);
        assert.ok(info.modTime instanceof Date);
        assert.equal((await driver.stat('/d/sub')).isDirectory, true);
        assert.deepEqual(await driver.list('/'), ['d']);
        await driver.delete('/d');
        await assert.rejects(driver.list('/d'), NotFoundError);
      }),
    );
  });
}
