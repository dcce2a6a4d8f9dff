/**
 * `pull`, `push`, `login` and `search`: the registry client (src/distribution) joined to the
 * local stores (content, images, snapshots).
 *
 * Pull: resolve the reference (platform chosen from an index), fetch the config, then for each
 * layer whose diffID the content store lacks, download it (a few at once), verifying the
 * compressed digest at the end of the stream and the diffID of the decompressed bytes before the
 * content store commits the uncompressed layer; while layers arrive, unpack them in order into
 * snapshots named by chain ID; last, record the image with its tag and repo digest. Bytes received
 * are also appended to a partial file per blob, so a pull that is killed resumes with `Range` from
 * where it stopped, and layers already committed are not fetched again ("Already exists").
 *
 * Push: local layers are stored uncompressed. Each is sent gzip-compressed (level 1, several
 * threads) through one streamed PATCH, hashed on the way; the compressed digest is remembered in a
 * label of the layer's blob, with the repositories it is known in, so a later push HEADs it
 * ("Layer already exists") or mounts it from a sibling repository ("Mounted from …") without
 * compressing again. Then the config and an OCI manifest; the manifest digest becomes a repo
 * digest of the image, as `docker push` prints it.
 *
 *   $root/distribution/
 *   └── partial/
 *       ├── <alg>-<hex>          compressed bytes of a blob received so far (resume point)
 *       └── <alg>-<hex>.lock     pid of the process appending to it
 *
 * @example
 * const transfer = await openImageTransferService(engine);
 * const result = await transfer.pull('localhost:5000/app:1', { progress: (e) => renderer.write(e) });
 * result.reference; // 'localhost:5000/app:1'
 */
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { mkdir, open, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { setImmediate as setImmediatePromise } from 'node:timers/promises';
import type { ContentStore } from '../content/content-store.ts';
import { CredentialStore } from '../distribution/credential-store.ts';
import { HttpTransport } from '../distribution/http-transport.ts';
import { type ResolvedImage, resolveImage } from '../distribution/image-resolver.ts';
import { LayerProgress, type ProgressSink, shortLayerId, silentProgress } from '../distribution/progress.ts';
import { gzipForPush } from '../distribution/push-compressor.ts';
import type { CredentialsLookup } from '../distribution/registry-authorizer.ts';
import { RegistryClient } from '../distribution/registry-client.ts';
import { rephraseError } from '../distribution/registry-errors.ts';
import { verifyContent } from '../distribution/verify-content.ts';
import { FailedPreconditionError, InvalidArgumentError, isErrno, NotFoundError } from '../errors/index.ts';
import type { ImageStore } from '../image/image-store.ts';
import { detectCompression, openDecompressed } from '../image/layer/compression.ts';
import { unpackLayers } from '../image/layer/unpack.ts';
import type { LeaseStore } from '../metadata/lease-store.ts';
import type { Descriptor } from '../oci/descriptor.ts';
import type { Digest } from '../oci/digest.ts';
import type { OciManifest } from '../oci/manifest.ts';
import { MediaType } from '../oci/media-types.ts';
import type { Platform } from '../oci/platform.ts';
import {
  familiarName,
  familiarString,
  formatReference,
  parseNormalizedReference,
  type Reference,
  referenceName,
  withDefaultTag,
  withTag,
} from '../oci/reference.ts';
import type { Snapshotter } from '../snapshot/snapshotter.ts';
import { isProcessAlive } from '../util/process-alive.ts';
import type { LocalEngine } from './local-engine.ts';

/** Label on an uncompressed layer blob: the compressed blob a registry knows it as (JSON descriptor). */
export const COMPRESSED_LABEL = 'wharf.io/distribution.compressed';
/** containerd's label naming the repositories of a registry that hold a blob (comma-separated). */
export const SOURCE_LABEL_PREFIX = 'containerd.io/distribution.source.';

/** Docker's defaults: `max-concurrent-downloads` 3, `max-concurrent-uploads` 5. */
const DEFAULT_DOWNLOADS = 3;
const DEFAULT_UPLOADS = 5;
/** Read size when a committed layer is handed to the unpacker. */
const EXTRACT_BLOCK = 1024 * 1024;
/** Bytes handed to the unpacker between two turns of the event loop. */
const EXTRACT_TURN = 4 * EXTRACT_BLOCK;
/** Bytes a download may run ahead of its partial file. */
const PARTIAL_LAG = 4 * 1024 * 1024;

export interface ImageTransferOptions {
  root: string;
  content: ContentStore;
  images: ImageStore;
  leases: LeaseStore;
  /** Unpacks pulled layers into snapshots when given. */
  snapshotter?: Snapshotter;
  /** Close the snapshotter with the service (it was opened for it). */
  ownsSnapshotter?: boolean;
  /** Registry credentials (default: Docker's config.json through CredentialStore). */
  credentials?: CredentialsLookup;
  /** Registries reached over plain HTTP besides loopback ones (default: `$WHARF_INSECURE_REGISTRIES`). */
  insecureRegistries?: readonly string[];
}

export interface PullOptions {
  platform?: Platform;
  /** Pull every tag of the repository (`-a`). */
  allTags?: boolean;
  progress?: ProgressSink;
  signal?: AbortSignal;
  concurrency?: number;
}

export interface PullResult {
  /** The references pulled, as Docker prints them last (`localhost:5000/a:latest`). */
  references: string[];
  /** Image ids, in the same order. */
  ids: string[];
}

export interface PushOptions {
  /** Push every local tag of the repository (`-a`). */
  allTags?: boolean;
  /**
   * How new layers go out: `gzip` (default, what every registry and client expects) or `none`
   * (`application/vnd.oci.image.layer.v1.tar`, no CPU spent, for fast local links).
   */
  compression?: 'gzip' | 'none';
  progress?: ProgressSink;
  signal?: AbortSignal;
  concurrency?: number;
}

export interface PushResult {
  pushed: Array<{ tag: string; digest: Digest; size: number }>;
}

export interface SearchResult {
  name: string;
  description: string;
  starCount: number;
  isOfficial: boolean;
}

interface CompressedBlob {
  digest: Digest;
  size: number;
  mediaType: string;
}

/** A layer the registry has (or could mount), or the upload session a refused mount opened. */
type FoundInRegistry = { blob: CompressedBlob } | { location: URL | undefined };

/** Runs `tasks` with at most `limit` at once; rejects with the first failure once all settled. */
async function runBounded<T>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < items.length && failure === undefined) {
      const index = next++;
      try {
        await task(items[index]!, index);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure;
}

function envInsecureRegistries(): string[] {
  return (process.env.WHARF_INSECURE_REGISTRIES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export class ImageTransferService {
  readonly #root: string;
  readonly #content: ContentStore;
  readonly #images: ImageStore;
  readonly #leases: LeaseStore;
  readonly #snapshotter: Snapshotter | undefined;
  readonly #ownsSnapshotter: boolean;
  readonly #credentials: CredentialsLookup;
  readonly #insecure: readonly string[];
  readonly #transport = new HttpTransport();
  readonly #clients = new Map<string, RegistryClient>();

  constructor(options: ImageTransferOptions) {
    this.#root = options.root;
    this.#content = options.content;
    this.#images = options.images;
    this.#leases = options.leases;
    this.#snapshotter = options.snapshotter;
    this.#ownsSnapshotter = options.ownsSnapshotter === true;
    const store = new CredentialStore();
    this.#credentials = options.credentials ?? ((domain) => store.get(domain));
    this.#insecure = options.insecureRegistries ?? envInsecureRegistries();
  }

  async close(): Promise<void> {
    this.#clients.clear();
    await this.#transport.close();
    if (this.#ownsSnapshotter) this.#snapshotter?.close();
  }

  #client(domain: string): RegistryClient {
    let client = this.#clients.get(domain);
    if (!client) {
      client = new RegistryClient({
        domain,
        credentials: this.#credentials,
        insecureRegistries: this.#insecure,
        transport: this.#transport,
      });
      this.#clients.set(domain, client);
    }
    return client;
  }

  // ---- pull ----

  /** `docker pull [--platform] [-a] REF`. */
  async pull(input: string, options: PullOptions = {}): Promise<PullResult> {
    const progress = options.progress ?? silentProgress;
    const parsed = parseNormalizedReference(input);
    if (options.allTags) {
      if (parsed.tag !== undefined || parsed.digest !== undefined) {
        throw new InvalidArgumentError(`Cannot pull ${input}: tag can't be used with --all-tags/-a`);
      }
      const client = this.#client(parsed.domain);
      let tags: string[];
      try {
        tags = await client.listTags(parsed.path, options.signal);
      } catch (error) {
        throw rephraseError(error, `pull ${referenceName(parsed)}`);
      }
      const result: PullResult = { references: [], ids: [] };
      for (const tag of tags.sort()) {
        const one = await this.#pullOne(withTag(parsed, tag), options, progress);
        this.#event('pull', withTag(parsed, tag));
        result.references.push(one.reference);
        result.ids.push(one.id);
      }
      return result;
    }
    if (parsed.tag === undefined && parsed.digest === undefined)
      progress({ status: 'Using default tag: latest' });
    const one = await this.#pullOne(withDefaultTag(parsed), options, progress);
    this.#event('pull', parsed.digest === undefined ? withDefaultTag(parsed) : parsed);
    return { references: [one.reference], ids: [one.id] };
  }

  async #pullOne(
    ref: Reference,
    options: PullOptions,
    progress: ProgressSink,
  ): Promise<{ reference: string; id: string }> {
    const display = familiarString(ref);
    const action = `pull ${formatReference(ref)}`;
    const client = this.#client(ref.domain);
    progress({
      id: ref.digest ?? ref.tag ?? 'latest',
      status: `Pulling from ${familiarName({ domain: 'docker.io', path: ref.path })}`,
    });
    let resolved: ResolvedImage;
    try {
      resolved = await resolveImage(client, ref, {
        ...(options.platform ? { platform: options.platform, strictPlatform: true } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      throw rephraseError(error, action);
    }
    const previous = ref.tag !== undefined ? this.#images.find(formatReference(ref))?.id : undefined;
    const lease = this.#leases.create({ expiresInMs: 60 * 60 * 1000 });
    let downloaded = 0;
    try {
      const diffIds = resolved.config.parsed.rootfs.diff_ids;
      const layers = resolved.manifest.parsed.layers;
      const bars = layers.map((layer) => new LayerProgress(progress, shortLayerId(layer.digest)));
      const present: boolean[] = [];
      for (const [i, diffId] of diffIds.entries()) {
        // held before the check, so GC cannot take it between the check and the image record
        this.#leases.addResource(lease.id, 'content', diffId);
        present[i] = await this.#content.exists(diffId);
      }
      const seen = new Set<string>();
      layers.forEach((_, i) => {
        const id = bars[i]!.id;
        if (seen.has(id)) return;
        seen.add(id);
        bars[i]!.status(present[i] ? 'Already exists' : 'Pulling fs layer');
      });

      // Downloads run a few at a time; each resolves when its uncompressed layer is committed.
      const done = new Map<number, Promise<void>>();
      const settle = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();
      for (const [i] of layers.entries()) {
        if (present[i]) continue;
        done.set(i, new Promise<void>((resolve, reject) => settle.set(i, { resolve, reject })));
        done.get(i)!.catch(() => {});
      }
      const missing = [...done.keys()];
      const downloads = runBounded(missing, options.concurrency ?? DEFAULT_DOWNLOADS, async (i) => {
        try {
          await this.#downloadLayer(
            client,
            ref.path,
            layers[i]!,
            diffIds[i]!,
            lease.id,
            bars[i]!,
            options.signal,
          );
          downloaded++;
          settle.get(i)!.resolve();
        } catch (error) {
          settle.get(i)!.reject(error);
          throw error;
        }
      });
      downloads.catch(() => {});

      const unpack = this.#snapshotter
        ? unpackLayers(
            this.#snapshotter,
            diffIds.map((diffID, i) => ({
              diffID,
              open: async () => {
                await done.get(i);
                return this.#extracting(diffID, bars[i]!);
              },
            })),
            {
              ...(options.signal ? { signal: options.signal } : {}),
              onProgress: ({ index }) => {
                // a downloaded layer whose snapshot was already there is complete too
                if (!present[index]) bars[index]!.status('Pull complete');
              },
            },
          )
        : undefined;
      if (!unpack) {
        for (const [i, promise] of done)
          promise.then(
            () => bars[i]!.status('Pull complete'),
            () => {},
          );
      }
      try {
        await downloads;
        await unpack;
      } catch (error) {
        await Promise.allSettled([downloads, unpack]);
        throw rephraseError(error, action);
      }

      const name = referenceName(ref);
      const sizes = await Promise.all(diffIds.map(async (diffId) => (await this.#content.info(diffId)).size));
      const created = await this.#images.createImage({
        config: resolved.config.bytes,
        layers: diffIds.map((diffId, i) => ({ digest: diffId, size: sizes[i]! })),
        lease: lease.id,
        ...(ref.tag !== undefined ? { tags: [formatReference(ref)] } : {}),
        ...(resolved.index ? { indexDigest: resolved.target.digest } : {}),
        repoDigests: [`${name}@${resolved.target.digest}`],
      });
      // remember where each layer came from, for cross-repository mounts on push
      await Promise.all(
        layers.map((layer, i) =>
          this.#rememberSource(diffIds[i]!, ref.domain, ref.path, compressedOf(layer)),
        ),
      );
      progress({ status: `Digest: ${resolved.target.digest}` });
      const upToDate = downloaded === 0 && previous === created.image.id;
      progress({
        status: upToDate
          ? `Status: Image is up to date for ${display}`
          : `Status: Downloaded newer image for ${display}`,
      });
      return { reference: formatReference(ref), id: created.image.id };
    } finally {
      this.#leases.delete(lease.id);
    }
  }

  /**
   * The committed layer for the unpacker, reported as `Extracting`. Read synchronously in 1 MiB
   * blocks, as the layer applier reads a file path: a stream's 64 KiB reads cost a thread-pool
   * round trip each, during which the applier has nothing to do. Every few MiB the event loop
   * gets a turn, so the downloads still running are not held up for a whole layer. A plain tar
   * (what the content store holds for pulled layers) is read into one reused buffer: the applier's
   * tar reader and hash are done with a chunk once they ask for the next one, and fresh 1 MiB
   * buffers cost a page fault per 4 KiB. A decompressor keeps its input, so a compressed blob
   * gets fresh ones.
   */
  async #extracting(diffId: Digest, bar: LayerProgress): Promise<AsyncIterable<Uint8Array>> {
    const total = (await this.#content.info(diffId)).size;
    const path = this.#content.blobPath(diffId);
    return (async function* () {
      const fd = openSync(path, 'r');
      try {
        let current = 0;
        let reused: Buffer | undefined;
        for (;;) {
          const block = reused ?? Buffer.allocUnsafeSlow(EXTRACT_BLOCK);
          const n = readSync(fd, block, 0, block.length, null);
          if (n === 0) return;
          if (current === 0 && detectCompression(block.subarray(0, n)) === 'none') reused = block;
          current += n;
          bar.bytes('Extracting', current, total);
          if (current % EXTRACT_TURN < n) await setImmediatePromise();
          yield n === block.length ? block : block.subarray(0, n);
        }
      } finally {
        closeSync(fd);
      }
    })();
  }

  /**
   * Downloads one compressed layer into the content store as its uncompressed diffID, resuming a
   * partial download left by an earlier attempt.
   */
  async #downloadLayer(
    client: RegistryClient,
    path: string,
    layer: Descriptor,
    diffId: Digest,
    lease: string,
    bar: LayerProgress,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const partialDir = join(this.#root, 'distribution', 'partial');
    await mkdir(partialDir, { recursive: true });
    const base = join(partialDir, `${layer.digest.replace(':', '-')}`);
    const partial = await PartialFile.acquire(base, layer.size);
    let verified = false;
    try {
      const source = partial.resumed(
        client.fetchBlob(path, layer, { offset: partial.offset, ...(signal ? { signal } : {}) }),
      );
      const checked = verifyContent(source, layer, {
        onProgress: (bytes) => bar.bytes('Downloading', bytes, layer.size),
      });
      const { chunks } = await openDecompressed(
        (async function* () {
          yield* checked;
          verified = true;
          bar.status('Verifying Checksum');
          bar.status('Download complete');
        })(),
      );
      await this.#content.ingest(chunks, {
        expected: diffId,
        lease,
        ...(signal ? { signal } : {}),
        labels: { [COMPRESSED_LABEL]: JSON.stringify(compressedOf(layer)) },
      });
      await partial.remove();
    } catch (error) {
      // complete bytes that did not verify (or did not give the diffID) are useless: start over next time
      if (verified || partial.offset + partial.appended >= layer.size) await partial.remove();
      throw error;
    } finally {
      await partial.release();
    }
  }

  async #rememberSource(
    diffId: Digest,
    domain: string,
    path: string,
    compressed?: CompressedBlob,
  ): Promise<void> {
    try {
      const info = await this.#content.info(diffId);
      const key = `${SOURCE_LABEL_PREFIX}${domain}`;
      const repos = new Set((info.labels[key] ?? '').split(',').filter(Boolean));
      repos.add(path);
      const labels: Record<string, string> = { [key]: [...repos].sort().join(',') };
      if (compressed) labels[COMPRESSED_LABEL] = JSON.stringify(compressed);
      await this.#content.updateLabels(diffId, labels);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
  }

  // ---- push ----

  /** `docker push [-a] REF`. */
  async push(input: string, options: PushOptions = {}): Promise<PushResult> {
    const progress = options.progress ?? silentProgress;
    const parsed = parseNormalizedReference(input);
    if (parsed.digest !== undefined) {
      throw new InvalidArgumentError(`Cannot push ${input}: cannot push a digest reference`);
    }
    let tags: string[];
    if (options.allTags) {
      if (parsed.tag !== undefined)
        throw new InvalidArgumentError(`Cannot push ${input}: tag can't be used with --all-tags/-a`);
      const prefix = `${referenceName(parsed)}:`;
      tags = this.#images.records
        .allTags()
        .map((t) => t.reference)
        .filter((reference) => reference.startsWith(prefix))
        .map((reference) => reference.slice(prefix.length))
        .sort();
      if (tags.length === 0)
        throw new NotFoundError(
          `Cannot push ${input}: An image does not exist locally with the tag: ${familiarName(parsed)}`,
        );
    } else {
      if (parsed.tag === undefined) progress({ status: 'Using default tag: latest' });
      tags = [parsed.tag ?? 'latest'];
    }
    progress({ status: `The push refers to repository [${referenceName(parsed)}]` });
    const result: PushResult = { pushed: [] };
    for (const tag of tags) {
      result.pushed.push(await this.#pushOne(withTag(parsed, tag), options, progress));
      this.#event('push', withTag(parsed, tag));
    }
    return result;
  }

  /** Docker's pull and push events: the actor is the reference as the user writes it, `name` its repository. */
  #event(action: 'pull' | 'push', reference: Reference): void {
    this.#images.recordEvent(action, familiarString(reference), familiarName(reference));
  }

  async #pushOne(
    ref: Reference,
    options: PushOptions,
    progress: ProgressSink,
  ): Promise<{ tag: string; digest: Digest; size: number }> {
    const action = `push ${formatReference(ref)}`;
    const image = this.#images.find(formatReference(ref));
    if (!image) {
      throw new NotFoundError(
        `Cannot ${action}: An image does not exist locally with the tag: ${familiarString(ref)}`,
      );
    }
    const client = this.#client(ref.domain);
    const layers = await this.#images.layers(image.id);
    const configBytes = await this.#images.configBytes(image.id);
    const bars = layers.map((layer) => new LayerProgress(progress, shortLayerId(layer.diffId)));
    // the top layer first, as Docker lists them
    const order = layers.map((_, i) => layers.length - 1 - i);
    const shown = new Set<string>();
    for (const i of order) {
      if (shown.has(bars[i]!.id)) continue;
      shown.add(bars[i]!.id);
      bars[i]!.status('Preparing');
    }
    const pushed: CompressedBlob[] = [];
    const inFlight = new Map<Digest, Promise<CompressedBlob>>();
    const compression = options.compression ?? 'gzip';
    // Layers are compressed side by side, each on its share of the CPUs when it starts: more
    // blocks in flight than cores compress no faster and only cost threads and memory.
    const cpus = availableParallelism();
    let compressing = 0;
    const pushLayer = async (layer: (typeof layers)[number], bar: LayerProgress): Promise<CompressedBlob> => {
      const found = await this.#findInRegistry(client, ref, layer.diffId, bar, compression, options.signal);
      if ('blob' in found) return found.blob;
      compressing++;
      try {
        const threads = Math.max(1, Math.floor(cpus / compressing));
        return await this.#uploadLayer(client, ref, layer.diffId, bar, {
          compression,
          threads,
          location: found.location,
          signal: options.signal,
        });
      } finally {
        compressing--;
      }
    };
    const config = {
      mediaType: MediaType.OciConfig,
      digest: image.id as Digest,
      size: configBytes.byteLength,
    };
    // the config goes up beside the layers: it needs nothing from them
    const configPushed = (async () => {
      const stat = await client.statBlob(ref.path, config.digest, {
        push: true,
        ...signalOf(options.signal),
      });
      if (stat === undefined) {
        await client.pushBlob(ref.path, configBytes, { digest: config.digest, ...signalOf(options.signal) });
      }
    })();
    configPushed.catch(() => {}); // awaited below; a layer failing first must not leave it unhandled
    try {
      await runBounded(order, options.concurrency ?? DEFAULT_UPLOADS, async (i) => {
        const layer = layers[i]!;
        // the same layer twice in one image: push once
        let job = inFlight.get(layer.diffId);
        if (!job) {
          job = pushLayer(layer, bars[i]!);
          inFlight.set(layer.diffId, job);
        }
        pushed[i] = await job;
      });
      await configPushed;
      const manifest: OciManifest = {
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config,
        layers: pushed.map((blob) => ({ mediaType: blob.mediaType, digest: blob.digest, size: blob.size })),
      };
      const bytes = Buffer.from(JSON.stringify(manifest));
      const digest = await client.putManifest(
        ref.path,
        ref.tag ?? 'latest',
        bytes,
        MediaType.OciManifest,
        options.signal,
      );
      this.#images.records.addRepoDigest(`${referenceName(ref)}@${digest}`, image.id);
      progress({ status: `${ref.tag ?? 'latest'}: digest: ${digest} size: ${bytes.byteLength}` });
      return { tag: ref.tag ?? 'latest', digest, size: bytes.byteLength };
    } catch (error) {
      throw rephraseError(error, action);
    }
  }

  /**
   * What the registry already has of one local layer: its compressed form in the repository
   * ("Layer already exists") or mountable from a sibling repository ("Mounted from NAME"); else
   * the upload session a refused mount opened, if any.
   */
  async #findInRegistry(
    client: RegistryClient,
    ref: Reference,
    diffId: Digest,
    bar: LayerProgress,
    compression: 'gzip' | 'none',
    signal: AbortSignal | undefined,
  ): Promise<FoundInRegistry> {
    const info = await this.#content.info(diffId);
    const known =
      compression === 'none'
        ? { digest: diffId, size: info.size, mediaType: MediaType.OciLayer }
        : parseCompressed(info.labels[COMPRESSED_LABEL]);
    if (!known) return { location: undefined };
    if ((await client.statBlob(ref.path, known.digest, { push: true, ...signalOf(signal) })) !== undefined) {
      bar.status('Layer already exists');
      await this.#rememberSource(diffId, ref.domain, ref.path, known);
      return { blob: known };
    }
    const sources = (info.labels[`${SOURCE_LABEL_PREFIX}${ref.domain}`] ?? '')
      .split(',')
      .filter((p) => p && p !== ref.path);
    for (const from of sources) {
      const mount = await client.mountBlob(ref.path, known.digest, from, signal).catch(() => undefined);
      if (mount?.mounted) {
        bar.status(`Mounted from ${from}`);
        await this.#rememberSource(diffId, ref.domain, ref.path, known);
        return { blob: known };
      }
      if (mount && !mount.mounted && mount.location) return { location: mount.location };
    }
    return { location: undefined };
  }

  /** Uploads one local layer (gzip-compressed on `threads` threads, or as it is); returns its descriptor. */
  async #uploadLayer(
    client: RegistryClient,
    ref: Reference,
    diffId: Digest,
    bar: LayerProgress,
    options: {
      compression: 'gzip' | 'none';
      threads: number;
      location: URL | undefined;
      signal: AbortSignal | undefined;
    },
  ): Promise<CompressedBlob> {
    const { compression, location, signal } = options;
    const total = (await this.#content.info(diffId)).size;
    let read = 0;
    // whole 1 MiB reads: the compressor works in 1 MiB blocks, so no re-joining of small chunks
    const source = createReadStream(this.#content.blobPath(diffId), { highWaterMark: 1024 * 1024 });
    const counted = (async function* () {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        read += chunk.byteLength;
        bar.bytes('Pushing', read, total);
        yield chunk;
      }
    })();
    const body = compression === 'none' ? counted : gzipForPush(counted, { concurrency: options.threads });
    const blob = await client.pushBlob(ref.path, body, {
      mode: 'stream',
      ...(compression === 'none' ? { digest: diffId, size: total } : {}),
      ...(location ? { location } : {}),
      ...signalOf(signal),
    });
    bar.status('Pushed');
    if (compression === 'none') {
      await this.#rememberSource(diffId, ref.domain, ref.path);
      return { digest: blob.digest, size: blob.size, mediaType: MediaType.OciLayer };
    }
    const compressed: CompressedBlob = {
      digest: blob.digest,
      size: blob.size,
      mediaType: MediaType.OciLayerGzip,
    };
    await this.#rememberSource(diffId, ref.domain, ref.path, compressed);
    return compressed;
  }

  // ---- login, search ----

  /**
   * Checks credentials against a registry, as `docker login` does before saving them. Throws
   * PermissionDeniedError when refused.
   */
  async checkLogin(domain: string, credentials: { username: string; password: string }): Promise<void> {
    const client = new RegistryClient({
      domain,
      credentials: async () => credentials,
      insecureRegistries: this.#insecure,
      transport: this.#transport,
    });
    try {
      await client.ping();
    } catch (error) {
      throw rephraseError(error, `log in to ${domain}`);
    }
  }

  /**
   * `docker search REGISTRY/TERM` against a registry's catalog: repositories whose name contains
   * the term (every repository for an empty term).
   */
  async search(
    term: string,
    options: { limit?: number; signal?: AbortSignal } = {},
  ): Promise<SearchResult[]> {
    const slash = term.indexOf('/');
    const first = slash < 0 ? '' : term.slice(0, slash);
    const isDomain = first.includes('.') || first.includes(':') || first === 'localhost';
    const domain = isDomain ? first : 'docker.io';
    const needle = (isDomain ? term.slice(slash + 1) : term).toLowerCase();
    let repositories: string[];
    try {
      repositories = await this.#client(domain).catalog(options.signal);
    } catch (error) {
      throw rephraseError(error, `search ${domain}`);
    }
    const limit = options.limit ?? 25;
    return repositories
      .filter((name) => name.toLowerCase().includes(needle))
      .slice(0, limit)
      .map((name) => ({
        name: domain === 'docker.io' ? name : `${domain}/${name}`,
        description: '',
        starCount: 0,
        isOfficial: false,
      }));
  }
}

