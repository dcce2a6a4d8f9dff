/**
 * What a route is: a method, a pattern and a handler that turns a request context into a reply.
 * Handlers never touch the socket: they return a Reply and the server writes it (with
 * backpressure, and tearing the reply's resources down when the client goes away). Each route
 * group (src/engine-api/routes/) exports the narrow backend interface its handlers need.
 *
 * @example
 * const ping: Route = { method: 'GET', path: '/_ping', handler: () => text('OK') };
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { HijackedConnection } from './hijack.ts';
import type { JsonMessageWriter } from './json-stream.ts';

export interface RequestContext {
  readonly method: string;
  /** The path without its `/v1.NN` prefix. */
  readonly path: string;
  /** The negotiated API version (from the prefix; the current one for unversioned paths). */
  readonly apiVersion: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** Aborted when the client disconnects or the server shuts down: pass it to long work. */
  readonly signal: AbortSignal;
  /** The request body as a stream (a tar for `/images/load`, `/build`, `/images/create`). */
  body(): Readable;
  /** The request body parsed as JSON, leniently: empty is `undefined`, unknown fields stay. */
  json(): Promise<unknown>;
}

export type Reply =
  /** A JSON document (Docker ends it with a newline). */
  | { kind: 'json'; status?: number; body: unknown; headers?: Record<string, string> }
  /** No body: 201 (tag), 204 (start, remove), 304 (already started). */
  | { kind: 'empty'; status: number; headers?: Record<string, string> }
  | { kind: 'text'; status?: number; body: string; contentType?: string; headers?: Record<string, string> }
  /**
   * Bytes (a tar for save or export, log frames) piped with backpressure; destroyed if the client
   * leaves. `flush` sends the headers before the first byte (`logs -f` of a quiet container).
   */
  | {
      kind: 'stream';
      status?: number;
      contentType: string;
      stream: Readable;
      headers?: Record<string, string>;
      flush?: boolean;
    }
  /**
   * Docker's JSON message stream (pull, push, load, import, build, events, stats): `produce` writes
   * messages; the 200 goes out with the first one, so an error thrown before it still gets its own
   * status; an error thrown after becomes Docker's `{"errorDetail": ..., "error": ...}` line.
   * `eager` sends the 200 at once instead (events, wait: clients block on the headers).
   */
  | { kind: 'json-stream'; produce: (out: JsonMessageWriter) => Promise<void>; eager?: boolean }
  /**
   * A hijacked connection (attach, exec start): the server answers 101 (the client asked to
   * upgrade) or 200 and hands the raw duplex to `run`. `multiplexed` says whether output carries
   * Docker's 8-byte stream headers (no TTY) or is raw (TTY).
   */
  | { kind: 'hijack'; multiplexed: boolean; run: (connection: HijackedConnection) => Promise<void> };

export type Handler = (context: RequestContext) => Reply | Promise<Reply>;

export interface Route {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';
  /** Unversioned, with `{param}` or `{param:regex}` placeholders. */
  path: string;
  handler: Handler;
}

export function json(body: unknown, status = 200): Reply {
  return { kind: 'json', status, body };
}

export function empty(status: number): Reply {
  return { kind: 'empty', status };
}

export function text(body: string, contentType = 'text/plain; charset=utf-8'): Reply {
  return { kind: 'text', body, contentType };
}
