/**
 * HTTP for the registry client, over Node's own http/https modules: keep-alive connections, the
 * system's CA bundle plus Docker's per-registry `/etc/docker/certs.d/<host>/` (ca.crt,
 * client.cert, client.key), redirects followed for GET and HEAD (Authorization dropped when the
 * origin changes, as blob downloads go to object storage), and retries with exponential backoff on
 * 429, 5xx and connection resets, for requests whose body can be sent again. Network failures
 * become UnavailableError with what happened in words (`no such host`, `connection refused`).
 *
 * Why not undici: loading it costs about 100 ms of every `pull` and `push` here (a hundred CommonJS
 * files and a WebAssembly parser), while node:http is already in Node's startup snapshot and moves
 * blobs over loopback at the same speed for the same CPU.
 *
 * @example
 * const http = new HttpTransport();
 * const response = await http.send({ method: 'GET', url: 'http://localhost:5000/v2/' });
 * await response.dump();
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidArgumentError } from '../errors/index.ts';
import { categoryError } from './registry-errors.ts';

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export type HttpBody = Buffer | Uint8Array | string | AsyncIterable<Uint8Array> | Readable;

export interface HttpRequest {
  method: HttpMethod;
  url: string | URL;
  headers?: Record<string, string>;
  /** A Buffer or string can be sent again on retry; a stream cannot (no retry then). */
  body?: HttpBody;
  signal?: AbortSignal;
  /** Set false to never retry (default: retry when the body is replayable). */
  retry?: boolean;
}

export interface HttpResponse {
  status: number;
  /** The URL that answered (after redirects): relative `Location`s resolve against it. */
  url: URL;
  headers: Record<string, string | string[] | undefined>;
  /** A header's value (several joined with ", "). */
  header(name: string): string | undefined;
  /** The body as a stream; read it, or call `dump()`. */
  body: Readable;
  bytes(): Promise<Buffer>;
  text(): Promise<string>;
  dump(): Promise<void>;
}

export interface RetryPolicy {
  /** Attempts in all, the first included (default 4). */
  attempts: number;
  /** First backoff in ms, doubled each time (default 250). */
  baseDelayMs: number;
  /** Longest wait, also the cap on `Retry-After` (default 10 s). */
  maxDelayMs: number;
}

export interface HttpTransportOptions {
  retry?: Partial<RetryPolicy>;
  /** Where Docker keeps per-registry certificates (default /etc/docker/certs.d). */
  certsDir?: string;
  /** Extra CA certificates (PEM) trusted besides the system's. */
  extraCa?: readonly string[];
  /** Connect timeout in ms (default 10 s). */
  connectTimeoutMs?: number;
  /** A request fails when its connection carries nothing for this long, in ms (default 300 s). */
  idleTimeoutMs?: number;
  userAgent?: string;
}

const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
/** Code of the error a request fails with when its connection stays silent too long. */
const IDLE_TIMEOUT_CODE = 'WHARF_IDLE_TIMEOUT';
const RETRY_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', IDLE_TIMEOUT_CODE]);
/** Bytes buffered in a request or response stream before backpressure. */
const STREAM_BUFFER = 1024 * 1024;
/** Connections kept open to one registry (blobs go several at once). */
const MAX_SOCKETS = 16;
const SYSTEM_CA_FILES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt'];
const MAX_REDIRECTS = 5;

export const DEFAULT_USER_AGENT = 'wharf/0.1 (docker-compatible)';

function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** True for failures worth another attempt (a reset connection, a timeout). */
export function isRetryableNetworkError(error: unknown): boolean {
  const code = errorCode(error);
  return code !== undefined && RETRY_CODES.has(code);
}

