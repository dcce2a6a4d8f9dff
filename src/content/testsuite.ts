/**
 * The conformance suite every ContentStore implementation runs (containerd's `testsuite`
 * pattern): call it from a test file with a factory that makes a fresh, empty store.
 *
 * @example
 * // test/integration/content/local-content-store.test.ts
 * runContentStoreSuite('LocalContentStore', async () => ({ store, createLease, releaseLease, cleanup }));
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { type Digest, digestBytes } from '../oci/digest.ts';
import type { ContentStore } from './content-store.ts';

export interface ContentStoreFixture {
  store: ContentStore;
  /** Creates a lease the store's references know about; returns its id. */
  createLease(): string;
  releaseLease(id: string): void;
  cleanup(): Promise<void>;
}

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString();
}

async function* chunked(data: string, size = 3): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) {
    yield Buffer.from(data.slice(i, i + size));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

export function runContentStoreSuite(name: string, factory: () => Promise<ContentStoreFixture>): void {
  describe(`ContentStore conformance: ${name}`, () => {
    let fixture: ContentStoreFixture;
    let store: ContentStore;
    before(async () => {
      fixture = await factory();
      store = fixture.store;
    });
    after(async () => {
      await fixture?.cleanup();
    });

    it('ingests a stream and provides it whole and by range', async () => {
      const data = 'hello, content store';
      const lease = fixture.createLease();
      const result = await store.ingest(chunked(data), {
        expected: digestBytes(data),
        size: data.length,
        lease,
      });
      assert.deepEqual(result, { digest: digestBytes(data), size: data.length, created: true });
      const info = await store.info(result.digest);
      assert.equal(info.size, data.length);
      assert.equal((await store.readAll(result.digest)).toString(), data);
      assert.equal(await text(await store.read(result.digest, { offset: 7 })), 'content store');
      assert.equal(await text(await store.read(result.digest, { offset: 7, length: 7 })), 'content');
      assert.equal(await text(await store.read(result.digest, { offset: data.length })), '');
      await assert.rejects(store.read(result.digest, { offset: data.length + 1 }), {
        name: 'InvalidArgumentError',
      });
      assert.equal(await store.exists(result.digest), true);
      fixture.releaseLease(lease);
    });

    it('computes the digest when none is expected', async () => {
      const result = await store.writeBlob('no expectations');
      assert.equal(result.digest, digestBytes('no expectations'));
      const again = await store.writeBlob('no expectations');
      assert.equal(again.created, false);
    });

    it('refuses content that does not match, leaving nothing visible', async () => {
      const wrong = digestBytes('something else');
      await assert.rejects(store.writeBlob('actual bytes', { expected: wrong }), /does not match/);
      assert.equal(await store.exists(wrong), false);
      assert.equal(await store.exists(digestBytes('actual bytes')), false);
      await assert.rejects(store.writeBlob('sized', { size: 3 }), /expected 3/);
      await assert.rejects(store.writeBlob('sized', { size: 30 }), /does not match expected 30/);
      assert.equal(await store.exists(digestBytes('sized')), false);
    });

    it('leaves nothing visible when the source fails half way', async () => {
      const data = 'interrupted stream';
      async function* failing(): AsyncGenerator<Uint8Array> {
        yield Buffer.from(data.slice(0, 5));
        throw new Error('connection reset');
      }
      await assert.rejects(store.ingest(failing(), { expected: digestBytes(data) }), /connection reset/);
      assert.equal(await store.exists(digestBytes(data)), false);
    });

    it('takes concurrent ingests of one digest safely', async () => {
      const data = 'x'.repeat(100_000);
      const digest = digestBytes(data);
      const lease = fixture.createLease();
      const results = await Promise.all(
        Array.from({ length: 8 }, () =>
          store.ingest(Readable.from([Buffer.from(data)]), { expected: digest, lease }),
        ),
      );
      for (const result of results) assert.equal(result.digest, digest);
      assert.equal((await store.readAll(digest)).toString(), data);
      assert.equal((await store.list()).filter((info) => info.digest === digest).length, 1);
      fixture.releaseLease(lease);
    });

    it('lists, labels and deletes', async () => {
      const { digest } = await store.writeBlob('labelled', { labels: { a: '1' } });
      assert.ok((await store.list()).some((info) => info.digest === digest));
      assert.deepEqual(await store.updateLabels(digest, { b: '2' }), { a: '1', b: '2' });
      assert.deepEqual(await store.updateLabels(digest, { a: null }), { b: '2' });
      assert.deepEqual((await store.info(digest)).labels, { b: '2' });
      await store.delete(digest);
      assert.equal(await store.exists(digest), false);
      await assert.rejects(store.info(digest), { name: 'NotFoundError' });
      await assert.rejects(store.readAll(digest), { name: 'NotFoundError' });
      await assert.rejects(store.delete(digest), { name: 'NotFoundError' });
      await assert.rejects(store.updateLabels(digest, { a: 'x' }), { name: 'NotFoundError' });
    });

    it('collects only what no lease holds', async () => {
      const lease = fixture.createLease();
      const held = (await store.writeBlob('held by a lease', { lease })).digest;
      const loose = (await store.writeBlob('held by nobody')).digest;
      const dry = await store.garbageCollect({ dryRun: true });
      assert.ok(dry.removed.includes(loose));
      assert.equal(await store.exists(loose), true);
      const result = await store.garbageCollect();
      assert.ok(result.removed.includes(loose));
      assert.ok(!result.removed.includes(held));
      assert.ok(result.bytes >= 'held by nobody'.length);
      assert.equal(await store.exists(loose), false);
      assert.equal(await store.exists(held), true);
      fixture.releaseLease(lease);
      const second = await store.garbageCollect({ candidates: [held] });
      assert.deepEqual(second.removed, [held]);
      assert.equal(await store.exists(held), false);
    });

    it('keeps a blob whose hold was taken before GC ran, even if it already existed', async () => {
      const { digest } = await store.writeBlob('shared base');
      const lease = fixture.createLease();
      // a second ingest of existing content under a lease protects it
      const again = await store.writeBlob('shared base', { expected: digest, lease });
      assert.equal(again.created, false);
      await store.garbageCollect();
      assert.equal(await store.exists(digest), true);
      fixture.releaseLease(lease);
      await store.garbageCollect();
      assert.equal(await store.exists(digest), false);
    });

    it('says NotFound for unknown digests', async () => {
      const unknown: Digest = digestBytes('never stored');
      await assert.rejects(store.info(unknown), { name: 'NotFoundError' });
      await assert.rejects(store.read(unknown), { name: 'NotFoundError' });
      assert.equal(await store.exists(unknown), false);
    });
  });
}
