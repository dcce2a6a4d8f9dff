import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cleanRelative, type PathKind, resolveInRoot } from '../../../src/image/layer/root-path.ts';

/** A pretend tree: directories and symlinks by relative path; everything else is missing. */
function tree(entries: Record<string, string | null>): (rel: string) => PathKind {
  return (rel) => {
    if (!(rel in entries)) return { kind: 'missing' };
    const target = entries[rel];
    return target === null ? { kind: 'dir' } : { kind: 'symlink', target: target! };
  };
}

describe('resolveInRoot', () => {
  const lookup = tree({
    usr: null,
    'usr/lib': null,
    lib: 'usr/lib',
    abs: '/usr',
    up: '../../../../etc',
    chain1: 'chain2',
    chain2: '/',
    loop: 'loop',
    'usr/rel': '../lib',
    dangling: 'missing/../../usr',
  });

  it('follows symlinks as if the root were /', () => {
    assert.equal(resolveInRoot('lib/x', lookup), 'usr/lib/x');
    assert.equal(resolveInRoot('abs/lib', lookup), 'usr/lib');
    assert.equal(resolveInRoot('usr/rel/y', lookup), 'usr/lib/y');
    assert.equal(resolveInRoot('chain1/z', lookup), 'z');
  });

  it('never climbs above the root', () => {
    assert.equal(resolveInRoot('../../etc/passwd', lookup), 'etc/passwd');
    assert.equal(resolveInRoot('/../etc', lookup), 'etc');
    assert.equal(resolveInRoot('up/shadow', lookup), 'etc/shadow');
    assert.equal(resolveInRoot('dangling/x', lookup), 'usr/x');
    assert.equal(resolveInRoot('', lookup), '');
    assert.equal(resolveInRoot('..', lookup), '');
  });

  it('refuses symlink loops', () => {
    assert.throws(() => resolveInRoot('loop/x', lookup), /too many levels of symbolic links/);
  });

  it('cleans archive names like filepath.Clean("/" + name)', () => {
    assert.equal(cleanRelative('./a/./b/../c/'), 'a/c');
    assert.equal(cleanRelative('../../x'), 'x');
    assert.equal(cleanRelative('/abs//path'), 'abs/path');
    assert.equal(cleanRelative('.'), '');
  });
});
