import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, link, mkdir, mkdtemp, realpath, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveInContext, walkBuildContext } from '../../../src/dockerfile/build-context.ts';
import { DockerIgnore } from '../../../src/dockerfile/dockerignore.ts';

describe('build context walker', () => {
  let root: string;
  let ctx: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'wharf-context-'));
    ctx = join(root, 'ctx');
    const files: Record<string, string> = {
      Dockerfile: 'FROM scratch\n',
      'a.txt': 'a',
      'a/b': 'b',
      'src/main.ts': 'main',
      'src/util/x.ts': 'x',
      'docs/README.md': 'readme',
      'docs/other.md': 'other',
      'docs/deep/keep.md': 'keep',
      'node_modules/pkg/index.js': 'js',
      'debug.log': 'log',
      'src/trace.log': 'log',
      'é.txt': 'accent',
      'z.txt': 'z',
    };
    for (const [path, text] of Object.entries(files)) {
      await mkdir(join(ctx, path, '..'), { recursive: true });
      await writeFile(join(ctx, path), text);
    }
    await writeFile(join(root, 'outside-secret'), 'secret');
    await symlink('src', join(ctx, 'link'));
    await symlink('/etc', join(ctx, 'abs-link'));
    await symlink('../outside-secret', join(ctx, 'escape-link'));
    await symlink('nowhere', join(ctx, 'dangling'));
    await link(join(ctx, 'a.txt'), join(ctx, 'z.txt.hard'));
    await chmod(join(ctx, 'src/main.ts'), 0o755);
    await utimes(join(ctx, 'a.txt'), 1_000_000, 1_000_000);
    execFileSync('mkfifo', [join(ctx, 'pipe')]);
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('#67 lists every file depth first, siblings in byte order, with type, mode, size, mtime and links (dangling ones too)', async () => {
    const entries = await walkBuildContext(ctx);
    assert.deepEqual(
      entries.map((e) => e.path),
      [
        'Dockerfile',
        'a',
        'a/b',
        'a.txt',
        'abs-link',
        'dangling',
        'debug.log',
        'docs',
        'docs/README.md',
        'docs/deep',
        'docs/deep/keep.md',
        'docs/other.md',
        'escape-link',
        'link',
        'node_modules',
        'node_modules/pkg',
        'node_modules/pkg/index.js',
        'pipe',
        'src',
        'src/main.ts',
        'src/trace.log',
        'src/util',
        'src/util/x.ts',
        'z.txt',
        'z.txt.hard',
        'é.txt',
      ],
    );
    const byPath = new Map(entries.map((e) => [e.path, e]));
    assert.equal(byPath.get('a')!.type, 'directory');
    assert.equal(byPath.get('pipe')!.type, 'fifo');
    assert.equal(byPath.get('src/main.ts')!.mode, 0o755);
    assert.equal(byPath.get('src/main.ts')!.size, 4);
    assert.equal(byPath.get('a.txt')!.mtimeNs, 1_000_000_000_000_000n);
    assert.deepEqual(
      ['link', 'abs-link', 'escape-link', 'dangling'].map((p) => [
        byPath.get(p)!.type,
        byPath.get(p)!.linkTarget,
      ]),
      [
        ['symlink', 'src'],
        ['symlink', '/etc'],
        ['symlink', '../outside-secret'],
        ['symlink', 'nowhere'],
      ],
    );
    // Links are never followed: nothing from /etc or outside the context appears.
    assert.ok(entries.every((e) => !e.path.startsWith('link/') && !e.path.startsWith('abs-link/')));
    assert.equal(byPath.get('a.txt')!.hardlinkTo, undefined);
    assert.equal(byPath.get('z.txt.hard')!.hardlinkTo, 'a.txt');
  });

  it('#63 #110 honours .dockerignore: excluded directories vanish unless an exception re-includes a child', async () => {
    const ignore = DockerIgnore.parse('node_modules\ndocs\n!docs/deep/keep.md\n*.log\n**/*.log\nlink\n');
    const entries = await walkBuildContext(ctx, { ignore });
    const paths = entries.map((e) => e.path);
    assert.ok(!paths.some((p) => p.startsWith('node_modules')), 'node_modules excluded');
    assert.ok(!paths.includes('debug.log') && !paths.includes('src/trace.log'), 'logs excluded');
    assert.ok(!paths.includes('link'), 'a symlink can be excluded by name');
    // docs is excluded, but listed (once, before its included child) because of the exception.
    assert.deepEqual(
      paths.filter((p) => p.startsWith('docs')),
      ['docs', 'docs/deep', 'docs/deep/keep.md'],
    );
    const docs = entries.find((e) => e.path === 'docs')!;
    assert.equal(docs.type, 'directory');
  });

  it('skips an excluded directory when no exception can reach inside it', async () => {
    const ignore = DockerIgnore.parse('docs\n!src/main.ts\n');
    const paths = (await walkBuildContext(ctx, { ignore })).map((e) => e.path);
    assert.ok(!paths.some((p) => p.startsWith('docs')));
    assert.ok(paths.includes('src/main.ts'));
  });

  it('keeps only what * then exceptions list', async () => {
    const ignore = DockerIgnore.parse('*\n!src\n!Dockerfile\n');
    const paths = (await walkBuildContext(ctx, { ignore })).map((e) => e.path);
    assert.deepEqual(paths, [
      'Dockerfile',
      'src',
      'src/main.ts',
      'src/trace.log',
      'src/util',
      'src/util/x.ts',
    ]);
  });

  it('walks a context given through a symlink, and fails on a missing context', async () => {
    await symlink(ctx, join(root, 'ctx-link'));
    const entries = await walkBuildContext(join(root, 'ctx-link'));
    assert.ok(entries.some((e) => e.path === 'Dockerfile'));
    await assert.rejects(
      walkBuildContext(join(root, 'missing')),
      /Cannot read the build context: .* does not exist/,
    );
  });

  it('stops when the signal aborts', async () => {
    await assert.rejects(walkBuildContext(ctx, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  });
});

