import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { hotVerb, learnedCachePath, loadCliBundle, writeCodeCache } from '../../../src/cli/bundle-loader.ts';
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

/** The id a bundle written by writeBundle (or the build) ends with. */
function idOf(file: string): string {
  return readFileSync(file, 'latin1').trimEnd().slice(-64);
}

/**
 * Code for a bundle big enough that its cache takes a while to make and write: `runCli` calls
 * functions the warm-up never ran, so a run compiles (and can learn) them.
 */
function manyFunctions(count: number): string {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) lines.push(`function f${i}(x) { return x + ${i} + String(x).length; }`);
  lines.push(
    `function actionPath() { let s = 0; ${Array.from({ length: count }, (_, i) => `s += f${i}(${i});`).join(' ')} return s; }`,
  );
  return lines.join('\n');
}

/** What `actionPath()` of manyFunctions(count) returns. */
function actionResult(count: number): number {
  let sum = 0;
  for (let i = 0; i < count; i++) sum += 2 * i + String(i).length;
  return sum;
}

/** runCli of a bundle with manyFunctions: the action path runs for a command, not for the warm-up. */
const ACTION = 'argv.length === 0 ? actionPath() : 0';

interface ChildResult {
  codeCache: string;
  learned: string[];
  result: unknown;
  canLearn: boolean;
  learnt: boolean | null;
}

/**
 * Code run by a fresh node (no compilation cache of this process in the way): load, run, learn.
 * With a `barrier`, the child learns only once `count` children have loaded (each drops a file in
 * `dir`), so that they all learn at once.
 */
function childCode(
  file: string,
  verb: string | undefined,
  learn: boolean,
  barrier?: { dir: string; count: number },
): string {
  return `import(${JSON.stringify(loaderPath)}).then(async ({ loadCliBundle }) => {
    const fs = await import('node:fs');
    const loaded = loadCliBundle(${JSON.stringify(file)}, { verb: ${JSON.stringify(verb)} });
    const result = await loaded.bundle.runCli([]);
    const canLearn = typeof loaded.learn === 'function';
    const barrier = ${JSON.stringify(barrier ?? null)};
    if (barrier) {
      fs.writeFileSync(barrier.dir + '/' + process.pid, '');
      while (fs.readdirSync(barrier.dir).length < barrier.count) await new Promise((done) => setTimeout(done, 5));
    }
    const learnt = ${learn} && canLearn ? loaded.learn() : null;
    console.log(JSON.stringify({ codeCache: loaded.codeCache, learned: loaded.learned, result, canLearn, learnt }));
  });`;
}

function loadInChild(file: string, verb?: string, learn = false): ChildResult {
  return JSON.parse(
    execFileSync(process.execPath, ['--import', 'tsx', '-e', childCode(file, verb, learn)], {
      encoding: 'utf8',
    }),
  );
}

function loadInChildAsync(
  file: string,
  verb: string,
  barrier: { dir: string; count: number },
): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', childCode(file, verb, true, barrier)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`child exit ${code}`)),
    );
  });
}

/** Files a learner left behind in `dir` (temp files of a write that did not finish). */
function temps(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.endsWith('.tmp'));
}

const isRoot = process.getuid?.() === 0;

