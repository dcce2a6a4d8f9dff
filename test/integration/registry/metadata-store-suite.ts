/**
 * The MetadataStore conformance suite (src/registry/metadata/metadata-store.ts): what every
 * implementation (SQLite now, PostgreSQL later) must do, each operation atomic.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Digest } from '../../../src/oci/digest.ts';
import type { ManifestRecord, MetadataStore } from '../../../src/registry/metadata/metadata-store.ts';

export interface StoreFixture {
  store: MetadataStore;
  dispose(): Promise<void>;
}

const d = (seed: string): Digest => `sha256:${createHash('sha256').update(seed).digest('hex')}`;
const manifest = (seed: string, extra: Partial<ManifestRecord> = {}): ManifestRecord => ({
  digest: d(seed),
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  size: 100,
  ...extra,
});

export function metadataStoreSuite(name: string, create: () => Promise<StoreFixture>): void {
  const withStore = (fn: (store: MetadataStore) => Promise<void>) => async () => {
    const fixture = await create();
    try {
      await fn(fixture.store);
    } finally {
      await fixture.dispose();
    }
  };

  describe(`MetadataStore conformance: ${name}`, () => {
    it(
      'links blobs per repository and mounts stored ones',
      withStore(async (store) => {
        await store.linkBlob('a', { digest: d('x'), size: 5 });
        assert.deepEqual(await store.getBlob('a', d('x')), { digest: d('x'), size: 5 });
        assert.equal(await store.getBlob('b', d('x')), undefined);
        assert.deepEqual(await store.findBlob(d('x')), { digest: d('x'), size: 5 });
        assert.deepEqual(await store.mountBlob('b', d('x')), { digest: d('x'), size: 5 });
        assert.deepEqual(await store.getBlob('b', d('x')), { digest: d('x'), size: 5 });
        assert.equal(await store.mountBlob('b', d('unknown')), undefined);
      }),
    );

    it(
      'reports a blob orphaned only when its last link goes and nothing references it',
      withStore(async (store) => {
        await store.linkBlob('a', { digest: d('x'), size: 5 });
        await store.linkBlob('b', { digest: d('x'), size: 5 });
        assert.deepEqual(await store.unlinkBlob('a', d('x')), { deleted: true, orphaned: false });
        assert.deepEqual(await store.unlinkBlob('a', d('x')), { deleted: false, orphaned: false });
        assert.deepEqual(await store.unlinkBlob('b', d('x')), { deleted: true, orphaned: true });
        assert.equal(await store.findBlob(d('x')), undefined);
        // referenced by a manifest: kept
        await store.linkBlob('c', { digest: d('y'), size: 5 });
        assert.deepEqual(
          await store.putManifest({
            repository: 'c',
            manifest: manifest('m'),
            blobs: [d('y')],
            manifests: [],
            tags: [],
          }),
          { ok: true },
        );
        assert.deepEqual(await store.unlinkBlob('c', d('y')), { deleted: true, orphaned: false });
        assert.equal(await store.isReferenced(d('y')), true);
      }),
    );

    it(
      'refuses a manifest with missing references and inserts nothing',
      withStore(async (store) => {
        await store.linkBlob('a', { digest: d('config'), size: 5 });
        const result = await store.putManifest({
          repository: 'a',
          manifest: manifest('m'),
          blobs: [d('config'), d('layer')],
          manifests: [d('child')],
          tags: ['latest'],
        });
        assert.deepEqual(result, {
          ok: false,
          missing: [
            { digest: d('layer'), kind: 'blob' },
            { digest: d('child'), kind: 'manifest' },
          ],
        });
        assert.equal(await store.getManifest('a', { tag: 'latest' }), undefined);
        assert.equal(await store.getManifest('a', { digest: d('m') }), undefined);
        assert.equal(await store.findBlob(d('m')), undefined);
      }),
    );

    it(
      'stores manifests with tags, subjects, artifact types and annotations',
      withStore(async (store) => {
        const record = manifest('m', { artifactType: 'x/y', subject: d('s'), annotations: { a: 'b' } });
        assert.deepEqual(
          await store.putManifest({
            repository: 'a',
            manifest: record,
            blobs: [],
            manifests: [],
            tags: ['t1', 't2'],
          }),
          { ok: true },
        );
        assert.deepEqual(await store.getManifest('a', { tag: 't1' }), record);
        assert.deepEqual(await store.getManifest('a', { digest: d('m') }), record);
        assert.deepEqual(await store.listTags('a'), ['t1', 't2']);
        assert.deepEqual(await store.listReferrers('a', d('s')), [record]);
        assert.deepEqual(await store.listReferrers('a', d('s'), 'x/y'), [record]);
        assert.deepEqual(await store.listReferrers('a', d('s'), 'other'), []);
        assert.deepEqual(await store.listReferrers('b', d('s')), []);
        // index referencing it
        const index = manifest('i', { mediaType: 'application/vnd.oci.image.index.v1+json' });
        assert.deepEqual(
          await store.putManifest({
            repository: 'a',
            manifest: index,
            blobs: [],
            manifests: [d('m')],
            tags: ['t1'],
          }),
          { ok: true },
        );
        assert.deepEqual(await store.getManifest('a', { tag: 't1' }), index, 'a tag moves');
      }),
    );

    it(
      'deletes tags and manifests (with their tags); pages tags and repositories',
      withStore(async (store) => {
        await store.putManifest({
          repository: 'a',
          manifest: manifest('m'),
          blobs: [],
          manifests: [],
          tags: ['c', 'a', 'b'],
        });
        assert.deepEqual(await store.listTags('a', { limit: 2 }), ['a', 'b']);
        assert.deepEqual(await store.listTags('a', { after: 'a' }), ['b', 'c']);
        assert.equal(await store.listTags('missing'), undefined);
        assert.equal(await store.countTags('a', 1000), 3);
        assert.equal(await store.countTags('a', 2), 2, 'counts stop at the cap');
        assert.equal(await store.countTags('missing', 1000), 0);
        assert.equal(await store.deleteTag('a', 'b'), true);
        assert.equal(await store.deleteTag('a', 'b'), false);
        assert.deepEqual(await store.deleteManifest('a', d('m')), { deleted: true, orphaned: true });
        assert.deepEqual(await store.listTags('a'), []);
        assert.deepEqual(await store.deleteManifest('a', d('m')), { deleted: false, orphaned: false });
        await store.linkBlob('r2', { digest: d('x'), size: 1 });
        await store.linkBlob('r1', { digest: d('x'), size: 1 });
        assert.deepEqual(await store.listRepositories(), ['r1', 'r2'], 'repositories with content only');
        assert.deepEqual(await store.listRepositories({ after: 'r1', limit: 5 }), ['r2']);
      }),
    );

    it(
      'records upload sessions',
      withStore(async (store) => {
        const startedAt = new Date(1_700_000_000_000);
        await store.createUpload({ id: 'u1', repository: 'a', startedAt });
        await store.createUpload({ id: 'u2', repository: 'b', startedAt, algorithm: 'sha512' });
        assert.deepEqual(await store.getUpload('u1'), { id: 'u1', repository: 'a', startedAt });
        assert.deepEqual(await store.getUpload('u2'), {
          id: 'u2',
          repository: 'b',
          startedAt,
          algorithm: 'sha512',
        });
        assert.equal((await store.listUploads()).length, 2);
        await store.deleteUpload('u1');
        assert.equal(await store.getUpload('u1'), undefined);
      }),
    );

    it(
      'pins keep bytes from collection; a tombstone makes pins wait until cleared',
      withStore(async (store) => {
        const pin = await store.pinBlob(d('p'));
        assert.equal(pin.status, 'pinned');
        const review = { graceMs: 0, deleteUntagged: false, limit: 100 };
        // a pinned digest without a row is not collected, even when queued
        await store.enqueueEverything([d('p')]);
        const first = await store.reviewGarbage({ phase: 'link', progress: false }, review);
        assert.deepEqual(first.tombstoned, []);
        if (pin.status === 'pinned') await store.linkBlob('a', { digest: d('p'), size: 1 }, { pin: pin.id });
        assert.deepEqual(await store.unlinkBlob('a', d('p')), { deleted: true, orphaned: true });
        // the unlink left a tombstone owned by this process: a pin waits
        assert.deepEqual(
          (await store.listTombstones()).map((t) => t.digest),
          [d('p')],
        );
        assert.equal((await store.pinBlob(d('p'))).status, 'busy');
        await store.clearTombstone(d('p'));
        assert.equal((await store.pinBlob(d('p'), { upload: 'nope' })).status, 'upload-unknown');
        const again = await store.pinBlob(d('p'));
        assert.equal(again.status, 'pinned');
        if (again.status === 'pinned')
          assert.equal(await store.releasePin(again.id, { discard: true }), true);
        assert.equal((await store.listTombstones()).length, 1, 'discarding unrecorded bytes tombstones them');
      }),
    );

    it(
      'reviews links, blobs and untagged manifests from the queue, with the grace',
      withStore(async (store) => {
        const now = Date.now();
        await store.linkBlob('a', { digest: d('stray'), size: 1 });
        await store.linkBlob('a', { digest: d('layer'), size: 1 });
        await store.linkBlob('a', { digest: d('child-layer'), size: 1 });
        await store.putManifest({
          repository: 'a',
          manifest: manifest('child'),
          blobs: [d('child-layer')],
          manifests: [],
          tags: [],
        });
        await store.putManifest({
          repository: 'a',
          manifest: manifest('index', { mediaType: 'application/vnd.oci.image.index.v1+json' }),
          blobs: [],
          manifests: [d('child')],
          tags: ['v1'],
        });
        await store.putManifest({
          repository: 'a',
          manifest: manifest('old'),
          blobs: [d('layer')],
          manifests: [],
          tags: ['t'],
        });
        await store.putManifest({
          repository: 'a',
          manifest: manifest('new'),
          blobs: [],
          manifests: [],
          tags: ['t'],
        });
        const young = await store.reviewGarbage(
          { phase: 'manifest', progress: false },
          { graceMs: 60_000, deleteUntagged: true, now, limit: 100 },
        );
        assert.equal(
          young.blobsDeleted + young.linksRemoved + young.manifestsDeleted,
          0,
          'all younger than the grace',
        );
        const options = { graceMs: 0, deleteUntagged: true, now: now + 1000 };
        const preview = await store.previewGarbage(options);
        const batch = await store.reviewGarbage(
          { phase: 'manifest', progress: false },
          { ...options, limit: 100 },
        );
        assert.equal(batch.state.phase, 'done');
        assert.equal(batch.manifestsDeleted, 1, 'the manifest the tag moved off; the index child stays');
        assert.equal(batch.linksRemoved, 2, 'the stray link and the old manifest layer');
        assert.deepEqual([...batch.tombstoned].sort(), [d('layer'), d('old'), d('stray')].sort());
        assert.deepEqual(
          { ...preview, state: batch.state },
          { ...batch },
          'the preview announced exactly this, and changed nothing',
        );
        assert.ok(await store.getManifest('a', { digest: d('child') }));
        assert.equal(await store.getManifest('a', { digest: d('old') }), undefined);
        await store.clearTombstones(batch.tombstoned);
        assert.deepEqual(await store.listTombstones(), []);
      }),
    );

    it(
      'keeps one scan report per digest, the newest database’s, shared by repositories, pruned with the manifest',
      withStore(async (store) => {
        const counts = { CRITICAL: 0, HIGH: 2, MEDIUM: 0, LOW: 1, UNKNOWN: 0 };
        await store.putManifest({
          repository: 'a',
          manifest: manifest('m'),
          blobs: [],
          manifests: [],
          tags: [],
        });
        assert.equal(await store.getScanReport(d('m')), undefined);
        assert.equal(await store.getScanCounts(d('m')), undefined);
        const old = { digest: d('m'), database: 'db1', scannedAt: new Date(1000), counts, report: '{"v":1}' };
        await store.putScanReports([old]);
        assert.deepEqual(await store.getScanReport(d('m')), old);
        assert.deepEqual(await store.getScanReport(d('m'), 'db1'), old);
        assert.equal(await store.getScanReport(d('m'), 'db2'), undefined);
        const fresh = {
          ...old,
          database: 'db2',
          scannedAt: new Date(2000),
          counts: { ...counts, HIGH: 0 },
          report: '{"v":2}',
        };
        const child = { ...old, digest: d('child'), database: 'db2' };
        await store.putScanReports([child, fresh]);
        assert.deepEqual(await store.getScanReport(d('m')), fresh);
        assert.equal(
          await store.getScanReport(d('m'), 'db1'),
          undefined,
          'the older database’s report is replaced',
        );
        assert.deepEqual(await store.getScanCounts(d('m')), fresh.counts);
        // `child` is held by no repository, `m` is: pruning drops the first only.
        assert.equal(await store.pruneScanReports(), 1);
        assert.equal(await store.getScanReport(d('child')), undefined);
        await store.deleteManifest('a', d('m'));
        assert.equal(await store.pruneScanReports(), 1);
        assert.equal(await store.getScanReport(d('m')), undefined);
      }),
    );
  });
}
