import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadCliBundle, writeCodeCache } from '../../../src/cli/bundle-loader.ts';
import { projectRoot } from '../../helpers/wharf.ts';

const loaderPath = join(projectRoot, 'src/cli/bundle-loader.ts');

/** Writes a CommonJS bundle whose runCli returns `result`, ending in its id line as the build does. */
function writeBundle(file: string, result: string, extra = ''): void {
  const body = `${extra}
exports.runCli = async (argv) => ${result};
exports.warmUp = async () => { await exports.runCli(['warm']); };
`;
  const id = createHash('sha256').update(body).digest('hex');
  writeFileSync(file, `${body}\n//# wharf-bundle-id=${id}\n`);
}

/** Loads `file` in a fresh node (no compilation cache of this process in the way). */
function loadInChild(file: string): { codeCache: string; result: unknown } {
  const code = `import('${loaderPath}').then(async ({ loadCliBundle }) => {
    const loaded = loadCliBundle(${JSON.stringify(file)});
    console.log(JSON.stringify({ codeCache: loaded.codeCache, result: await loaded.bundle.runCli([]) }));
  });`;
  return JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '-e', code], { encoding: 'utf8' }));
}

describe('CLI bundle loader', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-bundle-loader-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a code cache that a later process uses', async () => {
    const file = join(dir, 'accepted.cjs');
    writeBundle(file, '"accepted " + argv.length');
    const size = await writeCodeCache(file);
    assert.equal(readFileSync(`${file}.cache`).length, size);
    assert.deepEqual(loadInChild(file), { codeCache: 'accepted', result: 'accepted 0' });
  });

  it('ignores a cache made for another build of the bundle', async () => {
    const file = join(dir, 'rebuilt.cjs');
    writeBundle(file, '"old"');
    await writeCodeCache(file);
    writeBundle(file, '"new"');
    const loaded = loadCliBundle(file);
    assert.equal(loaded.codeCache, 'other-build');
    assert.equal(await loaded.bundle.runCli([]), 'new');
  });

  it('compiles from source when V8 rejects the cache or there is none', async () => {
    const file = join(dir, 'garbage.cjs');
    writeBundle(file, '"from source"');
    const id = readFileSync(file, 'latin1').trimEnd().slice(-64);
    writeFileSync(`${file}.cache`, Buffer.concat([Buffer.from(id, 'latin1'), Buffer.alloc(4096, 7)]));
    const rejected = loadCliBundle(file);
    assert.equal(rejected.codeCache, 'rejected');
    assert.equal(await rejected.bundle.runCli([]), 'from source');

    const bare = join(dir, 'bare.cjs');
    writeBundle(bare, '"no cache"');
    const missing = loadCliBundle(bare);
    assert.equal(missing.codeCache, 'missing');
    assert.equal(await missing.bundle.runCli([]), 'no cache');
  });

  it('reads a bundle with non-ASCII text as UTF-8 and requires from its own directory', async () => {
    writeFileSync(join(dir, 'beside.cjs'), 'module.exports = "beside";');
    const file = join(dir, 'unicode.cjs');
    writeBundle(
      file,
      '/^\\d+(µs|μs)$/.test("5µs") && /^\\d+(µs|μs)$/.test("5μs") && require("./beside.cjs")',
    );
    assert.equal(await loadCliBundle(file).bundle.runCli([]), 'beside');
  });

  it('is what the built binary loads, with an accepted cache', {
    skip: !built() && 'dist/ is not built',
  }, () => {
    const code = `import('${loaderPath}').then(({ loadCliBundle }) =>
      console.log(loadCliBundle(${JSON.stringify(join(projectRoot, 'dist/wharf.cjs'))}).codeCache));`;
    assert.equal(
      execFileSync(process.execPath, ['--import', 'tsx', '-e', code], { encoding: 'utf8' }).trim(),
      'accepted',
    );
  });
});

function built(): boolean {
  return existsSync(join(projectRoot, 'dist/wharf.cjs.cache'));
}
