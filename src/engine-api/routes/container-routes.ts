/**
 * Container routes: lifecycle (`ContainerBackend`) and I/O (`ContainerIoBackend`: attach, logs,
 * stats, export, archive). Handlers only translate HTTP to calls; the container service owns
 * state, shapes (Docker's, from its docker-types) and rules. Until a backend is wired, every
 * route answers 501.
 *
 * Notes for the backend's owner:
 * - `start`/`stop` return false when nothing changed (already running / already stopped): the
 *   route answers 304, which the docker CLI treats as success.
 * - `wait` must resolve only on the condition; the route sends the 200 and headers at once (the
 *   docker CLI calls wait before start and blocks on the headers), then the result.
 * - `logs` entries without a TTY are framed here; `time` (RFC 3339 with nanoseconds) is printed
 *   when `timestamps=1`. Ending the iterator (client gone) must release the log file.
 *
 * @example
 * const routes = containerRoutes({ containers: undefined, io: undefined }); // 501 until wired
 */
import { Readable } from 'node:stream';
import { InvalidArgumentError } from '../../errors/index.ts';
import { type Platform, parsePlatform } from '../../oci/platform.ts';
import { compareApiVersions } from '../api-version.ts';
import { frame, MULTIPLEXED_STREAM, RAW_STREAM } from '../hijack.ts';
import { queryBool, queryFilters, queryInt } from '../query-params.ts';
import { empty, json, type Reply, type Route } from '../route.ts';
import type { Filters, JsonObject } from './json-types.ts';
import { requireBackend } from './seam.ts';
import type { StdioSession } from './stdio-session.ts';

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export interface ContainerBackend {
  /** ContainerSummary entries (`docker ps`). */
  list(options: { all: boolean; limit?: number; size: boolean; filters: Filters }): Promise<JsonObject[]>;
  /** The body is Docker's create body: Config fields plus `HostConfig` and `NetworkingConfig`. */
  create(request: {
    name?: string;
    platform?: Platform;
    body: JsonObject;
  }): Promise<{ Id: string; Warnings: string[] }>;
  /** ContainerInspect. */
  inspect(id: string, options: { size: boolean }): Promise<JsonObject>;
  /** False when it was already running. */
  start(id: string, options: { detachKeys?: string }): Promise<boolean>;
  /** False when it was already stopped. `timeout` in seconds. */
  stop(id: string, options: { timeout?: number; signal?: string }): Promise<boolean>;
  restart(id: string, options: { timeout?: number; signal?: string }): Promise<void>;
  kill(id: string, signal: string): Promise<void>;
  pause(id: string): Promise<void>;
  unpause(id: string): Promise<void>;
  remove(id: string, options: { force: boolean; volumes: boolean; link: boolean }): Promise<void>;
  wait(
    id: string,
    options: { condition: WaitCondition; signal: AbortSignal },
  ): Promise<{ StatusCode: number; Error?: { Message: string } | null }>;
  rename(id: string, name: string): Promise<void>;
  update(id: string, body: JsonObject): Promise<{ Warnings: string[] | null }>;
  prune(filters: Filters): Promise<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }>;
  resize(id: string, size: { height: number; width: number }): Promise<void>;
  top(id: string, psArgs: string): Promise<{ Titles: string[]; Processes: string[][] }>;
  /** Kind: 0 modified, 1 added, 2 deleted. */
  changes(id: string): Promise<Array<{ Path: string; Kind: number }> | null>;
}

export interface AttachOptions {
  stream: boolean;
  logs: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  detachKeys?: string;
}

export interface LogsOptions {
  follow: boolean;
  stdout: boolean;
  stderr: boolean;
  /** Unix seconds (fractional); 0 is none. */
  since: number;
  until: number;
  /** Lines from the end; undefined is all. */
  tail?: number;
  signal: AbortSignal;
}

