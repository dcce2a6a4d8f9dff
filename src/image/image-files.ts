/**
 * A few files of an image's final tree, read from its layer tars without unpacking anything: each
 * layer is streamed once, bottom first, and only the wanted paths' bodies are kept. A layer's
 * whiteouts (`.wh.NAME`), opaque markers (`.wh..wh..opq`) and non-directory entries over a
 * wanted path's parent delete what the layers below gave; its own entries then replace it, as
 * overlayfs would show them. A symlink or hard link at a wanted path is followed when it leads to
 * another wanted path (Debian's `etc/os-release -> ../usr/lib/os-release`).
 *
 * @example
 * const files = await readImageFiles(store, 'debian:12', ['etc/os-release', 'var/lib/dpkg/status']);
 * files.get('etc/os-release')?.toString(); // 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"...'
 */
import { posix } from 'node:path';
import { InvalidArgumentError } from '../errors/index.ts';
import type { Digest } from '../oci/digest.ts';
import type { ImageStore } from './image-store.ts';
import { layerEntries } from './layer/layer-entries.ts';
import { cleanRelative } from './layer/root-path.ts';

/** A wanted file is read into memory: a package database larger than this is not one. */
const MAX_FILE_SIZE = 256 * 1024 * 1024;
const MAX_LINK_HOPS = 8;

type Found = { kind: 'file'; data: Buffer } | { kind: 'link'; target: string };

/** True when `path` is `prefix` or below it. */
function isAtOrBelow(path: string, prefix: string): boolean {
  return prefix === '' || path === prefix || path.startsWith(`${prefix}/`);
}

/** Reads one layer: the deletions it makes and the wanted paths it provides. */
async function readLayer(
  store: ImageStore,
  digest: Digest,
  wanted: ReadonlySet<string>,
): Promise<{ deleted: string[]; found: Map<string, Found> }> {
  const deleted: string[] = [];
  const found = new Map<string, Found>();
  for await (const item of layerEntries(store.content, digest)) {
    if (item.kind === 'opaque') {
      // Everything below `dir` from lower layers is hidden (this layer's own entries stay).
      deleted.push(item.dir === '' ? '' : `${item.dir}/`);
      continue;
    }
    if (item.kind === 'whiteout') {
      deleted.push(item.path);
      continue;
    }
    const { rel, dir, header, reader } = item;
    // A non-directory where a wanted file's parent was replaces that whole directory.
    if (header.type !== 'dir' && [...wanted].some((path) => isAtOrBelow(path, rel))) deleted.push(rel);
    if (!wanted.has(rel)) continue;
    if (header.type === 'file') {
      if (header.size > MAX_FILE_SIZE)
        throw new InvalidArgumentError(
          `Cannot read ${rel} from the image: ${header.size} bytes is too large`,
        );
      const parts: Buffer[] = [];
      for await (const chunk of reader.body()) parts.push(Buffer.from(chunk));
      found.set(rel, { kind: 'file', data: Buffer.concat(parts) });
    } else if (header.type === 'symlink') {
      found.set(rel, {
        kind: 'link',
        target: header.linkname.startsWith('/') ? header.linkname : posix.join('/', dir, header.linkname),
      });
    } else if (header.type === 'link') {
      // A hard link names its target by archive path; the target came earlier in this layer.
      const target = found.get(cleanRelative(header.linkname));
      if (target) found.set(rel, target);
      else found.set(rel, { kind: 'link', target: `/${cleanRelative(header.linkname)}` });
    } else found.delete(rel);
  }
  return { deleted, found };
}

/**
 * The content of each of `paths` (relative to the image root, e.g. `etc/os-release`) in the
 * image's final tree; paths that do not exist there (or are not regular files) are absent.
 */
export async function readImageFiles(
  store: ImageStore,
  refOrId: string,
  paths: readonly string[],
): Promise<Map<string, Buffer>> {
  const image = store.resolve(refOrId);
  const wanted = new Set(paths.map(cleanRelative));
  const state = new Map<string, Found>();
  for (const layer of await store.layers(image.id)) {
    const { deleted, found } = await readLayer(store, layer.digest as Digest, wanted);
    for (const path of [...state.keys()]) {
      const gone = deleted.some((d) =>
        d.endsWith('/') || d === '' ? path.startsWith(d) : isAtOrBelow(path, d),
      );
      if (gone) state.delete(path);
    }
    for (const [path, entry] of found) state.set(path, entry);
  }
  const files = new Map<string, Buffer>();
  for (const path of wanted) {
    let entry = state.get(path);
    for (let hops = 0; entry?.kind === 'link' && hops < MAX_LINK_HOPS; hops++) {
      entry = state.get(cleanRelative(posix.normalize(`/${entry.target}`)));
    }
    if (entry?.kind === 'file') files.set(path, entry.data);
  }
  return files;
}
