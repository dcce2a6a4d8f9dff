/**
 * Docker's mount grammars, pure: `-v`, `--mount`, `--tmpfs`, `--volumes-from`, and how the CLI
 * splits them into a create request; Docker's error messages.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseBind,
  parseMountFlag,
  parseTmpfsOptions,
  parseVolumesFrom,
  validMountMode,
  volumeFlagFields,
} from '../../../../src/container/volume/mount-spec.ts';

describe('-v (Binds)', () => {
  it('tells binds, named volumes and anonymous volumes apart', () => {
    assert.deepEqual(parseBind('/host/dir:/data:ro,Z').spec, {
      Type: 'bind',
      Source: '/host/dir',
      Target: '/data',
      ReadOnly: true,
    });
    const named = parseBind('cache:/var/cache:nocopy');
    assert.equal(named.spec.Type, 'volume');
    assert.equal(named.spec.Source, 'cache');
    assert.equal(named.spec.VolumeOptions?.NoCopy, true);
    assert.equal(named.mode, 'nocopy');
    assert.deepEqual(parseBind('/data').spec, { Type: 'volume', Target: '/data', ReadOnly: false });
    assert.equal(parseBind('/h:/c:rslave').spec.BindOptions?.Propagation, 'rslave');
  });

  it("refuses what Docker refuses, with Docker's words", () => {
    assert.throws(() => parseBind('/foo:rw'), /invalid volume specification: '\/foo:rw'/);
    assert.throws(() => parseBind('/a:/b:bogus'), /invalid mode: bogus/);
    assert.throws(() => parseBind('/a:/b:ro,rw'), /invalid mode: ro,rw/);
    assert.throws(() => parseBind('/a:relative'), /mount path must be absolute/);
    assert.throws(() => parseBind('bad name:/x'), /includes invalid characters for a local volume name/);
    assert.throws(() => parseBind(':/x'), /invalid volume specification/);
    assert.throws(() => parseBind('/a:/b:c:d'), /invalid volume specification/);
    assert.throws(() => parseBind('/a:/'), /destination can't be '\/'/);
  });

  it('checks mode lists', () => {
    assert.ok(validMountMode('ro,z,rshared,nocopy'));
    assert.ok(!validMountMode('z,Z'));
    assert.ok(!validMountMode('shared,slave'));
  });
});

describe('--mount', () => {
  it('parses volumes with driver options and labels', () => {
    assert.deepEqual(
      parseMountFlag(
        'type=volume,src=data,dst=/data,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-label=a=b,ro',
      ),
      {
        Type: 'volume',
        Source: 'data',
        Target: '/data',
        ReadOnly: true,
        VolumeOptions: { DriverConfig: { Options: { type: 'tmpfs', device: 'tmpfs' } }, Labels: { a: 'b' } },
      },
    );
  });

  it('parses binds and tmpfs', () => {
    assert.deepEqual(
      parseMountFlag('type=bind,source=/srv,target=/srv,bind-propagation=rslave,readonly=false'),
      {
        Type: 'bind',
        Source: '/srv',
        Target: '/srv',
        ReadOnly: false,
        BindOptions: { Propagation: 'rslave' },
      },
    );
    assert.deepEqual(parseMountFlag('type=tmpfs,dst=/run,tmpfs-size=64m,tmpfs-mode=1770'), {
      Type: 'tmpfs',
      Target: '/run',
      TmpfsOptions: { SizeBytes: 64 * 1024 * 1024, Mode: 0o1770 },
    });
    assert.deepEqual(parseMountFlag('"type=bind","src=/a,b",dst=/x'), {
      Type: 'bind',
      Source: '/a,b',
      Target: '/x',
    });
  });

  it('refuses unknown keys, missing targets and mixed options', () => {
    assert.throws(() => parseMountFlag('type=volume,foo=bar,dst=/x'), /unexpected key 'foo' in 'foo=bar'/);
    assert.throws(() => parseMountFlag('type=volume,src=x'), /target is required/);
    assert.throws(
      () => parseMountFlag('type=bind,src=/a,dst=/b,volume-nocopy'),
      /cannot mix 'volume-\*' options/,
    );
    assert.throws(() => parseMountFlag('type=nfs,dst=/b'), /invalid mount type/);
    assert.throws(
      () => parseMountFlag('type=volume,dst=/b,readonly=maybe'),
      /invalid value for readonly: maybe/,
    );
  });
});

describe('--tmpfs and --volumes-from', () => {
  it('splits size and mode from mount options', () => {
    assert.deepEqual(parseTmpfsOptions('rw,size=1g,mode=1777,exec'), {
      size: 1024 ** 3,
      mode: 0o1777,
      options: ['rw', 'exec'],
    });
    assert.deepEqual(parseTmpfsOptions(''), { options: [] });
  });

  it('parses CONTAINER[:ro|rw]', () => {
    assert.deepEqual(parseVolumesFrom('data'), { container: 'data', mode: 'rw' });
    assert.deepEqual(parseVolumesFrom('data:ro'), { container: 'data', mode: 'ro' });
    assert.throws(() => parseVolumesFrom(''), /cannot be an empty string/);
    assert.throws(() => parseVolumesFrom('data:rshared'), /propagation is not allowed/);
  });
});

describe("the CLI's split into a create request", () => {
  it('puts sourced -v in Binds, bare ones in Config.Volumes', () => {
    const fields = volumeFlagFields({
      volume: ['data:/data', '/cache', '/srv:/srv:ro', './rel:/rel'],
      mount: ['type=tmpfs,dst=/t'],
      volumesFrom: ['other:ro'],
    });
    assert.deepEqual(fields.binds.slice(0, 2), ['data:/data', '/srv:/srv:ro']);
    assert.match(fields.binds[2]!, /^\/.*\/rel:\/rel$/);
    assert.deepEqual(fields.volumes, { '/cache': {} });
    assert.deepEqual(fields.mounts, [{ Type: 'tmpfs', Target: '/t' }]);
    assert.deepEqual(fields.volumesFrom, ['other:ro']);
  });
});