export interface LogEntry {
  stream: 'stdout' | 'stderr';
  data: Uint8Array;
  /** RFC 3339 with nanoseconds (`2024-01-02T03:04:05.123456789Z`). */
  time: string;
}

/** What `X-Docker-Container-Path-Stat` carries; `mode` is Go's os.FileMode (dir is 1<<31). */
export interface PathStat {
  name: string;
  size: number;
  mode: number;
  /** RFC 3339. */
  mtime: string;
  linkTarget: string;
}

export interface ContainerIoBackend {
  attach(id: string, options: AttachOptions): Promise<StdioSession>;
  logs(id: string, options: LogsOptions): Promise<{ tty: boolean; entries: AsyncIterable<LogEntry> }>;
  /** Stats JSON documents: one when `stream` is false, else one a second until the signal aborts. */
  stats(
    id: string,
    options: { stream: boolean; oneShot: boolean; signal: AbortSignal },
  ): AsyncIterable<JsonObject>;
  /** The container's filesystem as a tar. */
  export(id: string, signal: AbortSignal): Promise<Readable>;
  statPath(id: string, path: string): Promise<PathStat>;
  getArchive(id: string, path: string, signal: AbortSignal): Promise<{ stat: PathStat; stream: Readable }>;
  putArchive(
    id: string,
    path: string,
    tar: Readable,
    options: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean; signal: AbortSignal },
  ): Promise<void>;
}

export interface ContainerRoutesBackends {
  containers?: ContainerBackend;
  io?: ContainerIoBackend;
}

const SERVICE = 'container';
const WAIT_CONDITIONS = new Set<string>(['not-running', 'next-exit', 'removed']);

function pathStatHeader(stat: PathStat): string {
  return Buffer.from(JSON.stringify(stat)).toString('base64');
}

function stopOptions(query: URLSearchParams): { timeout?: number; signal?: string } {
  const timeout = queryInt(query, 't');
  const signal = query.get('signal') ?? '';
  return { ...(timeout !== undefined ? { timeout } : {}), ...(signal !== '' ? { signal } : {}) };
}

function hijack(session: StdioSession): Reply {
  return { kind: 'hijack', multiplexed: !session.tty, run: (connection) => session.run(connection) };
}

/** Log entries as bytes: raw with a TTY, else Docker's frames; timestamps prefixed on request. */
async function* logBytes(
  entries: AsyncIterable<LogEntry>,
  tty: boolean,
  timestamps: boolean,
): AsyncGenerator<Buffer> {
  for await (const entry of entries) {
    const data = timestamps
      ? Buffer.concat([Buffer.from(`${entry.time} `), entry.data])
      : Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength);
    yield tty ? data : frame(entry.stream, data);
  }
}

