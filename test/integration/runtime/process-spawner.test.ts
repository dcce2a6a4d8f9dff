// The process spawner (src/runtime/process-spawner.ts): a child started through the helper gets
// what Node's spawn gives (argv, environment, working directory, session, default signals, only
// the fds asked for), its pipes carry data both ways and end, its exit and a signal's are
// reported, a failed exec is an error like Node's, a kill asked before the helper answered still
// lands, the mount builtins do what mount(8) and umount(8) do, and a process holding an idle
// spawner still ends.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { openProcessSpawner, type ProcessSpawner } from '../../../src/runtime/process-spawner.ts';
import { findExecutable } from '../../../src/runtime/runtime-probe.ts';
import type { SpawnedProcess, SpawnProcessOptions } from '../../../src/runtime/spawn-process.ts';

const execFileAsync = promisify(execFile);
const skip = (await findExecutable('perl')) ? undefined : 'perl is not installed';
const rootSkip = process.getuid?.() === 0 ? undefined : 'needs root';

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: Map<number, string>;
}

/** Collects what the child writes on its piped fds until 'close'. */
function collect(child: SpawnedProcess): Promise<Outcome> {
  const output = new Map<number, string>();
  child.stdio.forEach((stream, fd) => {
    if (!stream || !('on' in stream)) return;
    (stream as Readable).on('data', (chunk: Buffer) => output.set(fd, (output.get(fd) ?? '') + chunk));
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) =>
      resolve({ code, signal, output }),
    );
  });
}

