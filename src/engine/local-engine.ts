/**
 * The in-process engine: opens the stores of one root and wires the services the front doors
 * use. The CLI opens one per command (cheap: a SQLite open and a directory sweep); the daemon
 * keeps one open.
 *
 *   $root/
 *   ├── wharf.db       metadata (src/metadata/database.ts draws its schema)
 *   └── content/       blobs by digest (src/content/local-content-store.ts draws its layout)
 *
 * @example
 * const engine = await openLocalEngine({ root: context.root() });
 * try {
 *   console.log(await engine.images.list());
 * } finally {
 *   engine.close();
 * }
 */
import { CONTAINER_MIGRATIONS, ContainerRecords } from '../container/container-records.ts';
import { LocalContentStore } from '../content/local-content-store.ts';
import { ImageStore, type ImageStoreOptions } from '../image/image-store.ts';
import { SqliteContentReferences } from '../metadata/content-references.ts';
import { type MetadataDatabase, type Migration, openMetadataDatabase } from '../metadata/database.ts';
import { LeaseStore } from '../metadata/lease-store.ts';
import { ImageService } from './image-service.ts';

export interface LocalEngineOptions {
  /** The store root (`--root`, `WHARF_ROOT`, default /var/lib/wharf). */
  root: string;
  /** Extra schema migrations of later services (containers, build cache). */
  migrations?: readonly Migration[];
  /** How the image store learns which containers use an image (default: the containers table). */
  containersUsing?: ImageStoreOptions['containersUsing'];
}

export class LocalEngine implements Disposable {
  readonly root: string;
  readonly db: MetadataDatabase;
  readonly leases: LeaseStore;
  readonly content: LocalContentStore;
  readonly images: ImageService;

  constructor(parts: {
    root: string;
    db: MetadataDatabase;
    leases: LeaseStore;
    content: LocalContentStore;
    images: ImageService;
  }) {
    this.root = parts.root;
    this.db = parts.db;
    this.leases = parts.leases;
    this.content = parts.content;
    this.images = parts.images;
  }

  close(): void {
    this.db.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

export async function openLocalEngine(options: LocalEngineOptions): Promise<LocalEngine> {
  const db = openMetadataDatabase(options.root, {
    migrations: [...CONTAINER_MIGRATIONS, ...(options.migrations ?? [])],
  });
  try {
    const leases = new LeaseStore(db);
    const content = await LocalContentStore.open(options.root, new SqliteContentReferences(db, leases));
    const store = new ImageStore({
      db,
      content,
      leases,
      containersUsing: options.containersUsing ?? ((imageId) => new ContainerRecords(db).usingImage(imageId)),
    });
    return new LocalEngine({ root: options.root, db, leases, content, images: new ImageService(store) });
  } catch (error) {
    db.close();
    throw error;
  }
}
