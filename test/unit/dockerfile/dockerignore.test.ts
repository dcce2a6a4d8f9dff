import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import balena from '@balena/dockerignore';
import { cleanPath, DockerIgnore } from '../../../src/dockerfile/dockerignore.ts';
import { DockerfileError } from '../../../src/dockerfile/errors.ts';

/** moby/patternmatcher TestMatches: [pattern, path, excluded] (MatchesOrParentMatches). */
const PATTERNMATCHER_CASES: [string, string, boolean][] = [
  ['**', 'file', true],
  ['**', 'file/', true],
  ['**/', 'file', true],
  ['**/', 'file/', true],
  ['**', '/', true],
  ['**/', '/', true],
  ['**', 'dir/file', true],
  ['**/', 'dir/file', true],
  ['**', 'dir/file/', true],
  ['**/', 'dir/file/', true],
  ['**/**', 'dir/file', true],
  ['**/**', 'dir/file/', true],
  ['dir/**', 'dir/file', true],
  ['dir/**', 'dir/file/', true],
  ['dir/**', 'dir/dir2/file', true],
  ['dir/**', 'dir/dir2/file/', true],
  ['**/dir', 'dir', true],
  ['**/dir', 'dir/file', true],
  ['**/dir2/*', 'dir/dir2/file', true],
  ['**/dir2/*', 'dir/dir2/file/', true],
  ['**/dir2/**', 'dir/dir2/dir3/file', true],
  ['**/dir2/**', 'dir/dir2/dir3/file/', true],
  ['**file', 'file', true],
  ['**file', 'dir/file', true],
  ['**/file', 'dir/file', true],
  ['**file', 'dir/dir/file', true],
  ['**/file', 'dir/dir/file', true],
  ['**/file*', 'dir/dir/file', true],
  ['**/file*', 'dir/dir/file.txt', true],
  ['**/file*txt', 'dir/dir/file.txt', true],
  ['**/file*.txt', 'dir/dir/file.txt', true],
  ['**/file*.txt*', 'dir/dir/file.txt', true],
  ['**/**/*.txt', 'dir/dir/file.txt', true],
  ['**/**/*.txt2', 'dir/dir/file.txt', false],
  ['**/*.txt', 'file.txt', true],
  ['**/**/*.txt', 'file.txt', true],
  ['a**/*.txt', 'a/file.txt', true],
  ['a**/*.txt', 'a/dir/file.txt', true],
  ['a**/*.txt', 'a/dir/dir/file.txt', true],
  ['a/*.txt', 'a/dir/file.txt', false],
  ['a/*.txt', 'a/file.txt', true],
  ['a/*.txt**', 'a/file.txt', true],
  ['a[b-d]e', 'ae', false],
  ['a[b-d]e', 'ace', true],
  ['a[b-d]e', 'aae', false],
  ['a[^b-d]e', 'aze', true],
  ['.*', '.foo', true],
  ['.*', 'foo', false],
  ['abc.def', 'abcdef', false],
  ['abc.def', 'abc.def', true],
  ['abc.def', 'abcZdef', false],
  ['abc?def', 'abcZdef', true],
  ['abc?def', 'abcdef', false],
  ['a\\\\', 'a\\', true],
  ['**/foo/bar', 'foo/bar', true],
  ['**/foo/bar', 'dir/foo/bar', true],
  ['**/foo/bar', 'dir/dir2/foo/bar', true],
  ['abc/**', 'abc', false],
  ['abc/**', 'abc/def', true],
  ['abc/**', 'abc/def/ghi', true],
  ['**/.foo', '.foo', true],
  ['**/.foo', 'bar.foo', false],
  ['a(b)c/def', 'a(b)c/def', true],
  ['a(b)c/def', 'a(b)c/xyz', false],
  ['a.|)$(}+{bc', 'a.|)$(}+{bc', true],
  [
    'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl',
    'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl',
    true,
  ],
  ['dist/*.whl', 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', true],
  ['a\\*b', 'a*b', true],
];

/** moby/patternmatcher multiPatternTests. */
const MULTI_CASES: [string[], string, boolean][] = [
  [['**', '!util/docker/web'], 'util/docker/web/foo', false],
  [['**', '!util/docker/web', 'util/docker/web/foo'], 'util/docker/web/foo', true],
  [
    ['**', '!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl'],
    'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl',
    false,
  ],
  [['**', '!dist/*.whl'], 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', false],
];

/** moby/patternmatcher matchTests (Go's filepath.Match cases): [pattern, path, match, bad pattern]. */
const FILEPATH_MATCH_CASES: [string, string, boolean, boolean][] = [
  ['abc', 'abc', true, false],
  ['*', 'abc', true, false],
  ['*c', 'abc', true, false],
  ['a*', 'a', true, false],
  ['a*', 'abc', true, false],
  ['a*', 'ab/c', true, false],
  ['a*/b', 'abc/b', true, false],
  ['a*/b', 'a/c/b', false, false],
  ['a*b*c*d*e*/f', 'axbxcxdxe/f', true, false],
  ['a*b*c*d*e*/f', 'axbxcxdxexxx/f', true, false],
  ['a*b*c*d*e*/f', 'axbxcxdxe/xxx/f', false, false],
  ['a*b*c*d*e*/f', 'axbxcxdxexxx/fff', false, false],
  ['a*b?c*x', 'abxbbxdbxebxczzx', true, false],
  ['a*b?c*x', 'abxbbxdbxebxczzy', false, false],
  ['ab[c]', 'abc', true, false],
  ['ab[b-d]', 'abc', true, false],
  ['ab[e-g]', 'abc', false, false],
  ['ab[^c]', 'abc', false, false],
  ['ab[^b-d]', 'abc', false, false],
  ['ab[^e-g]', 'abc', true, false],
  ['a\\*b', 'a*b', true, false],
  ['a\\*b', 'ab', false, false],
  ['a?b', 'a☺b', true, false],
  ['a[^a]b', 'a☺b', true, false],
  ['a???b', 'a☺b', false, false],
  ['a[^a][^a][^a]b', 'a☺b', false, false],
  ['[a-ζ]*', 'α', true, false],
  ['*[a-ζ]', 'A', false, false],
  ['a?b', 'a/b', false, false],
  ['a*b', 'a/b', false, false],
  ['[\\]a]', ']', true, false],
  ['[\\-]', '-', true, false],
  ['[x\\-]', 'x', true, false],
  ['[x\\-]', '-', true, false],
  ['[x\\-]', 'z', false, false],
  ['[\\-x]', 'x', true, false],
  ['[\\-x]', '-', true, false],
  ['[\\-x]', 'a', false, false],
  ['[]a]', ']', false, true],
  ['[-]', '-', false, true],
  ['[x-]', 'x', false, true],
  ['[x-]', '-', false, true],
  ['[x-]', 'z', false, true],
  ['[-x]', 'x', false, true],
  ['[-x]', '-', false, true],
  ['[-x]', 'a', false, true],
  ['\\', 'a', false, true],
  ['[a-b-c]', 'a', false, true],
  ['[', 'a', false, true],
  ['[^', 'a', false, true],
  ['[^bc', 'a', false, true],
  ['a[', 'a', false, true],
  ['a[', 'ab', false, true],
  ['*x', 'xxx', true, false],
];

/** Walks `path`'s parents top-down with matchWithParent, as BuildKit's context walker does. */
function walkerExcludes(ignore: DockerIgnore, path: string): boolean {
  const parts = cleanPath(path).split('/');
  let info: readonly boolean[] | undefined;
  let excluded = false;
  for (let i = 0; i < parts.length; i++) {
    const r = ignore.matchWithParent(parts.slice(0, i + 1).join('/'), info);
    info = r.info;
    excluded = r.excluded;
  }
  return excluded;
}

describe('dockerignore: moby/patternmatcher cases', () => {
  it('matches every TestMatches case, with and without parent results', () => {
    for (const [pattern, path, expected] of PATTERNMATCHER_CASES) {
      const ignore = DockerIgnore.fromPatterns([pattern]);
      const where = `pattern ${JSON.stringify(pattern)} path ${JSON.stringify(path)}`;
      assert.equal(ignore.matches(path), expected, `MatchesOrParentMatches ${where}`);
      // The walker passes clean paths; Go's filepath.Dir also drops the trailing slash.
      assert.equal(walkerExcludes(ignore, path), expected, `MatchesUsingParentResults ${where}`);
      assert.equal(
        ignore.matchWithParent(cleanPath(path), undefined).excluded,
        expected,
        `no context ${where}`,
      );
    }
    for (const [patterns, path, expected] of MULTI_CASES) {
      const ignore = DockerIgnore.fromPatterns(patterns);
      assert.equal(ignore.matches(path), expected, `${patterns.join(' ')} on ${path}`);
      assert.equal(walkerExcludes(ignore, path), expected, `walker: ${patterns.join(' ')} on ${path}`);
    }
    console.log(`patternmatcher: ${PATTERNMATCHER_CASES.length + MULTI_CASES.length} cases checked`);
  });

  it("matches Go's filepath.Match cases and rejects its malformed patterns", () => {
    for (const [pattern, path, expected, bad] of FILEPATH_MATCH_CASES) {
      if (bad) {
        assert.throws(
          () => DockerIgnore.fromPatterns([pattern]),
          (e: unknown) => e instanceof DockerfileError && /syntax error in pattern/.test(e.message),
          pattern,
        );
      } else {
        assert.equal(DockerIgnore.fromPatterns([pattern]).matches(path), expected, `${pattern} on ${path}`);
      }
    }
    console.log(`filepath.Match: ${FILEPATH_MATCH_CASES.length} cases checked`);
  });

  it('keeps exact-match, prefix and suffix quirks of patternmatcher', () => {
    // `**name` is a plain suffix test: it matches `xname` as well.
    assert.equal(DockerIgnore.fromPatterns(['**file']).matches('barfile'), true);
    assert.equal(DockerIgnore.fromPatterns(['foo**']).matches('foobar/x'), true);
    // `^` is left to the regexp, where it anchors: the pattern can never match.
    assert.equal(DockerIgnore.fromPatterns(['a^b*']).matches('a^bc'), false);
  });
});

describe('dockerignore: the file format (ignorefile.ReadAll)', () => {
  it('cleans lines, drops leading slashes, keeps inverted paths and skips comments', () => {
    const text = 'test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n';
    const ignore = DockerIgnore.parse(text);
    assert.deepEqual(
      ignore.patterns.map((p) => (p.exclusion ? '!' : '') + p.pattern),
      ['test1', 'test2', 'a/file/here', 'lastfile', '!inverted/abs/path'],
    );
    assert.deepEqual(
      ignore.patterns.map((p) => p.line),
      [1, 2, 3, 5, 7],
    );
  });

  it('#111 fails on a bare ! naming the file and line', () => {
    assert.throws(
      () => DockerIgnore.parse('foo\n# c\n!\n', 'ctx/.dockerignore'),
      (e: unknown) =>
        e instanceof DockerfileError &&
        e.file === 'ctx/.dockerignore' &&
        e.line === 3 &&
        e.message === 'ctx/.dockerignore:3: illegal exclusion pattern: "!"',
    );
    assert.throws(() => DockerIgnore.parse('! \n'), /:1: illegal exclusion pattern/);
    // `!/` cleans to `!` in patternmatcher.New.
    assert.throws(() => DockerIgnore.parse('!/\n'), /:1: illegal exclusion pattern/);
  });

  it('strips a BOM and CR line ends; only column-1 # starts a comment', () => {
    const ignore = DockerIgnore.parse('\uFEFFa\r\n #b\r\n#c\n');
    assert.deepEqual(
      ignore.patterns.map((p) => p.pattern),
      ['a', '#b'],
    );
  });

  it('cleans .. and . out of patterns, and is case-sensitive', () => {
    const ignore = DockerIgnore.parse('foo/../bar\n./baz/\nCase\n');
    assert.deepEqual(
      ignore.patterns.map((p) => p.pattern),
      ['bar', 'baz', 'Case'],
    );
    assert.equal(ignore.matches('bar'), true);
    assert.equal(ignore.matches('foo/bar'), false);
    assert.equal(ignore.matches('baz/x'), true);
    assert.equal(ignore.matches('case'), false);
  });
});

describe("dockerignore: Docker's documented examples", () => {
  it('*/temp*, */*/temp*, temp?', () => {
    const ignore = DockerIgnore.parse('# comment\n*/temp*\n*/*/temp*\ntemp?\n');
    assert.equal(ignore.matches('somedir/temporary.txt'), true);
    assert.equal(ignore.matches('somedir/temp'), true);
    assert.equal(ignore.matches('somedir/temp/inner'), true);
    assert.equal(ignore.matches('somedir/subdir/temporary.txt'), true);
    assert.equal(ignore.matches('tempa'), true);
    assert.equal(ignore.matches('tempb'), true);
    assert.equal(ignore.matches('temp'), false);
    assert.equal(ignore.matches('temporary.txt'), false);
    assert.equal(ignore.matches('a/b/c/temp'), false);
  });

  it('**/*.go excludes .go files at every depth, the root included', () => {
    const ignore = DockerIgnore.parse('**/*.go\n');
    assert.equal(ignore.matches('main.go'), true);
    assert.equal(ignore.matches('a/b/c.go'), true);
    assert.equal(ignore.matches('a/b/c.gox'), false);
  });

  it('#110 the last matching line decides (*.md, !README*.md, README-secret.md)', () => {
    const first = DockerIgnore.parse('*.md\n!README*.md\nREADME-secret.md\n');
    assert.equal(first.matches('CHANGES.md'), true);
    assert.equal(first.matches('README.md'), false);
    assert.equal(first.matches('README-secret.md'), true);
    const second = DockerIgnore.parse('*.md\nREADME-secret.md\n!README*.md\n');
    assert.equal(second.matches('README-secret.md'), false);
    assert.equal(second.matches('CHANGES.md'), true);
  });

  it('* then exceptions keeps only the listed files', () => {
    const ignore = DockerIgnore.parse('*\n!src\n!package.json\n');
    assert.equal(ignore.matches('src/a/b.ts'), false);
    assert.equal(ignore.matches('package.json'), false);
    assert.equal(ignore.matches('node_modules/x'), true);
    assert.equal(ignore.matches('Dockerfile'), true);
  });

  it('/foo/bar and foo/bar both exclude only bar under foo at the root', () => {
    for (const text of ['/foo/bar\n', 'foo/bar\n']) {
      const ignore = DockerIgnore.parse(text);
      assert.equal(ignore.matches('foo/bar'), true);
      assert.equal(ignore.matches('foo/bar/baz'), true);
      assert.equal(ignore.matches('x/foo/bar'), false);
      assert.equal(ignore.matches('bar'), false);
    }
  });

  it('an exception under an excluded directory is seen through parent results', () => {
    const ignore = DockerIgnore.parse('docs\n!docs/README.md\n');
    assert.equal(walkerExcludes(ignore, 'docs'), true);
    assert.equal(walkerExcludes(ignore, 'docs/README.md'), false);
    assert.equal(walkerExcludes(ignore, 'docs/other.md'), true);
    assert.equal(ignore.canSkipExcludedDir('docs'), false);
    assert.equal(ignore.canSkipExcludedDir('node_modules'), true);
    assert.equal(DockerIgnore.parse('docs\n!**/keep\n').canSkipExcludedDir('docs'), false);
  });

  it('walker results differ from MatchesOrParentMatches where BuildKit differs (*/c, !a)', () => {
    // BuildKit's walker never evaluated `!a` on `a` (nothing was excluded yet), so `a/c` stays excluded.
    const ignore = DockerIgnore.fromPatterns(['*/c', '!a']);
    assert.equal(walkerExcludes(ignore, 'a/c'), true);
    assert.equal(ignore.matches('a/c'), false);
  });
});

describe('dockerignore: loading for a build', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('#112 prefers <Dockerfile>.dockerignore beside the Dockerfile over .dockerignore', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-ignore-'));
    dirs.push(dir);
    await writeFile(join(dir, '.dockerignore'), 'bar\n');
    await writeFile(join(dir, 'app.Dockerfile.dockerignore'), 'foo\n');
    const named = await DockerIgnore.load(dir, { dockerfile: join(dir, 'app.Dockerfile') });
    assert.equal(named.file, join(dir, 'app.Dockerfile.dockerignore'));
    assert.equal(named.matches('foo'), true);
    assert.equal(named.matches('bar'), false);
    const plain = await DockerIgnore.load(dir, { dockerfile: join(dir, 'Dockerfile') });
    assert.equal(plain.file, join(dir, '.dockerignore'));
    assert.equal(plain.matches('bar'), true);
  });

  it('gives no rules when there is no ignore file, and names the file in errors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-ignore-'));
    dirs.push(dir);
    const none = await DockerIgnore.load(dir);
    assert.equal(none.file, undefined);
    assert.equal(none.matches('anything'), false);
    await writeFile(join(dir, '.dockerignore'), 'a\n!\n');
    await assert.rejects(DockerIgnore.load(dir), {
      message: `${join(dir, '.dockerignore')}:2: illegal exclusion pattern: "!"`,
    });
  });
});

