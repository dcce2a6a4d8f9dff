/**
 * Local image routes over the engine's images service: list, inspect, history, tag, remove,
 * prune, save (`images/get`), load, and `images/create` (import from the body or a URL, or pull
 * through the image transfer backend). Shapes are Docker's (src/image/docker-shapes.ts); for
 * clients below API 1.44 list and inspect also carry the old `VirtualSize`.
 *
 * @example
 * const routes = imageRoutes({ images: engine.images, transfer: undefined });
 */
import { Readable } from 'node:stream';
import { InvalidArgumentError } from '../../errors/index.ts';
import type {
  DeleteResponseItem,
  HistoryResponseItem,
  ImageInspect,
  ImageSummary,
  ImagesPruneReport,
} from '../../image/docker-shapes.ts';
import { type Platform, parsePlatform } from '../../oci/platform.ts';
import { compareApiVersions } from '../api-version.ts';
import { queryBool, queryFilters } from '../query-params.ts';
import { empty, json, type Reply, type RequestContext, type Route } from '../route.ts';
import { type ImageTransferBackend, pullReply } from './image-transfer-routes.ts';
import { requireBackend } from './seam.ts';

export interface ImageImportRequest {
  source: Readable;
  /** `-` for the request body, else the URL it came from (the history comment names it). */
  sourceName: string;
  /** `NAME[:TAG]` to tag the image with. */
  reference?: string;
  /** Dockerfile instructions (`CMD`, `ENV`, `EXPOSE`...). */
  changes?: readonly string[];
  message?: string;
  platform?: Platform;
  signal?: AbortSignal;
}

/** What the image routes need: the engine's ImageService (src/engine/image-service.ts) fits. */
export interface ImageBackend {
  list(options: { all?: boolean; filters?: Record<string, readonly string[]> }): Promise<ImageSummary[]>;
  inspect(refOrId: string): Promise<ImageInspect>;
  history(refOrId: string): Promise<HistoryResponseItem[]>;
  /** Returns the normalized target. */
  tag(source: string, target: string): string | Promise<string>;
  remove(refOrId: string, options: { force?: boolean; noPrune?: boolean }): Promise<DeleteResponseItem[]>;
  prune(options: { all?: boolean; filters?: Record<string, readonly string[]> }): Promise<ImagesPruneReport>;
  import(request: ImageImportRequest): Promise<{ id: string }>;
  /** A Docker archive of the images; resolves names before the first byte. */
  save(names: readonly string[], options: { format?: 'docker' | 'oci' }): Promise<Readable>;
  /** Reads a Docker or OCI archive (plain or compressed); `messages` are Docker's `Loaded image: …` lines. */
  load(
    source: Readable,
    options: { platform?: Platform; signal?: AbortSignal },
  ): Promise<{ messages: string[] }>;
}

export interface ImageRoutesBackends {
  images?: ImageBackend;
  transfer?: ImageTransferBackend;
}

const SERVICE = 'image';

function legacy(context: RequestContext): boolean {
  return compareApiVersions(context.apiVersion, '1.44') < 0;
}

function platformParam(context: RequestContext): Platform | undefined {
  const value = context.query.get('platform') ?? '';
  if (value === '') return undefined;
  // API 1.48 sends it as JSON (an OCI platform object); older ones as os/arch[/variant]
  if (value.startsWith('{')) {
    try {
      const parsed = JSON.parse(value) as { os?: string; architecture?: string; variant?: string };
      return parsePlatform([parsed.os, parsed.architecture, parsed.variant].filter(Boolean).join('/'));
    } catch (error) {
      if (error instanceof InvalidArgumentError) throw error;
      throw new InvalidArgumentError(`Cannot parse platform ${value}: invalid JSON`, { cause: error });
    }
  }
  return parsePlatform(value);
}

