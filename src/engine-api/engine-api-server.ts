/**
 * The Docker Engine API over HTTP: Node's own `http.Server` (no framework: bodies are tars
 * streamed straight to the engine, and attach/exec hijack the connection, which only the
 * `upgrade` path sees), one per listening address (unix socket, TCP loopback), sharing one
 * route table.
 *
 * Lifecycle of a request: the `/v1.NN` prefix is split off and checked; the route's handler
 * gets a RequestContext whose signal aborts when the client disconnects (or the server shuts
 * down) and returns a Reply; the server writes it, piping streams with backpressure and
 * destroying them if the client leaves, so nothing it opened stays open. Errors become Docker's
 * `{"message": ...}` with the status of `statusOfError` (src/engine-api/http-error.ts).
 *
 * Shutdown (`close`): stop accepting, abort every request in flight (event and log streams never
 * end by themselves), give them `graceMs` to finish, then destroy what is left.
 *
 * @example
 * const server = new EngineApiServer({ backends, version: '0.1.0' });
 * await server.listen({ path: '/run/wharf/wharf.sock' });
 * // ... SIGTERM:
 * await server.close();
 */
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tracePhase } from '../util/phase-trace.ts';
import { API_VERSION, splitVersionPrefix } from './api-version.ts';
import { type EngineApiBackends, engineApiRoutes } from './engine-api-backends.ts';
import { type HijackedConnection, MULTIPLEXED_STREAM, RAW_STREAM, readUpgradeBody } from './hijack.ts';
import { errorBody, HttpError, statusOfError } from './http-error.ts';
import { errorMessage, LineJsonMessageWriter } from './json-stream.ts';
import { parseJsonBody, readBody } from './request-body.ts';
import type { Handler, Reply, RequestContext, Route } from './route.ts';
import { Router } from './router.ts';

/** The subset of pino's logger the server uses. */
export interface ApiLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface EngineApiServerOptions {
  backends: EngineApiBackends;
  /** Wharf's version, for the `Server` header. */
  version: string;
  logger?: ApiLogger;
  /** Extra routes (tests, later groups); tried before the standard ones. */
  routes?: Route[];
}

export type ListenTarget = { path: string } | { host: string; port: number };

const silentLogger: ApiLogger = { debug() {}, info() {}, warn() {}, error() {} };

export class EngineApiServer {
  readonly #router = new Router<Handler>();
  readonly #servers: Server[] = [];
  readonly #sockets = new Set<Socket>();
  readonly #inflight = new Set<Promise<void>>();
  readonly #shutdown = new AbortController();
  readonly #logger: ApiLogger;
  readonly #commonHeaders: Record<string, string>;
  #closing: Promise<void> | undefined;

