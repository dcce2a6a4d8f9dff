/**
 * The container routes of `wharf system service` over plain HTTP on its unix socket, for what the
 * docker CLI never shows directly: create bodies refused with the flag named (a host PID
 * namespace, links, a log driver), published ports and mounts passed to the layers, 304 for a
 * start or stop that changes nothing, the three wait conditions, attach with `logs=1&stream=0`,
 * logs with `tail` and `since`, the stats JSON `docker stats` computes from (CPU, memory,
 * `networks`, `blkio_stats`), a quiet events stream that ends at `until`, exec errors, and `top`
 * with `ps_args`; an `--rm` container's removal (events in order, no path left) with and without
 * an attached reader.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { baseImagesMissing, ensureBaseImages } from '../../helpers/base-images.ts';
import { socketRequest, startWharfDaemon, type WharfDaemon } from '../../helpers/wharf-daemon.ts';

let daemon: WharfDaemon | undefined;

async function api(
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 30_000,
  // biome-ignore lint/suspicious/noExplicitAny: the answers' shapes are what the assertions check
): Promise<{ status: number; body: string; json: () => any }> {
  const response = await socketRequest(daemon!.socket, `/v1.41${path}`, {
    method,
    timeoutMs,
    ...(body !== undefined
      ? { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }
      : {}),
  });
  return { ...response, json: () => JSON.parse(response.body) };
}

async function create(body: Record<string, unknown>, name?: string): Promise<string> {
  const response = await api('POST', `/containers/create${name ? `?name=${name}` : ''}`, {
    Image: 'busybox',
    ...body,
  });
  assert.equal(response.status, 201, response.body);
  return response.json().Id as string;
}

/** Docker's multiplexed frames as [stream, text] pairs. */
function frames(raw: Buffer): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (let offset = 0; offset + 8 <= raw.length; ) {
    const size = raw.readUInt32BE(offset + 4);
    out.push([raw[offset]!, raw.subarray(offset + 8, offset + 8 + size).toString()]);
    offset += 8 + size;
  }
  return out;
}

