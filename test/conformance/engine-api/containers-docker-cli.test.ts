/**
 * The real docker CLI 28 runs and manages Wharf's containers through `wharf system service` (a
 * child process on a temp root and socket, busybox imported into it): version and info with
 * container counts, `run --rm` (output and exit codes), `run -d`, `ps --format`, `logs -f` (a
 * line shows within a second of being written), `exec` (codes, stdout/stderr apart, stdin),
 * `run -it` and `exec -it` through a pty (typing, Ctrl-P Ctrl-Q detaching, `attach` again),
 * `stop`, `kill`, `rm -f`, `cp` both ways, `diff`, `export`, `inspect -f`, `stats --no-stream`,
 * `events --since`, `system df`, `container prune`, and `run -p` publishing a port that answers
 * from the host (`docker port`, and `docker stats` counting the bytes it received and sent).
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { baseImagesMissing, ensureBaseImages } from '../../helpers/base-images.ts';
import { wharfBin } from '../../helpers/wharf.ts';
import { DOCKER_CLI, startWharfDaemon, type WharfDaemon } from '../../helpers/wharf-daemon.ts';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';

const skip = !existsSync(DOCKER_CLI)
  ? `the docker CLI is not installed at ${DOCKER_CLI}`
  : !existsSync(PYTHON)
    ? `python3 is not installed at ${PYTHON} (it drives the pty)`
    : baseImagesMissing();

let daemon: WharfDaemon | undefined;
let scratch = '';

async function docker(args: string[], options: { input?: string } = {}): Promise<string> {
  if (options.input !== undefined) {
    const result = await dockerResult(args, options.input);
    if (result.code !== 0) assert.fail(`docker ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
    return result.stdout;
  }
  const { stdout } = await run(DOCKER_CLI, args, { env: daemon!.dockerEnv, maxBuffer: 64 << 20 });
  return stdout;
}

/** Runs docker to its end, whatever its exit code, with `input` on stdin. */
function dockerResult(
  args: string[],
  input = '',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(DOCKER_CLI, args, { env: daemon!.dockerEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

/**
 * Drives a command on a pty (40 rows, 100 columns) with Python's pty module: each step waits
 * for output containing `expect`, or types `send`; returns the exit code and what was shown.
 */
const PTY_DRIVER = `
import json, os, pty, select, struct, sys, time, fcntl, termios
argv, steps = json.loads(sys.argv[1]), json.loads(sys.argv[2])
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', 40, 100, 0, 0))
    os.execvp(argv[0], argv)
out = b''
def pump(timeout):
    global out
    r, _, _ = select.select([fd], [], [], timeout)
    if not r: return True
    try: data = os.read(fd, 4096)
    except OSError: return False
    if not data: return False
    out += data
    return True
for step in steps:
    if 'expect' in step:
        seen = len(out) if step.get('fresh') else 0
        end = time.time() + step.get('timeout', 15)
        while step['expect'].encode() not in out[seen:]:
            if time.time() > end or not pump(0.1 if time.time() < end else 0):
                print(json.dumps({'error': 'timeout waiting for ' + step['expect'], 'output': out.decode('utf-8', 'replace')}))
                os.kill(pid, 9); os.waitpid(pid, 0); sys.exit(0)
    else:
        time.sleep(step.get('delay', 0))
        os.write(fd, step['send'].encode())
end = time.time() + 20
while time.time() < end and pump(0.1): pass
_, status = os.waitpid(pid, 0)
print(json.dumps({'code': os.waitstatus_to_exitcode(status), 'output': out.decode('utf-8', 'replace')}))
`;

type PtyStep = { expect: string; fresh?: boolean; timeout?: number } | { send: string; delay?: number };

async function onPty(args: string[], steps: PtyStep[]): Promise<{ code: number; output: string }> {
  const { stdout } = await run(
    PYTHON,
    ['-c', PTY_DRIVER, JSON.stringify([DOCKER_CLI, ...args]), JSON.stringify(steps)],
    { env: daemon!.dockerEnv, timeout: 90_000 },
  );
  const result = JSON.parse(stdout) as { code?: number; output: string; error?: string };
  if (result.error) assert.fail(`${result.error}; the terminal showed: ${JSON.stringify(result.output)}`);
  return { code: result.code!, output: result.output };
}

async function state(name: string): Promise<string> {
  return (await docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name])).trim();
}

describe('docker CLI 28 against wharf system service: containers', { skip, timeout: 600_000 }, () => {
  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'wharf-api-containers-'));
    daemon = await startWharfDaemon({ prepare: (root) => ensureBaseImages(root) });
  });

  after(async () => {
    if (daemon) {
      const ids = (await docker(['ps', '-aq']).catch(() => '')).trim().split('\n').filter(Boolean);
      if (ids.length > 0) await docker(['rm', '-f', ...ids]).catch(() => {});
    }
    await daemon?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('shows the server in docker version and container counts in docker info', async () => {
    assert.equal(
      (await docker(['version', '--format', '{{.Client.APIVersion}} {{.Server.APIVersion}}'])).trim(),
      '1.41 1.41',
    );
    await docker(['run', '-d', '--name', 'counted', 'busybox', 'sleep', '600']);
    await docker(['create', '--name', 'counted-created', 'busybox', 'true']);
    const info = await docker([
      'info',
      '--format',
      '{{.Containers}} {{.ContainersRunning}} {{.ContainersPaused}} {{.ContainersStopped}}',
    ]);
    assert.equal(info.trim(), '2 1 0 1');
    await docker(['rm', '-f', 'counted', 'counted-created']);
  });

  it('docker run --rm prints the output, exits with the code and leaves nothing behind', async () => {
    const hi = await dockerResult(['run', '--rm', 'busybox', 'echo', 'hi']);
    assert.deepEqual([hi.code, hi.stdout], [0, 'hi\n'], hi.stderr);
    const three = await dockerResult([
      'run',
      '--rm',
      'busybox',
      'sh',
      '-c',
      'echo out; echo err >&2; exit 3',
    ]);
    assert.deepEqual([three.code, three.stdout, three.stderr], [3, 'out\n', 'err\n']);
    const missing = await dockerResult(['run', '--rm', 'busybox', 'no-such-command']);
    assert.equal(missing.code, 127, missing.stderr);
    assert.match(missing.stderr, /executable file not found/);
    const piped = await dockerResult(['run', '--rm', '-i', 'busybox', 'sh', '-c', 'tr a-z A-Z'], 'quiet\n');
    assert.deepEqual([piped.code, piped.stdout], [0, 'QUIET\n'], piped.stderr);
    assert.equal((await docker(['ps', '-aq'])).trim(), '');
  });

  it('runs detached; ps shows names; inspect shows the state', async () => {
    const id = (
      await docker(['run', '-d', '--name', 'web', '-e', 'GREETING=hello', 'busybox', 'sleep', '600'])
    ).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.equal((await docker(['ps', '--format', '{{.Names}}'])).trim(), 'web');
    assert.equal(await state('web'), 'running 0');
    assert.equal((await docker(['inspect', '-f', '{{.Id}}', 'web'])).trim(), id);
    assert.equal((await docker(['exec', 'web', 'sh', '-c', 'echo $GREETING'])).trim(), 'hello');
  });

  it('docker logs -f shows a new line within a second of its writing', async () => {
    await docker([
      'run',
      '-d',
      '--name',
      'ticker',
      'busybox',
      'sh',
      '-c',
      'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.3; done',
    ]);
    const child = spawn(DOCKER_CLI, ['logs', '-f', '-t', 'ticker'], { env: daemon!.dockerEnv });
    const delays: number[] = [];
    const lines: string[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        let rest = '';
        const timer = setTimeout(() => reject(new Error(`too few lines: ${JSON.stringify(lines)}`)), 15_000);
        child.stdout.on('data', (chunk: Buffer) => {
          const now = Date.now();
          const parts = (rest + chunk.toString()).split('\n');
          rest = parts.pop() ?? '';
          for (const line of parts) {
            lines.push(line);
            const stamp = Date.parse(line.slice(0, line.indexOf(' ')).replace(/(\.\d{3})\d*Z$/, '$1Z'));
            delays.push(now - stamp);
          }
          if (lines.length >= 8) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
    } finally {
      child.kill('SIGKILL');
    }
    assert.match(lines[0]!, /Z tick 0$/);
    // lines written after `logs -f` started arrive within a second of their timestamp
    const live = delays.slice(-4);
    assert.ok(
      live.every((ms) => ms < 1000),
      `delays ${JSON.stringify(delays)}`,
    );
    await docker(['rm', '-f', 'ticker']);
  });

  it('docker exec: exit codes, stdout and stderr apart, stdin, a missing command', async () => {
    const result = await dockerResult(['exec', 'web', 'sh', '-c', 'echo out; echo err >&2; exit 4']);
    assert.deepEqual([result.code, result.stdout, result.stderr], [4, 'out\n', 'err\n']);
    assert.equal(await docker(['exec', '-i', 'web', 'cat'], { input: 'through stdin\n' }), 'through stdin\n');
    const missing = await dockerResult(['exec', 'web', 'no-such-command']);
    assert.equal(missing.code, 127);
    await docker(['exec', '-d', 'web', 'sh', '-c', 'echo detached > /tmp/detached']);
    let text = '';
    for (let i = 0; i < 50 && text === ''; i++) {
      text = await docker(['exec', 'web', 'cat', '/tmp/detached']).catch(() => '');
      if (text === '') await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(text, 'detached\n');
  });

  it('docker exec -it runs a shell on a terminal of the client size', async () => {
    const { code, output } = await onPty(
      ['exec', '-it', 'web', 'sh'],
      [{ expect: '# ' }, { send: 'stty size; echo $((6*7))\r' }, { expect: '42\r\n' }, { send: 'exit 3\r' }],
    );
    assert.equal(code, 3, output);
    assert.match(output, /40 100\r\n/);
  });

  it('docker run -it: typing reaches the shell, Ctrl-P Ctrl-Q detaches, attach comes back', async () => {
    const first = await onPty(
      ['run', '-it', '--name', 'shell', 'busybox', 'sh'],
      [{ expect: '# ' }, { send: 'echo $((6*7))\r' }, { expect: '42\r\n' }, { send: '\x10\x11', delay: 0.2 }],
    );
    assert.equal(first.code, 0, first.output);
    assert.equal(await state('shell'), 'running 0');
    const second = await onPty(
      ['attach', 'shell'],
      [{ send: 'echo back $((2+3))\r', delay: 0.5 }, { expect: 'back 5' }, { send: 'exit 6\r' }],
    );
    assert.equal(second.code, 6, second.output);
    assert.equal(await state('shell'), 'exited 6');
    await docker(['rm', 'shell']);
  });

  it('docker stop (304 when stopped), kill and rm -f', async () => {
    await docker(['run', '-d', '--name', 'stopper', 'busybox', 'sleep', '600']);
    const started = Date.now();
    await docker(['stop', '-t', '1', 'stopper']);
    // busybox sleep as PID 1 ignores SIGTERM: SIGKILL after the timeout
    assert.ok(Date.now() - started >= 900);
    assert.equal(await state('stopper'), 'exited 137');
    assert.equal((await docker(['stop', 'stopper'])).trim(), 'stopper');
    await docker(['start', 'stopper']);
    assert.equal(await state('stopper'), 'running 0');
    await docker(['kill', 'stopper']);
    assert.equal(await state('stopper'), 'exited 137');
    await docker(['start', 'stopper']);
    await docker(['rm', '-f', 'stopper']);
    const gone = await dockerResult(['inspect', 'stopper']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /No such (container|object)/i);
  });

  it('docker cp both ways, diff and export', async () => {
    const local = join(scratch, 'note.txt');
    await writeFile(local, 'from the host\n');
    await docker(['cp', local, 'web:/tmp/note.txt']);
    assert.equal(await docker(['exec', 'web', 'cat', '/tmp/note.txt']), 'from the host\n');
    await docker(['exec', 'web', 'sh', '-c', 'mkdir -p /data && echo inside > /data/made.txt']);
    await docker(['cp', 'web:/data', join(scratch, 'data')]);
    assert.equal(await readFile(join(scratch, 'data', 'made.txt'), 'utf8'), 'inside\n');
    const diff = (await docker(['diff', 'web'])).trim().split('\n');
    for (const line of ['A /tmp/note.txt', 'A /data', 'A /data/made.txt'])
      assert.ok(diff.includes(line), diff.join('\n'));
    const listing = await new Promise<string>((resolve, reject) => {
      const exporter = spawn(DOCKER_CLI, ['export', 'web'], { env: daemon!.dockerEnv });
      const tar = spawn('tar', ['-t'], { stdio: ['pipe', 'pipe', 'inherit'] });
      exporter.stdout.pipe(tar.stdin);
      let out = '';
      tar.stdout.on('data', (chunk) => (out += chunk));
      tar.on('error', reject);
      tar.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`tar exited ${code}`))));
    });
    const names = listing.split('\n');
    for (const name of ['bin/busybox', 'data/made.txt', 'tmp/note.txt'])
      assert.ok(names.includes(name), name);
  });

  it('docker stats --no-stream shows CPU and memory of running containers', async () => {
    await docker(['exec', '-d', 'web', 'sh', '-c', 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done']);
    const out = await docker([
      'stats',
      '--no-stream',
      '--format',
      '{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}',
    ]);
    const line = out
      .trim()
      .split('\n')
      .find((row) => row.startsWith('web|'));
    assert.ok(line, out);
    const [, cpu, memory, pids] = line.split('|');
    assert.match(cpu!, /^\d+\.\d\d%$/);
    assert.match(memory!, /^\d+(\.\d+)?(B|KiB|MiB) \/ \d+(\.\d+)?(MiB|GiB)$/);
    assert.ok(Number(pids) >= 1, pids);
  });

  it('docker events --since replays what happened, with --until ending the stream', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await docker(['run', '--rm', '--name', 'evented', 'busybox', 'true']);
    const until = Math.ceil(Date.now() / 1000) + 1;
    const out = await docker([
      'events',
      '--since',
      String(since),
      '--until',
      String(until),
      '--filter',
      'container=evented',
      '--format',
      '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}',
    ]);
    const actions = out
      .trim()
      .split('\n')
      .map((line) => line.split(' ')[1]);
    for (const action of ['create', 'start', 'die', 'destroy']) assert.ok(actions.includes(action), out);
    assert.ok(actions.indexOf('create') < actions.indexOf('destroy'), out);
    assert.match(out, /^container create evented$/m);
    // timeNano to the nanosecond, as the event log holds it (`wharf events` reads it directly)
    const times = ['--since', String(since), '--until', String(until), '--filter', 'container=evented'];
    const format = ['--format', '{{.Action}} {{.TimeNano}}'];
    const viaApi = await docker(['events', ...times, ...format]);
    const { stdout: stored } = await promisify(execFile)(wharfBin, [
      '--root',
      daemon!.root,
      'events',
      ...times,
      ...format,
    ]);
    assert.equal(viaApi, stored);
  });

  it('docker events --filter type=network / type=volume streams their events from the log', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const networkId = (await docker(['network', 'create', 'evented-net'])).trim();
    await docker(['volume', 'create', 'evented-vol']);
    await docker(['network', 'rm', 'evented-net']);
    await docker(['volume', 'rm', 'evented-vol']);
    const until = Math.ceil(Date.now() / 1000) + 1;
    const read = (filters: string[], attributes: string) =>
      docker([
        'events',
        '--since',
        String(since),
        '--until',
        String(until),
        ...filters,
        '--format',
        `{{.Type}} {{.Action}} {{.Actor.ID}} ${attributes}`,
      ]);
    assert.equal(
      await read(['--filter', 'type=network'], '{{.Actor.Attributes.name}} {{.Actor.Attributes.type}}'),
      `network create ${networkId} evented-net bridge\nnetwork destroy ${networkId} evented-net bridge\n`,
    );
    assert.equal(
      await read(['--filter', 'type=volume', '--filter', 'event=destroy'], '{{.Actor.Attributes.driver}}'),
      'volume destroy evented-vol local\n',
    );
  });

  it('docker system df counts the containers', async () => {
    const out = await docker(['system', 'df', '--format', '{{.Type}}={{.TotalCount}}/{{.Active}}']);
    const containers = out
      .trim()
      .split('\n')
      .find((line) => line.startsWith('Containers='));
    assert.equal(containers, 'Containers=1/1', out);
  });

  it('docker container prune removes the stopped containers only', async () => {
    await docker(['create', '--name', 'never-started', 'busybox', 'true']);
    await docker(['run', '--name', 'finished', 'busybox', 'true']);
    const out = await docker(['container', 'prune', '-f']);
    assert.match(out, /Deleted Containers:/);
    assert.equal((await docker(['ps', '-a', '--format', '{{.Names}}'])).trim(), 'web');
  });

  it('docker run -p publishes a port that answers from the host; docker port lists it', async () => {
    const { createServer } = await import('node:net');
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    const id = (
      await docker([
        'run',
        '-d',
        '-p',
        `127.0.0.1:${port}:80`,
        'busybox',
        'sh',
        '-c',
        'mkdir /www && echo published > /www/index.html && exec httpd -f -p 80 -h /www',
      ])
    ).trim();
    try {
      let body = '';
      for (let i = 0; i < 50 && body === ''; i++) {
        body = await fetch(`http://127.0.0.1:${port}/`)
          .then((response) => response.text())
          .catch(() => '');
        if (body === '') await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(body, 'published\n');
      assert.equal(await docker(['port', id]), `80/tcp -> 127.0.0.1:${port}\n`);
      // the CLI sums the document's `networks` (eth0) into NET I/O, blkio_stats into BLOCK I/O
      const io = (await docker(['stats', '--no-stream', '--format', '{{.NetIO}}|{{.BlockIO}}', id])).trim();
      const size = '(\\d+(?:\\.\\d+)?)(B|kB|MB|GB)';
      const match = new RegExp(`^${size} / ${size}\\|${size} / ${size}$`).exec(io);
      assert.ok(match, io);
      assert.ok(Number(match[1]) > 0 && Number(match[3]) > 0, `received / sent: ${io}`);
    } finally {
      await docker(['rm', '-f', id]);
    }
  });
});
