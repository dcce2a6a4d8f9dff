import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveUser } from '../../../src/container/user-lookup.ts';

const files = {
  passwd: [
    'root:x:0:0:root:/root:/bin/sh',
    '# a comment',
    'app:x:1000:1000:app:/home/app:/bin/sh',
    'nohome:x:1001:1001::',
    '',
  ].join('\n'),
  group: ['root:x:0:', 'app:x:1000:', 'extra:x:2000:app,other', 'wheel:x:10:root', ''].join('\n'),
};

describe('resolveUser (USER in the image files)', () => {
  it('defaults to root with its groups', () => {
    assert.deepEqual(resolveUser('', files), { uid: 0, gid: 0, additionalGids: [0, 10], home: '/root' });
  });

  it('finds a name, with the groups that list it', () => {
    assert.deepEqual(resolveUser('app', files), {
      uid: 1000,
      gid: 1000,
      additionalGids: [1000, 2000],
      home: '/home/app',
    });
  });

  it('takes a uid with or without a passwd entry', () => {
    assert.deepEqual(resolveUser('1000', files), {
      uid: 1000,
      gid: 1000,
      additionalGids: [1000, 2000],
      home: '/home/app',
    });
    assert.deepEqual(resolveUser('4242', files), { uid: 4242, gid: 0, additionalGids: [0], home: '/' });
    assert.equal(resolveUser('1001', files).home, '/');
  });

  it('takes an explicit group by name or number, without supplementary groups', () => {
    assert.deepEqual(resolveUser('app:extra', files), {
      uid: 1000,
      gid: 2000,
      additionalGids: [2000],
      home: '/home/app',
    });
    assert.deepEqual(resolveUser('1000:55', files), {
      uid: 1000,
      gid: 55,
      additionalGids: [55],
      home: '/home/app',
    });
  });

  it('adds --group-add groups', () => {
    assert.deepEqual(resolveUser('app', files, ['wheel', '77']).additionalGids, [1000, 2000, 10, 77]);
  });

  it('fails for names that are not there, as runc does', () => {
    assert.throws(() => resolveUser('ghost', files), {
      message: 'unable to find user ghost: no matching entries in passwd file',
    });
    assert.throws(() => resolveUser('app:ghosts', files), {
      message: 'unable to find group ghosts: no matching entries in group file',
    });
    assert.throws(() => resolveUser('', { passwd: undefined, group: undefined }, ['ghosts']));
    assert.deepEqual(resolveUser('', { passwd: undefined, group: undefined }), {
      uid: 0,
      gid: 0,
      additionalGids: [0],
      home: '/',
    });
  });
});
