import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RegistryError } from '../../../src/registry/errcode.ts';
import { resolveRoute } from '../../../src/registry/http/route.ts';

const D = `sha256:${'a'.repeat(64)}`;

describe('resolveRoute', () => {
  it('maps every endpoint of the spec', () => {
    assert.deepEqual(resolveRoute('/v2/'), { kind: 'base' });
    assert.deepEqual(resolveRoute('/v2'), { kind: 'base' });
    assert.deepEqual(resolveRoute('/v2/_catalog'), { kind: 'catalog' });
    assert.deepEqual(resolveRoute('/v2/a/b/tags/list'), { kind: 'tags', name: 'a/b' });
    assert.deepEqual(resolveRoute('/v2/a/manifests/latest'), {
      kind: 'manifest',
      name: 'a',
      reference: { tag: 'latest' },
    });
    assert.deepEqual(resolveRoute(`/v2/a/manifests/${D}`), {
      kind: 'manifest',
      name: 'a',
      reference: { digest: D },
    });
    assert.deepEqual(resolveRoute(`/v2/a/manifests/${encodeURIComponent(D)}`), {
      kind: 'manifest',
      name: 'a',
      reference: { digest: D },
    });
    assert.deepEqual(resolveRoute(`/v2/a/blobs/${D}`), { kind: 'blob', name: 'a', digest: D });
    assert.deepEqual(resolveRoute('/v2/a/blobs/uploads/'), { kind: 'uploads', name: 'a' });
    assert.deepEqual(resolveRoute('/v2/a/blobs/uploads'), { kind: 'uploads', name: 'a' });
    assert.deepEqual(resolveRoute('/v2/a/blobs/uploads/123'), { kind: 'upload', name: 'a', id: '123' });
    assert.deepEqual(resolveRoute(`/v2/a/referrers/${D}`), { kind: 'referrers', name: 'a', digest: D });
  });
  it('tells repositories whose names contain endpoint words apart', () => {
    assert.deepEqual(resolveRoute(`/v2/x/blobs/blobs/${D}`), { kind: 'blob', name: 'x/blobs', digest: D });
    assert.deepEqual(resolveRoute('/v2/x/manifests/manifests/v1'), {
      kind: 'manifest',
      name: 'x/manifests',
      reference: { tag: 'v1' },
    });
  });
  it('answers undefined outside the API, and 400s for bad names, tags and digests', () => {
    assert.equal(resolveRoute('/v1/'), undefined);
    assert.equal(resolveRoute('/v2/a/unknown'), undefined);
    const code = (path: string) => {
      try {
        resolveRoute(path);
      } catch (error) {
        assert.ok(error instanceof RegistryError);
        return `${error.status} ${error.code}`;
      }
      return 'ok';
    };
    assert.equal(code('/v2/A/tags/list'), '400 NAME_INVALID');
    assert.equal(code('/v2/a/manifests/-x'), '400 NAME_INVALID');
    assert.equal(code('/v2/a/manifests/sha256:xyz'), '400 DIGEST_INVALID');
    assert.equal(code('/v2/a/blobs/md5:abc'), '400 DIGEST_INVALID');
    assert.equal(code('/v2/a/referrers/latest'), '400 DIGEST_INVALID');
  });
});
