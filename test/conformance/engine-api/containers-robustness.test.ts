/**
 * The daemon survives what clients and the machine do to it:
 * - docker CLIs killed in the middle of `logs -f`, `attach`, `exec` (with and without stdin) and
 *   `events` leave `/_ping` answering, the daemon's open file count where it was, and no exec'd
 *   process behind in the container. (A client gone is seen when the stream's next write fails,
 *   or, with stdin, when its input ends: the CLI half-closes its side even without stdin, so a
 *   silent stream ends with its process, as dockerd's do.)
 * - after `kill -9` of the daemon and a start of a new one on the same root and socket, the
 *   containers started before are still there: `docker ps`, `logs` and `stop` work on them, and
 *   an `--rm` container that exits meanwhile is removed.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { baseImagesMissing, ensureBaseImages } from '../../helpers/base-images.ts';
import { wharfBin } from '../../helpers/wharf.ts';
import { DOCKER_CLI, socketRequest, startWharfDaemon, type WharfDaemon } from '../../helpers/wharf-daemon.ts';

const run = promisify(execFile);

const skip = !existsSync(DOCKER_CLI)
  ? `the docker CLI is not installed at ${DOCKER_CLI}`
  : baseImagesMissing();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts a docker CLI, waits until it printed something (or `settleMs`), then SIGKILLs it. */