function describeNetworkError(error: unknown, url: URL): string {
  const code = errorCode(error);
  const host = url.host;
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot reach ${host}: no such host (lookup failed; is there a network?)`;
    case 'ECONNREFUSED':
      return `cannot reach ${host}: connection refused`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `cannot reach ${host}: network unreachable`;
    case 'ETIMEDOUT':
      return `cannot reach ${host}: connection timed out`;
    case 'ECONNRESET':
    case 'EPIPE':
      return `connection to ${host} reset`;
    case 'EPROTO':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return `TLS handshake with ${host} failed (does it speak plain HTTP? list it as an insecure registry)`;
    default: {
      const message = error instanceof Error ? error.message : String(error);
      if (/certificate|self.signed|CERT_/i.test(`${code ?? ''} ${message}`)) {
        return `TLS certificate of ${host} is not trusted: ${message} (put its CA in /etc/docker/certs.d/${host}/ca.crt)`;
      }
      return `request to ${url.origin} failed: ${message}`;
    }
  }
}

/**
 * The system's CA bundle, plus the file of NODE_EXTRA_CA_CERTS. bin/wharf moves that variable to
 * WHARF_EXTRA_CA_CERTS before node starts: node would otherwise parse the whole file at every
 * start (about 70 ms here, for commands that never open a TLS connection); it is read here, when
 * a registry is first reached over TLS.
 */
function readSystemCa(): string[] {
  const out: string[] = [];
  for (const file of SYSTEM_CA_FILES) {
    try {
      out.push(readFileSync(file, 'utf8'));
      break;
    } catch {
      // try the next location
    }
  }
  const extra = process.env.WHARF_EXTRA_CA_CERTS || process.env.NODE_EXTRA_CA_CERTS;
  if (extra) {
    try {
      out.push(readFileSync(extra, 'utf8'));
    } catch {
      // node itself only warns when this file is missing
    }
  }
  return out;
}

type WireBody = Buffer | string | AsyncIterable<Uint8Array> | Readable;

function toBody(body: HttpBody | undefined): WireBody | undefined {
  if (body instanceof Uint8Array && !Buffer.isBuffer(body)) {
    return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  }
  return body;
}

/** An Error with a Node-style `code`, which the retry and wording rules read. */
function codedError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

function isReplayable(body: HttpBody | undefined): boolean {
  return body === undefined || typeof body === 'string' || body instanceof Uint8Array;
}

export class HttpTransport {
  readonly #agents = new Map<string, HttpAgent>();
  readonly #retry: RetryPolicy;
  readonly #certsDir: string;
  readonly #extraCa: readonly string[];
  readonly #connectTimeout: number;
  readonly #idleTimeout: number;
  readonly #userAgent: string;
  #systemCa: string[] | undefined;

  constructor(options: HttpTransportOptions = {}) {
    this.#retry = { attempts: 4, baseDelayMs: 250, maxDelayMs: 10_000, ...options.retry };
    this.#certsDir = options.certsDir ?? '/etc/docker/certs.d';
    this.#extraCa = options.extraCa ?? [];
    this.#connectTimeout = options.connectTimeoutMs ?? 10_000;
    this.#idleTimeout = options.idleTimeoutMs ?? 300_000;
    this.#userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
  }

  /** Sends a request, following redirects (GET, HEAD) and retrying as the policy allows. */
  async send(request: HttpRequest): Promise<HttpResponse> {
    const canRetry = request.retry !== false && isReplayable(request.body);
    const attempts = canRetry ? this.#retry.attempts : 1;
    let lastError: unknown;
    for (let attempt = 1; ; attempt++) {
      request.signal?.throwIfAborted();
      try {
        const response = await this.#sendFollowing(request);
        if (attempt < attempts && RETRY_STATUS.has(response.status)) {
          const wait = this.#delay(attempt, response.header('retry-after'));
          await response.dump();
          await sleep(wait, undefined, request.signal ? { signal: request.signal } : {});
          continue;
        }
        return response;
      } catch (error) {
        lastError = error;
        if (request.signal?.aborted) throw request.signal.reason ?? error;
        if (attempt >= attempts || !isRetryableNetworkError(error)) break;
        await sleep(this.#delay(attempt), undefined, request.signal ? { signal: request.signal } : {});
      }
    }
    const url = new URL(request.url);
    throw categoryError(
      0,
      `${request.method} ${url.origin}${url.pathname}`,
      describeNetworkError(lastError, url),
      lastError,
    );
  }

  /** Closes every connection. */
  async close(): Promise<void> {
    const agents = [...this.#agents.values()];
    this.#agents.clear();
    for (const agent of agents) agent.destroy();
  }

  #delay(attempt: number, retryAfter?: string): number {
    if (retryAfter !== undefined) {
      const seconds = Number(retryAfter);
      const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - Date.now();
      if (Number.isFinite(ms) && ms >= 0) return Math.min(ms, this.#retry.maxDelayMs);
    }
    const base = this.#retry.baseDelayMs * 2 ** (attempt - 1);
    return Math.min(base + Math.random() * base * 0.2, this.#retry.maxDelayMs);
  }

  async #sendFollowing(request: HttpRequest): Promise<HttpResponse> {
    let url = new URL(request.url);
    const headers: Record<string, string> = { 'user-agent': this.#userAgent, ...request.headers };
    const follow = request.method === 'GET' || request.method === 'HEAD';
    for (let hop = 0; ; hop++) {
      const response = await this.#sendOnce(
        request.method,
        url,
        headers,
        toBody(request.body),
        request.signal,
      );
      const location = response.header('location');
      if (!follow || ![301, 302, 303, 307, 308].includes(response.status) || location === undefined)
        return response;
      await response.dump();
      if (hop >= MAX_REDIRECTS) {
        throw new InvalidArgumentError(
          `Cannot ${request.method} ${request.url}: more than ${MAX_REDIRECTS} redirects`,
        );
      }
      const next = new URL(location, url);
      if (next.origin !== url.origin) {
        // credentials for the registry are not for its storage backend
        delete headers.authorization;
      }
      url = next;
    }
  }

  #sendOnce(
    method: HttpMethod,
    url: URL,
    headers: Record<string, string>,
    body: WireBody | undefined,
    signal: AbortSignal | undefined,
  ): Promise<HttpResponse> {
    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        reject(error);
      };
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const request = send(url, {
        method,
        headers,
        agent: this.#agentFor(url),
        ...(signal ? { signal } : {}),
      });
      request.on('error', fail);
      request.once('socket', (socket) => {
        if (!socket.connecting) return;
        const timer = setTimeout(() => {
          request.destroy(codedError(`connect timed out after ${this.#connectTimeout} ms`, 'ETIMEDOUT'));
        }, this.#connectTimeout);
        socket.once('connect', () => clearTimeout(timer));
        request.once('close', () => clearTimeout(timer));
      });
      // a registry that stops answering (headers or body) fails the request instead of hanging
      request.setTimeout(this.#idleTimeout, () => {
        request.destroy(codedError(`no data for ${this.#idleTimeout} ms`, IDLE_TIMEOUT_CODE));
      });
      request.once('response', (message) => {
        if (settled) {
          message.resume();
          return;
        }
        settled = true;
        resolve(wrapResponse(message, url, signal));
      });
      if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) {
        request.end(body);
      } else {
        // backpressure from the socket paces the source; a failing source fails the request
        pipeline(body, request, (error) => {
          if (error) request.destroy(error);
        });
      }
    });
  }

  #agentFor(url: URL): HttpAgent {
    const key = url.protocol === 'https:' ? url.host : 'http';
    let agent = this.#agents.get(key);
    if (!agent) {
      // The sockets' buffer size is also the responses': up to 1 MiB waits while a reader is busy
      // and then reaches it as one chunk rather than sixteen socket reads (a sixteenth of the
      // per-chunk work downstream: hashing, appending to the partial file, decompressing).
      const options = { keepAlive: true, maxSockets: MAX_SOCKETS, highWaterMark: STREAM_BUFFER };
      agent =
        url.protocol === 'https:'
          ? new HttpsAgent({ ...options, ...this.#tlsFor(url.host) })
          : new HttpAgent(options);
      this.#agents.set(key, agent);
    }
    return agent;
  }

  /** The system's CAs, ours, and Docker's certs.d directory of the host (ca, client cert and key). */
  #tlsFor(host: string): { ca?: string[]; cert?: string; key?: string } {
    this.#systemCa ??= readSystemCa();
    const ca = [...this.#systemCa, ...this.#extraCa];
    const out: { ca?: string[]; cert?: string; key?: string } = {};
    const dir = join(this.#certsDir, host);
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      // no per-registry certificates
    }
    for (const name of names) {
      const path = join(dir, name);
      if (name.endsWith('.crt')) ca.push(readFileSync(path, 'utf8'));
      else if (name.endsWith('.cert')) out.cert = readFileSync(path, 'utf8');
      else if (name.endsWith('.key')) out.key = readFileSync(path, 'utf8');
    }
    if (ca.length > 0) out.ca = ca;
    return out;
  }
}

/** The response over an IncomingMessage; aborting `signal` fails a body still being read. */
function wrapResponse(message: IncomingMessage, url: URL, signal: AbortSignal | undefined): HttpResponse {
  if (signal) {
    const onAbort = () => message.destroy(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    message.once('close', () => signal.removeEventListener('abort', onAbort));
  }
  const headers = message.headers as Record<string, string | string[] | undefined>;
  const bytes = async (): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const chunk of message as AsyncIterable<Buffer>) chunks.push(chunk);
    return Buffer.concat(chunks);
  };
  return {
    status: message.statusCode ?? 0,
    url,
    headers,
    header(name: string) {
      const value = headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    body: message,
    bytes,
    text: async () => (await bytes()).toString('utf8'),
    dump: async () => {
      // read to the end even when all of it has arrived: only then is the connection reused
      if (message.readableEnded || message.destroyed) return;
      await new Promise<void>((resolve) => {
        message.once('end', resolve);
        message.once('close', resolve);
        message.once('error', () => resolve());
        message.resume();
      });
    },
  };
}