  constructor(options: EngineApiServerOptions) {
    this.#logger = options.logger ?? silentLogger;
    for (const route of [...(options.routes ?? []), ...engineApiRoutes(options.backends)]) {
      this.#router.add(route.method, route.path, route.handler);
    }
    this.#commonHeaders = {
      'Api-Version': API_VERSION,
      'Docker-Experimental': 'false',
      Ostype: 'linux',
      Server: `Wharf/${options.version} (linux)`,
    };
  }

  /** `METHOD pattern` of every route, in matching order. */
  get routes(): string[] {
    return this.#router.list();
  }

  /** Starts one HTTP server on `target`; resolves with the bound address (the port for port 0). */
  async listen(target: ListenTarget): Promise<string | AddressInfo> {
    if (this.#shutdown.signal.aborted) throw new Error('Cannot listen: the server is closed');
    const server = createServer();
    // uploads (load, build contexts) may take longer than Node's default 5 minutes
    server.requestTimeout = 0;
    server.on('request', (req: IncomingMessage, res: ServerResponse) =>
      this.#track(this.#onRequest(req, res)),
    );
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) =>
      this.#track(this.#onUpgrade(req, socket, head)),
    );
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    server.on('clientError', (_error: Error, socket: Socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const done = () => {
        server.off('error', reject);
        resolve();
      };
      if ('path' in target) server.listen(target.path, done);
      else server.listen(target.port, target.host, done);
    });
    server.on('error', (error) => this.#logger.error({ err: error }, 'server error'));
    this.#servers.push(server);
    return server.address() ?? '';
  }

  /** Stops accepting, aborts requests in flight, waits up to `graceMs`, then drops connections. */
  close(options: { graceMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(options.graceMs ?? 5000);
    return this.#closing;
  }

  async #close(graceMs: number): Promise<void> {
    const closed = this.#servers.map(
      (server) => new Promise<void>((resolve) => server.close(() => resolve())),
    );
    this.#shutdown.abort();
    for (const server of this.#servers) server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.#inflight]),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
    for (const socket of this.#sockets) socket.destroy();
    await Promise.all(closed);
  }

  #track(work: Promise<void>): void {
    this.#inflight.add(work);
    work
      .catch((error: unknown) => this.#logger.error({ err: error }, 'request handling failed'))
      .finally(() => this.#inflight.delete(work));
  }

  /** An AbortSignal for one request: aborted by `clientGone` or by the server's shutdown. */
  #requestSignal(): { controller: AbortController; dispose(): void } {
    const controller = new AbortController();
    const onShutdown = () => controller.abort(new Error('Cannot continue: the daemon is shutting down'));
    if (this.#shutdown.signal.aborted) onShutdown();
    else this.#shutdown.signal.addEventListener('abort', onShutdown, { once: true });
    return {
      controller,
      dispose: () => this.#shutdown.signal.removeEventListener('abort', onShutdown),
    };
  }

  #route(
    method: string,
    rawUrl: string | undefined,
  ): {
    handler: Handler;
    path: string;
    apiVersion: string;
    params: Record<string, string>;
    query: URLSearchParams;
  } {
    const url = new URL(rawUrl ?? '/', 'http://engine');
    const { version, path } = splitVersionPrefix(url.pathname);
    const match = this.#router.match(method, path);
    if (!match) throw new HttpError(404, 'page not found');
    return {
      handler: match.handler,
      path,
      apiVersion: version,
      params: match.params,
      query: url.searchParams,
    };
  }

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const method = req.method ?? 'GET';
    tracePhase(`api: ${method} ${req.url}`);
    res.once('finish', () => tracePhase(`api: answered ${method} ${req.url}`));
    const { controller, dispose } = this.#requestSignal();
    res.once('close', () => {
      // the client went away, or the response is complete: either way the work is over
      controller.abort(new Error('Cannot continue: the client closed the connection'));
      dispose();
    });
    for (const [name, value] of Object.entries(this.#commonHeaders)) res.setHeader(name, value);
    try {
      const route = this.#route(method, req.url);
      const context: RequestContext = {
        method,
        path: route.path,
        apiVersion: route.apiVersion,
        params: route.params,
        query: route.query,
        headers: req.headers,
        signal: controller.signal,
        body: () => req,
        json: async () => parseJsonBody(await readBody(req)),
      };
      const reply = await route.handler(context);
      await this.#writeReply(reply, req, res, controller.signal);
    } catch (error) {
      this.#writeError(res, error, controller.signal);
    } finally {
      this.#logger.debug(
        { method, url: req.url, status: res.statusCode, ms: Math.round(performance.now() - started) },
        'request',
      );
    }
  }

  async #writeReply(
    reply: Reply,
    req: IncomingMessage,
    res: ServerResponse,
    signal: AbortSignal,
  ): Promise<void> {
    switch (reply.kind) {
      case 'json': {
        const body = `${JSON.stringify(reply.body)}\n`;
        res.writeHead(reply.status ?? 200, {
          ...reply.headers,
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
        });
        res.end(body);
        return;
      }
      case 'empty':
        res.writeHead(reply.status, reply.headers ?? {});
        res.end();
        return;
      case 'text':
        res.writeHead(reply.status ?? 200, {
          ...reply.headers,
          'Content-Type': reply.contentType ?? 'text/plain; charset=utf-8',
          'Content-Length': Buffer.byteLength(reply.body),
        });
        res.end(reply.body);
        return;
      case 'stream':
        res.writeHead(reply.status ?? 200, { ...reply.headers, 'Content-Type': reply.contentType });
        if (reply.flush) res.flushHeaders();
        try {
          // pipeline destroys the source when the client leaves: files and locks are released
          await pipeline(reply.stream, res);
        } catch (error) {
          if (!signal.aborted) this.#logger.warn({ err: error, url: req.url }, 'stream ended with an error');
          res.destroy();
        }
        return;
      case 'json-stream': {
        const begin = () => {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.flushHeaders();
        };
        const writer = new LineJsonMessageWriter(res, signal, begin);
        if (reply.eager) writer.start();
        try {
          await reply.produce(writer);
        } catch (error) {
          if (!writer.started) throw error;
          if (signal.aborted || res.destroyed) return;
          this.#logger.debug({ err: error, url: req.url }, 'stream failed after it started');
          res.end(`${JSON.stringify(errorMessage(error))}\r\n`);
          return;
        }
        writer.start();
        res.end();
        return;
      }
      case 'hijack': {
        // not upgraded (dockerode without `hijack`): output goes in the response body, no stdin
        res.writeHead(200, { 'Content-Type': reply.multiplexed ? MULTIPLEXED_STREAM : RAW_STREAM });
        res.flushHeaders();
        const connection: HijackedConnection = {
          input: null,
          output: res,
          signal,
          close: () => {
            if (!res.writableEnded) res.end();
          },
        };
        try {
          await reply.run(connection);
        } finally {
          connection.close();
        }
        return;
      }
    }
  }

  #writeError(res: ServerResponse, error: unknown, signal: AbortSignal): void {
    const status = statusOfError(error);
    this.#logFailure(status, error, signal);
    if (res.headersSent) {
      // the status line is gone: all that is left is to cut the response short
      res.destroy();
      return;
    }
    if (res.destroyed) return;
    const body = `${JSON.stringify(errorBody(error))}\n`;
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  /**
   * Requests that asked to upgrade (`Upgrade: tcp`): attach and exec start. Anything else that
   * arrives here gets an ordinary response written by hand, then the connection closes.
   */
  async #onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    const started = performance.now();
    const method = req.method ?? 'GET';
    tracePhase(`api: ${method} ${req.url} (upgrade)`);
    const { controller, dispose } = this.#requestSignal();
    socket.on('error', (error) => this.#logger.debug({ err: error }, 'hijacked connection error'));
    socket.once('close', () => {
      controller.abort(new Error('Cannot continue: the client closed the connection'));
      dispose();
    });
    const length = Number(req.headers['content-length'] ?? 0) || 0;
    let body: Promise<Buffer> | undefined;
    const readRequestBody = () => {
      body ??= readUpgradeBody(socket, head, length);
      return body;
    };
    let status = 101;
    try {
      const route = this.#route(method, req.url);
      const context: RequestContext = {
        method,
        path: route.path,
        apiVersion: route.apiVersion,
        params: route.params,
        query: route.query,
        headers: req.headers,
        signal: controller.signal,
        body: () =>
          Readable.from(
            (async function* () {
              yield await readRequestBody();
            })(),
          ),
        json: async () => parseJsonBody(await readRequestBody()),
      };
      const reply = await route.handler(context);
      await readRequestBody(); // whatever follows the body is the client's stdin
      if (reply.kind !== 'hijack') {
        status = this.#writeRawReply(socket, reply);
        return;
      }
      socket.write(
        this.#rawHead(101, {
          'Content-Type': reply.multiplexed ? MULTIPLEXED_STREAM : RAW_STREAM,
          Connection: 'Upgrade',
          Upgrade: 'tcp',
        }),
      );
      tracePhase(`api: upgraded ${method} ${req.url}`);
      // stdin gets its own stream: a consumer that finishes with it (a `for await` destroys what
      // it iterates) must not tear down the socket, whose write side still carries the output
      const input = new PassThrough();
      socket.pipe(input);
      const connection: HijackedConnection = {
        input,
        output: socket,
        signal: controller.signal,
        close: () => {
          if (!socket.destroyed) socket.end();
        },
      };
      try {
        await reply.run(connection);
      } finally {
        connection.close();
        tracePhase(`api: closed ${method} ${req.url}`);
      }
    } catch (error) {
      status = statusOfError(error);
      this.#logFailure(status, error, controller.signal);
      if (!socket.destroyed) {
        const bytes = Buffer.from(`${JSON.stringify(errorBody(error))}\n`);
        socket.end(
          Buffer.concat([
            Buffer.from(
              this.#rawHead(status, {
                'Content-Type': 'application/json',
                'Content-Length': String(bytes.length),
                Connection: 'close',
              }),
            ),
            bytes,
          ]),
        );
      }
    } finally {
      this.#logger.debug(
        { method, url: req.url, status, ms: Math.round(performance.now() - started), upgraded: true },
        'request',
      );
    }
  }

  /** Server faults are errors; 501 (a service not wired yet) and client mistakes are debug. */
  #logFailure(status: number, error: unknown, signal: AbortSignal): void {
    if (status >= 500 && status !== 501 && !signal.aborted)
      this.#logger.error({ err: error }, 'request failed');
    else this.#logger.debug({ status, message: errorBody(error).message }, 'request refused');
  }

  /** The few reply kinds a non-hijack route can give on the upgrade path. */
  #writeRawReply(socket: Socket, reply: Exclude<Reply, { kind: 'hijack' }>): number {
    let status: number;
    let headers: Record<string, string> = { Connection: 'close' };
    let bytes = Buffer.alloc(0);
    switch (reply.kind) {
      case 'json':
        status = reply.status ?? 200;
        bytes = Buffer.from(`${JSON.stringify(reply.body)}\n`);
        headers = { ...headers, ...reply.headers, 'Content-Type': 'application/json' };
        break;
      case 'empty':
        status = reply.status;
        headers = { ...headers, ...reply.headers };
        break;
      case 'text':
        status = reply.status ?? 200;
        bytes = Buffer.from(reply.body);
        headers = { ...headers, ...reply.headers, 'Content-Type': reply.contentType ?? 'text/plain' };
        break;
      default:
        status = 400;
        bytes = Buffer.from(
          `${JSON.stringify({ message: 'Cannot serve this request over an upgraded connection: send it without Upgrade' })}\n`,
        );
        headers = { ...headers, 'Content-Type': 'application/json' };
        if (reply.kind === 'stream') reply.stream.destroy();
    }
    headers['Content-Length'] = String(bytes.length);
    socket.end(Buffer.concat([Buffer.from(this.#rawHead(status, headers)), bytes]));
    return status;
  }

  #rawHead(status: number, headers: Record<string, string>): string {
    const reason = status === 101 ? 'UPGRADED' : (STATUS_CODES[status] ?? '');
    const lines = [`HTTP/1.1 ${status} ${reason}`];
    for (const [name, value] of Object.entries({ ...this.#commonHeaders, ...headers })) {
      lines.push(`${name}: ${value}`);
    }
    return `${lines.join('\r\n')}\r\n\r\n`;
  }
}
