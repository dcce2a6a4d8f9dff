/**
 * A few files of an image's final tree, read from its layer tars without unpacking anything: each
 * stored layer is streamed once, bottom first, through the whiteout rules of layer-entries.ts, and
 * src/scan/final-tree-files.ts keeps the wanted paths (whiteouts, opaque directories, replacements
 * and links at wanted paths as overlayfs would show them; the registry's scanner shares it).
 *
 * @example
 * const files = await readImageFiles(store, 'debian:12', ['etc/os-release', 'var/lib/dpkg/status']);
 * files.get('etc/os-release')?.toString(); // 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"...'
 */
import type { Digest } from '../oci/digest.ts';
import { FinalTreeFiles, type TreeItem } from '../scan/final-tree-files.ts';
import type { ImageStore } from './image-store.ts';
import { layerEntries } from './layer/layer-entries.ts';

/** The layer's entries in the shape FinalTreeFiles reads. */
async function* treeItems(store: ImageStore, digest: Digest): AsyncGenerator<TreeItem> {
  for await (const item of layerEntries(store.content, digest)) {
    if (item.kind !== 'entry') {
      yield item;
      continue;
    }
    const { header, reader } = item;
    const type =
      header.type === 'file' || header.type === 'dir' || header.type === 'symlink' || header.type === 'link'
        ? header.type
        : 'other';
    yield {
      kind: 'entry',
      rel: item.rel,
      dir: item.dir,
      type,
      size: header.size,
      linkname: header.linkname,
      body: () => reader.body(),
    };
  }
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
  const tree = new FinalTreeFiles(paths);
  for (const layer of await store.layers(image.id))
    await tree.addLayer(treeItems(store, layer.digest as Digest));
  return tree.files();
}
