/**
 * `wharf stats` NET I/O and BLOCK I/O through the real binary, as `docker stats` shows them: a
 * bridge container serving HTTP on a published port counts what it received and sent (one
 * 200 kB page fetched three times: at least 600 kB sent); `--network none` and `--network host`
 * containers show 0B / 0B (the host's own traffic is not the container's); and BLOCK I/O is
 * the sum of the Read and Write bytes of the container's blkio cgroup (v2: io.stat).
 *
 * On this machine (Linux 6.18, hybrid cgroups, no I/O limit set on any disk) the kernel counts
 * no block I/O in any blkio cgroup, the root's included, so the column reads 0B / 0B, as
 * Docker's does here; where it counts, the 2 MB that `dd oflag=direct` writes must show.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cgroupDirectory, cgroupLayout } from '../../../src/runtime/cgroups.ts';
import {
  type ContainerFixture,
  containerTestsSkipReason,
  eventually,
  makeContainerFixture,
} from '../container/helpers.ts';
import { freePort } from '../network/netns-fixture.ts';

const skip =
  (await containerTestsSkipReason()) ??
  (spawnSync('ip', ['netns', 'list']).status === 0 ? undefined : 'ip netns does not work here');

const UNITS: Record<string, number> = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };

/** `4.54kB / 796B` as two byte counts (go-units' decimal sizes, three significant digits). */
function parsePair(text: string): [number, number] {
  const match = /^([\d.]+)(B|kB|MB|GB|TB) \/ ([\d.]+)(B|kB|MB|GB|TB)$/.exec(text.trim());
  assert.ok(match, `not a size pair: ${JSON.stringify(text)}`);
  return [Number(match[1]) * UNITS[match[2]!]!, Number(match[3]) * UNITS[match[4]!]!];
}

/** The column `field` (`NetIO`, `BlockIO`) of `stats --no-stream` for one container. */
async function statsField(fx: ContainerFixture, id: string, field: string): Promise<string> {
  return fx.ok(['stats', '--no-stream', '--format', `{{.${field}}}`, id]);
}

/** Read and write bytes of the container's cgroup, summed from the kernel's own file. */
async function cgroupBlockBytes(
  cgroupsPath: string,
): Promise<{ read: number; write: number; lines: number }> {
  const layout = await cgroupLayout();
  let read = 0;
  let write = 0;
  let lines = 0;
  if (layout.mode === 'v2') {
    const dir = (await cgroupDirectory(cgroupsPath, 'unified'))!;
    for (const line of (await readFile(join(dir, 'io.stat'), 'utf8').catch(() => '')).split('\n')) {
      if (!/^\d+:\d+ /.test(line)) continue;
      lines++;
      read += Number(/rbytes=(\d+)/.exec(line)?.[1] ?? 0);
      write += Number(/wbytes=(\d+)/.exec(line)?.[1] ?? 0);
    }
  } else {
    const dir = (await cgroupDirectory(cgroupsPath, 'blkio'))!;
    const text = await readFile(join(dir, 'blkio.throttle.io_service_bytes_recursive'), 'utf8');
    for (const line of text.split('\n')) {
      const match = /^\d+:\d+ (Read|Write) (\d+)$/.exec(line.trim());
      if (!match) continue;
      lines++;
      if (match[1] === 'Read') read += Number(match[2]);
      else write += Number(match[2]);
    }
  }
  return { read, write, lines };
}

describe('stats: network and block I/O', { skip, timeout: 300_000 }, () => {
  let fx: ContainerFixture;

  before(async () => {
    fx = await makeContainerFixture();
  });

  after(async () => {
    await fx?.cleanup();
  });

  it('counts the bytes a bridge container serving HTTP received and sent', async () => {
    const port = await freePort();
    const id = await fx.ok([
      'run',
      '-d',
      '-p',
      `127.0.0.1:${port}:80`,
      'busybox',
      'sh',
      '-c',
      'mkdir -p /www && head -c 200000 /dev/zero | tr "\\0" x > /www/page && exec httpd -f -p 80 -h /www',
    ]);
    const [rxBefore, txBefore] = parsePair(await statsField(fx, id, 'NetIO'));
    for (let i = 0; i < 3; i++) {
      const body = await eventually(async () => {
        const response = await fetch(`http://127.0.0.1:${port}/page`, { signal: AbortSignal.timeout(2000) });
        return response.ok ? response.text() : undefined;
      }, 'the page');
      assert.equal(body.length, 200_000);
    }
    const [rx, tx] = parsePair(await statsField(fx, id, 'NetIO'));
    assert.ok(rx > rxBefore && rx > 0, `received ${rx} (before ${rxBefore})`);
    assert.ok(tx >= txBefore + 600_000, `sent ${tx} (before ${txBefore})`);
    await fx.ok(['rm', '-f', id]);
  });

  it('shows 0B / 0B for --network none and --network host', async () => {
    const none = await fx.ok(['run', '-d', '--network', 'none', 'busybox', 'sleep', '600']);
    const host = await fx.ok(['run', '-d', '--network', 'host', 'busybox', 'sleep', '600']);
    // traffic on the host's loopback while the host-network container runs: not the container's
    const port = await freePort();
    const server = createServer((socket) => socket.end('x'.repeat(10_000))).listen(port, '127.0.0.1');
    try {
      await new Promise((resolve) => server.once('listening', resolve));
      await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined);
      assert.equal(await statsField(fx, none, 'NetIO'), '0B / 0B');
      assert.equal(await statsField(fx, host, 'NetIO'), '0B / 0B');
    } finally {
      server.close();
      await fx.ok(['rm', '-f', none, host]);
    }
  });

  it("shows the Read and Write bytes of the container's blkio cgroup", async (t) => {
    const id = await fx.ok([
      'run',
      '-d',
      '--network',
      'none',
      'busybox',
      'sh',
      '-c',
      'dd if=/dev/zero of=/tmp/blob bs=1M count=2 oflag=direct && touch /tmp/done && exec sleep 600',
    ]);
    await eventually(async () => {
      const result = await fx.wharf(['exec', id, 'test', '-e', '/tmp/done']);
      return result.code === 0 ? true : undefined;
    }, 'dd to finish');
    const kernel = await cgroupBlockBytes(`${fx.cgroupParent}/${id}`);
    const [read, write] = parsePair(await statsField(fx, id, 'BlockIO'));
    // three significant digits: the column rounds what the kernel counted
    const close = (shown: number, counted: number) =>
      counted === 0 ? shown === 0 : Math.abs(shown - counted) / counted < 0.01;
    assert.ok(close(read, kernel.read), `read ${read}, the cgroup says ${kernel.read}`);
    assert.ok(close(write, kernel.write), `write ${write}, the cgroup says ${kernel.write}`);
    if (kernel.lines === 0) {
      t.diagnostic('the kernel counts no block I/O in this cgroup (no I/O limit on any disk): 0B / 0B');
    } else {
      assert.ok(write >= 2_000_000, `wrote ${write}, dd wrote 2 MiB`);
    }
    await fx.ok(['rm', '-f', id]);
  });
});
