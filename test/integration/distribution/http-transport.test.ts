// Retries and redirects of the registry client's HTTP layer, against a loopback server that
// misbehaves on purpose (429 with Retry-After, 503, a redirect to another origin).
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { HttpTransport } from '../../../src/distribution/http-transport.ts';

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