describe('CLI bundle loader', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-bundle-loader-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a code cache that a later process uses', async () => {
    const file = join(dir, 'accepted.cjs');
    writeBundle(file, '"accepted " + argv.length');
    const size = await writeCodeCache(file);
    assert.equal(readFileSync(`${file}.cache`).length, size);
    assert.deepEqual(loadInChild(file), {
      codeCache: 'accepted',
      learned: [],
      result: 'accepted 0',
      canLearn: false,
      learnt: null,
    });
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
    const header = Buffer.from(`${idOf(file)} learned=\n`, 'latin1');
    writeFileSync(`${file}.cache`, Buffer.concat([header, Buffer.alloc(4096, 7)]));
    const rejected = loadCliBundle(file, { verb: 'run' });
    assert.equal(rejected.codeCache, 'rejected');
    assert.equal(await rejected.bundle.runCli([]), 'from source');
    // a process whose cache V8 refused has other flags or another V8: what it learned would be too
    assert.equal(rejected.learn, undefined);

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

  it('learns a hot verb once: a header of the bundle id and the verb, then the learned cache loads', async () => {
    const file = join(dir, 'learn.cjs');
    writeBundle(file, ACTION, manyFunctions(300));
    await writeCodeCache(file);
    assert.equal(readFileSync(`${file}.cache`, 'latin1').slice(0, 74), `${idOf(file)} learned=\n`);

    const first = loadInChild(file, 'container cleanup', true);
    assert.deepEqual(first, {
      codeCache: 'accepted',
      learned: [],
      result: actionResult(300),
      canLearn: true,
      learnt: true,
    });
    const learnedFile = learnedCachePath(file, 'container cleanup');
    assert.equal(learnedFile, `${file}.container-cleanup.cache`);
    const bytes = readFileSync(learnedFile);
    const header = `${idOf(file)} learned=container cleanup\n`;
    assert.equal(bytes.toString('latin1', 0, header.length), header);
    // it holds what the build's cache held plus the action's functions this run compiled
    assert.ok(bytes.length > readFileSync(`${file}.cache`).length);

    assert.deepEqual(loadInChild(file, 'container cleanup', true), {
      codeCache: 'accepted',
      learned: ['container cleanup'],
      result: actionResult(300),
      canLearn: false,
      learnt: null,
    });
    // another verb still starts from the build's cache, and learns its own
    assert.deepEqual(loadInChild(file, 'ps'), {
      codeCache: 'accepted',
      learned: [],
      result: actionResult(300),
      canLearn: true,
      learnt: null,
    });
    assert.deepEqual(temps(dir), []);
  });

  it('relearns over a learned cache of another build, and never learns over a rejected one', async () => {
    const file = join(dir, 'relearn.cjs');
    writeBundle(file, '"one"');
    await writeCodeCache(file);
    assert.equal(loadInChild(file, 'run', true).learnt, true);
    // a new build: the learned file's id no longer matches, so the build's cache is used and learned over
    writeBundle(file, '"two"');
    await writeCodeCache(file);
    assert.deepEqual(loadInChild(file, 'run', true), {
      codeCache: 'accepted',
      learned: [],
      result: 'two',
      canLearn: true,
      learnt: true,
    });
    assert.deepEqual(loadInChild(file, 'run').learned, ['run']);

    // a learned file V8 refuses (made by another V8): compiled from source, the same result, no learning
    const header = Buffer.from(`${idOf(file)} learned=run\n`, 'latin1');
    writeFileSync(learnedCachePath(file, 'run'), Buffer.concat([header, Buffer.alloc(4096, 7)]));
    const rejected = loadInChild(file, 'run', true);
    assert.deepEqual(rejected, {
      codeCache: 'rejected',
      learned: ['run'],
      result: 'two',
      canLearn: false,
      learnt: null,
    });
  });

  it('does not learn beside a bundle in a world-writable directory', async () => {
    const shared = join(dir, 'shared');
    mkdirSync(shared);
    const file = join(shared, 'wharf.cjs');
    writeBundle(file, '"shared"');
    await writeCodeCache(file);
    chmodSync(shared, 0o1777);
    const result = loadInChild(file, 'run', true);
    assert.equal(result.codeCache, 'accepted');
    assert.equal(result.learnt, false);
    assert.deepEqual(readdirSync(shared).sort(), ['wharf.cjs', 'wharf.cjs.cache']);
  });

  it('skips learning silently when the bundle directory is read-only', {
    skip: !isRoot && 'needs root for a read-only bind mount',
  }, async () => {
    const installed = join(dir, 'installed');
    mkdirSync(installed);
    const file = join(installed, 'wharf.cjs');
    writeBundle(file, '"installed"');
    await writeCodeCache(file);
    execFileSync('mount', ['--bind', installed, installed]);
    try {
      execFileSync('mount', ['-o', 'remount,bind,ro', installed]);
      const result = loadInChild(file, 'run', true);
      assert.deepEqual(result, {
        codeCache: 'accepted',
        learned: [],
        result: 'installed',
        canLearn: true,
        learnt: false,
      });
    } finally {
      execFileSync('umount', [installed]);
    }
    assert.deepEqual(readdirSync(installed).sort(), ['wharf.cjs', 'wharf.cjs.cache']);
  });

  it('leaves one whole cache per verb when learners race', async () => {
    const race = join(dir, 'race');
    mkdirSync(race);
    const file = join(race, 'wharf.cjs');
    writeBundle(file, ACTION, manyFunctions(3000));
    await writeCodeCache(file);
    // every child learns at the same moment, once all have loaded the build's cache
    const barrier = { dir: join(dir, 'race-barrier'), count: 9 };
    mkdirSync(barrier.dir);
    const children = [
      ...Array.from({ length: 6 }, () => loadInChildAsync(file, 'run', barrier)),
      ...Array.from({ length: 3 }, () => loadInChildAsync(file, 'ps', barrier)),
    ];
    const results = await Promise.all(children);
    for (const result of results) {
      assert.equal(result.codeCache, 'accepted');
      assert.equal(result.learnt, true);
    }
    for (const verb of ['run', 'ps']) {
      const header = `${idOf(file)} learned=${verb}\n`;
      assert.equal(readFileSync(learnedCachePath(file, verb), 'latin1').slice(0, header.length), header);
      assert.deepEqual(loadInChild(file, verb), {
        codeCache: 'accepted',
        learned: [verb],
        result: actionResult(3000),
        canLearn: false,
        learnt: null,
      });
    }
    assert.deepEqual(temps(race), []);
  });

  it('is what the built binary loads, with an accepted cache', {
    skip: !built() && 'dist/ is not built',
  }, () => {
    // the whole CLI's bundle and every module's
    const bundles = [
      join(projectRoot, 'dist/wharf.cjs'),
      ...readdirSync(join(projectRoot, 'dist/verbs'))
        .filter((name) => name.endsWith('.cjs'))
        .map((name) => join(projectRoot, 'dist/verbs', name)),
    ];
    assert.ok(bundles.length > 15, `${bundles.length} bundles`);
    const code = `import('${loaderPath}').then(({ loadCliBundle }) => {
      for (const file of ${JSON.stringify(bundles)}) console.log(loadCliBundle(file).codeCache);
    });`;
    const statuses = execFileSync(process.execPath, ['--import', 'tsx', '-e', code], { encoding: 'utf8' });
    assert.deepEqual(
      statuses.trim().split('\n'),
      bundles.map(() => 'accepted'),
    );
  });
});