/** `POST /images/create?fromSrc=-|URL&repo=R&tag=T&message=M&changes=C…`: Docker's import. */
async function importReply(context: RequestContext, images: ImageBackend): Promise<Reply> {
  const fromSrc = context.query.get('fromSrc')!;
  const repo = context.query.get('repo') ?? '';
  const tag = context.query.get('tag') ?? '';
  const reference = repo === '' ? undefined : tag === '' ? repo : `${repo}:${tag}`;
  const changes = context.query.getAll('changes').filter((change) => change.trim() !== '');
  const message = context.query.get('message') ?? '';
  const platform = platformParam(context);
  let source: Readable;
  if (fromSrc === '-') {
    source = context.body();
  } else {
    if (!/^https?:\/\//i.test(fromSrc)) {
      throw new InvalidArgumentError(`Cannot import from ${fromSrc}: not a URL and not - (the request body)`);
    }
    const response = await fetch(fromSrc, { signal: context.signal });
    if (!response.ok || !response.body) {
      throw new InvalidArgumentError(
        `Cannot import from ${fromSrc}: HTTP ${response.status} ${response.statusText}`,
      );
    }
    source = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream);
  }
  return {
    kind: 'json-stream',
    produce: async (out) => {
      const image = await images.import({
        source,
        sourceName: fromSrc,
        ...(reference !== undefined ? { reference } : {}),
        changes,
        ...(message !== '' ? { message } : {}),
        ...(platform ? { platform } : {}),
        signal: out.signal,
      });
      await out.write({ status: image.id });
    },
  };
}

export function imageRoutes(backends: ImageRoutesBackends): Route[] {
  const images = (action: string) => requireBackend(backends.images, action, SERVICE);
  return [
    {
      method: 'GET',
      path: '/images/json',
      handler: async (context) => {
        const list = await images('list images').list({
          all: queryBool(context.query, 'all'),
          filters: queryFilters(context.query),
        });
        return json(legacy(context) ? list.map((image) => ({ ...image, VirtualSize: image.Size })) : list);
      },
    },
    {
      method: 'GET',
      path: '/images/get',
      handler: async (context) => saveReply(context, images('save images'), context.query.getAll('names')),
    },
    {
      method: 'POST',
      path: '/images/create',
      handler: async (context) => {
        if (context.query.get('fromSrc')) return importReply(context, images('import images'));
        if (context.query.get('fromImage')) return pullReply(context, backends.transfer);
        throw new InvalidArgumentError('Cannot create an image: either fromImage or fromSrc is required');
      },
    },
    {
      method: 'POST',
      path: '/images/load',
      handler: (context) => {
        const service = images('load images');
        const platform = platformParam(context);
        const source = context.body();
        return {
          kind: 'json-stream',
          produce: async (out) => {
            const result = await service.load(source, {
              ...(platform ? { platform } : {}),
              signal: out.signal,
            });
            for (const line of result.messages) await out.write({ stream: `${line}\n` });
          },
        };
      },
    },
    {
      method: 'POST',
      path: '/images/prune',
      handler: async (context) => {
        const filters = queryFilters(context.query);
        return json(await images('prune images').prune({ filters }));
      },
    },
    {
      method: 'GET',
      path: '/images/{name:.+}/json',
      handler: async (context) => {
        const inspect = await images('inspect images').inspect(context.params.name!);
        return json(legacy(context) ? { ...inspect, VirtualSize: inspect.Size } : inspect);
      },
    },
    {
      method: 'GET',
      path: '/images/{name:.+}/history',
      handler: async (context) => json(await images('show image history').history(context.params.name!)),
    },
    {
      method: 'GET',
      path: '/images/{name:.+}/get',
      handler: async (context) => saveReply(context, images('save images'), [context.params.name!]),
    },
    {
      method: 'POST',
      path: '/images/{name:.+}/tag',
      handler: async (context) => {
        const repo = context.query.get('repo') ?? '';
        const tag = context.query.get('tag') ?? '';
        if (repo === '') throw new InvalidArgumentError('Cannot tag an image: repository name must be given');
        await images('tag images').tag(context.params.name!, tag === '' ? repo : `${repo}:${tag}`);
        return empty(201);
      },
    },
    {
      method: 'DELETE',
      path: '/images/{name:.+}',
      handler: async (context) =>
        json(
          await images('remove images').remove(context.params.name!, {
            force: queryBool(context.query, 'force'),
            noPrune: queryBool(context.query, 'noprune'),
          }),
        ),
    },
  ];
}

async function saveReply(context: RequestContext, images: ImageBackend, names: string[]): Promise<Reply> {
  if (names.length === 0) throw new InvalidArgumentError('Cannot save images: no image names given');
  // platform (API 1.48) is accepted and ignored: the store holds one platform per image
  platformParam(context);
  const stream = await images.save(names, { format: 'docker' });
  return { kind: 'stream', contentType: 'application/x-tar', stream };
}
