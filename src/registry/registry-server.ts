/**
 * A running registry: the storage directory (locked to this process), the filesystem driver, the
 * SQLite metadata, the services, access control, the garbage collector and the HTTP app, wired
 * together. Start-up recovers from a crash before serving: the driver drops its temp files, open
 * upload sessions whose bytes are present are kept for their clients to resume, the rest are
 * swept; pins a dead process left become GC candidates and its tombstones are carried out. The
 * storage directory:
 *
 *   <storage>/
 *   ├── registry.lock        pid of the server using it
 *   ├── metadata.db (-wal, -shm)   SQLite metadata and scan reports (metadata/sqlite-metadata-store.ts)
 *   ├── access.db (-wal, -shm)     users, projects, members, robots (auth/sqlite-access-store.ts)
 *   ├── token-key.pem        the P-256 key that signs tokens (0600, made at first start)
 *   └── content/             the filesystem StorageDriver's root (storage/layout.ts)
 *
 * `wharf registry gc` and `wharf registry user|project|robot` open the same files while a server
 * runs: everything they share is decided in SQLite transactions, never by the lock.
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
import { AccessController } from './auth/access-controller.ts';
import type { AccessStore } from './auth/access-store.ts';
import { AccountService } from './auth/account-service.ts';
import type { HtpasswdFile } from './auth/htpasswd.ts';
import { SqliteAccessStore } from './auth/sqlite-access-store.ts';
import { TokenSigner } from './auth/token-signer.ts';
import { removeTombstoned } from './blob-pins.ts';
import { BlobService } from './blob-service.ts';
import { DEFAULT_UPLOAD_MAX_AGE_HOURS } from './config.ts';
import { DEFAULT_GC_GRACE_MS, GarbageCollector, type GcReport } from './gc/garbage-collector.ts';
import { registerAdminRoutes } from './http/admin-routes.ts';
import { type AuthorizeHook, buildRegistryApp } from './http/registry-app.ts';
import { registerTokenRoutes } from './http/token-routes.ts';
import { KeyedMutex } from './keyed-mutex.ts';
import { ManifestService } from './manifest-service.ts';
import type { MetadataStore } from './metadata/metadata-store.ts';
import { SqliteMetadataStore } from './metadata/sqlite-metadata-store.ts';
import { isProcessIdentityAlive } from './process-identity.ts';
import { registerScanRoutes } from './scan/scan-routes.ts';
import { ScanService, type ScanSettings } from './scan/scan-service.ts';
import { FilesystemDriver } from './storage/filesystem-driver.ts';
import type { StorageDriver } from './storage/storage-driver.ts';
import { acquireStorageLock, type StorageLock } from './storage-lock.ts';
import { CatalogReader } from './ui/catalog-reader.ts';
import { registerUiRoutes } from './ui/ui-routes.ts';
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
  /** Replaces the built-in access control (tests); absent: AccessController over access.db. */
  authorize?: AuthorizeHook;
  /** Users from an htpasswd file (bcrypt), besides the registry's own. */
  htpasswd?: HtpasswdFile;
  /** The `service` of token auth (default `wharf-registry`). */
  service?: string;
  /** The token endpoint URL challenges name (default: `/token` on the host the client used). */
  realm?: string;
  /** Scheduled garbage collection: every this many ms (absent or 0: only on demand). */
  gcIntervalMs?: number;
  /** Grace and untagged-manifest policy of scheduled runs (and the API's defaults). */
  gc?: { graceMs?: number; deleteUntagged?: boolean };
  /** The read-only web UI under `/ui/` (docs/registry-ui.md): on unless `false`; `pageSize` for tests. */
  ui?: false | { pageSize?: number };
  /** Vulnerability scanning (docs/registry-scan.md); absent: off, the scan API answers 501. */
  scan?: ScanSettings;
}

const PURGE_INTERVAL_MS = 60 * 60 * 1000;
const CLOSE_GRACE_MS = 10_000;

export interface ServerRecoveryReport extends RecoveryReport {
  /** Pins of a dead process turned into GC candidates. */
  pins: number;
  /** Tombstones of a dead process whose bytes were removed. */
  tombstones: number;
}

interface ServerParts {
  app: FastifyInstance;
  metadata: MetadataStore;
  accessStore: AccessStore;
  lock: StorageLock;
  timers: NodeJS.Timeout[];
  recovery: ServerRecoveryReport;
  gc: GarbageCollector;
  access: AccessController;
  scans: ScanService | undefined;
}

export class RegistryServer {
  readonly #app: FastifyInstance;
  readonly #metadata: MetadataStore;
  readonly #accessStore: AccessStore;
  readonly #lock: StorageLock;
  readonly #timers: NodeJS.Timeout[];
  readonly recovery: ServerRecoveryReport;
  /** The online garbage collector of this storage (scheduled runs, the admin API, tests). */
  readonly gc: GarbageCollector;
  readonly access: AccessController;
  /** The vulnerability scanner, when a database is configured. */
  readonly scans: ScanService | undefined;
  #closed = false;

  private constructor(parts: ServerParts) {
    this.#app = parts.app;
    this.#metadata = parts.metadata;
    this.#accessStore = parts.accessStore;
    this.#lock = parts.lock;
    this.#timers = parts.timers;
    this.recovery = parts.recovery;
    this.gc = parts.gc;
    this.access = parts.access;
    this.scans = parts.scans;
  }

