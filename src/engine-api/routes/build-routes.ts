/**
 * The classic builder endpoint (`POST /build`, what `DOCKER_BUILDKIT=0 docker build` and
 * docker-compose call), `POST /build/prune` and `POST /commit`. The build context arrives as a
 * tar body (possibly compressed), streamed to the backend, never buffered here.
 *
 * Backend contract (for the builder engineers): `output` receives Docker's classic messages in
 * order, `{stream: "Step 1/3 : FROM busybox\n"}`, `{stream: " ---> 5a1b…\n"}`, a RUN's output
 * as `{stream}` chunks; the route itself then sends `{aux: {ID}}`, `Successfully built SHORTID`
 * and `Successfully tagged NAME` for each tag. With `quiet` the backend sends nothing and the
 * route sends the image id alone. A failed step throws (the route turns it into Docker's error
 * message line).
 *
 * @example
 * const routes = buildRoutes({ build: undefined, commit: undefined }); // 501 until wired
 */
import type { Readable } from 'node:stream';
import { InvalidArgumentError } from '../../errors/index.ts';
import { type Platform, parsePlatform } from '../../oci/platform.ts';
import { MessageQueue } from '../json-stream.ts';
import { queryBool, queryFilters, queryInt } from '../query-params.ts';
import { decodeRegistryConfig, type RegistryAuth } from '../registry-auth.ts';
import { json, type Route } from '../route.ts';
import type { Filters, JsonObject } from './json-types.ts';
import { requireBackend } from './seam.ts';

export interface BuildRequest {
  /** The context: a tar (plain, gzip, bzip2 or xz), or a Dockerfile alone when `remote` says so. */
  context: Readable;
  /** Path of the Dockerfile inside the context (default `Dockerfile`). */
  dockerfile: string;
  tags: string[];
  buildArgs: Record<string, string | null>;
  labels: Record<string, string>;
  target?: string;
  noCache: boolean;
  pull: boolean;
  quiet: boolean;
  /** Remove intermediate containers (`rm`, default true; `forcerm` even after a failure). */
  remove: boolean;
  forceRemove: boolean;
  networkMode?: string;
  platform?: Platform;
  extraHosts: string[];
  cacheFrom: string[];
  /** Bytes; 0 means the default. */
  shmSize: number;
  memory: number;
  memorySwap: number;
  cpuShares: number;
  cpuSetCpus?: string;
  cpuPeriod: number;
  cpuQuota: number;
  /** `remote`: a Git URL or URL of a context, instead of the body. */
  remote?: string;
  /** Registry credentials for FROM images (`X-Registry-Config`). */
  registryAuth: Record<string, RegistryAuth>;
  output: (
    message: { stream: string } | { status: string; id?: string; progressDetail?: JsonObject },
  ) => void;
  signal: AbortSignal;
}

export interface BuildBackend {
  build(request: BuildRequest): Promise<{ imageId: string; tags: string[] }>;
  prune(options: {
    all: boolean;
    filters: Filters;
    keepStorage?: number;
  }): Promise<{ CachesDeleted: string[] | null; SpaceReclaimed: number }>;
}

export interface CommitRequest {
  container: string;
  /** `NAME[:TAG]` or none. */
  reference?: string;
  comment: string;
  author: string;
  pause: boolean;
  changes: string[];
  /** The body: a container Config to merge into the image config. */
  config?: JsonObject;
}

export interface CommitBackend {
  commit(request: CommitRequest): Promise<{ Id: string }>;
}

export interface BuildRoutesBackends {
  build?: BuildBackend;
  commit?: CommitBackend;
}

function jsonParam<T>(query: URLSearchParams, name: string, fallback: T): T {
  const raw = query.get(name);
  if (raw === null || raw.trim() === '') return fallback;
  try {
    return JSON.parse(raw) as T;
  } catch (error) {
    throw new InvalidArgumentError(`Cannot parse ${name}: invalid JSON: ${raw}`, { cause: error });
  }
}

function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