function signalOf(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}

function compressedOf(layer: Descriptor): CompressedBlob {
  return { digest: layer.digest, size: layer.size, mediaType: layer.mediaType };
}

function parseCompressed(value: string | undefined): CompressedBlob | undefined {
  if (!value) return undefined;
  try {
    const parsed = JSON.parse(value) as Partial<CompressedBlob>;
    if (
      typeof parsed.digest === 'string' &&
      typeof parsed.size === 'number' &&
      typeof parsed.mediaType === 'string'
    ) {
      return parsed as CompressedBlob;
    }
  } catch {
    // a label written by something else: ignore it
  }
  return undefined;
}

/**
 * The bytes of one blob received so far, kept in a file so a later attempt resumes from its end.
 * A lock file with the owner's pid keeps two processes from appending to the same file; a second
 * process meanwhile downloads without one (from the start).
 */
class PartialFile {
  readonly #path: string | undefined;
  readonly #lock: string | undefined;
  readonly offset: number;
  appended = 0;

  private constructor(path: string | undefined, lock: string | undefined, offset: number) {
    this.#path = path;
    this.#lock = lock;
    this.offset = offset;
  }

  static async acquire(base: string, size: number): Promise<PartialFile> {
    const lock = `${base}.lock`;
    if (!(await takeLock(lock))) return new PartialFile(undefined, undefined, 0);
    let offset = 0;
    try {
      offset = (await stat(base)).size;
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw error;
    }
    if (offset > size) {
      await truncate(base, 0);
      offset = 0;
    }
    return new PartialFile(base, lock, offset);
  }