function sh(spawner: ProcessSpawner, script: string, options: Partial<SpawnProcessOptions> = {}) {
  return spawner.spawn('/bin/sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
}

describe('process spawner', { skip }, () => {
  let spawner: ProcessSpawner;
  let dir: string;
  before(async () => {
    spawner = openProcessSpawner()!;
    dir = await mkdtemp(join(tmpdir(), 'wharf-spawner-'));
  });
  after(async () => {
    spawner?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs a command with its argv, environment and directory, and reports its exit', async () => {
    const child = spawner.spawn(
      '/bin/sh',
      ['-c', 'echo "$0 $1 $FOO"; pwd; echo oops >&2; exit 3', 'x', 'y'],
      {
        cwd: dir,
        env: { FOO: 'bar', PATH: '/usr/bin:/bin', UNSET: undefined },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const outcome = await collect(child);
    assert.equal(outcome.code, 3);
    assert.equal(outcome.signal, null);
    assert.equal(outcome.output.get(1), `x y bar\n${dir}\n`);
    assert.equal(outcome.output.get(2), 'oops\n');
    assert.ok(child.pid! > 0);
    assert.equal(child.exitCode, 3);
  });

  it('gives the child only its own fds, default signals, none blocked, and a session when detached', async () => {
    // `ls` run by the shell straight to fd 1 (a pipeline would show the shell's own pipe)
    const listing = await collect(
      sh(spawner, 'ls /proc/$$/fd', { stdio: ['ignore', 'pipe', 'ignore', 'pipe'] }),
    );
    const fds = (listing.output.get(1) ?? '').trim().split('\n').map(Number);
    for (const fd of [0, 1, 2, 3]) assert.ok(fds.includes(fd), `fd ${fd} is there`);
    // anything else comes from this test's own environment (a harness may pass an fd down to
    // every process, as to a child of Node's spawn), never from the helper
    const inherited = new Set(
      (await execFileAsync('/bin/sh', ['-c', 'ls /proc/$$/fd'])).stdout.trim().split('\n').map(Number),
    );
    for (const fd of fds.filter((fd) => fd > 3)) assert.ok(inherited.has(fd), `fd ${fd} is not the helper's`);
    // the helper's child itself (no shell, which blocks signals around its own forks)
    const status = await collect(
      spawner.spawn('/bin/grep', ['-E', '^(SigBlk|SigIgn)', '/proc/self/status'], {
        stdio: ['ignore', 'pipe', 'ignore'],
      }),
    );
    assert.match(status.output.get(1) ?? '', /^SigBlk:\s+0+\nSigIgn:\s+0+\n$/);
    const stat = await collect(
      spawner.spawn('/bin/cat', ['/proc/self/stat'], { stdio: ['ignore', 'pipe', 'ignore'], detached: true }),
    );
    // pid (comm) state ppid pgrp session
    const [pid, , , , pgrp, session] = (stat.output.get(1) ?? '').replace(/\(.*\)/, 'comm').split(' ');
    assert.equal(session, pid, 'a session of its own');
    assert.equal(pgrp, pid);
  });

  it('carries data both ways on a socketpair and ends the child input', async () => {
    const child = spawner.spawn('/bin/sh', ['-c', 'read line <&3; echo "got $line" >&3; cat <&3 >&1'], {
      stdio: ['ignore', 'pipe', 'ignore', 'pipe'],
    });
    const done = collect(child);
    const pipe = child.stdio[3] as Writable;
    pipe.write('hello\n');
    pipe.end('rest\n');
    const outcome = await done;
    assert.equal(outcome.code, 0);
    assert.equal(outcome.output.get(3), 'got hello\n');
    assert.equal(outcome.output.get(1), 'rest\n');
  });

  it('reports a signal, also one asked for before the helper said the child started', async () => {
    const child = spawner.spawn('/bin/sleep', ['30'], { stdio: ['ignore', 'ignore', 'pipe'] });
    assert.equal(child.kill('SIGKILL'), true);
    const outcome = await collect(child);
    assert.equal(outcome.code, null);
    assert.equal(outcome.signal, 'SIGKILL');
  });

  it('fails a spawn whose exec fails as Node does', async () => {
    const child = spawner.spawn(join(dir, 'missing'), [], { stdio: ['ignore', 'ignore', 'pipe'] });
    await assert.rejects(collect(child), (error: NodeJS.ErrnoException) => {
      assert.equal(error.code, 'ENOENT');
      assert.match(error.message, /^spawn .*missing ENOENT/);
      return true;
    });
    const inDir = sh(spawner, 'true', { cwd: join(dir, 'nowhere') });
    await assert.rejects(collect(inDir), { code: 'ENOENT' });
  });

  it('runs many children side by side', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, (_, i) => collect(sh(spawner, `sleep 0.0${i % 5}; echo ${i}`))),
    );
    outcomes.forEach((outcome, i) => {
      assert.equal(outcome.code, 0);
      assert.equal(outcome.output.get(1), `${i}\n`);
    });
  });

  it('mounts and unmounts with its builtins, and fails them as the tools do', {
    skip: rootSkip,
  }, async () => {
    assert.equal(spawner.builtins, true, 'this architecture has them');
    const base = await mkdtemp(join(dir, 'overlay-'));
    for (const sub of ['lower', 'upper', 'work', 'merged']) await mkdir(join(base, sub));
    await writeFile(join(base, 'lower', 'file'), 'below');
    const target = join(base, 'merged');
    try {
      // relative directories, resolved from the cwd given, as mount(8) run from there
      const mounted = await collect(
        spawner.spawn(':mount', [base, target, 'overlay', 'lowerdir=lower,upperdir=upper,workdir=work'], {
          cwd: base,
          stdio: ['ignore', 'ignore', 'pipe'],
        }),
      );
      assert.equal(mounted.code, 0, mounted.output.get(2));
      assert.equal(await readFile(join(target, 'file'), 'utf8'), 'below');
      assert.ok((await readFile('/proc/self/mountinfo', 'utf8')).includes(` ${target} `));
      const unmounted = await collect(
        spawner.spawn(':umount', [target], { stdio: ['ignore', 'ignore', 'pipe'] }),
      );
      assert.equal(unmounted.code, 0, unmounted.output.get(2));
      assert.ok(!(await readFile('/proc/self/mountinfo', 'utf8')).includes(` ${target} `));
      const again = await collect(
        spawner.spawn(':umount', [target], { stdio: ['ignore', 'ignore', 'pipe'] }),
      );
      assert.equal(again.code, 32);
      assert.match(again.output.get(2) ?? '', new RegExp(`^umount: ${target}: Invalid argument`));
      const bad = await collect(
        spawner.spawn(':mount', [base, target, 'overlay', 'lowerdir=missing'], {
          cwd: base,
          stdio: ['ignore', 'ignore', 'pipe'],
        }),
      );
      assert.equal(bad.code, 32);
      assert.match(bad.output.get(2) ?? '', new RegExp(`^mount: ${target}: `));
    } finally {
      await execFileAsync('umount', [target]).catch(() => undefined);
    }
  });

  it('ends what a closed helper relayed, and spawns with Node after', async () => {
    const own = openProcessSpawner()!;
    const marker = join(dir, 'survived');
    const child = own.spawn('/bin/sh', ['-c', `sleep 0.3; : > ${marker}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await new Promise((resolve) => child.once('spawn', resolve));
    own.close();
    const outcome = await collect(child);
    assert.deepEqual([outcome.code, outcome.signal], [null, null], 'its exit is unknown');
    const after = await collect(
      own.spawn('/bin/sh', ['-c', 'echo still'], { stdio: ['ignore', 'pipe', 'ignore'] }),
    );
    assert.equal(after.output.get(1), 'still\n');
    // the child itself went on
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(await readFile(marker, 'utf8'), '');
  });

  it('lets a process holding an idle spawner end', async () => {
    const script = [
      `import { openProcessSpawner } from ${JSON.stringify(join(process.cwd(), 'src/runtime/process-spawner.ts'))};`,
      'const spawner = openProcessSpawner();',
      "const child = spawner.spawn('/bin/true', [], { stdio: ['ignore', 'ignore', 'pipe'] });",
      "child.on('close', (code) => console.log('closed', code));",
    ].join('\n');
    const file = join(dir, 'idle.mts');
    await writeFile(file, script);
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', file], {
      cwd: process.cwd(),
      timeout: 20_000,
    });
    assert.equal(stdout, 'closed 0\n');
  });
});