export function containerRoutes(backends: ContainerRoutesBackends): Route[] {
  const containers = (action: string) => requireBackend(backends.containers, action, SERVICE);
  const io = (action: string) => requireBackend(backends.io, action, SERVICE);
  const id = (params: Readonly<Record<string, string>>) => params.id!;
  return [
    {
      method: 'GET',
      path: '/containers/json',
      handler: async ({ query }) => {
        const limit = queryInt(query, 'limit');
        return json(
          await containers('list containers').list({
            all: queryBool(query, 'all'),
            ...(limit !== undefined && limit > 0 ? { limit } : {}),
            size: queryBool(query, 'size'),
            filters: queryFilters(query),
          }),
        );
      },
    },
    {
      method: 'POST',
      path: '/containers/create',
      handler: async (context) => {
        const backend = containers('create containers');
        const body = await context.json();
        if (typeof body !== 'object' || body === null || Array.isArray(body)) {
          throw new InvalidArgumentError('Cannot create a container: the body must be a JSON object');
        }
        const name = context.query.get('name') ?? '';
        const platform = context.query.get('platform') ?? '';
        const created = await backend.create({
          ...(name !== '' ? { name } : {}),
          ...(platform !== '' ? { platform: parsePlatform(platform) } : {}),
          body: body as JsonObject,
        });
        return json(created, 201);
      },
    },
    {
      method: 'POST',
      path: '/containers/prune',
      handler: async ({ query }) => json(await containers('prune containers').prune(queryFilters(query))),
    },
    {
      method: 'GET',
      path: '/containers/{id}/json',
      handler: async ({ params, query }) =>
        json(await containers('inspect containers').inspect(id(params), { size: queryBool(query, 'size') })),
    },
    {
      method: 'GET',
      path: '/containers/{id}/top',
      handler: async ({ params, query }) =>
        json(await containers('list container processes').top(id(params), query.get('ps_args') ?? '')),
    },
    {
      method: 'GET',
      path: '/containers/{id}/changes',
      handler: async ({ params }) => json(await containers('list container changes').changes(id(params))),
    },
    {
      method: 'POST',
      path: '/containers/{id}/start',
      handler: async ({ params, query }) => {
        const detachKeys = query.get('detachKeys') ?? '';
        const changed = await containers('start containers').start(
          id(params),
          detachKeys !== '' ? { detachKeys } : {},
        );
        return empty(changed ? 204 : 304);
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/stop',
      handler: async ({ params, query }) =>
        empty((await containers('stop containers').stop(id(params), stopOptions(query))) ? 204 : 304),
    },
    {
      method: 'POST',
      path: '/containers/{id}/restart',
      handler: async ({ params, query }) => {
        await containers('restart containers').restart(id(params), stopOptions(query));
        return empty(204);
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/kill',
      handler: async ({ params, query }) => {
        await containers('kill containers').kill(id(params), query.get('signal') || 'SIGKILL');
        return empty(204);
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/pause',
      handler: async ({ params }) => {
        await containers('pause containers').pause(id(params));
        return empty(204);
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/unpause',
      handler: async ({ params }) => {
        await containers('unpause containers').unpause(id(params));
        return empty(204);
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/rename',
      handler: async ({ params, query }) => {
        const name = query.get('name') ?? '';
        if (name === '') throw new InvalidArgumentError('Cannot rename a container: name is required');
        await containers('rename containers').rename(id(params), name);
        return empty(204);
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/update',
      handler: async (context) => {
        const backend = containers('update containers');
        const body = await context.json();
        return json(await backend.update(id(context.params), (body ?? {}) as JsonObject));
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/resize',
      handler: async ({ params, query }) => {
        await containers('resize containers').resize(id(params), {
          height: queryInt(query, 'h') ?? 0,
          width: queryInt(query, 'w') ?? 0,
        });
        return empty(200);
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/wait',
      handler: ({ params, query }) => {
        const backend = containers('wait for containers');
        const condition = query.get('condition') || 'not-running';
        if (!WAIT_CONDITIONS.has(condition)) {
          throw new InvalidArgumentError(`Cannot wait for a container: invalid condition "${condition}"`);
        }
        return {
          kind: 'json-stream',
          eager: true,
          produce: async (out) => {
            const result = await backend.wait(id(params), {
              condition: condition as WaitCondition,
              signal: out.signal,
            });
            await out.write(result);
          },
        };
      },
    },
    {
      method: 'DELETE',
      path: '/containers/{id}',
      handler: async ({ params, query }) => {
        await containers('remove containers').remove(id(params), {
          force: queryBool(query, 'force'),
          volumes: queryBool(query, 'v'),
          link: queryBool(query, 'link'),
        });
        return empty(204);
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/attach',
      handler: async ({ params, query }) => {
        const detachKeys = query.get('detachKeys') ?? '';
        const session = await io('attach to containers').attach(id(params), {
          stream: queryBool(query, 'stream'),
          logs: queryBool(query, 'logs'),
          stdin: queryBool(query, 'stdin'),
          stdout: queryBool(query, 'stdout'),
          stderr: queryBool(query, 'stderr'),
          ...(detachKeys !== '' ? { detachKeys } : {}),
        });
        return hijack(session);
      },
    },
    {
      method: 'GET',
      path: '/containers/{id}/logs',
      handler: async (context) => {
        const { query } = context;
        const stdout = queryBool(query, 'stdout');
        const stderr = queryBool(query, 'stderr');
        if (!stdout && !stderr) {
          throw new InvalidArgumentError('Bad parameters: you must choose at least one stream');
        }
        const tailText = query.get('tail') ?? 'all';
        // a negative tail is "all" to dockerd (testcontainers sends -1)
        const parsed = tailText === 'all' || tailText === '' ? undefined : Number(tailText);
        if (parsed !== undefined && !Number.isInteger(parsed)) {
          throw new InvalidArgumentError(`Cannot show logs: invalid tail "${tailText}"`);
        }
        const tail = parsed !== undefined && parsed >= 0 ? parsed : undefined;
        const { tty, entries } = await io('show container logs').logs(id(context.params), {
          follow: queryBool(query, 'follow'),
          stdout,
          stderr,
          since: Number(query.get('since') || 0),
          until: Number(query.get('until') || 0),
          ...(tail !== undefined ? { tail } : {}),
          signal: context.signal,
        });
        const multiplexedType = !tty && compareApiVersions(context.apiVersion, '1.42') >= 0;
        return {
          kind: 'stream',
          contentType: multiplexedType ? MULTIPLEXED_STREAM : RAW_STREAM,
          stream: Readable.from(logBytes(entries, tty, queryBool(query, 'timestamps'))),
          flush: true,
        };
      },
    },
    {
      method: 'GET',
      path: '/containers/{id}/stats',
      handler: (context) => {
        const backend = io('show container stats');
        // stream defaults to true
        const stream = context.query.get('stream') === null ? true : queryBool(context.query, 'stream');
        return {
          kind: 'json-stream',
          eager: stream,
          produce: async (out) => {
            for await (const stats of backend.stats(id(context.params), {
              stream,
              oneShot: queryBool(context.query, 'one-shot'),
              signal: out.signal,
            })) {
              await out.write(stats);
            }
          },
        };
      },
    },
    {
      method: 'GET',
      path: '/containers/{id}/export',
      handler: async (context) => ({
        kind: 'stream',
        contentType: 'application/x-tar',
        stream: await io('export containers').export(id(context.params), context.signal),
      }),
    },
    {
      method: 'HEAD',
      path: '/containers/{id}/archive',
      handler: async ({ params, query }) => {
        const stat = await io('stat container paths').statPath(id(params), archivePath(query));
        return {
          kind: 'empty',
          status: 200,
          headers: { 'X-Docker-Container-Path-Stat': pathStatHeader(stat) },
        };
      },
    },
    {
      method: 'GET',
      path: '/containers/{id}/archive',
      handler: async (context) => {
        const { stat, stream } = await io('copy from containers').getArchive(
          id(context.params),
          archivePath(context.query),
          context.signal,
        );
        return {
          kind: 'stream',
          contentType: 'application/x-tar',
          stream,
          headers: { 'X-Docker-Container-Path-Stat': pathStatHeader(stat) },
        };
      },
    },
    {
      method: 'PUT',
      path: '/containers/{id}/archive',
      handler: async (context) => {
        await io('copy to containers').putArchive(
          id(context.params),
          archivePath(context.query),
          context.body(),
          {
            noOverwriteDirNonDir: queryBool(context.query, 'noOverwriteDirNonDir'),
            copyUIDGID: queryBool(context.query, 'copyUIDGID'),
            signal: context.signal,
          },
        );
        return empty(200);
      },
    },
  ];
}

function archivePath(query: URLSearchParams): string {
  const path = query.get('path') ?? '';
  if (path === '') throw new InvalidArgumentError('Cannot copy: path is required');
  return path;
}