describe('dockerignore: why @balena/dockerignore is not used', () => {
  it('differs from patternmatcher on these cases only', () => {
    const differences: string[] = [];
    for (const [pattern, path, expected] of PATTERNMATCHER_CASES) {
      const ours = DockerIgnore.fromPatterns([pattern]).matches(path);
      assert.equal(ours, expected);
      let theirs: boolean | string;
      try {
        theirs = balena
          .default({ ignorecase: false })
          .add(pattern)
          .ignores(path.replace(/\/$/, '') || '/');
      } catch {
        theirs = 'throws';
      }
      if (theirs !== expected) differences.push(`${pattern} on ${path}: ${theirs}`);
    }
    const extra: [string[], string, boolean][] = [
      [['**file'], 'barfile', true],
      [['!'], 'x', false], // Docker fails the build; balena silently drops the line
      [['a+b'], 'aab', false],
    ];
    for (const [patterns, path, expected] of extra) {
      const theirs = balena.default({ ignorecase: false }).add(patterns).ignores(path);
      if (theirs !== expected) differences.push(`${patterns.join(',')} on ${path}: ${theirs}`);
    }
    assert.deepEqual(differences, [
      'a(b)c/def on a(b)c/def: false',
      'a.|)$(}+{bc on a.|)$(}+{bc: throws',
      'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl on dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl: false',
      '**file on barfile: false',
      'a+b on aab: true',
    ]);
  });
});
