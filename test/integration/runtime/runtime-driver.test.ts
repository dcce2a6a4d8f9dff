// The driver's commands against live containers: exec (attached, detached, terminal), pause and
// resume, update, ps, kill; attach through conmon's socket; the runtime probe.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { attachContainer, resizeTerminal } from '../../../src/runtime/attach.ts';
import { cgroupDirectory, cgroupLayout } from '../../../src/runtime/cgroups.ts';
import { stopContainer, waitForExit } from '../../../src/runtime/conmon.ts';
import type { RuntimeSpec } from '../../../src/runtime/oci-runtime-spec.ts';
import { findExecutable, selectRuntime } from '../../../src/runtime/runtime-probe.ts';
import { buildExecProcess } from '../../../src/runtime/spec.ts';
import {
  makeRuntimeFixture,
  type RuntimeFixture,
  runtimeTestsSkipReason,
} from '../../helpers/runtime-fixture.ts';

const execFileAsync = promisify(execFile);
const skip = await runtimeTestsSkipReason();

class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('runtime driver', { skip }, () => {
  let fixture: RuntimeFixture;
  before(async () => {
    fixture = await makeRuntimeFixture();
  });
  after(async () => {
    await fixture?.cleanup();
  });

  async function containerProcess(bundle: string): Promise<RuntimeSpec['process']> {
    return (JSON.parse(await readFile(`${bundle}/config.json`, 'utf8')) as RuntimeSpec).process;
  }

  it('probes crun once, falls back to runc with a reason, and caches the answer', async () => {
    const { selection } = fixture;
    const crun = await findExecutable('crun');
    const layout = await cgroupLayout();
    if (crun && layout.mode === 'hybrid' && layout.v2Controllers.length > 0) {
      assert.equal(selection.driver.name, 'runc');
      assert.match(
        selection.fallbackReason ?? '',
        /^crun version [\d.]+ cannot run containers on this host: .*hybrid/,
      );
    }
    if (selection.driver.name === 'crun') assert.equal(selection.fallbackReason, undefined);
    const again = await selectRuntime({ root: fixture.root });
    assert.equal(again.cached, true);
    assert.equal(again.driver.name, selection.driver.name);
    assert.equal(again.fallbackReason, selection.fallbackReason);
    const probe = JSON.parse(await readFile(`${fixture.root}/runtime/probe.json`, 'utf8')) as {
      probes: unknown[];
    };
    assert.ok(probe.probes.length >= 1);
    if (selection.fallbackReason && crun) {
      await assert.rejects(selectRuntime({ root: fixture.root, requested: 'crun' }), {
        name: 'FailedPreconditionError',
        message: /^Cannot use runtime crun: /,
      });
    }
  });

  it('execs attached (output, exit code), detached (pid in ps), and with a terminal', async () => {
    const c = await fixture.run({ args: ['sleep', '1000'], env: ['PATH=/bin', 'FROM_CONTAINER=yes'] });
    const base = await containerProcess(c.bundle);

    const attached = await fixture.driver.exec(
      c.id,
      buildExecProcess(base, {
        args: ['sh', '-c', 'echo "$FROM_CONTAINER $EXTRA $(pwd)"; echo oops >&2; exit 5'],
        env: ['EXTRA=added'],
        cwd: '/tmp',
      }),
    );
    const out = new Collect();
    const err = new Collect();
    attached.child.stdout!.pipe(out);
    attached.child.stderr!.pipe(err);
    assert.equal(await attached.exitCode, 5);
    await until(() => out.text.length > 0 && err.text.length > 0, 'exec output');
    assert.equal(out.text, 'yes added /tmp\n');
    assert.equal(err.text, 'oops\n');

    const detached = await fixture.driver.exec(c.id, buildExecProcess(base, { args: ['sleep', '500'] }), {
      detach: true,
    });
    assert.ok(detached.pid > 0);
    assert.ok((await fixture.driver.ps(c.id)).includes(detached.pid), 'ps lists the exec process');
    assert.ok((await fixture.driver.ps(c.id)).includes(c.pid), 'ps lists the init');

    await assert.rejects(
      fixture.driver.exec(c.id, buildExecProcess(base, { args: ['/no/such/thing'] })).then((s) => s.exitCode),
      { name: 'FailedPreconditionError' },
    );

    // A terminal exec, its pty provided by `script` as a user's terminal would be.
    const script = await findExecutable('script');
    if (script) {
      const helper = fileURLToPath(new URL('./helpers/exec-tty.ts', import.meta.url));
      const input = JSON.stringify({
        driver: {
          name: fixture.driver.name,
          binary: fixture.driver.binary,
          stateDir: fixture.driver.stateDir,
        },
        id: c.id,
        process: buildExecProcess(base, { args: ['sh', '-c', 'tty; exit 4'], terminal: true }),
      });
      const quoted = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
      const result = await execFileAsync(script, [
        '-qfec',
        `${quoted(process.execPath)} --import tsx ${quoted(helper)} ${quoted(input)}`,
        '/dev/null',
      ]).catch((error: { code: number; stdout: string }) => error);
      assert.equal('code' in result ? result.code : 0, 4);
      assert.match(result.stdout, /\/dev\/pts\/\d+/);
    }
    await stopContainer(c.location, fixture.driver, { timeoutMs: 0 });
    await fixture.driver.delete(c.id);
  });

  it("execs through the launch it is given, whose environment stays the runtime's, leaving no scratch files", async () => {
    const c = await fixture.run({ args: ['sleep', '1000'], env: ['PATH=/bin'] });
    const base = await containerProcess(c.bundle);
    const dir = await mkdtemp(join(tmpdir(), 'wharf-launch-'));
    try {
      // a launch that notes how it was run, then runs the runtime (as crun's read-only view would)
      const runtime = join(dir, 'runtime');
      await writeFile(
        runtime,
        `#!/bin/sh\necho "$WHARF_TEST_LAUNCH $*" >> ${dir}/launched\nexec ${fixture.driver.binary} "$@"\n`,
        { mode: 0o755 },
      );
      const launch = { path: runtime, env: { WHARF_TEST_LAUNCH: 'launched' } };

      const attached = await fixture.driver.exec(
        c.id,
        buildExecProcess(base, { args: ['sh', '-c', 'echo "[$WHARF_TEST_LAUNCH]"; exit 3'] }),
        { launch },
      );
      const out = new Collect();
      attached.child.stdout!.pipe(out);
      assert.equal(await attached.exitCode, 3);
      await until(() => out.text.length > 0, 'exec output');
      assert.equal(out.text, '[]\n', "the runtime's environment is not the process's");

      const detached = await fixture.driver.exec(c.id, buildExecProcess(base, { args: ['sleep', '500'] }), {
        launch,
        detach: true,
      });
      assert.ok((await fixture.driver.ps(c.id)).includes(detached.pid));
      await assert.rejects(
        fixture.driver
          .exec(c.id, buildExecProcess(base, { args: ['/no/such/thing'] }), { launch })
          .then((session) => session.exitCode),
        { name: 'FailedPreconditionError', message: /no\/such\/thing/ },
      );

      const launched = (await readFile(join(dir, 'launched'), 'utf8')).trim().split('\n');
      assert.equal(launched.length, 3);
      for (const line of launched) assert.match(line, /^launched .* exec .*--process /);
      const scratch = await readdir(join(fixture.root, 'runtime', 'scratch')).catch(() => []);
      assert.deepEqual(
        scratch.filter((name) => name.includes(c.id)),
        [],
        'process.json, pid and log files removed',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
      await stopContainer(c.location, fixture.driver, { timeoutMs: 0 });
      await fixture.driver.delete(c.id);
    }
  });

  it('creates and starts directly, without conmon', async () => {
    const c = await fixture.prepare({ args: ['sh', '-c', 'sleep 0.2'] });
    await fixture.driver.create(c.id, c.bundle, { pidFile: `${c.bundle}/direct.pid` });
    const created = await fixture.driver.state(c.id);
    assert.equal(created.status, 'created');
    assert.equal(Number(await readFile(`${c.bundle}/direct.pid`, 'utf8')), created.pid);
    assert.ok((await fixture.driver.list()).some((state) => state.id === c.id));
    await fixture.driver.start(c.id);
    await until(async () => (await fixture.driver.state(c.id)).status === 'stopped', 'the container to stop');
    await fixture.driver.delete(c.id);
    await assert.rejects(fixture.driver.create(c.id, '/no/such/bundle'), (error: Error) => {
      assert.equal(error.name, 'FailedPreconditionError');
      assert.match(error.message, /no such file or directory/i);
      return true;
    });
  });

  it('pauses, resumes, updates limits and kills', async () => {
    const c = await fixture.run({ args: ['sleep', '1000'], resources: { memory: 64 * 1024 * 1024 } });
    await fixture.driver.pause(c.id);
    assert.equal((await fixture.driver.state(c.id)).status, 'paused');
    await fixture.driver.resume(c.id);
    assert.equal((await fixture.driver.state(c.id)).status, 'running');

    await fixture.driver.update(c.id, {
      memory: { limit: 96 * 1024 * 1024, swap: 192 * 1024 * 1024 },
      pids: { limit: 50 },
    });
    const layout = await cgroupLayout();
    if (layout.mode !== 'v2') {
      const memoryDir = await cgroupDirectory(c.cgroupsPath, 'memory');
      assert.equal(
        (await readFile(`${memoryDir}/memory.limit_in_bytes`, 'utf8')).trim(),
        String(96 * 1024 * 1024),
      );
      const pidsDir = await cgroupDirectory(c.cgroupsPath, 'pids');
      assert.equal((await readFile(`${pidsDir}/pids.max`, 'utf8')).trim(), '50');
    }

    await fixture.driver.kill(c.id, 'SIGKILL');
    const exit = await waitForExit(c.location, { signal: AbortSignal.timeout(10_000) });
    assert.equal(exit.exitCode, 137);
    await assert.rejects(fixture.driver.kill(c.id, 'SIGKILL'), { name: 'FailedPreconditionError' });
    await fixture.driver.delete(c.id);
    await assert.rejects(fixture.driver.kill(c.id, 'SIGTERM'), { name: 'NotFoundError' });
    await assert.rejects(fixture.driver.kill(c.id, 'SIGNOPE' as NodeJS.Signals), {
      name: 'InvalidArgumentError',
    });
  });

  it('attaches: stdin through conmon, output as it is written, prompts without newline', async () => {
    const c = await fixture.prepare({
      args: [
        'sh',
        '-c',
        'printf "name? "; read name; echo "hello $name"; echo "to stderr" >&2; cat; echo done',
      ],
    });
    const since = BigInt(Date.now()) * 1_000_000n;
    const { createWithConmon } = await import('../../../src/runtime/conmon.ts');
    await createWithConmon({
      ...c.location,
      runtime: fixture.driver,
      logPath: c.logPath,
      conmonCgroup: fixture.conmonCgroup,
      stdin: true,
    });
    const exited = waitForExit(c.location, { signal: AbortSignal.timeout(20_000) });
    const stdin = new PassThrough();
    const out = new Collect();
    const err = new Collect();
    const session = await attachContainer({
      location: c.location,
      logPath: c.logPath,
      stdin,
      stdout: out,
      stderr: err,
      stop: exited,
      since,
    });
    await fixture.driver.start(c.id);
    await until(() => out.text === 'name? ', 'the prompt');
    stdin.write('wharf\n');
    await until(() => out.text.includes('hello wharf\n'), 'the greeting');
    stdin.write('via cat\n');
    await until(() => out.text.includes('via cat\n'), 'cat echoing stdin');
    stdin.end(); // closes the container's stdin: cat ends
    assert.equal((await exited).exitCode, 0);
    await session.done;
    assert.equal(out.text, 'name? hello wharf\nvia cat\ndone\n');
    assert.equal(err.text, 'to stderr\n');
    await fixture.driver.delete(c.id);
  });

  it('runs a terminal container: a pty inside, resizable through conmon', async () => {
    const c = await fixture.prepare({
      args: ['sh', '-c', 'tty; read line; stty size; echo "got $line"'],
      terminal: true,
    });
    const since = BigInt(Date.now()) * 1_000_000n;
    const { createWithConmon } = await import('../../../src/runtime/conmon.ts');
    await createWithConmon({
      ...c.location,
      runtime: fixture.driver,
      logPath: c.logPath,
      conmonCgroup: fixture.conmonCgroup,
      stdin: true,
      terminal: true,
    });
    const exited = waitForExit(c.location, { signal: AbortSignal.timeout(20_000) });
    const stdin = new PassThrough();
    const out = new Collect();
    const session = await attachContainer({
      location: c.location,
      logPath: c.logPath,
      stdin,
      stdout: out,
      stop: exited,
      since,
    });
    await fixture.driver.start(c.id);
    await until(() => /\/dev\/pts\/\d+\r\n/.test(out.text), 'the tty name');
    await resizeTerminal(c.location, 33, 101);
    await new Promise((resolve) => setTimeout(resolve, 100));
    stdin.write('typed\r');
    await exited;
    stdin.end();
    await session.done;
    assert.match(out.text, /^\/dev\/pts\/\d+\r\ntyped\r\n33 101\r\ngot typed\r\n$/);
    await fixture.driver.delete(c.id);
  });
});