  static async start(options: RegistryServerOptions): Promise<RegistryServer> {
    await mkdir(options.storage, { recursive: true });
    const lock = await acquireStorageLock(options.storage);
    let metadata: MetadataStore | undefined;
    let accessStore: AccessStore | undefined;
    try {
      const driver = await FilesystemDriver.open(join(options.storage, 'content'));
      metadata = SqliteMetadataStore.open(join(options.storage, 'metadata.db'));
      accessStore = SqliteAccessStore.open(join(options.storage, 'access.db'));
      const signer = await TokenSigner.open(join(options.storage, 'token-key.pem'));
      const locks = new KeyedMutex();
      const blobs = new BlobService(driver, metadata, locks);
      const uploads = new UploadManager(driver, metadata, blobs);
      const manifests = new ManifestService(driver, metadata, locks);
      const maxAgeMs = options.uploadMaxAgeMs ?? DEFAULT_UPLOAD_MAX_AGE_HOURS * 3600 * 1000;
      const recovery = {
        ...(await uploads.recover({ maxAgeMs })),
        ...(await recoverGcState(metadata, driver)),
      };
      const gc = new GarbageCollector(driver, metadata, { isUploadBusy: (id) => uploads.isBusy(id) });
      const accessOptions: ConstructorParameters<typeof AccessController>[0] = { store: accessStore, signer };
      if (options.htpasswd) accessOptions.htpasswd = options.htpasswd;
      if (options.service) accessOptions.service = options.service;
      if (options.realm) accessOptions.realm = options.realm;
      const access = new AccessController(accessOptions);
      const accounts = new AccountService(accessStore, metadata);
      const storedMetadata = metadata;
      const storedAccess = accessStore;
      const scanOptions = {
        metadata,
        manifests,
        blobs,
        ...(options.logger ? { logger: options.logger } : {}),
      };
      const scans = options.scan ? new ScanService({ settings: options.scan, ...scanOptions }) : undefined;
      // Reports of manifests deleted since (by the API or a `wharf registry gc`) go at start-up.
      if (scans) await metadata.pruneScanReports();
      const authorize: AuthorizeHook = options.authorize ?? ((request) => access.authorize(request));
      const appOptions: Parameters<typeof buildRegistryApp>[0] = {
        context: { blobs, uploads, manifests, metadata, ...(scans ? { hooks: scans } : {}) },
        authorize,
        extraRoutes: (app) => {
          registerTokenRoutes(app, access);
          registerAdminRoutes(app, { access, accounts, gc, metadata: storedMetadata });
          registerScanRoutes(app, { authorize, manifests, scans });
          if (options.ui !== false) {
            const reader = new CatalogReader({
              metadata: storedMetadata,
              manifests,
              blobs,
              projectIsPublic: async (project) => (await storedAccess.getProject(project))?.public,
            });
            const uiOptions: Parameters<typeof registerUiRoutes>[1] = { access, reader };
            if (scans) uiOptions.scans = scans;
            if (options.ui?.pageSize !== undefined) uiOptions.pageSize = options.ui.pageSize;
            registerUiRoutes(app, uiOptions);
          }
        },
      };
      if (options.logger) appOptions.logger = options.logger;
      const app = await buildRegistryApp(appOptions);
      await app.listen({ host: options.host, port: options.port });
      const timers: NodeJS.Timeout[] = [];
      timers.push(
        setInterval(() => {
          uploads.purgeExpired(maxAgeMs).catch((error: unknown) => {
            options.logger?.error({ err: error }, 'purging expired uploads failed');
          });
        }, PURGE_INTERVAL_MS),
      );
      if (options.gcIntervalMs !== undefined && options.gcIntervalMs > 0) {
        const graceMs = options.gc?.graceMs ?? DEFAULT_GC_GRACE_MS;
        const deleteUntagged = options.gc?.deleteUntagged ?? false;
        timers.push(
          setInterval(() => {
            if (gc.running) return;
            gc.run({ graceMs, deleteUntagged })
              .then((report: GcReport) =>
                options.logger?.info({ gc: report }, 'scheduled garbage collection'),
              )
              .catch((error: unknown) =>
                options.logger?.warn({ err: error }, 'scheduled garbage collection failed'),
              );
          }, options.gcIntervalMs),
        );
      }
      for (const timer of timers) timer.unref();
      return new RegistryServer({ app, metadata, accessStore, lock, timers, recovery, gc, access, scans });
    } catch (error) {
      await metadata?.close();
      await accessStore?.close();
      await lock.release();
      throw error;
    }
  }

  /** Whether access control is enforced (an account exists). */
  async accessControlled(): Promise<boolean> {
    return this.access.enforced();
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
    for (const timer of this.#timers) clearInterval(timer);
    await this.gc.stop();
    // A scan in progress is aborted (it is queued again by the next request or push).
    await this.scans?.close();
    // In-flight requests get a grace period; a client stuck mid-upload must not hold shutdown.
    const grace = setTimeout(() => this.#app.server.closeAllConnections(), CLOSE_GRACE_MS);
    grace.unref();
    try {
      await this.#app.close();
    } finally {
      clearTimeout(grace);
      await this.#metadata.close();
      await this.#accessStore.close();
      await this.#lock.release();
    }
  }
}

/** Start-up: what a dead process (this server's predecessor, a killed GC) left of the GC protocol. */
async function recoverGcState(
  metadata: MetadataStore,
  driver: StorageDriver,
): Promise<{ pins: number; tombstones: number }> {
  const pins = await metadata.recoverPins(isProcessIdentityAlive);
  let tombstones = 0;
  for (const tombstone of await metadata.listTombstones()) {
    if (isProcessIdentityAlive(tombstone.owner)) continue;
    if (!(await metadata.takeOverTombstone(tombstone.digest, tombstone.owner))) continue;
    await removeTombstoned(metadata, driver, tombstone.digest);
    tombstones++;
  }
  return { pins, tombstones };
}