async function rawGet(path: string): Promise<Buffer> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: daemon!.socket, path: `/v1.41${path}`, method: 'POST' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve(Buffer.concat(chunks)));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('Engine API container routes over HTTP', { skip: baseImagesMissing(), timeout: 300_000 }, () => {
  before(async () => {
    daemon = await startWharfDaemon({ prepare: (root) => ensureBaseImages(root) });
  });

  after(async () => {
    if (daemon) {
      const list = await api('GET', '/containers/json?all=1').catch(() => undefined);
      for (const container of (list?.json() ?? []) as Array<{ Id: string }>) {
        await api('DELETE', `/containers/${container.Id}?force=1`).catch(() => {});
      }
    }
    await daemon?.stop();
  });

  it('refuses what the container service cannot do, naming the flag', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ HostConfig: { Links: ['other:alias'] } }, /--link/],
      [{ HostConfig: { PidMode: 'host' } }, /--pid/],
      [{ HostConfig: { LogConfig: { Type: 'syslog', Config: {} } } }, /log driver syslog/],
    ];
    for (const [body, message] of cases) {
      const response = await api('POST', '/containers/create', { Image: 'busybox', ...body });
      assert.equal(response.status, 400, response.body);
      assert.match(response.json().message, message);
    }
    // what the CLI sends when nothing is asked: all defaults, accepted
    const id = await create({
      Cmd: ['true'],
      Volumes: {},
      HostConfig: {
        PortBindings: {},
        Dns: [],
        Ulimits: [],
        PidsLimit: 0,
        NetworkMode: 'default',
        IpcMode: '',
      },
    });
    assert.equal((await api('DELETE', `/containers/${id}`)).status, 204);
    assert.equal((await api('POST', '/containers/create', { Image: 'no-such-image' })).status, 404);
    // the network and volume layers take ports, binds and anonymous volumes
    const layered = await create({
      Volumes: { '/data': {} },
      ExposedPorts: { '80/tcp': {} },
      HostConfig: {
        PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
        Binds: ['/tmp:/host:ro'],
      },
    });
    const inspect = (await api('GET', `/containers/${layered}/json`)).json();
    assert.deepEqual(inspect.HostConfig.PortBindings, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
    assert.deepEqual(
      inspect.Mounts.map((m: { Type: string; Destination: string; RW: boolean }) => [
        m.Type,
        m.Destination,
        m.RW,
      ]),
      [
        ['volume', '/data', true],
        ['bind', '/host', false],
      ],
    );
    assert.equal(inspect.HostConfig.NetworkMode, 'bridge');
    assert.equal((await api('DELETE', `/containers/${layered}?v=1`)).status, 204);
  });

  it('answers 304 to a start of a running and a stop of a stopped container', async () => {
    const id = await create({ Cmd: ['sleep', '600'] });
    assert.equal((await api('POST', `/containers/${id}/start`)).status, 204);
    assert.equal((await api('POST', `/containers/${id}/start`)).status, 304);
    assert.equal((await api('POST', `/containers/${id}/stop?t=0`)).status, 204);
    assert.equal((await api('POST', `/containers/${id}/stop?t=0`)).status, 304);
    assert.equal((await api('POST', `/containers/${id}/kill`)).status, 409);
    assert.equal((await api('DELETE', `/containers/${id}`)).status, 204);
    assert.equal((await api('DELETE', `/containers/${id}`)).status, 404);
  });

  it('waits for not-running at once, for the next exit, and for the removal', async () => {
    const created = await create({ Cmd: ['sh', '-c', 'exit 7'] });
    assert.deepEqual((await api('POST', `/containers/${created}/wait`)).json(), { StatusCode: 0 });
    const nextExit = api('POST', `/containers/${created}/wait?condition=next-exit`);
    await api('POST', `/containers/${created}/start`);
    assert.deepEqual((await nextExit).json(), { StatusCode: 7 });
    const removed = await create({ Cmd: ['sh', '-c', 'exit 8'], HostConfig: { AutoRemove: true } });
    const waiting = api('POST', `/containers/${removed}/wait?condition=removed`);
    await api('POST', `/containers/${removed}/start`);
    assert.deepEqual((await waiting).json(), { StatusCode: 8 });
    assert.equal((await api('GET', `/containers/${removed}/json`)).status, 404);
    assert.equal((await api('POST', `/containers/${created}/wait?condition=sometime`)).status, 400);
  });

  it('removes an --rm container in order, leaving none of its paths, with and without an attached reader', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    // a hold: an attached stream reading the output keeps the removal until it has it all
    const attached = await create({ Cmd: ['sh', '-c', 'echo bye'], HostConfig: { AutoRemove: true } });
    const reading = rawGet(`/containers/${attached}/attach?stream=1&stdout=1&stderr=1`);
    const plain = await create({ Cmd: ['true'], HostConfig: { AutoRemove: true } });
    for (const id of [attached, plain]) {
      const waiting = api('POST', `/containers/${id}/wait?condition=removed`);
      assert.equal((await api('POST', `/containers/${id}/start`)).status, 204);
      assert.deepEqual((await waiting).json(), { StatusCode: 0 });
      assert.equal((await api('GET', `/containers/${id}/json`)).status, 404);
      const all = (await api('GET', '/containers/json?all=1')).json() as Array<{ Id: string }>;
      assert.ok(!all.some((c) => c.Id === id), 'ps -a never shows it once removed');
      // the files may still be going (renamed away), but nothing is at the container's paths
      for (const path of [join(daemon!.root, 'containers', id), join(daemon!.root, 'runtime/state/crun', id)])
        assert.equal(existsSync(path), false, `${path} is gone`);
    }
    assert.deepEqual(
      frames(await reading).map(([, text]) => text),
      ['bye\n'],
    );
    const until = Math.floor(Date.now() / 1000) + 1;
    for (const id of [attached, plain]) {
      const filters = encodeURIComponent(JSON.stringify({ container: [id], type: ['container'] }));
      const events = (await api('GET', `/events?since=${since}&until=${until}&filters=${filters}`)).body
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line).Action as string)
        .filter((action) => ['create', 'start', 'die', 'destroy'].includes(action));
      assert.deepEqual(events, ['create', 'start', 'die', 'destroy']);
    }
  });

  it('replays the output with attach logs=1&stream=0, and logs with tail and since', async () => {
    const id = await create({ Cmd: ['sh', '-c', 'echo one; echo two >&2; echo three'] });
    const waiting = api('POST', `/containers/${id}/wait?condition=next-exit`);
    await api('POST', `/containers/${id}/start`);
    await waiting;
    const replay = frames(await rawGet(`/containers/${id}/attach?logs=1&stream=0&stdout=1&stderr=1`));
    // each stream in order (conmon reads the two pipes apart: their interleaving is its own)
    const text = (stream: number) =>
      replay
        .filter(([kind]) => kind === stream)
        .map(([, data]) => data)
        .join('');
    assert.deepEqual([text(1), text(2)], ['one\nthree\n', 'two\n']);
    const tail = await socketRequest(daemon!.socket, `/v1.41/containers/${id}/logs?stdout=1&tail=1`);
    assert.equal(tail.status, 200);
    assert.match(tail.body, /three\n$/);
    assert.doesNotMatch(tail.body, /one/);
    const future = Math.floor(Date.now() / 1000) + 60;
    const none = await socketRequest(daemon!.socket, `/v1.41/containers/${id}/logs?stdout=1&since=${future}`);
    assert.equal(none.body, '');
    assert.equal((await api('GET', `/containers/${id}/logs`)).status, 400);
    assert.equal((await api('GET', '/containers/nope/logs?stdout=1')).status, 404);
  });

  it('reports stats in the shape docker stats computes CPU and memory from', async () => {
    const id = await create({ Cmd: ['sh', '-c', 'while true; do :; done'] });
    await api('POST', `/containers/${id}/start`);
    const stats = (await api('GET', `/containers/${id}/stats?stream=false`)).json();
    assert.ok(
      stats.cpu_stats.cpu_usage.total_usage > stats.precpu_stats.cpu_usage.total_usage,
      JSON.stringify(stats),
    );
    assert.ok(stats.cpu_stats.system_cpu_usage > stats.precpu_stats.system_cpu_usage);
    assert.ok(stats.cpu_stats.online_cpus >= 1);
    assert.ok(stats.memory_stats.usage > 0 && stats.memory_stats.limit > 0);
    assert.equal(typeof stats.memory_stats.stats.total_inactive_file, 'number');
    assert.equal(stats.id, id);
    assert.match(stats.read, /^\d{4}-\d\d-\d\dT/);
    // block I/O as {major, minor, op, value} entries (the CLI sums the Read/Write ops); the
    // interfaces of the container's namespace by name, lo left out, as libnetwork's endpoints
    assert.ok(Array.isArray(stats.blkio_stats.io_service_bytes_recursive), JSON.stringify(stats.blkio_stats));
    for (const entry of stats.blkio_stats.io_service_bytes_recursive)
      assert.deepEqual(Object.keys(entry).sort(), ['major', 'minor', 'op', 'value']);
    assert.equal(typeof stats.networks?.eth0?.rx_bytes, 'number', JSON.stringify(stats.networks));
    assert.equal(typeof stats.networks.eth0.tx_packets, 'number');
    assert.equal(stats.networks.lo, undefined);
    const isolated = await create({ Cmd: ['sleep', '600'], HostConfig: { NetworkMode: 'none' } });
    await api('POST', `/containers/${isolated}/start`);
    const alone = (await api('GET', `/containers/${isolated}/stats?stream=false&one-shot=true`)).json();
    assert.equal('networks' in alone, false, JSON.stringify(alone.networks));
    await api('DELETE', `/containers/${isolated}?force=1`);
    const oneShot = (await api('GET', `/containers/${id}/stats?stream=false&one-shot=true`)).json();
    assert.equal(oneShot.precpu_stats.cpu_usage.total_usage, 0);
    const top = (await api('GET', `/containers/${id}/top?ps_args=-o%20pid,comm`)).json();
    assert.deepEqual(top.Titles, ['PID', 'COMMAND']);
    assert.deepEqual(
      top.Processes.map((row: string[]) => row[1]),
      ['sh'],
    );
    await api('DELETE', `/containers/${id}?force=1`);
  });

  it('keeps an events stream on another object type quiet until `until`', async () => {
    const started = Date.now();
    const until = Math.floor(started / 1000) + 2;
    const filters = encodeURIComponent(JSON.stringify({ type: ['network'] }));
    const response = await api('GET', `/events?until=${until}&filters=${filters}`);
    assert.equal(response.status, 200);
    assert.equal(response.body, '');
    assert.ok(Date.now() - started >= 900);
    // the stream's 200 goes out before the filters are read (clients block on it): an unknown
    // filter is Docker's error line
    const bad = encodeURIComponent(JSON.stringify({ colour: ['blue'] }));
    assert.match(
      (await api('GET', `/events?until=${until}&filters=${bad}`)).body,
      /"error":"invalid filter 'colour'"/,
    );
  });

  it('refuses execs in stopped containers and unknown exec ids', async () => {
    const id = await create({ Cmd: ['true'] });
    const exec = await api('POST', `/containers/${id}/exec`, { Cmd: ['true'] });
    assert.equal(exec.status, 409, exec.body);
    assert.equal((await api('GET', '/exec/0123456789abcdef/json')).status, 404);
    await api('DELETE', `/containers/${id}`);
  });
});