describe('hot verbs', () => {
  it('names the learned cache of a command line, aliases sharing one', () => {
    const cases: [string[], string | undefined][] = [
      [['run', '--rm', '--network', 'none', 'busybox', 'true'], 'run'],
      [['--root', '/r', 'container', 'cleanup', 'abc', '--generation', '1'], 'container cleanup'],
      [['-H', 'unix:///s', 'ps', '-a'], 'ps'],
      [['container', 'ls', '-a'], 'ps'],
      [['container', 'run', 'busybox'], 'run'],
      [['image', 'ls'], 'images'],
      [['exec', 'c1', 'ps'], 'exec'],
      [['--debug', 'inspect', 'x'], 'inspect'],
      [['run', 'busybox', 'container'], 'run'],
      // a detached run has a cache of its own: it runs none of a foreground run's exit path
      [['run', '-d', '--name', 's', 'busybox', 'sleep', '9'], 'run detached'],
      [['container', 'run', '-dit', 'busybox'], 'run detached'],
      [['run', '--detach', 'busybox'], 'run detached'],
      [['run', '-it', 'busybox', 'sh'], 'run'],
      // help ends well without running the action; servers and streams do not learn
      [['run', '--help'], undefined],
      [['-h', 'ps'], undefined],
      [['ps', '-h'], undefined],
      [['-h', 'run'], undefined],
      // run's -h is --hostname
      [['run', '-h', 'web', 'busybox', 'true'], 'run'],
      [['container', 'create', '-h', 'web', 'busybox'], 'create'],
      [['system', 'service'], undefined],
      [['registry', 'serve'], undefined],
      [['events'], undefined],
      [['container', 'attach', 'c1'], undefined],
      [['no-such-verb'], undefined],
      [[], undefined],
      [['--root', '/r'], undefined],
    ];
    for (const [argv, verb] of cases) assert.equal(hotVerb(argv), verb, argv.join(' '));
  });
});

