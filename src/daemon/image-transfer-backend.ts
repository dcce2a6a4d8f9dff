/**
 * The registry side of the Engine API (`images/create?fromImage=`, `images/NAME/push`, `/auth`,
 * `images/search`) over the engine's image transfer service.
 *
 * Credentials are the request's, never the daemon's: dockerd reads no config.json, the client
 * sends what it holds for the registry in `X-Registry-Auth` (or in the `/auth` body). The
 * transfer service remembers credentials and bearer tokens per registry for its lifetime, so each
 * request gets a service of its own whose credential lookup answers with that request's
 * credentials alone; a request without them stays anonymous even after another request with
 * credentials for the same registry. What such a service costs is an HTTP agent; the stores and
 * the snapshotter (opened once, on the first pull) are shared.
 *
 * @example
 * const transfer = new DaemonImageTransfer(engine);
 * await transfer.pull({ reference: 'localhost:5000/app:1', allTags: false, auth, progress, signal });
 */
import type { RegistryCredentials } from '../distribution/credential-store.ts';
import type { CredentialsLookup } from '../distribution/registry-authorizer.ts';
import { domainOfKey } from '../distribution/registry-endpoint.ts';
import { type ImageTransferService, openImageTransferService } from '../engine/image-transfer-service.ts';
import type { LocalEngine } from '../engine/local-engine.ts';
import type { RegistryAuth } from '../engine-api/registry-auth.ts';
import type {
  ImageTransferBackend,
  ProgressMessage,
  PullRequest,
  PushRequest,
} from '../engine-api/routes/image-transfer-routes.ts';
import type { Filters, JsonObject } from '../engine-api/routes/json-types.ts';
import { FailedPreconditionError, InvalidArgumentError } from '../errors/index.ts';
import type { Snapshotter } from '../snapshot/snapshotter.ts';

/** The push route sends the `TAG: digest: D size: N` line itself, from the result. */
const PUSHED_LINE = /^[\w][\w.-]*: digest: [a-z0-9]+:[0-9a-f]+ size: \d+$/;

/** The credentials of one request, for every registry it reaches (Docker sends one per request). */
export function requestCredentials(auth: RegistryAuth | undefined): CredentialsLookup {
  let credentials: RegistryCredentials | undefined;
  if (auth?.identitytoken) {
    credentials = { username: auth.username ?? '', password: '', identityToken: auth.identitytoken };
  } else if (auth?.username !== undefined && auth.password !== undefined) {
    credentials = { username: auth.username, password: auth.password };
  }
  return async () => credentials;
}

/** Docker's search filters (`stars`, `is-official`, `is-automated`) on a result. */
function matchesSearchFilters(result: JsonObject, filters: Filters): boolean {
  for (const [key, values] of Object.entries(filters)) {
    for (const value of values) {
      if (key === 'stars') {
        const least = Number(value);
        if (!Number.isInteger(least)) {
          throw new InvalidArgumentError(`Cannot search images: invalid filter 'stars=${value}'`);
        }
        if ((result.star_count as number) < least) return false;
      } else if (key === 'is-official' || key === 'is-automated') {
        if (value !== 'true' && value !== 'false') {
          throw new InvalidArgumentError(`Cannot search images: invalid filter '${key}=${value}'`);
        }
        const field = key === 'is-official' ? 'is_official' : 'is_automated';
        if (result[field] !== (value === 'true')) return false;
      } else {
        throw new InvalidArgumentError(`Cannot search images: invalid filter '${key}'`);
      }
    }
  }
  return true;
}

export class DaemonImageTransfer implements ImageTransferBackend {
  readonly #engine: LocalEngine;
  #snapshotter: Promise<Snapshotter> | undefined;

  constructor(engine: LocalEngine) {
    this.#engine = engine;
  }

