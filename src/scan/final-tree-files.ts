/**
 * A few files of an image's final tree, computed from its layers' entries without unpacking
 * anything: layers are fed bottom first, each once, and only the wanted paths' bodies are kept. A
 * layer's whiteouts (`.wh.NAME`), opaque markers (`.wh..wh..opq`) and non-directory entries over a
 * wanted path's parent delete what the layers below gave; its own entries then replace it, as
 * overlayfs would show them. A symlink or hard link at a wanted path is followed when it leads to
 * another wanted path (Debian's `etc/os-release -> ../usr/lib/os-release`).
 *
 * Pure: the caller reads the layer tars (the local image store, or the registry's storage) and
 * classifies entry names by src/oci/layer-path.ts; both readers of an image's files share this.
 *
 * @example
 * const tree = new FinalTreeFiles(INVENTORY_PATHS);
 * for (const layer of layers) await tree.addLayer(itemsOf(layer));
 * tree.files().get('etc/os-release')?.toString(); // 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"...'
 */
import { posix } from 'node:path';
import { InvalidArgumentError } from '../errors/index.ts';
import { cleanRelative } from '../oci/layer-path.ts';

/** A wanted file is read into memory: a package database larger than this is not one. */
export const MAX_TREE_FILE_SIZE = 256 * 1024 * 1024;
const MAX_LINK_HOPS = 8;

/** One layer tar entry, as far as the final tree cares. */
export type TreeItem =
  /** `.wh..wh..opq` in `dir` ('' for the root). */
  | { kind: 'opaque'; dir: string }
  /** `.wh.NAME`: `path` (relative) is deleted. */
  | { kind: 'whiteout'; path: string }
  | {
      kind: 'entry';
      /** The cleaned relative path, and its directory ('' for the root). */
      rel: string;
      dir: string;
      type: 'file' | 'dir' | 'symlink' | 'link' | 'other';
      size: number;
      /** Symlink target, or hard link target (an archive path). */
      linkname: string;
      /** The body of a file; read at most once, while the entry is the current one. */
      body: () => AsyncIterable<Uint8Array>;
    };

type Found = { kind: 'file'; data: Buffer } | { kind: 'link'; target: string };

/** True when `path` is `prefix` or below it. */
function isAtOrBelow(path: string, prefix: string): boolean {
  return prefix === '' || path === prefix || path.startsWith(`${prefix}/`);
}

export class FinalTreeFiles {
  readonly #wanted: ReadonlySet<string>;
  readonly #state = new Map<string, Found>();

  /** `paths` relative to the image root (e.g. `etc/os-release`). */
  constructor(paths: readonly string[]) {
    this.#wanted = new Set(paths.map(cleanRelative));
  }

  /** Applies the next layer up. Every item must be consumed here (bodies of wanted files are read). */
  async addLayer(items: AsyncIterable<TreeItem>): Promise<void> {
    const deleted: string[] = [];
    const found = new Map<string, Found>();
    const wanted = this.#wanted;
    for await (const item of items) {
      if (item.kind === 'opaque') {
        // Everything below `dir` from lower layers is hidden (this layer's own entries stay).
        deleted.push(item.dir === '' ? '' : `${item.dir}/`);
        continue;
      }
      if (item.kind === 'whiteout') {
        deleted.push(item.path);
        continue;
      }
      const { rel, dir } = item;
      // A non-directory where a wanted file's parent was replaces that whole directory.
      if (item.type !== 'dir' && [...wanted].some((path) => isAtOrBelow(path, rel))) deleted.push(rel);
      if (!wanted.has(rel)) continue;
      if (item.type === 'file') {
        if (item.size > MAX_TREE_FILE_SIZE)
          throw new InvalidArgumentError(
            `Cannot read ${rel} from the image: ${item.size} bytes is too large`,
          );
        const parts: Buffer[] = [];
        for await (const chunk of item.body()) parts.push(Buffer.from(chunk));
        found.set(rel, { kind: 'file', data: Buffer.concat(parts) });
      } else if (item.type === 'symlink') {
        found.set(rel, {
          kind: 'link',
          target: item.linkname.startsWith('/') ? item.linkname : posix.join('/', dir, item.linkname),
        });
      } else if (item.type === 'link') {
        // A hard link names its target by archive path; the target came earlier in this layer.
        const target = found.get(cleanRelative(item.linkname));
        if (target) found.set(rel, target);
        else found.set(rel, { kind: 'link', target: `/${cleanRelative(item.linkname)}` });
      } else found.delete(rel);
    }
    for (const path of [...this.#state.keys()]) {
      const gone = deleted.some((d) =>
        d.endsWith('/') || d === '' ? path.startsWith(d) : isAtOrBelow(path, d),
      );
      if (gone) this.#state.delete(path);
    }
    for (const [path, entry] of found) this.#state.set(path, entry);
  }

  /** The content of each wanted path in the tree so far; missing ones (or non-files) are absent. */
  files(): Map<string, Buffer> {
    const files = new Map<string, Buffer>();
    for (const path of this.#wanted) {
      let entry = this.#state.get(path);
      for (let hops = 0; entry?.kind === 'link' && hops < MAX_LINK_HOPS; hops++) {
        entry = this.#state.get(cleanRelative(posix.normalize(`/${entry.target}`)));
      }
      if (entry?.kind === 'file') files.set(path, entry.data);
    }
    return files;
  }
}