export function buildRoutes(backends: BuildRoutesBackends): Route[] {
  return [
    {
      method: 'POST',
      path: '/build',
      handler: (context) => {
        const builder = requireBackend(backends.build, 'build images', 'builder');
        const query = context.query;
        if (query.get('version') === '2') {
          throw new InvalidArgumentError(
            'Cannot build with BuildKit through the Engine API: use the classic builder (DOCKER_BUILDKIT=0)',
          );
        }
        const quiet = queryBool(query, 'q');
        const platformText = query.get('platform') ?? '';
        const target = query.get('target') ?? '';
        const networkMode = query.get('networkmode') ?? '';
        const cpuSetCpus = query.get('cpusetcpus') ?? '';
        const remote = query.get('remote') ?? '';
        const base = {
          context: context.body(),
          dockerfile: query.get('dockerfile') || 'Dockerfile',
          tags: query.getAll('t').filter((tag) => tag !== ''),
          buildArgs: jsonParam<Record<string, string | null>>(query, 'buildargs', {}),
          labels: jsonParam<Record<string, string>>(query, 'labels', {}),
          noCache: queryBool(query, 'nocache'),
          pull: queryBool(query, 'pull'),
          quiet,
          remove: query.get('rm') === null ? true : queryBool(query, 'rm'),
          forceRemove: queryBool(query, 'forcerm'),
          extraHosts: query
            .getAll('extrahosts')
            .flatMap((value) => value.split(','))
            .filter(Boolean),
          cacheFrom: jsonParam<string[]>(query, 'cachefrom', []),
          shmSize: queryInt(query, 'shmsize') ?? 0,
          memory: queryInt(query, 'memory') ?? 0,
          memorySwap: queryInt(query, 'memswap') ?? 0,
          cpuShares: queryInt(query, 'cpushares') ?? 0,
          cpuPeriod: queryInt(query, 'cpuperiod') ?? 0,
          cpuQuota: queryInt(query, 'cpuquota') ?? 0,
          registryAuth: decodeRegistryConfig(context.headers['x-registry-config']),
          ...(target !== '' ? { target } : {}),
          ...(networkMode !== '' ? { networkMode } : {}),
          ...(cpuSetCpus !== '' ? { cpuSetCpus } : {}),
          ...(remote !== '' ? { remote } : {}),
          ...(platformText !== '' ? { platform: parsePlatform(platformText) } : {}),
        };
        return {
          kind: 'json-stream',
          produce: async (out) => {
            const queue = new MessageQueue(out);
            const result = await builder.build({
              ...base,
              output: (message) => queue.push(message),
              signal: out.signal,
            });
            queue.push({ aux: { ID: result.imageId } });
            if (quiet) {
              queue.push({ stream: `${result.imageId}\n` });
            } else {
              queue.push({ stream: `Successfully built ${shortId(result.imageId)}\n` });
              for (const tag of result.tags) queue.push({ stream: `Successfully tagged ${tag}\n` });
            }
            await queue.flush();
          },
        };
      },
    },
    {
      method: 'POST',
      path: '/build/prune',
      handler: async (context) => {
        const builder = requireBackend(backends.build, 'prune the build cache', 'builder');
        const keepStorage = queryInt(context.query, 'keep-storage');
        return json(
          await builder.prune({
            all: queryBool(context.query, 'all'),
            filters: queryFilters(context.query),
            ...(keepStorage !== undefined ? { keepStorage } : {}),
          }),
        );
      },
    },
    {
      method: 'POST',
      path: '/commit',
      handler: async (context) => {
        const committer = requireBackend(backends.commit, 'commit containers', 'container');
        const query = context.query;
        const container = query.get('container') ?? '';
        if (container === '') throw new InvalidArgumentError('Cannot commit: container is required');
        const repo = query.get('repo') ?? '';
        const tag = query.get('tag') ?? '';
        const body = await context.json();
        const result = await committer.commit({
          container,
          ...(repo !== '' ? { reference: tag === '' ? repo : `${repo}:${tag}` } : {}),
          comment: query.get('comment') ?? '',
          author: query.get('author') ?? '',
          // Docker pauses by default: absent means true
          pause: query.get('pause') === null ? true : queryBool(query, 'pause'),
          changes: query.getAll('changes').filter((change) => change.trim() !== ''),
          ...(isObject(body) ? { config: body } : {}),
        });
        return json(result, 201);
      },
    },
  ];
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