  /** The saved bytes, then `rest` (appended to the file as it passes). */
  async *resumed(rest: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    if (!this.#path) {
      yield* rest;
      return;
    }
    if (this.offset > 0) {
      for await (const chunk of createReadStream(this.#path, {
        end: this.offset - 1,
        highWaterMark: 1024 * 1024,
      })) {
        yield chunk as Buffer;
      }
    }
    const handle = await open(this.#path, 'a');
    // Appends run behind the stream, in order (the file stays a prefix of the blob); the stream
    // waits only when more than PARTIAL_LAG bytes are not written yet, instead of for every chunk.
    let writing: Promise<void> = Promise.resolve();
    let unwritten = 0;
    try {
      for await (const chunk of rest) {
        unwritten += chunk.byteLength;
        writing = writing.then(async () => {
          let offset = 0;
          while (offset < chunk.byteLength) {
            offset += (await handle.write(chunk, offset, chunk.byteLength - offset)).bytesWritten;
          }
          this.appended += chunk.byteLength;
          unwritten -= chunk.byteLength;
        });
        writing.catch(() => {}); // seen when awaited below; never an unhandled rejection meanwhile
        if (unwritten > PARTIAL_LAG) await writing;
        yield chunk;
      }
      await writing;
    } finally {
      await writing.catch(() => {});
      await handle.close();
    }
  }

