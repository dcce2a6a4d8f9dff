/**
 * dockerode (unversioned paths, its own stream handling) drives containers through
 * `wharf system service`: create, attach (plain and hijacked with stdin), wait, start, logs
 * (multiplexed, demuxed by dockerode), inspect, exec with its inspect, and remove.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import { baseImagesMissing, ensureBaseImages } from '../../helpers/base-images.ts';
import { startWharfDaemon, type WharfDaemon } from '../../helpers/wharf-daemon.ts';

let daemon: WharfDaemon | undefined;
let docker: Docker;

/** Demultiplexes a Docker stream into stdout and stderr text. */
async function demux(stream: NodeJS.ReadableStream): Promise<{ stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk) => (out += chunk));
  stderr.on('data', (chunk) => (err += chunk));
  docker.modem.demuxStream(stream, stdout, stderr);
  await new Promise<void>((resolve, reject) => {
    stream.on('end', () => resolve());
    stream.on('close', () => resolve());
    stream.on('error', reject);
  });
  return { stdout: out, stderr: err };
}

describe('dockerode against wharf system service: containers', {
  skip: baseImagesMissing(),
  timeout: 300_000,
}, () => {
  before(async () => {
    daemon = await startWharfDaemon({ prepare: (root) => ensureBaseImages(root) });
    docker = new Docker({ socketPath: daemon.socket });
  });

  after(async () => {
    if (daemon) {
      for (const info of await docker.listContainers({ all: true }).catch(() => [])) {
        await docker
          .getContainer(info.Id)
          .remove({ force: true })
          .catch(() => {});
      }
    }
    await daemon?.stop();
  });

  it('creates, attaches, waits, starts, reads the logs and removes a container', async () => {
    const container = await docker.createContainer({
      Image: 'busybox',
      name: 'dockerode-cycle',
      Cmd: ['sh', '-c', 'echo to-stdout; echo to-stderr >&2; exit 5'],
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = (await container.attach({
      stream: true,
      stdout: true,
      stderr: true,
    })) as NodeJS.ReadableStream;
    const output = demux(stream);
    // before the start, `not-running` (the default) would answer at once, as dockerd does
    const waited = container.wait({ condition: 'next-exit' });
    await container.start();
    assert.deepEqual(await output, { stdout: 'to-stdout\n', stderr: 'to-stderr\n' });
    assert.equal((await waited).StatusCode, 5);
    const inspect = await container.inspect();
    assert.equal(inspect.State.Status, 'exited');
    assert.equal(inspect.State.ExitCode, 5);
    assert.equal(inspect.Name, '/dockerode-cycle');
    const logs = (await container.logs({
      stdout: true,
      stderr: true,
      timestamps: true,
    })) as unknown as Buffer;
    const lines = new PassThrough();
    const text = demux(lines);
    lines.end(logs);
    const { stdout, stderr } = await text;
    assert.match(stdout, /^\d{4}-\d\d-\d\dT[\d:.]+Z to-stdout\n$/);
    assert.match(stderr, /Z to-stderr\n$/);
    await container.remove();
    await assert.rejects(container.inspect(), (error: { statusCode?: number }) => error.statusCode === 404);
  });

  it('feeds stdin through a hijacked attach and reads the echo', async () => {
    const container = await docker.createContainer({
      Image: 'busybox',
      Cmd: ['sh', '-c', 'read line; echo "got $line"'],
      OpenStdin: true,
      StdinOnce: true,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = (await container.attach({
      stream: true,
      stdin: true,
      stdout: true,
      stderr: true,
      hijack: true,
    })) as NodeJS.ReadWriteStream;
    const output = demux(stream);
    await container.start();
    stream.write('over the socket\n');
    assert.equal((await output).stdout, 'got over the socket\n');
    assert.equal((await container.wait()).StatusCode, 0);
    await container.remove();
  });

  it('runs an exec and reports its exit code in its inspect', async () => {
    const container = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '600'] });
    await container.start();
    const exec = await container.exec({
      Cmd: ['sh', '-c', 'echo exec-out; exit 9'],
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = (await exec.start({ hijack: true, stdin: false })) as NodeJS.ReadableStream;
    assert.equal((await demux(stream)).stdout, 'exec-out\n');
    const inspect = await exec.inspect();
    assert.equal(inspect.ExitCode, 9);
    assert.equal(inspect.Running, false);
    await container.remove({ force: true });
  });
});
