/**
 * A loopback HTTP server for ADD <url> and HTTP context tests, like BuildKit's
 * util/testutil/httpserver: fixed responses by path, with ETag and Last-Modified, answering
 * conditional requests (`If-None-Match`) with 304, and a log of every request.
 *
 * @example
 * const server = await startServer({ '/foo': { content: 'content1', etag: 'abc' } });
 * after(() => server.close());
 * server.url('/foo'); server.requests('/foo'); // [{ method: 'GET', headers }]
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Response {
  content: string | Buffer;
  etag?: string;
  lastModified?: Date;
}

export interface TestServer {
  url(path: string): string;
  requests(path: string): Array<{ method: string; headers: IncomingHttpHeaders }>;
  /** Replaces or adds a response. */
  set(path: string, response: Response): void;
  close(): Promise<void>;
}

export async function startServer(responses: Record<string, Response>): Promise<TestServer> {
  const routes = new Map(Object.entries(responses));
  const log = new Map<string, Array<{ method: string; headers: IncomingHttpHeaders }>>();
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const entries = log.get(path) ?? [];
    entries.push({ method: req.method ?? '', headers: req.headers });
    log.set(path, entries);
    const response = routes.get(path);
    if (!response) {
      res.writeHead(404).end();
      return;
    }
    const headers: Record<string, string> = {};
    if (response.etag) headers.etag = `"${response.etag}"`;
    if (response.lastModified) headers['last-modified'] = response.lastModified.toUTCString();
    if (response.etag && req.headers['if-none-match']?.split(/,\s*/).includes(`"${response.etag}"`)) {
      res.writeHead(304, headers).end();
      return;
    }
    const body = Buffer.from(response.content);
    res.writeHead(200, { ...headers, 'content-length': String(body.length) });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    requests: (path) => log.get(path) ?? [],
    set: (path, response) => routes.set(path, response),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A tar of `files` (each with its mtime), made with tar-stream. */
export async function makeTar(files: Array<{ name: string; data: string; mtime: Date }>): Promise<Buffer> {
  const { default: tar } = await import('tar-stream');
  const pack = tar.pack();
  for (const file of files) pack.entry({ name: file.name, mtime: file.mtime, mode: 0o644 }, file.data);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
