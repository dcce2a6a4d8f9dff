/**
 * A running registry: the storage directory (locked to this process), the filesystem driver, the
 * SQLite metadata, the services and the HTTP app, wired together. Start-up recovers from a crash
 * before serving: the driver drops its temp files, open upload sessions whose bytes are present
 * are kept for their clients to resume, the rest are swept. The storage directory:
 *
 *   <storage>/
 *   ├── registry.lock        pid of the server using it
 *   ├── metadata.db (-wal, -shm)   SQLite metadata (metadata/sqlite-metadata-store.ts)
 *   └── content/             the filesystem StorageDriver's root (storage/layout.ts)
 *
 * @example
 * const server = await RegistryServer.start({ storage: '/tmp/reg', host: '127.0.0.1', port: 0 });
 * console.log(server.url); // http://127.0.0.1:41234
 * await server.close();
 */
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { BlobService } from './blob-service.ts';
import { DEFAULT_UPLOAD_MAX_AGE_HOURS } from './config.ts';
import { type AuthorizeHook, buildRegistryApp } from './http/registry-app.ts';
import { KeyedMutex } from './keyed-mutex.ts';
import { ManifestService } from './manifest-service.ts';
import type { MetadataStore } from './metadata/metadata-store.ts';
import { SqliteMetadataStore } from './metadata/sqlite-metadata-store.ts';
import { FilesystemDriver } from './storage/filesystem-driver.ts';
import { acquireStorageLock, type StorageLock } from './storage-lock.ts';
import { type RecoveryReport, UploadManager } from './upload-manager.ts';

export interface RegistryServerOptions {
  /** The storage directory (created if missing). */
  storage: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  logger?: Logger;
  /** Upload sessions idle longer than this are removed (default 7 days). */
  uploadMaxAgeMs?: number;
  /** Access control; absent: open to anonymous push and pull. */
  authorize?: AuthorizeHook;
}

const PURGE_INTERVAL_MS = 60 * 60 * 1000;
const CLOSE_GRACE_MS = 10_000;

export class RegistryServer {
  readonly #app: FastifyInstance;
  readonly #metadata: MetadataStore;
  readonly #lock: StorageLock;
  readonly #purgeTimer: NodeJS.Timeout;
  readonly recovery: RecoveryReport;
  #closed = false;

  private constructor(
    app: FastifyInstance,
    metadata: MetadataStore,
    lock: StorageLock,
    purgeTimer: NodeJS.Timeout,
    recovery: RecoveryReport,
  ) {
    this.#app = app;
    this.#metadata = metadata;
    this.#lock = lock;
    this.#purgeTimer = purgeTimer;
    this.recovery = recovery;
  }

  static async start(options: RegistryServerOptions): Promise<RegistryServer> {
    await mkdir(options.storage, { recursive: true });
    const lock = await acquireStorageLock(options.storage);
    let metadata: MetadataStore | undefined;
    try {
      const driver = await FilesystemDriver.open(join(options.storage, 'content'));
      metadata = SqliteMetadataStore.open(join(options.storage, 'metadata.db'));
      const locks = new KeyedMutex();
      const blobs = new BlobService(driver, metadata, locks);
      const uploads = new UploadManager(driver, metadata, blobs);
      const manifests = new ManifestService(driver, metadata, locks);
      const maxAgeMs = options.uploadMaxAgeMs ?? DEFAULT_UPLOAD_MAX_AGE_HOURS * 3600 * 1000;
      const recovery = await uploads.recover({ maxAgeMs });
      const appOptions: Parameters<typeof buildRegistryApp>[0] = {
        context: { blobs, uploads, manifests, metadata },
      };
      if (options.logger) appOptions.logger = options.logger;
      if (options.authorize) appOptions.authorize = options.authorize;
      const app = await buildRegistryApp(appOptions);
      await app.listen({ host: options.host, port: options.port });
      const purgeTimer = setInterval(() => {
        uploads.purgeExpired(maxAgeMs).catch((error: unknown) => {
          options.logger?.error({ err: error }, 'purging expired uploads failed');
        });
      }, PURGE_INTERVAL_MS);
      purgeTimer.unref();
      return new RegistryServer(app, metadata, lock, purgeTimer, recovery);
    } catch (error) {
      await metadata?.close();
      await lock.release();
      throw error;
    }
  }

  /** The address actually bound (the port is known after a start on port 0). */
  get address(): { host: string; port: number } {
    const address = this.#app.server.address() as AddressInfo;
    return { host: address.address, port: address.port };
  }

  /** `http://HOST:PORT` of the server (IPv6 hosts bracketed). */
  get url(): string {
    const { host, port } = this.address;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  /** Stops accepting requests, waits for those in flight, closes the metadata and the lock. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#purgeTimer);
    // In-flight requests get a grace period; a client stuck mid-upload must not hold shutdown.
    const grace = setTimeout(() => this.#app.server.closeAllConnections(), CLOSE_GRACE_MS);
    grace.unref();
    try {
      await this.#app.close();
    } finally {
      clearTimeout(grace);
      await this.#metadata.close();
      await this.#lock.release();
    }
  }
}