  /** The snapshotter pulled layers are unpacked into: the root's overlay one, as containers use. */
  #openSnapshotter(): Promise<Snapshotter> {
    this.#snapshotter ??= (async () => {
      const { openRootSnapshotter } = await import('../engine/containers-service.ts');
      try {
        return await openRootSnapshotter(this.#engine.root);
      } catch (error) {
        if (!(error instanceof FailedPreconditionError)) throw error;
        const { NativeSnapshotter } = await import('../snapshot/native/native-snapshotter.ts');
        const { join } = await import('node:path');
        return NativeSnapshotter.open(join(this.#engine.root, 'snapshots', 'native'));
      }
    })();
    this.#snapshotter.catch(() => {
      this.#snapshotter = undefined;
    });
    return this.#snapshotter;
  }

  async #withService<T>(
    auth: RegistryAuth | undefined,
    options: { unpack: boolean },
    work: (service: ImageTransferService) => Promise<T>,
  ): Promise<T> {
    const snapshotter = options.unpack ? await this.#openSnapshotter() : undefined;
    const service = await openImageTransferService(this.#engine, {
      credentials: requestCredentials(auth),
      ...(snapshotter ? { snapshotter } : { unpack: false }),
    });
    try {
      return await work(service);
    } finally {
      await service.close();
    }
  }

  /**
   * The messages before the first layer's (`Pulling from NAME`) are held until the image is
   * resolved, so a pull refused by the registry or naming no image fails before anything was
   * sent, with an HTTP status of its own, as dockerd answers.
   */
  async pull(request: PullRequest): Promise<{ references: string[]; ids: string[] }> {
    let held: ProgressMessage[] | undefined = [];
    const release = () => {
      for (const message of held ?? []) request.progress(message);
      held = undefined;
    };
    const result = await this.#withService(request.auth, { unpack: true }, (service) =>
      service.pull(request.reference, {
        allTags: request.allTags,
        ...(request.platform ? { platform: request.platform } : {}),
        progress: (event) => {
          if (held && !/^[0-9a-f]{12}$/.test(event.id ?? '')) {
            held.push(event);
            return;
          }
          release();
          request.progress(event);
        },
        signal: request.signal,
      }),
    );
    release();
    return result;
  }

  push(request: PushRequest): Promise<{ pushed: Array<{ tag: string; digest: string; size: number }> }> {
    return this.#withService(request.auth, { unpack: false }, (service) =>
      service.push(request.reference, {
        allTags: request.allTags,
        progress: (event: ProgressMessage) => {
          if (event.id === undefined && PUSHED_LINE.test(event.status)) return;
          request.progress(event);
        },
        signal: request.signal,
      }),
    );
  }

  /** `docker login`: the credentials are tried against the registry, nothing is stored here. */
  async login(auth: RegistryAuth, signal: AbortSignal): Promise<{ Status: string; IdentityToken?: string }> {
    signal.throwIfAborted();
    if (auth.username === undefined || auth.password === undefined) {
      throw new InvalidArgumentError('Cannot log in: a username and a password are required');
    }
    const domain = auth.serveraddress ? domainOfKey(auth.serveraddress) : 'docker.io';
    const credentials = { username: auth.username, password: auth.password };
    await this.#withService(undefined, { unpack: false }, (service) =>
      service.checkLogin(domain, credentials),
    );
    return { Status: 'Login Succeeded', IdentityToken: '' };
  }

  /** `docker search [REGISTRY/]TERM`: the registry's catalog, in Docker's result shape. */
  async search(
    term: string,
    options: { limit?: number; filters: Filters; auth?: RegistryAuth; signal: AbortSignal },
  ): Promise<JsonObject[]> {
    const limit = options.limit !== undefined && options.limit > 0 ? options.limit : 25;
    if (limit > 100) {
      throw new InvalidArgumentError(`Cannot search images: limit ${limit} is outside the range of [1, 100]`);
    }
    const results = await this.#withService(options.auth, { unpack: false }, (service) =>
      // filters drop results after the catalog is read: ask for all, cut at the limit after
      service.search(term, { limit: Number.MAX_SAFE_INTEGER, signal: options.signal }),
    );
    return results
      .map(
        (result): JsonObject => ({
          name: result.name,
          description: result.description,
          star_count: result.starCount,
          is_official: result.isOfficial,
          is_automated: false,
        }),
      )
      .filter((result) => matchesSearchFilters(result, options.filters))
      .slice(0, limit);
  }
}
