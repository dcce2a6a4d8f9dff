/**
 * The registry side of images: pull (`POST /images/create?fromImage=`, served from
 * image-routes.ts beside import, which shares the path), push, `/auth` (what `docker login`
 * calls) and search. Progress streams as Docker's JSON messages; closing the connection cancels
 * the transfer (the signal reaches the backend).
 *
 * Backend contract (for the distribution engineers): `progress` receives every message the
 * client should show, in Docker's words (`Pulling from library/busybox`, per-layer `Downloading`
 * with `progressDetail`, the final `Digest: sha256:…` and `Status: Downloaded newer image for
 * busybox:latest`); for push the route itself adds the `TAG: digest: D size: N` line and the
 * `aux` message of each pushed tag from the result.
 *
 * @example
 * const routes = imageTransferRoutes(undefined); // every route answers 501 until wired
 */
import { InvalidArgumentError } from '../../errors/index.ts';
import { isDigest } from '../../oci/digest.ts';
import type { Platform } from '../../oci/platform.ts';
import { parsePlatform } from '../../oci/platform.ts';
import {
  formatReference,
  parseNormalizedReference,
  trimReference,
  withDigest,
  withTag,
} from '../../oci/reference.ts';
import { MessageQueue } from '../json-stream.ts';
import { queryFilters, queryInt } from '../query-params.ts';
import { decodeRegistryAuth, type RegistryAuth, registryAuthFromJson } from '../registry-auth.ts';
import { json, type Reply, type RequestContext, type Route } from '../route.ts';
import type { Filters, JsonObject } from './json-types.ts';
import { requireBackend } from './seam.ts';

/** One progress message, as `src/distribution/progress.ts` produces them (Docker's JSONMessage). */
export interface ProgressMessage {
  id?: string;
  status: string;
  progressDetail?: { current: number; total?: number };
}

export interface PullRequest {
  /** Normalizable reference; without tag or digest when `allTags`. */
  reference: string;
  allTags: boolean;
  platform?: Platform;
  auth?: RegistryAuth;
  progress: (message: ProgressMessage) => void;
  signal: AbortSignal;
}

export interface PushRequest {
  /** The repository, with the tag to push, or none to push every local tag. */
  reference: string;
  allTags: boolean;
  auth?: RegistryAuth;
  progress: (message: ProgressMessage) => void;
  signal: AbortSignal;
}

export interface ImageTransferBackend {
  pull(request: PullRequest): Promise<{ references: string[]; ids: string[] }>;
  push(request: PushRequest): Promise<{ pushed: Array<{ tag: string; digest: string; size: number }> }>;
  /** Checks credentials against the registry (`serveraddress`; Docker Hub when empty). */
  login(auth: RegistryAuth, signal: AbortSignal): Promise<{ Status: string; IdentityToken?: string }>;
  /** Docker's ImageSearchResponseItem list. */
  search(
    term: string,
    options: { limit?: number; filters: Filters; auth?: RegistryAuth; signal: AbortSignal },
  ): Promise<JsonObject[]>;
}

const SERVICE = 'image transfer (registry client)';

/** `POST /images/create?fromImage=NAME&tag=TAG`: Docker's rules for what gets pulled. */
export function pullReply(context: RequestContext, backend: ImageTransferBackend | undefined): Reply {
  const transfer = requireBackend(backend, 'pull images', SERVICE);
  const fromImage = context.query.get('fromImage') ?? '';
  const tag = context.query.get('tag') ?? '';
  let reference = parseNormalizedReference(fromImage);
  if (tag !== '') {
    // the tag parameter may hold a digest (`docker pull busybox@sha256:…` sends it there)
    reference = isDigest(tag) ? withDigest(trimReference(reference), tag) : withTag(reference, tag);
  }
  const allTags = reference.tag === undefined && reference.digest === undefined;
  const platformText = context.query.get('platform') ?? '';
  const platform = platformText !== '' ? parsePlatform(platformText) : undefined;
  const auth = decodeRegistryAuth(context.headers['x-registry-auth']);
  const name = formatReference(reference);
  return {
    kind: 'json-stream',
    produce: async (out) => {
      const queue = new MessageQueue(out);
      await transfer.pull({
        reference: name,
        allTags,
        ...(platform ? { platform } : {}),
        ...(auth ? { auth } : {}),
        progress: (message) => queue.push(message),
        signal: out.signal,
      });
      await queue.flush();
    },
  };
}

export function imageTransferRoutes(backend: ImageTransferBackend | undefined): Route[] {
  return [
    {
      method: 'GET',
      path: '/images/search',
      handler: async (context) => {
        const transfer = requireBackend(backend, 'search images', SERVICE);
        const term = context.query.get('term') ?? '';
        if (term === '') throw new InvalidArgumentError('Cannot search images: term is required');
        const limit = queryInt(context.query, 'limit');
        const auth = decodeRegistryAuth(context.headers['x-registry-auth']);
        return json(
          await transfer.search(term, {
            ...(limit !== undefined ? { limit } : {}),
            filters: queryFilters(context.query),
            ...(auth ? { auth } : {}),
            signal: context.signal,
          }),
        );
      },
    },
    {
      method: 'POST',
      path: '/images/{name:.+}/push',
      handler: (context) => {
        const transfer = requireBackend(backend, 'push images', SERVICE);
        const tag = context.query.get('tag') ?? '';
        const base = parseNormalizedReference(context.params.name!);
        const reference = tag !== '' ? withTag(base, tag) : base;
        const auth = decodeRegistryAuth(context.headers['x-registry-auth']);
        const name = formatReference(reference);
        return {
          kind: 'json-stream',
          produce: async (out) => {
            const queue = new MessageQueue(out);
            const result = await transfer.push({
              reference: name,
              allTags: reference.tag === undefined,
              ...(auth ? { auth } : {}),
              progress: (message) => queue.push(message),
              signal: out.signal,
            });
            for (const pushed of result.pushed) {
              queue.push({ status: `${pushed.tag}: digest: ${pushed.digest} size: ${pushed.size}` });
              queue.push({
                progressDetail: {},
                aux: { Tag: pushed.tag, Digest: pushed.digest, Size: pushed.size },
              });
            }
            await queue.flush();
          },
        };
      },
    },
    {
      method: 'POST',
      path: '/auth',
      handler: async (context) => {
        const transfer = requireBackend(backend, 'log in', SERVICE);
        const auth = registryAuthFromJson(await context.json());
        if (!auth?.username && !auth?.identitytoken) {
          throw new InvalidArgumentError('Cannot log in: username and password are required');
        }
        return json(await transfer.login(auth, context.signal));
      },
    },
  ];
}
