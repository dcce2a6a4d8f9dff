/**
 * Docker's `cp` path rules (moby's pkg/archive/copy.go, docker/cli's cp.go), pure: Go's path
 * functions, `SRC/.`, trailing slashes, where an archive lands and how it is renamed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  containerAbsPath,
  getRebaseName,
  goBase,
  goClean,
  goDir,
  goFileMode,
  goModeIsDir,
  goModeIsSymlink,
  goSplit,
  prepareArchiveCopy,
  splitCpArg,
  splitPathDirEntry,
} from '../../../../src/container/fs/copy-paths.ts';

describe("Go's path functions", () => {
  it('Clean, Base, Dir and Split behave as Go', () => {
    assert.equal(goClean(''), '.');
    assert.equal(goClean('/a/../../b/./c/'), '/b/c');
    assert.equal(goClean('a/../..'), '..');
    assert.equal(goBase('/a/b/'), 'b');
    assert.equal(goBase('/'), '/');
    assert.equal(goBase(''), '.');
    assert.equal(goBase('a/.'), '.');
    assert.equal(goDir('/a/b'), '/a');
    assert.equal(goDir('a'), '.');
    assert.equal(goDir('/a/b/'), '/a/b');
    assert.deepEqual(goSplit('/a/b'), ['/a/', 'b']);
    assert.deepEqual(goSplit('/a/b/'), ['/a/b/', '']);
  });

  it('keeps `/.` and `/` where they matter', () => {
    assert.deepEqual(splitPathDirEntry('/src/dir/.'), ['/src/dir', '.']);
    assert.deepEqual(splitPathDirEntry('/src/dir/'), ['/src', 'dir']);
    assert.equal(containerAbsPath('etc/'), '/etc/');
    assert.equal(containerAbsPath('etc/.'), '/etc/.');
    assert.equal(containerAbsPath('../../etc/passwd'), '/etc/passwd');
    assert.deepEqual(getRebaseName('/x/link/', '/x/real'), { resolved: '/x/real/', rebaseName: 'link' });
    assert.deepEqual(getRebaseName('/x/link/.', '/x/real'), { resolved: '/x/real/.', rebaseName: undefined });
  });
});

describe('where a copy lands (PrepareArchiveCopy)', () => {
  it('copies into an existing directory without renaming', () => {
    assert.deepEqual(
      prepareArchiveCopy({ path: '/s/file', isDir: false }, { path: '/d', exists: true, isDir: true }),
      {
        dstDir: '/d',
      },
    );
    assert.deepEqual(
      prepareArchiveCopy({ path: '/s/dir/.', isDir: true }, { path: '/d', exists: true, isDir: true }),
      {
        dstDir: '/d',
      },
    );
  });

  it('overwrites an existing file with a file, refuses a directory', () => {
    assert.deepEqual(
      prepareArchiveCopy({ path: '/s/a', isDir: false }, { path: '/d/b', exists: true, isDir: false }),
      {
        dstDir: '/d',
        rebase: { from: 'a', to: 'b' },
      },
    );
    assert.throws(
      () => prepareArchiveCopy({ path: '/s/dir', isDir: true }, { path: '/d/b', exists: true, isDir: false }),
      /cannot copy directory to a file/,
    );
  });

  it('creates a missing destination under its name', () => {
    assert.deepEqual(prepareArchiveCopy({ path: '/s/dir', isDir: true }, { path: '/d/new', exists: false }), {
      dstDir: '/d',
      rebase: { from: 'dir', to: 'new' },
    });
    assert.deepEqual(
      prepareArchiveCopy({ path: '/s/dir/.', isDir: true }, { path: '/d/new', exists: false }),
      {
        dstDir: '/d',
        rebase: { from: '.', to: 'new' },
      },
    );
    assert.deepEqual(prepareArchiveCopy({ path: '/s/f', isDir: false }, { path: '/d/g', exists: false }), {
      dstDir: '/d',
      rebase: { from: 'f', to: 'g' },
    });
  });

  it('refuses a file into a directory that does not exist', () => {
    assert.throws(
      () => prepareArchiveCopy({ path: '/s/f', isDir: false }, { path: '/d/missing/', exists: false }),
      /destination directory does not exist/,
    );
  });

  it('uses the name kept through a followed symlink', () => {
    assert.deepEqual(
      prepareArchiveCopy(
        { path: '/s/target', isDir: false, rebaseName: 'link' },
        { path: '/d/x', exists: false },
      ),
      { dstDir: '/d', rebase: { from: 'link', to: 'x' } },
    );
  });
});

describe('cp arguments and stat modes', () => {
  it('splits CONTAINER:PATH as docker/cli does', () => {
    assert.deepEqual(splitCpArg('web:/etc/hosts'), { container: 'web', path: '/etc/hosts' });
    assert.deepEqual(splitCpArg('/tmp/a:b'), { path: '/tmp/a:b' });
    assert.deepEqual(splitCpArg('./a:b'), { path: './a:b' });
    assert.deepEqual(splitCpArg('file'), { path: 'file' });
    assert.deepEqual(splitCpArg('-'), { path: '-' });
  });

  it("gives Go's FileMode bits", () => {
    const dir = goFileMode(0o040755);
    assert.equal(dir, 2 ** 31 + 0o755);
    assert.ok(goModeIsDir(dir));
    assert.ok(!goModeIsSymlink(dir));
    assert.ok(goModeIsSymlink(goFileMode(0o120777)));
    assert.equal(goFileMode(0o100644), 0o644);
    assert.equal(goFileMode(0o104755), 2 ** 23 + 0o755);
  });
});