  async remove(): Promise<void> {
    if (this.#path) await rm(this.#path, { force: true });
  }

  async release(): Promise<void> {
    if (this.#lock) await rm(this.#lock, { force: true });
  }
}

async function takeLock(lock: string): Promise<boolean> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(lock, String(process.pid), { flag: 'wx' });
      return true;
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) throw error;
      const owner = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isProcessAlive(owner))
        return false;
      await rm(lock, { force: true }); // left by a process that is gone
    }
  }
  return false;
}

/**
 * The transfer service over a local engine's stores. Pulled layers are unpacked into the engine's
 * snapshotter when it has one, else into the overlay snapshotter at its documented place
 * (`$root/snapshots/overlay`, native where the kernel lacks overlayfs), which is closed with the
 * service.
 *
 * @example
 * const transfer = await openImageTransferService(engine);
 * try { await transfer.pull('localhost:5000/app'); } finally { await transfer.close(); }
 */
export async function openImageTransferService(
  engine: Pick<LocalEngine, 'root' | 'content' | 'leases' | 'images'> & { snapshotter?: Snapshotter },
  options: Partial<ImageTransferOptions> & { unpack?: boolean } = {},
): Promise<ImageTransferService> {
  let snapshotter = options.snapshotter ?? engine.snapshotter;
  let owned: Snapshotter | undefined;
  if (!snapshotter && options.unpack !== false) {
    const { OverlaySnapshotter } = await import('../snapshot/overlay/overlay-snapshotter.ts');
    try {
      owned = await OverlaySnapshotter.open(join(engine.root, 'snapshots', 'overlay'));
    } catch (error) {
      if (!(error instanceof FailedPreconditionError)) throw error;
      const { NativeSnapshotter } = await import('../snapshot/native/native-snapshotter.ts');
      owned = await NativeSnapshotter.open(join(engine.root, 'snapshots', 'native'));
    }
    snapshotter = owned;
  }
  const service = new ImageTransferService({
    root: engine.root,
    content: engine.content,
    images: engine.images.store,
    leases: engine.leases,
    ...(snapshotter ? { snapshotter, ownsSnapshotter: owned !== undefined } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...(options.insecureRegistries ? { insecureRegistries: options.insecureRegistries } : {}),
  });
  return service;
}
