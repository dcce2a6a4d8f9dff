import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FinalTreeFiles, type TreeItem } from '../../../src/scan/final-tree-files.ts';

type Spec =
  | { opaque: string }
  | { whiteout: string }
  | { file: string; data: string }
  | { dir: string }
  | { symlink: string; to: string }
  | { link: string; to: string };

/** A layer's items from a compact description, bodies as single chunks. */
async function* layer(specs: readonly Spec[]): AsyncGenerator<TreeItem> {
  for (const spec of specs) {
    if ('opaque' in spec) yield { kind: 'opaque', dir: spec.opaque };
    else if ('whiteout' in spec) yield { kind: 'whiteout', path: spec.whiteout };
    else {
      const rel =
        'file' in spec ? spec.file : 'dir' in spec ? spec.dir : 'symlink' in spec ? spec.symlink : spec.link;
      const slash = rel.lastIndexOf('/');
      const data = 'data' in spec ? Buffer.from(spec.data) : Buffer.alloc(0);
      yield {
        kind: 'entry',
        rel,
        dir: slash < 0 ? '' : rel.slice(0, slash),
        type: 'file' in spec ? 'file' : 'dir' in spec ? 'dir' : 'symlink' in spec ? 'symlink' : 'link',
        size: data.length,
        linkname: 'to' in spec ? spec.to : '',
        body: async function* () {
          yield data;
        },
      };
    }
  }
}

async function filesOf(
  layers: Spec[][],
  paths = ['etc/os-release', 'usr/lib/os-release', 'var/lib/dpkg/status'],
) {
  const tree = new FinalTreeFiles(paths);
  for (const specs of layers) await tree.addLayer(layer(specs));
  return Object.fromEntries([...tree.files()].map(([path, data]) => [path, data.toString()]));
}

const base: Spec[] = [
  { dir: 'etc' },
  { symlink: 'etc/os-release', to: '../usr/lib/os-release' },
  { file: 'usr/lib/os-release', data: 'ID=debian' },
  { file: 'var/lib/dpkg/status', data: 'v1' },
];

describe('FinalTreeFiles', () => {
  it('keeps only the wanted files and follows a symlink to another wanted path', async () => {
    assert.deepEqual(await filesOf([base]), {
      'etc/os-release': 'ID=debian',
      'usr/lib/os-release': 'ID=debian',
      'var/lib/dpkg/status': 'v1',
    });
    assert.deepEqual(await filesOf([base], ['var/lib/dpkg/status']), { 'var/lib/dpkg/status': 'v1' });
  });

  it('lets a later layer replace a file, or delete it by whiteout, or hide its directory by an opaque marker', async () => {
    assert.equal(
      (await filesOf([base, [{ file: 'var/lib/dpkg/status', data: 'v2' }]]))['var/lib/dpkg/status'],
      'v2',
    );
    assert.equal(
      (await filesOf([base, [{ whiteout: 'var/lib/dpkg/status' }]]))['var/lib/dpkg/status'],
      undefined,
    );
    assert.equal((await filesOf([base, [{ whiteout: 'var/lib' }]]))['var/lib/dpkg/status'], undefined);
    assert.equal((await filesOf([base, [{ opaque: 'var/lib/dpkg' }]]))['var/lib/dpkg/status'], undefined);
    // the opaque layer's own entries stay, whatever their order in the tar
    const reopened = await filesOf([
      base,
      [{ file: 'var/lib/dpkg/status', data: 'v3' }, { opaque: 'var/lib/dpkg' }],
    ]);
    assert.equal(reopened['var/lib/dpkg/status'], 'v3');
    // a file where a parent directory was replaces the directory
    assert.equal((await filesOf([base, [{ file: 'var/lib', data: 'x' }]]))['var/lib/dpkg/status'], undefined);
    // deleting the symlink's target leaves a dangling link: no file
    const dangling = await filesOf([base, [{ whiteout: 'usr/lib/os-release' }]]);
    assert.equal(dangling['etc/os-release'], undefined);
  });

  it('resolves a hard link to a file earlier in the same layer', async () => {
    const files = await filesOf([
      [
        { file: 'usr/lib/os-release', data: 'ID=alpine' },
        { link: 'etc/os-release', to: 'usr/lib/os-release' },
      ],
    ]);
    assert.equal(files['etc/os-release'], 'ID=alpine');
  });
});
