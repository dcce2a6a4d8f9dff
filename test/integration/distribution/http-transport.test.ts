// Retries and redirects of the registry client's HTTP layer, against a loopback server that
// misbehaves on purpose (429 with Retry-After, 503, a redirect to another origin).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HttpTransport } from '../../../src/distribution/http-transport.ts';
import { selfSignedCertificate } from './helpers.ts';

function listen(
  handler: (
    request: IncomingMessage,
    respond: (status: number, headers?: Record<string, string>, body?: string) => void,
  ) => void,
): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    handler(request, (status, headers = {}, body = '') => {
      response.writeHead(status, headers);
      response.end(body);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({
        server,
        url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
      });
    }),
  );
}

describe('http transport', () => {
  const seen: Array<{ path: string; authorization: string | undefined }> = [];
  let main: { server: Server; url: string };
  let other: { server: Server; url: string };
  let transport: HttpTransport;
  let flaky = 0;

  before(async () => {
    other = await listen((request, respond) => {
      seen.push({ path: request.url ?? '', authorization: request.headers.authorization });
      respond(200, {}, 'from storage');
    });
    main = await listen((request, respond) => {
      seen.push({ path: request.url ?? '', authorization: request.headers.authorization });
      if (request.url === '/flaky') {
        flaky++;
        if (flaky === 1) return respond(429, { 'retry-after': '0' });
        if (flaky === 2) return respond(503);
        return respond(200, {}, 'ok');
      }
      if (request.url === '/down') return respond(503);
      if (request.url === '/redirect') return respond(307, { location: `${other.url}/blob` });
      respond(404);
    });
    transport = new HttpTransport({ retry: { baseDelayMs: 10 } });
  });
  after(async () => {
    await transport.close();
    main.server.close();
    other.server.close();
  });

  it('retries 429 and 5xx with backoff, then gives the answer', async () => {
    const response = await transport.send({ method: 'GET', url: `${main.url}/flaky` });
    assert.equal(response.status, 200);
    assert.equal(await response.text(), 'ok');
    assert.equal(flaky, 3);
    const down = await transport.send({ method: 'GET', url: `${main.url}/down` });
    assert.equal(down.status, 503, 'the last answer once attempts are spent');
    await down.dump();
    assert.equal(seen.filter((s) => s.path === '/down').length, 4);
  });

  it('follows redirects to another origin without the Authorization header', async () => {
    const response = await transport.send({
      method: 'GET',
      url: `${main.url}/redirect`,
      headers: { authorization: 'Bearer secret' },
    });
    assert.equal(await response.text(), 'from storage');
    assert.equal(response.url.origin, other.url);
    assert.equal(seen.find((s) => s.path === '/redirect')?.authorization, 'Bearer secret');
    assert.equal(seen.find((s) => s.path === '/blob')?.authorization, undefined);
  });

  it('fails a request whose server goes silent, after retrying it', async () => {
    let asked = 0;
    const silent = await listen(() => {
      asked++; // never answers
    });
    const impatient = new HttpTransport({ retry: { baseDelayMs: 10, attempts: 2 }, idleTimeoutMs: 200 });
    try {
      await assert.rejects(impatient.send({ method: 'GET', url: `${silent.url}/v2/` }), (error: Error) => {
        assert.equal(error.name, 'UnavailableError');
        assert.match(error.message, /no data for 200 ms/);
        return true;
      });
      assert.equal(asked, 2, 'a silent server is tried again');
    } finally {
      await impatient.close();
      silent.server.closeAllConnections();
      silent.server.close();
    }
  });

  it('says what failed when nothing listens', async () => {
    const closed = await listen(() => {});
    const url = closed.url;
    await new Promise((resolve) => closed.server.close(resolve));
    await assert.rejects(transport.send({ method: 'GET', url: `${url}/v2/` }), (error: Error) => {
      assert.equal(error.name, 'UnavailableError');
      assert.match(error.message, /connection refused/);
      return true;
    });
  });
});

// bin/wharf moves NODE_EXTRA_CA_CERTS to WHARF_EXTRA_CA_CERTS so node does not parse it at every
// start; the transport must then trust that file's certificates itself.
describe('http transport over TLS', () => {
  let dir = '';
  let server: ReturnType<typeof createHttpsServer> | undefined;
  let url = '';
  const saved = { wharf: process.env.WHARF_EXTRA_CA_CERTS, node: process.env.NODE_EXTRA_CA_CERTS };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-tls-'));
    const { keyPem, certPem } = await selfSignedCertificate(dir, '/CN=127.0.0.1', [
      'subjectAltName=IP:127.0.0.1',
    ]);
    const tls = { key: keyPem, cert: certPem };
    server = createHttpsServer(tls, (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{}');
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    url = `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/v2/`;
  });
  after(async () => {
    process.env.WHARF_EXTRA_CA_CERTS = saved.wharf;
    if (saved.wharf === undefined) delete process.env.WHARF_EXTRA_CA_CERTS;
    process.env.NODE_EXTRA_CA_CERTS = saved.node;
    if (saved.node === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
    server?.closeAllConnections();
    server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('refuses an unknown CA, and trusts the CA file named by WHARF_EXTRA_CA_CERTS', async () => {
    delete process.env.WHARF_EXTRA_CA_CERTS;
    delete process.env.NODE_EXTRA_CA_CERTS;
    const strict = new HttpTransport({ retry: { attempts: 1 } });
    try {
      await assert.rejects(
        strict.send({ method: 'GET', url }),
        /TLS certificate of 127\.0\.0\.1:\d+ is not trusted/,
      );
    } finally {
      await strict.close();
    }
    process.env.WHARF_EXTRA_CA_CERTS = join(dir, 'cert.pem');
    const trusting = new HttpTransport({ retry: { attempts: 1 } });
    try {
      const response = await trusting.send({ method: 'GET', url });
      assert.equal(response.status, 200);
    } finally {
      await trusting.close();
    }
  });
});
