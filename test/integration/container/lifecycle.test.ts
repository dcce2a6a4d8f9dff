// Docker's container lifecycle through the real `wharf` binary: exit codes (the process's, and
// 125/126/127 for what cannot run), ENTRYPOINT/CMD, USER and environment as Docker resolves them,
// stop with STOPSIGNAL and its timeout, logs -f, exec, a real terminal, restart policies,
// health checks, and the verbs around them (ps, inspect, rename, pause, kill, wait, events).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { wharfBin } from '../../helpers/wharf.ts';
import {
  type ContainerFixture,
  containerEvents,
  containerTestsSkipReason,
  eventually,
  importBusyboxImage,
  makeContainerFixture,
} from './helpers.ts';

const skip = await containerTestsSkipReason();

describe('container lifecycle', { skip }, () => {
  let fx: ContainerFixture;
  before(async () => {
    fx = await makeContainerFixture();
    await importBusyboxImage(fx, 'stopper', ['STOPSIGNAL SIGUSR1', 'CMD ["sh"]']);
    await importBusyboxImage(fx, 'ep', [
      'ENTRYPOINT ["echo", "ep"]',
      'CMD ["default"]',
      'ENV FROM_IMAGE=1 OVER=image',
    ]);
    await importBusyboxImage(fx, 'users', ['USER app', 'WORKDIR /work/dir', 'CMD ["sh"]'], {
      '/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n',
      '/etc/group': 'root:x:0:\napp:x:1000:\nextra:x:2000:app\nother:x:3000:root\n',
    });
  });
  after(async () => {
    await fx?.cleanup();
  });

  it('exits with the process code, or 125/126/127 as Docker', async () => {
    assert.equal((await fx.wharf(['run', '--rm', 'busybox', 'true'])).code, 0);
    assert.equal((await fx.wharf(['run', '--rm', 'busybox', 'sh', '-c', 'exit 3'])).code, 3);
    const notFound = await fx.wharf(['run', '--rm', 'busybox', 'no-such-command']);
    assert.equal(notFound.code, 127);
    assert.match(notFound.stderr, /executable file not found/);
    assert.equal((await fx.wharf(['run', '--rm', 'busybox', '/etc/passwd'])).code, 126);
    assert.equal((await fx.wharf(['run', '--rm', 'no-such-image'])).code, 125);
    assert.equal((await fx.wharf(['run', '--rm', '--memory', '1k', 'busybox', 'true'])).code, 125);
    assert.equal((await fx.wharf(['run', '--rm', '--no-such-flag', 'busybox', 'true'])).code, 125);
    // --rm removed all of them, even those that never started.
    assert.equal(await fx.ok(['ps', '-aq']), '');
  });

  it('merges ENTRYPOINT and CMD like Docker', async () => {
    assert.equal(await fx.ok(['run', '--rm', 'ep']), 'ep default');
    assert.equal(await fx.ok(['run', '--rm', 'ep', 'mine']), 'ep mine');
    assert.equal(await fx.ok(['run', '--rm', '--entrypoint', 'echo', 'ep', 'other']), 'other');
    assert.equal(await fx.ok(['run', '--rm', '--entrypoint', '', 'ep', 'echo', 'reset']), 'reset');
    const none = await fx.wharf(['run', '--rm', '--entrypoint', '', 'ep']);
    assert.equal(none.code, 125);
    assert.match(none.stderr, /no command specified/);
  });

  it('sets the environment from the image, -e, --env-file and defaults', async () => {
    const { writeFile } = await import('node:fs/promises');
    const envFile = `${fx.root}/env.list`;
    await writeFile(envFile, '# a comment\nFROM_FILE=yes\nOVER=file\n');
    const out = await fx.ok([
      'run',
      '--rm',
      '--entrypoint',
      'env',
      '--env-file',
      envFile,
      '-e',
      'OVER=flag',
      '-h',
      'myhost',
      'ep',
    ]);
    const env = new Set(out.split('\n'));
    for (const entry of [
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'HOSTNAME=myhost',
      'FROM_IMAGE=1',
      'FROM_FILE=yes',
      'OVER=flag',
      'HOME=/root',
    ]) {
      assert.ok(env.has(entry), `missing ${entry} in:\n${out}`);
    }
  });

  it("resolves USER in the image's passwd and group files", async () => {
    assert.equal(
      await fx.ok(['run', '--rm', 'users', 'sh', '-c', 'id; pwd; echo $HOME']),
      'uid=1000(app) gid=1000(app) groups=1000(app),2000(extra)\n/work/dir\n/home/app',
    );
    assert.equal(
      await fx.ok(['run', '--rm', '-u', '1000:3000', 'users', 'id']),
      'uid=1000(app) gid=3000(other) groups=3000(other)',
    );
    assert.equal(await fx.ok(['run', '--rm', '-u', 'app:extra', 'users', 'id', '-g']), '2000');
    assert.equal(
      await fx.ok(['run', '--rm', '-u', '4242', 'users', 'id']),
      'uid=4242 gid=0(root) groups=0(root)',
    );
    assert.equal(await fx.ok(['run', '--rm', '-u', 'root', 'users', 'id', '-G']), '0 3000');
    const missing = await fx.wharf(['run', '--rm', '-u', 'nobody-here', 'users', 'id']);
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, /unable to find user nobody-here/);
  });

  it('stops with the STOPSIGNAL, and kills after the timeout', async () => {
    const loop =
      'trap "echo got USR1; exit 9" USR1; trap "echo got TERM; exit 8" TERM; while :; do sleep 0.1; done';
    await fx.ok(['run', '-d', '--name', 'sig', 'stopper', 'sh', '-c', loop]);
    await eventually(
      async () => ((await fx.ok(['top', 'sig'])).includes('sleep') ? true : undefined),
      'the loop',
    );
    await fx.ok(['stop', 'sig']);
    assert.equal(await fx.ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'sig']), 'exited 9');
    assert.match(await fx.ok(['logs', 'sig']), /got USR1/);

    // --stop-signal overrides the image's; a process that ignores it is killed after -t.
    await fx.ok([
      'run',
      '-d',
      '--name',
      'stubborn',
      '--stop-signal',
      'SIGHUP',
      'busybox',
      'sh',
      '-c',
      'trap "" HUP; while :; do sleep 0.1; done',
    ]);
    const t0 = performance.now();
    await fx.ok(['stop', '-t', '2', 'stubborn']);
    const took = performance.now() - t0;
    assert.ok(took >= 1900, `stop returned after ${took} ms`);
    assert.ok(took < 10_000, `stop took ${took} ms`);
    assert.equal(await fx.ok(['inspect', '-f', '{{.State.ExitCode}}', 'stubborn']), '137');
    await fx.ok(['rm', 'sig', 'stubborn']);
  });

  it('shows a new line with logs -f within a second', async () => {
    await fx.ok([
      'run',
      '-d',
      '--name',
      'talker',
      'busybox',
      'sh',
      '-c',
      'echo started; while :; do if [ -e /tmp/go ]; then echo GO-LINE; rm /tmp/go; fi; sleep 0.05; done',
    ]);
    await eventually(
      async () => ((await fx.ok(['logs', 'talker'])).includes('started') ? true : undefined),
      'started',
    );
    const follower = fx.spawn(['logs', '-f', '--tail', '0', 'talker']);
    let seen: number | undefined;
    let output = '';
    follower.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (seen === undefined && output.includes('GO-LINE')) seen = performance.now();
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 1500)); // the follower is up
      await fx.ok(['exec', 'talker', 'touch', '/tmp/go']);
      const written = performance.now();
      await eventually(async () => seen, 'GO-LINE in logs -f', 5000);
      assert.ok(seen! - written < 1000, `the line showed ${seen! - written} ms after it was written`);
      assert.ok(!output.includes('started'), '--tail 0 showed old lines');
    } finally {
      follower.kill('SIGTERM');
    }
    // -t prefixes Docker's RFC 3339 nanosecond timestamps; --tail counts from the end.
    const stamped = await fx.ok(['logs', '-t', '--tail', '1', 'talker']);
    assert.match(stamped, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z GO-LINE$/);
    await fx.ok(['rm', '-f', 'talker']);
  });

  it('execs into a running container with -e, -u, -w and its exit code', async () => {
    await fx.ok(['run', '-d', '--name', 'box', 'users', 'sleep', '60']);
    assert.equal(await fx.ok(['exec', 'box', 'sh', '-c', 'echo $PWD $(id -u)']), '/work/dir 1000');
    assert.equal(
      await fx.ok([
        'exec',
        '-u',
        'root',
        '-w',
        '/tmp',
        '-e',
        'X=1',
        'box',
        'sh',
        '-c',
        'echo $PWD $(id -u) $X',
      ]),
      '/tmp 0 1',
    );
    assert.equal((await fx.wharf(['exec', 'box', 'sh', '-c', 'exit 4'])).code, 4);
    assert.equal((await fx.wharf(['exec', 'box', 'no-such-command'])).code, 127);
    assert.equal(await fx.ok(['exec', '-i', 'box', 'cat'], { input: 'piped\n' }), 'piped');
    await fx.ok(['exec', '-d', '-u', 'root', 'box', 'sh', '-c', 'echo detached > /tmp/d']);
    await eventually(
      async () =>
        (await fx.wharf(['exec', 'box', 'cat', '/tmp/d'])).stdout.trim() === 'detached' ? true : undefined,
      'exec -d',
    );
    // Each attached exec is recorded as Docker's create, start, then die with its code (the first
    // two while the runtime starts the process), and leaves none of the runtime's scratch files.
    const events = (await containerEvents(fx, 'box', '{{json .}}'))
      .map((line) => JSON.parse(line) as { Action: string; Actor: { Attributes: Record<string, string> } })
      .filter((event) => event.Action.startsWith('exec_'));
    const byExec = new Map<string | undefined, typeof events>();
    for (const event of events) {
      const id = event.Actor.Attributes.execID;
      byExec.set(id, [...(byExec.get(id) ?? []), event]);
    }
    const exit4 = [...byExec.values()].find((group) => group[0]?.Action === 'exec_create: sh -c exit 4');
    assert.deepEqual(
      exit4?.map((event) => event.Action),
      ['exec_create: sh -c exit 4', 'exec_start: sh -c exit 4', 'exec_die'],
    );
    assert.equal(exit4?.[2]?.Actor.Attributes.exitCode, '4');
    assert.ok(byExec.size >= 7, `every exec recorded (${byExec.size})`);
    assert.deepEqual(await readdir(join(fx.root, 'runtime', 'scratch')), []);
    await fx.ok(['rm', '-f', 'box']);
    const stopped = await fx.wharf(['exec', 'box', 'true']);
    assert.notEqual(stopped.code, 0);
  });

  it('runs -it in a real terminal: tty, size, input and Ctrl-P Ctrl-Q', async () => {
    const wharf = [wharfBin, ...fx.argv([])].join(' ');
    const drive = (command: string, feed: (write: (text: string) => void) => Promise<void>) =>
      new Promise<{ code: number | null; output: string }>((resolve, reject) => {
        const child = spawn('script', ['-qfec', `stty rows 30 cols 100; ${wharf} ${command}`, '/dev/null'], {
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let output = '';
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (process.env.DEBUG_TTY) process.stderr.write(chunk);
        });
        child.stderr.on('data', (chunk: Buffer) => {
          if (process.env.DEBUG_TTY) process.stderr.write(chunk);
        });
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, output }));
        void feed((text) => child.stdin.write(text)).then(() => child.stdin.end());
      });
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const session = await drive('run -it --rm --name term busybox sh', async (write) => {
      await sleep(2500);
      write('tty; stty size; echo typed-$((40+2))\r');
      await sleep(1000);
      write('exit 5\r');
      await sleep(1000);
    });
    assert.equal(session.code, 5, session.output);
    assert.match(session.output, /\/dev\/pts\/0/);
    assert.match(session.output, /30 100/);
    assert.match(session.output, /typed-42/);

    const detaching = await drive('run -it --name detachable busybox sh', async (write) => {
      await sleep(2500);
      write('\x10\x11');
      await sleep(1000);
    });
    assert.equal(detaching.code, 0, detaching.output);
    assert.equal(await fx.ok(['inspect', '-f', '{{.State.Status}}', 'detachable']), 'running');
    await fx.ok(['rm', '-f', 'detachable']);
  });

  it('restarts a failing container by its restart policy', async () => {
    await fx.ok([
      'run',
      '-d',
      '--name',
      'flaky',
      '--restart',
      'on-failure:2',
      'busybox',
      'sh',
      '-c',
      'echo attempt; exit 1',
    ]);
    await eventually(
      async () => {
        const state = await fx.ok(['inspect', '-f', '{{.State.Status}} {{.RestartCount}}', 'flaky']);
        return state === 'exited 2' ? state : undefined;
      },
      'two restarts',
      20_000,
    );
    assert.equal((await fx.ok(['logs', 'flaky'])).split('\n').length, 3);
    await fx.ok([
      'run',
      '-d',
      '--name',
      'always',
      '--restart',
      'always',
      'busybox',
      'sh',
      '-c',
      'sleep 0.2; exit 0',
    ]);
    await eventually(
      async () => {
        const count = Number(await fx.ok(['inspect', '-f', '{{.RestartCount}}', 'always']));
        return count >= 2 ? count : undefined;
      },
      'restarts of always',
      20_000,
    );
    // A stopped container stays stopped.
    await fx.ok(['stop', 'always']);
    const count = await fx.ok(['inspect', '-f', '{{.RestartCount}}', 'always']);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(
      await fx.ok(['inspect', '-f', '{{.State.Status}} {{.RestartCount}}', 'always']),
      `exited ${count}`,
    );
    await fx.ok(['rm', 'flaky', 'always']);
  });

  it('runs health checks to healthy and unhealthy', async () => {
    await fx.ok([
      'run',
      '-d',
      '--name',
      'checked',
      '--health-cmd',
      'test -e /tmp/healthy',
      '--health-interval',
      '1s',
      '--health-retries',
      '2',
      'busybox',
      'sh',
      '-c',
      'touch /tmp/healthy; sleep 300',
    ]);
    assert.match(
      await fx.ok(['ps', '--format', '{{.Status}}', '--filter', 'name=checked']),
      /health: starting|healthy/,
    );
    await eventually(async () => {
      const status = await fx.ok(['inspect', '-f', '{{.State.Health.Status}}', 'checked']);
      return status === 'healthy' ? status : undefined;
    }, 'healthy');
    assert.match(
      await fx.ok(['ps', '--filter', 'health=healthy', '--format', '{{.Names}} {{.Status}}']),
      /checked Up .* \(healthy\)/,
    );
    await fx.ok(['exec', 'checked', 'rm', '/tmp/healthy']);
    await eventually(async () => {
      const status = await fx.ok([
        'inspect',
        '-f',
        '{{.State.Health.Status}} {{.State.Health.FailingStreak}}',
        'checked',
      ]);
      return status.startsWith('unhealthy') ? status : undefined;
    }, 'unhealthy');
    const health = JSON.parse(await fx.ok(['inspect', '-f', '{{json .State.Health}}', 'checked'])) as {
      Log: { ExitCode: number }[];
    };
    assert.ok(health.Log.length <= 5);
    assert.equal(health.Log.at(-1)?.ExitCode, 1);
    const events = (await containerEvents(fx, 'checked')).join('\n');
    assert.match(events, /health_status: healthy/);
    assert.match(events, /health_status: unhealthy/);
    await fx.ok(['rm', '-f', 'checked']);
  });

  it('pauses, renames, kills, waits and reports it all in ps, inspect and events', async () => {
    const id = await fx.ok([
      'run',
      '-d',
      '--name',
      'first',
      '--label',
      'app=web',
      '--init',
      'busybox',
      'sleep',
      '300',
    ]);
    assert.equal(
      await fx.ok(['exec', 'first', 'sh', '-c', 'tr "\\0" " " < /proc/1/cmdline']),
      '/sbin/docker-init -- sleep 300',
    );
    await fx.ok(['pause', 'first']);
    assert.match(
      await fx.ok(['ps', '--format', '{{.Status}}', '--filter', `id=${id.slice(0, 8)}`]),
      /\(Paused\)$/,
    );
    await fx.ok(['unpause', 'first']);
    await fx.ok(['rename', 'first', 'second']);
    assert.equal(await fx.ok(['ps', '-q', '--filter', 'label=app=web']), id.slice(0, 12));
    assert.equal(await fx.ok(['ps', '-q', '--no-trunc', '--filter', 'name=^second$']), id);
    const waiter = fx.wharf(['wait', 'second']);
    await fx.ok(['kill', '-s', 'TERM', 'second']);
    assert.equal((await waiter).stdout.trim(), '143');
    const c = (
      JSON.parse(await fx.ok(['inspect', 'second'])) as Array<{
        Id: string;
        Name: string;
        Path: string;
        Args: string[];
        State: { Status: string; ExitCode: number; Running: boolean; FinishedAt: string };
        Config: { Labels: Record<string, string> };
        HostConfig: { Init: boolean };
      }>
    )[0]!;
    assert.equal(c.Id, id);
    assert.equal(c.Name, '/second');
    assert.equal(c.State.Status, 'exited');
    assert.equal(c.State.ExitCode, 143);
    assert.equal(c.State.Running, false);
    assert.equal(c.Config.Labels.app, 'web');
    assert.equal(c.HostConfig.Init, true);
    assert.equal(c.Path, 'sleep');
    assert.deepEqual(c.Args, ['300']);
    assert.match(c.State.FinishedAt, /^\d{4}-\d\d-\d\dT/);
    assert.equal(await fx.ok(['ps', '-aq', '-n', '1']), id.slice(0, 12));
    const actions = await containerEvents(fx, id);
    for (const action of ['create', 'start', 'pause', 'unpause', 'rename', 'kill', 'die']) {
      assert.ok(actions.includes(action), `no ${action} event in ${actions.join(', ')}`);
    }
    // The top-level inspect finds containers and images alike.
    const both = JSON.parse(await fx.ok(['inspect', 'second', 'busybox'])) as Array<{ Id: string }>;
    assert.equal(both.length, 2);
    assert.equal(both[0]!.Id, id);
    assert.match(both[1]!.Id, /^sha256:/);
    await fx.ok(['rm', 'second']);
    const gone = await fx.wharf(['inspect', 'second']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /No such object: second/);
  });

  it('makes the root filesystem read-only with --read-only', async () => {
    const result = await fx.wharf(['run', '--rm', '--read-only', 'busybox', 'touch', '/x']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /Read-only file system/);
  });
});