async function killMidway(
  env: NodeJS.ProcessEnv,
  args: string[],
  options: { waitForOutput?: boolean; settleMs?: number; stdin?: boolean } = {},
): Promise<void> {
  const child: ChildProcess = spawn(DOCKER_CLI, args, {
    env,
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  if (options.waitForOutput) {
    await Promise.race([new Promise((resolve) => child.stdout!.once('data', resolve)), sleep(10_000)]);
  }
  await sleep(options.settleMs ?? 300);
  child.kill('SIGKILL');
  await exited;
}

/** The daemon's open fds once they stop changing (or drop to `limit`), within 10 s. */
async function settledFds(daemon: WharfDaemon, limit = -1): Promise<number> {
  let fds = await daemon.openFds();
  for (let i = 0; i < 100; i++) {
    if (fds <= limit) return fds;
    await sleep(100);
    const again = await daemon.openFds();
    if (limit < 0 && again === fds && i >= 5) return fds;
    fds = again;
  }
  return fds;
}

describe('wharf system service under disconnects and kill -9', { skip, timeout: 600_000 }, () => {
  let daemon: WharfDaemon | undefined;
  let second: ChildProcess | undefined;
  const docker = async (args: string[]) =>
    (await run(DOCKER_CLI, args, { env: daemon!.dockerEnv, maxBuffer: 16 << 20 })).stdout;

  before(async () => {
    daemon = await startWharfDaemon({ prepare: (root) => ensureBaseImages(root) });
  });

  after(async () => {
    if (daemon) {
      const ids = (await docker(['ps', '-aq']).catch(() => '')).trim().split('\n').filter(Boolean);
      if (ids.length > 0) await docker(['rm', '-f', ...ids]).catch(() => {});
    }
    if (second?.pid && second.exitCode === null && second.signalCode === null) {
      const gone = new Promise((resolve) => second!.once('exit', resolve));
      process.kill(second.pid, 'SIGTERM');
      await Promise.race([gone, sleep(10_000)]);
      if (second.exitCode === null && second.signalCode === null) process.kill(second.pid, 'SIGKILL');
    }
    await daemon?.stop();
  });

  it('clients killed mid logs -f, attach, exec and events leave no trace in the daemon', async () => {
    const env = daemon!.dockerEnv;
    await docker([
      'run',
      '-d',
      '--name',
      'talker',
      'busybox',
      'sh',
      '-c',
      'while true; do echo talk; sleep 0.2; done',
    ]);
    await docker(['run', '-d', '-it', '--name', 'terminal', 'busybox', 'sh']);
    const rounds = async () => {
      await killMidway(env, ['logs', '-f', 'talker'], { waitForOutput: true });
      await killMidway(env, ['attach', '--no-stdin', 'talker'], { waitForOutput: true });
      await killMidway(
        env,
        ['exec', 'talker', 'sh', '-c', 'while true; do echo from-exec; sleep 0.2; done'],
        {
          waitForOutput: true,
        },
      );
      await killMidway(env, ['exec', '-i', 'talker', 'cat'], { stdin: true });
      await killMidway(env, ['exec', '-i', 'terminal', 'sh'], { stdin: true });
      await killMidway(env, ['events']);
      await killMidway(env, ['stats', 'talker'], { waitForOutput: true });
    };
    await rounds(); // warm-up: every code path once, watchers and lazy modules included
    // what the killed execs started: gone once their clients are (SIGTERM through the runtime)
    const leftovers = async () => {
      const talker = await docker(['top', 'talker', '-o', 'pid,args']);
      const terminal = await docker(['top', 'terminal', '-o', 'pid,args']);
      return [
        ...talker.split('\n').filter((line) => /sleep 300|\bcat$/.test(line)),
        ...terminal
          .split('\n')
          .filter((line) => /\bsh$/.test(line))
          .slice(1),
      ];
    };
    const noLeftovers = async () => {
      let left = await leftovers();
      for (let i = 0; i < 50 && left.length > 0; i++) {
        await sleep(100);
        left = await leftovers();
      }
      assert.deepEqual(left, []);
    };
    await noLeftovers();
    const before = await settledFds(daemon!);
    for (let i = 0; i < 2; i++) await rounds();
    assert.equal((await socketRequest(daemon!.socket, '/_ping')).body, 'OK');
    await noLeftovers();
    const after = await settledFds(daemon!, before);
    assert.ok(after <= before, `open fds went from ${before} to ${after}`);
    assert.equal((await docker(['inspect', '-f', '{{.State.Status}}', 'terminal'])).trim(), 'running');
    assert.equal(daemon!.child.exitCode, null, daemon!.log());
    await docker(['rm', '-f', 'talker', 'terminal']);
  });

  it('after kill -9 of the daemon and a restart, ps, logs and stop work on earlier containers', async () => {
    await docker([
      'run',
      '-d',
      '--name',
      'survivor',
      'busybox',
      'sh',
      '-c',
      'echo before the crash; while true; do sleep 0.2; done',
    ]);
    await docker(['run', '-d', '--rm', '--name', 'brief', 'busybox', 'sleep', '2']);
    process.kill(daemon!.pid, 'SIGKILL');
    await daemon!.exited;
    second = spawn(
      wharfBin,
      ['--root', daemon!.root, 'system', 'service', '-H', `unix://${daemon!.socket}`],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    second.stderr!.on('data', (chunk) => (log += chunk));
    for (let i = 0; ; i++) {
      const ping = await socketRequest(daemon!.socket, '/_ping', { timeoutMs: 1000 }).catch(() => undefined);
      if (ping?.status === 200) break;
      assert.ok(i < 200 && second.exitCode === null, `the new daemon did not answer: ${log}`);
      await sleep(50);
    }
    assert.equal(
      (await docker(['ps', '--filter', 'name=survivor', '--format', '{{.Names}} {{.State}}'])).trim(),
      'survivor running',
    );
    assert.match(await docker(['logs', 'survivor']), /^before the crash$/m);
    await docker(['stop', '-t', '1', 'survivor']);
    assert.equal((await docker(['inspect', '-f', '{{.State.Status}}', 'survivor'])).trim(), 'exited');
    // the `--rm` container ended with no daemon watching it: it is removed all the same
    let names = '';
    for (let i = 0; i < 100; i++) {
      names = (await docker(['ps', '-a', '--format', '{{.Names}}'])).trim();
      if (!names.includes('brief')) break;
      await sleep(100);
    }
    assert.equal(names, 'survivor');
  });
});
