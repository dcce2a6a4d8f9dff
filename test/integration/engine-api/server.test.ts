/**
 * The Engine API server over a real unix socket, with routes of its own kinds: hijacked
 * connections (upgrade with the JSON body in the same packet as the headers, stdin after it,
 * half-close; and the plain 200 fallback), JSON message streams (status chosen by the first
 * message, Docker's error line after it, eager headers), disconnects aborting the work, error
 * mapping, and shutdown ending streams that never end by themselves.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { EngineApiServer } from '../../../src/engine-api/engine-api-server.ts';
import { frame } from '../../../src/engine-api/hijack.ts';
import { json, type Route } from '../../../src/engine-api/route.ts';
import type { SystemDescription } from '../../../src/engine-api/routes/system-routes.ts';
import { ConflictError, NotFoundError } from '../../../src/errors/index.ts';
import { socketRequest } from '../../helpers/wharf-daemon.ts';

const description: SystemDescription = {
  version: '9.9.9',
  id: 'test',
  name: 'host',
  kernelVersion: '6.0',
  operatingSystem: 'Test OS',
  osVersion: '1',
  arch: 'amd64',
  machine: 'x86_64',
  ncpu: 2,
  memTotal: 1024,
  root: '/tmp/root',
  storageDriver: 'overlayfs',
  driverStatus: [],
  loggingDriver: 'k8s-file',
  cgroupDriver: 'cgroupfs',
  cgroupVersion: '1',
  runtimes: { runc: '/usr/sbin/runc' },
  defaultRuntime: 'runc',
  securityOptions: [],
  initBinary: '',
  components: [],
  warnings: [],
  runtimeVersion: 'node',
  experimental: false,
  debug: false,
  fileDescriptors: 3,
  containers: { total: 0, running: 0, paused: 0, stopped: 0 },
  images: 0,
  insecureRegistries: [],
};

let dir = '';
let socket = '';
let server: EngineApiServer;
const aborted: string[] = [];

function watchAbort(name: string, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => {
      aborted.push(name);
      resolve();
    });
  });
}

const testRoutes: Route[] = [
  {
    method: 'POST',
    path: '/test/echo/{id}/start',
    handler: async (context) => {
      const body = (await context.json()) as { Tty?: boolean };
      const tty = body?.Tty === true;
      return {
        kind: 'hijack',
        multiplexed: !tty,
        run: async (connection) => {
          const input = connection.input;
          const out = (data: Buffer) => connection.output.write(tty ? data : frame('stdout', data));
          out(Buffer.from(`id=${context.params.id} tty=${tty}\n`));
          if (input) {
            for await (const chunk of input) out(Buffer.from(String(chunk).toUpperCase()));
            // the client closed its write side: output still reaches it
            out(Buffer.from('stdin closed\n'));
          }
          connection.close();
        },
      };
    },
  },
  {
    method: 'GET',
    path: '/test/stream',
    handler: ({ query }) => ({
      kind: 'json-stream',
      eager: query.get('eager') === '1',
      produce: async (out) => {
        if (query.get('fail') === 'before') throw new NotFoundError('No such thing: x');
        await out.write({ status: 'one' });
        if (query.get('fail') === 'after') throw new ConflictError('Cannot go on: conflict');
        await out.write({ status: 'two' });
      },
    }),
  },
  {
    method: 'GET',
    path: '/test/forever',
    handler: (context) => ({
      kind: 'json-stream',
      eager: true,
      produce: async (out) => {
        await watchAbort(context.query.get('name') ?? 'forever', out.signal);
      },
    }),
  },
  {
    method: 'GET',
    path: '/test/endless-bytes',
    handler: (context) => {
      let destroyed = false;
      const stream = new Readable({
        read() {
          this.push(Buffer.alloc(64 * 1024, 1));
        },
        destroy(error, callback) {
          destroyed = true;
          aborted.push(`bytes destroyed=${destroyed}`);
          callback(error);
        },
      });
      void watchAbort('bytes signal', context.signal);
      return { kind: 'stream', contentType: 'application/octet-stream', stream };
    },
  },
  {
    method: 'POST',
    path: '/test/body',
    handler: async (context) => json({ got: await context.json() }),
  },
];

/** Sends a raw request and collects everything the server sends until it closes. */
function raw(
  payload: Buffer | string,
  options: { endAfter?: number; thenWrite?: string[] } = {},
): Promise<{ text: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const client = connect(socket);
    const chunks: Buffer[] = [];
    client.on('data', (chunk) => chunks.push(chunk));
    client.on('error', reject);
    client.on('close', () => resolve({ text: Buffer.concat(chunks).toString('latin1'), socket: client }));
    client.write(payload);
    let delay = 50;
    for (const more of options.thenWrite ?? []) {
      setTimeout(() => client.write(more), delay);
      delay += 50;
    }
    if (options.endAfter !== undefined) setTimeout(() => client.end(), options.endAfter);
  });
}