describe('the built launcher', { skip: !built() && 'dist/ is not built' }, () => {
  const work = mkdtempSync(join(tmpdir(), 'wharf-launcher-learns-'));
  after(() => rmSync(work, { recursive: true, force: true }));
  const dist = join(work, 'dist');
  const root = join(work, 'root');
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.WHARF_ROOT;

  /** Copies dist/ (retried if a build replaced it between two reads), beside a node_modules link. */
  function copyDist(): void {
    mkdirSync(dist, { recursive: true });
    symlinkSync(join(projectRoot, 'node_modules'), join(work, 'node_modules'));
    for (let attempt = 0; ; attempt++) {
      for (const name of ['launcher.cjs', 'wharf.cjs', 'wharf.cjs.cache']) {
        copyFileSync(join(projectRoot, 'dist', name), join(dist, name));
      }
      const id = idOf(join(dist, 'wharf.cjs'));
      if (readFileSync(join(dist, 'wharf.cjs.cache'), 'latin1').startsWith(id) || attempt === 5) return;
    }
  }

  function wharf(...args: string[]): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(process.execPath, [join(dist, 'launcher.cjs'), '--root', root, ...args], {
      encoding: 'utf8',
      env,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  it('learns a verb at its first success, with the same output, exit code and errors', () => {
    copyDist();
    const learned = join(dist, 'wharf.cjs.ps.cache');

    // help and failures do not learn
    const help = wharf('ps', '--help');
    assert.equal(help.status, 0);
    const failedFromBuild = wharf('--debug', 'ps', '--filter', 'nope=1');
    assert.equal(failedFromBuild.status, 1);
    assert.match(failedFromBuild.stderr, /^Error: invalid filter 'nope'\n.*\n +at /);
    assert.equal(existsSync(learned), false);

    const first = wharf('ps', '-a');
    assert.equal(first.status, 0);
    assert.match(first.stdout, /^CONTAINER ID +IMAGE +COMMAND/);
    assert.equal(first.stderr, '');
    const header = `${idOf(join(dist, 'wharf.cjs'))} learned=ps\n`;
    assert.equal(readFileSync(learned, 'latin1').slice(0, header.length), header);
    const size = readFileSync(learned).length;

    // from the learned cache: byte for byte what the build's cache gave, and nothing relearned
    assert.deepEqual(wharf('ps', '-a'), first);
    assert.deepEqual(wharf('ps', '--help'), help);
    assert.deepEqual(wharf('--debug', 'ps', '--filter', 'nope=1'), failedFromBuild);
    assert.equal(readFileSync(learned).length, size);
    assert.deepEqual(temps(dist), []);
  });

  it("ends from its 'exit' event with every other exit listener run once", () => {
    // one listener registered before the launcher's (a --require'd module's)
    const preload = join(work, 'count-exits.cjs');
    writeFileSync(
      preload,
      "process.on('exit', (code) => process.stderr.write('exit listener ' + code + '\\n'));\n",
    );
    const result = spawnSync(
      process.execPath,
      ['-r', preload, join(dist, 'launcher.cjs'), '--root', root, 'ps', '-q'],
      {
        encoding: 'utf8',
        env,
      },
    );
    assert.equal(result.status, 0);
    assert.equal(result.stderr, 'exit listener 0\n');
    const failed = spawnSync(
      process.execPath,
      ['-r', preload, join(dist, 'launcher.cjs'), '--root', root, 'exec', 'nosuch', 'true'],
      {
        encoding: 'utf8',
        env,
      },
    );
    assert.equal(failed.status, 1);
    assert.equal(failed.stderr, 'Error: No such container: nosuch\nexit listener 1\n');
  });

  it("runs a verb from its module's own bundle, as the whole CLI's bundle runs it", () => {
    // the whole CLI's answers first (dist/ holds no module bundles yet), then the module bundles'
    const lines = [
      ['ps', '-a'],
      ['exec', 'nosuch', 'true'],
      ['images', '--format', '{{.ID}}'],
      ['version', '-f', '{{.Client.Version}}'],
    ];
    const whole = lines.map((line) => wharf(...line));
    cpSync(join(projectRoot, 'dist', 'verbs'), join(dist, 'verbs'), { recursive: true });
    for (const name of readdirSync(join(dist, 'verbs'))) {
      if (/\.cjs\.(?!cache$).+\.cache$/.test(name)) rmSync(join(dist, 'verbs', name));
    }
    assert.deepEqual(
      lines.map((line) => wharf(...line)),
      whole,
    );
    assert.equal(whole[1]!.status, 1);
    assert.equal(whole[1]!.stderr, 'Error: No such container: nosuch\n');
    // each module bundle learns beside itself
    assert.ok(existsSync(join(dist, 'verbs', 'container.cjs.ps.cache')));
    assert.ok(existsSync(join(dist, 'verbs', 'images.cjs.images.cache')));
    assert.deepEqual(
      lines.map((line) => wharf(...line)),
      whole,
    );
  });
});

function built(): boolean {
  return existsSync(join(projectRoot, 'dist/wharf.cjs.cache'));
}