describe('resolving paths inside the context', () => {
  let root: string;
  let ctx: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'wharf-resolve-'));
    ctx = join(root, 'ctx');
    await mkdir(join(ctx, 'etc'), { recursive: true });
    await mkdir(join(ctx, 'dir/sub'), { recursive: true });
    await writeFile(join(ctx, 'etc/app.conf'), 'conf');
    await writeFile(join(root, 'secret'), 'secret');
    await symlink('/etc', join(ctx, 'abs'));
    await symlink('../../..', join(ctx, 'dir/sub/up'));
    await symlink('../secret', join(ctx, 'escape'));
    await symlink('dir', join(ctx, 'rel'));
    await symlink('loop2', join(ctx, 'loop1'));
    await symlink('loop1', join(ctx, 'loop2'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('#66 follows relative links (a context path through a symlinked dir)', async () => {
    assert.equal((await resolveInContext(ctx, 'rel/sub')).path, 'dir/sub');
  });

  it('resolves an absolute link target from the context root, not the host root', async () => {
    const resolved = await resolveInContext(ctx, 'abs/app.conf');
    assert.equal(resolved.path, 'etc/app.conf');
    assert.equal(resolved.absolute, join(await realpath(ctx), 'etc/app.conf'));
  });

  it('stops .. in link targets at the context root', async () => {
    assert.equal((await resolveInContext(ctx, 'dir/sub/up/etc')).path, 'etc');
    assert.equal((await resolveInContext(ctx, 'escape')).path, 'secret');
    assert.equal((await resolveInContext(ctx, 'escape', { followFinalLink: false })).path, 'escape');
  });

  it('keeps missing components as written, and leading slashes mean the context root', async () => {
    assert.equal((await resolveInContext(ctx, '/dir/missing/x')).path, 'dir/missing/x');
    assert.equal((await resolveInContext(ctx, './')).path, '.');
  });

  it('rejects a requested path that leaves the context, naming it', async () => {
    await assert.rejects(resolveInContext(ctx, '../secret'), {
      message: 'Cannot resolve "../secret" in the build context: it is outside the context directory',
    });
    await assert.rejects(resolveInContext(ctx, 'dir/../../x'), /"dir\/\.\.\/\.\.\/x" in the build context/);
  });

  it('fails on symlink loops', async () => {
    await assert.rejects(resolveInContext(ctx, 'loop1'), /too many levels of symbolic links/);
  });
});
