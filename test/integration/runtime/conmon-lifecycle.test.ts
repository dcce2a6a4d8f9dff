// Containers run by the real runtime (runc or crun, as probed) under the real conmon, on a bare
// busybox root filesystem: exit codes, logs, supervision across processes, stop, reconciliation.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  conmonPaths,
  createWithConmon,
  isConmonAlive,
  readExit,
  reconcileContainer,
  stopContainer,
  waitForExit,
} from '../../../src/runtime/conmon.ts';
import { readContainerLog } from '../../../src/runtime/logs.ts';
import {
  makeRuntimeFixture,
  type RuntimeFixture,
  runtimeTestsSkipReason,
} from '../../helpers/runtime-fixture.ts';

const execFileAsync = promisify(execFile);
const skip = await runtimeTestsSkipReason();
const helper = (name: string) => fileURLToPath(new URL(`./helpers/${name}`, import.meta.url));

async function runNodeScript(script: string, input: unknown): Promise<string> {
  const { stdout } = await execFileAsync(
    process.execPath,
    ['--import', 'tsx', script, JSON.stringify(input)],
    {
      timeout: 60_000,
    },
  );
  return stdout;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('containers under conmon', { skip }, () => {
  let fixture: RuntimeFixture;
  before(async () => {
    fixture = await makeRuntimeFixture();
  });
  after(async () => {
    await fixture?.cleanup();
  });

  it('runs `true` and records exit code 0', async () => {
    const c = await fixture.run({ args: ['true'] });
    const exit = await waitForExit(c.location, { signal: AbortSignal.timeout(20_000) });
    assert.deepEqual(exit, { exitCode: 0, oomKilled: false, source: 'conmon' });
    assert.equal((await fixture.driver.state(c.id)).status, 'stopped');
    await fixture.driver.delete(c.id);
    await assert.rejects(fixture.driver.state(c.id), { name: 'NotFoundError' });
  });

  it('propagates exit code 3', async () => {
    const c = await fixture.run({ args: ['sh', '-c', 'exit 3'] });
    const exit = await waitForExit(c.location, { signal: AbortSignal.timeout(20_000) });
    assert.equal(exit.exitCode, 3);
    assert.equal(await readFile(conmonPaths(c.location).persistExitFile, 'utf8'), '3');
    await fixture.driver.delete(c.id);
  });

  it('writes stdout and stderr to the CRI log, joining partial lines', async () => {
    const c = await fixture.run({
      args: [
        'sh',
        '-c',
        'echo out-line; echo err-line >&2; head -c 20000 /dev/zero | tr "\\0" x; echo; printf tail',
      ],
    });
    await waitForExit(c.location, { signal: AbortSignal.timeout(20_000) });
    const raw = await readFile(c.logPath, 'utf8');
    assert.match(raw, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}[+-]\d\d:\d\d stdout F out-line$/m);
    assert.match(raw, / stdout P x+$/m, 'a 20000-byte line is written in fragments');
    const entries = [];
    for await (const entry of readContainerLog(c.logPath)) entries.push(entry);
    const stdout = entries.filter((e) => e.stream === 'stdout');
    assert.deepEqual(
      stdout.map((e) => (e.text.startsWith('xxx') ? `x*${e.text.length}` : e.text)),
      ['out-line', 'x*20000', 'tail'],
    );
    assert.equal(stdout.at(-1)?.partial, true, 'output without a final newline is a partial line');
    assert.deepEqual(
      entries.filter((e) => e.stream === 'stderr').map((e) => e.text),
      ['err-line'],
    );
    await fixture.driver.delete(c.id);
  });

  it('keeps a detached container running after the starting process exits, and stops it from another', async () => {
    const driverOptions = {
      name: fixture.driver.name,
      binary: fixture.driver.binary,
      stateDir: fixture.driver.stateDir,
    };
    // PID 1 ignores SIGTERM unless it handles it: this one must be killed after the timeout.
    const stubborn = await fixture.prepare({ args: ['sleep', '1000'] });
    const started = JSON.parse(
      await runNodeScript(helper('start-detached.ts'), {
        driver: driverOptions,
        location: stubborn.location,
        logPath: stubborn.logPath,
        conmonCgroup: fixture.conmonCgroup,
      }),
    ) as { pid: number; conmonPid: number };
    // The starting process has exited (execFile returned); conmon and the container live on.
    assert.ok(alive(started.conmonPid), 'conmon outlives the process that started it');
    assert.ok(await isConmonAlive(stubborn.location));
    const state = await fixture.driver.state(stubborn.id);
    assert.equal(state.status, 'running');
    assert.equal(state.pid, started.pid);
    const conmonCgroups = await readFile(`/proc/${started.conmonPid}/cgroup`, 'utf8');
    assert.match(
      conmonCgroups,
      new RegExp(`memory:${fixture.conmonCgroup}$`, 'm'),
      'conmon left the caller cgroup',
    );

    const stopped = JSON.parse(
      await runNodeScript(helper('stop-detached.ts'), {
        driver: driverOptions,
        location: stubborn.location,
        timeoutMs: 1000,
      }),
    ) as { exitCode: number; elapsedMs: number };
    assert.equal(stopped.exitCode, 137, 'SIGKILL after the timeout');
    assert.ok(stopped.elapsedMs >= 1000, `waited the timeout first (${stopped.elapsedMs} ms)`);

    // One that handles SIGTERM ends with its own code, before the timeout.
    const polite = await fixture.run({
      args: ['sh', '-c', 'trap "exit 42" TERM; while :; do sleep 0.1; done'],
    });
    await new Promise((resolve) => setTimeout(resolve, 200)); // let sh install its trap
    const t0 = Date.now();
    const exit = await stopContainer(polite.location, fixture.driver, { timeoutMs: 10_000 });
    assert.equal(exit.exitCode, 42);
    assert.ok(Date.now() - t0 < 5000);
    await fixture.driver.delete(stubborn.id);
    await fixture.driver.delete(polite.id);
  });

  it('runs the exit command when the container exits', async () => {
    const marker = `${fixture.dir}/exit-command-ran`;
    const c = await fixture.run(
      { args: ['sh', '-c', 'exit 7'] },
      { exitCommand: { path: '/bin/sh', args: ['-c', `echo "$0" > ${marker}`, 'cleanup-arg'] } },
    );
    await waitForExit(c.location, { signal: AbortSignal.timeout(20_000) });
    for (let i = 0; i < 100; i++) {
      if (
        await access(marker).then(
          () => true,
          () => false,
        )
      )
        break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal((await readFile(marker, 'utf8')).trim(), 'cleanup-arg');
    await fixture.driver.delete(c.id);
  });

  it("runs a prelude in conmon's process before conmon, and the container after it", async () => {
    const made = `${fixture.dir}/made by prelude`;
    // words that a shell would split or expand, passed as they are
    const odd = 'it\'s $HOME `x` "q"\n; two';
    const c = await fixture.prepare({ args: ['true'] });
    let seenBeforeStart: string | undefined;
    const started = await createWithConmon({
      ...c.location,
      runtime: fixture.driver,
      logPath: c.logPath,
      conmonCgroup: fixture.conmonCgroup,
      prelude: {
        path: '/bin/sh',
        args: ['-c', 'printf "%s|%s|%s" "$LC_ALL" "$PWD" "$1" > "$0"', made, odd],
        cwd: fixture.dir,
        env: { LC_ALL: 'C' },
        describe: 'make a file',
      },
      beforeStart: async (prelude) => {
        await prelude;
        seenBeforeStart = await readFile(made, 'utf8');
      },
    });
    assert.equal(seenBeforeStart, `C|${fixture.dir}|${odd}`);
    assert.ok(started.conmonPid > 0 && alive(started.conmonPid));
    // conmon runs from its own directory; the prelude settled, so nothing holds its status pipe
    assert.equal(await readFile(`/proc/${started.conmonPid}/cwd/pidfile`, 'utf8').then(Number), started.pid);
    await fixture.driver.start(c.id);
    const exit = await waitForExit(c.location, { signal: AbortSignal.timeout(20_000) });
    assert.equal(exit.exitCode, 0);
    await fixture.driver.delete(c.id);
  });

  it('starts no conmon when the prelude fails, and reports its stderr', async () => {
    const c = await fixture.prepare({ args: ['true'] });
    let preludeError: unknown;
    await assert.rejects(
      createWithConmon({
        ...c.location,
        runtime: fixture.driver,
        logPath: c.logPath,
        conmonCgroup: fixture.conmonCgroup,
        prelude: {
          path: '/bin/sh',
          args: ['-c', 'echo "no luck" >&2; exit 3'],
          cwd: fixture.dir,
          describe: 'do the impossible',
        },
        beforeStart: async (prelude) => {
          await prelude.catch((error: unknown) => {
            preludeError = error;
            throw error;
          });
        },
      }),
      (error: Error) => {
        assert.equal(error, preludeError);
        assert.equal(error.message, 'Cannot do the impossible: no luck');
        return true;
      },
    );
    assert.equal(await isConmonAlive(c.location), false);
    await assert.rejects(access(conmonPaths(c.location).conmonPidFile));
    await assert.rejects(fixture.driver.state(c.id), { name: 'NotFoundError' });
  });

  it('reports the runtime error when the command does not exist', async () => {
    const c = await fixture.prepare({ args: ['/no/such/binary'] });
    await assert.rejects(
      createWithConmon({
        ...c.location,
        runtime: fixture.driver,
        logPath: c.logPath,
        conmonCgroup: fixture.conmonCgroup,
      }),
      (error: Error) => {
        assert.equal(error.name, 'FailedPreconditionError');
        assert.match(error.message, /no such file or directory|not found/i);
        assert.match(error.message, new RegExp(`^Cannot create container ${c.id}: ${fixture.driver.name}: `));
        return true;
      },
    );
    await fixture.driver.delete(c.id, { force: true }).catch(() => undefined);
  });

  it('reconciles a container whose conmon and init were killed as exited (137)', async () => {
    const c = await fixture.run({ args: ['sleep', '1000'] });
    assert.deepEqual(await reconcileContainer(c.location, fixture.driver), {
      status: 'running',
      pid: c.pid,
      supervised: true,
    });
    process.kill(c.conmonPid, 'SIGKILL');
    for (let i = 0; i < 100 && alive(c.conmonPid); i++) await new Promise((r) => setTimeout(r, 20));
    const unsupervised = await reconcileContainer(c.location, fixture.driver);
    assert.equal(unsupervised.status, 'running');
    assert.equal(unsupervised.status === 'running' && unsupervised.supervised, false);
    process.kill(c.pid, 'SIGKILL');
    for (let i = 0; i < 100 && alive(c.pid); i++) await new Promise((r) => setTimeout(r, 20));
    const state = await reconcileContainer(c.location, fixture.driver);
    assert.deepEqual(state, {
      status: 'exited',
      exit: { exitCode: 137, oomKilled: false, source: 'assumed' },
    });
    assert.equal(await readExit(c.location), undefined, 'nobody wrote an exit file');
    await fixture.driver.delete(c.id, { force: true });
    // With the runtime's state gone too (as after a reboot), the answer is the same.
    assert.equal((await reconcileContainer(c.location, fixture.driver)).status, 'exited');
  });
});
