import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyLayerPath, cleanRelative, whiteoutTarget } from '../../../src/oci/layer-path.ts';

describe('layer entry names', () => {
  it('cleans names as if rooted, never above the root', () => {
    assert.equal(cleanRelative('./etc/os-release'), 'etc/os-release');
    assert.equal(cleanRelative('usr/lib/'), 'usr/lib');
    assert.equal(cleanRelative('../../etc//passwd'), 'etc/passwd');
    assert.equal(cleanRelative('./'), '');
  });

  it('tells whiteouts, opaque markers, metadata and entries apart', () => {
    assert.deepEqual(classifyLayerPath('./'), { kind: 'root' });
    assert.deepEqual(classifyLayerPath('var/lib/dpkg/.wh.status'), {
      kind: 'whiteout',
      path: 'var/lib/dpkg/status',
    });
    assert.deepEqual(classifyLayerPath('.wh.etc'), { kind: 'whiteout', path: 'etc' });
    assert.deepEqual(classifyLayerPath('./var/lib/dpkg/.wh..wh..opq'), {
      kind: 'opaque',
      dir: 'var/lib/dpkg',
    });
    assert.deepEqual(classifyLayerPath('.wh..wh..opq'), { kind: 'opaque', dir: '' });
    assert.deepEqual(classifyLayerPath('.wh..wh.plnk'), { kind: 'meta' });
    assert.deepEqual(classifyLayerPath('/usr/lib/os-release'), {
      kind: 'entry',
      rel: 'usr/lib/os-release',
      dir: 'usr/lib',
    });
    assert.equal(whiteoutTarget('.wh..wh..opq'), undefined);
    assert.equal(whiteoutTarget('passwd'), undefined);
  });
});