/** Decodes Docker's multiplexed frames. */
function demux(bytes: Buffer): Array<{ stream: number; text: string }> {
  const frames: Array<{ stream: number; text: string }> = [];
  let offset = 0;
  while (offset + 8 <= bytes.length) {
    const size = bytes.readUInt32BE(offset + 4);
    frames.push({ stream: bytes[offset]!, text: bytes.subarray(offset + 8, offset + 8 + size).toString() });
    offset += 8 + size;
  }
  return frames;
}

describe('Engine API server', () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-engine-api-'));
    socket = join(dir, 'api.sock');
    server = new EngineApiServer({
      backends: { system: { describe: async () => description } },
      version: '9.9.9',
      routes: testRoutes,
    });
    await server.listen({ path: socket });
  });

  after(async () => {
    await server.close({ graceMs: 1000 });
    await rm(dir, { recursive: true, force: true });
  });

  it('serves /version and /info in Docker shapes, with and without a version prefix', async () => {
    for (const path of ['/version', '/v1.41/version', '/v1.30/version']) {
      const response = await socketRequest(socket, path);
      assert.equal(response.status, 200);
      const body = JSON.parse(response.body);
      assert.equal(body.ApiVersion, '1.41');
      assert.equal(body.MinAPIVersion, '1.24');
      assert.equal(body.Components[0].Name, 'Engine');
      assert.equal(response.headers.server, 'Wharf/9.9.9 (linux)');
    }
    const info = JSON.parse((await socketRequest(socket, '/info')).body);
    assert.equal(info.OSType, 'linux');
    assert.equal(info.DockerRootDir, '/tmp/root');
    assert.equal(info.Swarm.LocalNodeState, 'inactive');
    assert.deepEqual(info.Runtimes, { runc: { path: '/usr/sbin/runc' } });
    const old = await socketRequest(socket, '/v1.12/version');
    assert.equal(old.status, 400);
    assert.match(JSON.parse(old.body).message, /too old/);
  });

  it('parses JSON bodies leniently: unknown fields kept, empty body accepted, bad JSON is a 400', async () => {
    const body = JSON.stringify({ Image: 'x', DNSNames: ['a'], GwPriority: 1 });
    const response = await socketRequest(socket, '/test/body', { method: 'POST', body });
    assert.deepEqual(JSON.parse(response.body), { got: { Image: 'x', DNSNames: ['a'], GwPriority: 1 } });
    assert.deepEqual(JSON.parse((await socketRequest(socket, '/test/body', { method: 'POST' })).body), {});
    const bad = await socketRequest(socket, '/test/body', { method: 'POST', body: '{"a":' });
    assert.equal(bad.status, 400);
    assert.match(JSON.parse(bad.body).message, /^Cannot parse the request body: invalid JSON/);
  });

  it('answers 501 for route groups without a backend, 404 for unknown routes', async () => {
    const response = await socketRequest(socket, '/v1.41/images/json');
    assert.equal(response.status, 501);
    assert.match(
      JSON.parse(response.body).message,
      /^Cannot list images: the image service is not available/,
    );
    assert.equal((await socketRequest(socket, '/v1.41/nothing')).status, 404);
    // an empty /system/df when no disk usage backend is wired
    const df = JSON.parse((await socketRequest(socket, '/system/df')).body);
    assert.deepEqual(df, { LayersSize: 0, Images: [], Containers: [], Volumes: [], BuildCache: [] });
  });

  it('streams JSON messages; an error before the first message gets its status, after it an error line', async () => {
    const ok = await socketRequest(socket, '/test/stream');
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['content-type'], 'application/json');
    assert.equal(ok.body, '{"status":"one"}\r\n{"status":"two"}\r\n');
    const before = await socketRequest(socket, '/test/stream?fail=before');
    assert.equal(before.status, 404);
    assert.deepEqual(JSON.parse(before.body), { message: 'No such thing: x' });
    const afterStart = await socketRequest(socket, '/test/stream?fail=after');
    assert.equal(afterStart.status, 200);
    assert.equal(
      afterStart.body,
      '{"status":"one"}\r\n{"errorDetail":{"message":"Cannot go on: conflict"},"error":"Cannot go on: conflict"}\r\n',
    );
  });

  it('sends the headers of an eager stream at once, and aborts its work when the client leaves', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ socketPath: socket, path: '/test/forever?name=eager' }, (res) => {
        resolve(res.statusCode ?? 0);
        setTimeout(() => req.destroy(), 50);
      });
      req.on('error', () => {});
      setTimeout(() => reject(new Error('no headers within 2 s')), 2000);
      req.end();
    });
    assert.equal(status, 200);
    for (let i = 0; i < 40 && !aborted.includes('eager'); i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(aborted.includes('eager'), `aborted: ${aborted.join(',')}`);
  });

  it('destroys a byte stream whose client leaves (backpressure, no unbounded buffering)', async () => {
    await new Promise<void>((resolve) => {
      const req = request({ socketPath: socket, path: '/test/endless-bytes' }, (res) => {
        res.once('data', () => {
          res.pause();
          setTimeout(() => {
            req.destroy();
            resolve();
          }, 100);
        });
      });
      req.on('error', () => {});
      req.end();
    });
    for (let i = 0; i < 40 && !aborted.includes('bytes signal'); i++)
      await new Promise((r) => setTimeout(r, 25));
    assert.ok(aborted.includes('bytes destroyed=true'), `aborted: ${aborted.join(',')}`);
    assert.ok(aborted.includes('bytes signal'));
  });

  it('hijacks an upgraded connection: body in the header packet, stdin after it, output after half-close', async () => {
    const body = JSON.stringify({ Detach: false, Tty: false });
    const head =
      `POST /v1.41/test/echo/abc/start HTTP/1.1\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    // headers, body and the first stdin bytes in one write
    const { text } = await raw(`${head}${body}hello `, { thenWrite: ['world\n'], endAfter: 200 });
    const split = text.indexOf('\r\n\r\n');
    const headers = text.slice(0, split);
    assert.match(headers, /^HTTP\/1\.1 101 UPGRADED\r\n/);
    assert.match(headers, /Content-Type: application\/vnd\.docker\.multiplexed-stream/);
    assert.match(headers, /Upgrade: tcp/);
    const frames = demux(Buffer.from(text.slice(split + 4), 'latin1'));
    assert.ok(frames.every((f) => f.stream === 1));
    assert.equal(frames.map((f) => f.text).join(''), 'id=abc tty=false\nHELLO WORLD\nstdin closed\n');
  });

  it('hijacks with a TTY as a raw stream', async () => {
    const body = JSON.stringify({ Tty: true });
    const { text } = await raw(
      `POST /test/echo/t/start HTTP/1.1\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      { thenWrite: ['abc'], endAfter: 150 },
    );
    assert.match(text, /Content-Type: application\/vnd\.docker\.raw-stream/);
    assert.equal(text.slice(text.indexOf('\r\n\r\n') + 4), 'id=t tty=true\nABCstdin closed\n');
  });

  it('answers errors on the upgrade path as plain HTTP responses', async () => {
    const { text } = await raw(
      'POST /v1.41/containers/x/attach?stream=1 HTTP/1.1\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n',
    );
    assert.match(text, /^HTTP\/1\.1 501 Not Implemented\r\n/);
    assert.match(text, /"message":"Cannot attach to containers: the container service is not available/);
  });

  it('serves a hijack route to a client that does not upgrade, as a 200 body', async () => {
    const response = await socketRequest(socket, '/test/echo/plain/start', {
      method: 'POST',
      body: JSON.stringify({ Tty: true }),
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-type'], 'application/vnd.docker.raw-stream');
    assert.equal(response.body, 'id=plain tty=true\n');
  });

  it('ends streams that never end by themselves on shutdown', async () => {
    const own = new EngineApiServer({
      backends: { system: { describe: async () => description } },
      version: '9.9.9',
      routes: testRoutes,
    });
    const path = join(dir, 'shutdown.sock');
    await own.listen({ path });
    const ended = new Promise<string>((resolve) => {
      const req = request({ socketPath: path, path: '/test/forever?name=shutdown' }, (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve(`end:${text}`));
        res.on('error', () => resolve('error'));
        setTimeout(() => void own.close({ graceMs: 2000 }), 50);
      });
      req.on('error', () => resolve('error'));
      req.end();
    });
    const started = Date.now();
    assert.equal(await ended, 'end:');
    assert.ok(Date.now() - started < 1500, 'shutdown waited for the grace period');
    assert.ok(aborted.includes('shutdown'));
  });
});
