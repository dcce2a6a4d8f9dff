/**
 * `wharf image diff A B`: the files that differ between two images (moby issue 12641, which
 * Docker never did), computed from the layers' tar headers without extracting anything.
 *
 * Each image's final tree is rebuilt in memory from its layers, bottom up, as overlayfs would
 * show it: a layer's whiteouts (`.wh.NAME`) and opaque markers (`.wh..wh..opq`) remove what the
 * layers below had, then its entries are laid over. A layer shared by both images is read once.
 * Every entry remembers which layer entry provides it; the two trees are then compared:
 *
 * - a path only in B is `A` (added), only in A is `D` (deleted: the topmost path only, its size
 *   the total of the files below it), in both with a different provider is `C` (changed) when
 *   its type, mode, owner, size, link target, device, extended attributes or (for non
 *   directories) modification time differ. Directories whose only difference is their
 *   modification time are not listed: a layer copies a directory up to change what is in it.
 * - when two providers agree on every header field, the data decides: those files (rare) are
 *   hashed in a second pass over just the layers that hold them.
 *
 * Order: depth first, each directory before its contents, names in bytewise order.
 *
 * @example
 * const changes = await diffImages(store, 'app:1', 'app:2');
 * // [{ kind: 'C', path: '/etc/passwd', type: 'file', size: 1321, oldSize: 1240 }, ...]
 */
import { createHash } from 'node:crypto';
import type { Digest } from '../oci/digest.ts';
import type { ImageLayer, ImageStore } from './image-store.ts';
import { layerEntries } from './layer/layer-entries.ts';
import { cleanRelative } from './layer/root-path.ts';
import type { TarEntryType, TarHeader } from './layer/tar-format.ts';

export type ImageChangeKind = 'A' | 'C' | 'D';

export interface ImageFileChange {
  kind: ImageChangeKind;
  /** Absolute path in the image. */
  path: string;
  /** The entry's type in B (in A for deletions); hard links show as `file`. */
  type: Exclude<TarEntryType, 'link'>;
  /** Bytes in B (A and C), of regular files; a deleted directory's is the total below it. */
  size?: number;
  /** Bytes in A (C and D). */
  oldSize?: number;
}

/** One file's state in an image tree, and the layer entry that gives it. */
interface Entry {
  type: Exclude<TarEntryType, 'link'>;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  device: string;
  xattrs: string;
  /** `diffID#index`: the layer entry providing the data (a hard link points at its target's). */
  provider: string;
}

interface Node {
  entry: Entry | undefined;
  children: Map<string, Node>;
}

/** A layer read once: its whiteouts, opaque directories and entries in order. */
interface LayerIndex {
  whiteouts: string[];
  opaque: string[];
  entries: { rel: string; header: TarHeader; index: number }[];
}

function newNode(): Node {
  return { entry: undefined, children: new Map() };
}

function compareBytes(a: string, b: string): number {
  return a === b ? 0 : Buffer.compare(Buffer.from(a), Buffer.from(b));
}

async function readLayer(store: ImageStore, layer: ImageLayer): Promise<LayerIndex> {
  const index: LayerIndex = { whiteouts: [], opaque: [], entries: [] };
  for await (const item of layerEntries(store.content, layer.digest as Digest)) {
    if (item.kind === 'opaque') index.opaque.push(item.dir);
    else if (item.kind === 'whiteout') index.whiteouts.push(item.path);
    else index.entries.push({ rel: item.rel, header: item.header, index: item.position });
  }
  return index;
}

function lookup(root: Node, rel: string): Node | undefined {
  let node: Node | undefined = root;
  for (const part of rel.split('/')) {
    node = node.children.get(part);
    if (!node) return undefined;
  }
  return node;
}

function remove(root: Node, rel: string): void {
  const slash = rel.lastIndexOf('/');
  const parent = slash < 0 ? root : lookup(root, rel.slice(0, slash));
  parent?.children.delete(slash < 0 ? rel : rel.slice(slash + 1));
}

function place(root: Node, rel: string, entry: Entry): void {
  let node = root;
  for (const part of rel.split('/')) {
    let child = node.children.get(part);
    if (!child) {
      child = newNode();
      node.children.set(part, child);
    }
    node = child;
  }
  // A non-directory replaces whatever was below the path.
  if (entry.type !== 'dir') node.children.clear();
  node.entry = entry;
}

function xattrKey(xattrs: Map<string, Buffer>): string {
  return [...xattrs.entries()]
    .sort(([a], [b]) => compareBytes(a, b))
    .map(([key, value]) => `${key}=${value.toString('base64')}`)
    .join(';');
}

/** Lays layer `index` (diffID `diffID`) over `root`. */
function apply(root: Node, diffID: string, index: LayerIndex): void {
  for (const dir of index.opaque) {
    const node = dir === '' ? root : lookup(root, dir);
    node?.children.clear();
  }
  for (const rel of index.whiteouts) remove(root, rel);
  for (const { rel, header, index: at } of index.entries) {
    if (header.type === 'link') {
      const target = lookup(root, cleanRelative(header.linkname))?.entry;
      place(root, rel, {
        ...(target ?? entryOf(header, `${diffID}#${at}`)),
        type: target?.type ?? 'file',
      });
      continue;
    }
    place(root, rel, entryOf(header, `${diffID}#${at}`));
  }
}

function entryOf(header: TarHeader, provider: string): Entry {
  return {
    type: header.type === 'link' ? 'file' : header.type,
    mode: header.mode,
    uid: header.uid,
    gid: header.gid,
    size: header.type === 'file' ? header.size : 0,
    mtime: header.mtime,
    linkname: header.type === 'symlink' ? header.linkname : '',
    device: header.type === 'char' || header.type === 'block' ? `${header.devmajor}:${header.devminor}` : '',
    xattrs: xattrKey(header.xattrs),
    provider,
  };
}

/** Header fields that differ between two providers (directories: not their mtime). */
function metadataDiffers(a: Entry, b: Entry): boolean {
  if (a.type !== b.type || a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid || a.xattrs !== b.xattrs)
    return true;
  if (a.type === 'dir') return false;
  return a.size !== b.size || a.mtime !== b.mtime || a.linkname !== b.linkname || a.device !== b.device;
}

function totalSize(node: Node): number {
  let total = node.entry?.type === 'file' ? node.entry.size : 0;
  for (const child of node.children.values()) total += totalSize(child);
  return total;
}

/** The changes from image `a` to image `b` (names, ids or id prefixes). */
export async function diffImages(store: ImageStore, a: string, b: string): Promise<ImageFileChange[]> {
  const [imageA, imageB] = [store.resolve(a), store.resolve(b)];
  const [layersA, layersB] = await Promise.all([store.layers(imageA.id), store.layers(imageB.id)]);
  const indexes = new Map<string, Promise<LayerIndex>>();
  const layerOf = new Map<string, ImageLayer>();
  const indexOf = (layer: ImageLayer) => {
    layerOf.set(layer.diffId, layer);
    let found = indexes.get(layer.diffId);
    if (!found) {
      found = readLayer(store, layer);
      indexes.set(layer.diffId, found);
    }
    return found;
  };
  const build = async (layers: ImageLayer[]) => {
    const root = newNode();
    for (const layer of layers) apply(root, layer.diffId, await indexOf(layer));
    return root;
  };
  const treeA = await build(layersA);
  const treeB = await build(layersB);

  const changes: ImageFileChange[] = [];
  /** Changes that depend on file contents: [change index, provider in A, provider in B]. */
  const undecided: { at: number; a: string; b: string }[] = [];
  const walk = (nodeA: Node | undefined, nodeB: Node | undefined, rel: string) => {
    const names = new Set([...(nodeA?.children.keys() ?? []), ...(nodeB?.children.keys() ?? [])]);
    for (const name of [...names].sort(compareBytes)) {
      const childA = nodeA?.children.get(name);
      const childB = nodeB?.children.get(name);
      const path = rel === '' ? name : `${rel}/${name}`;
      const entryA = childA?.entry;
      const entryB = childB?.entry;
      if (!entryB && entryA) {
        changes.push({ kind: 'D', path: `/${path}`, type: entryA.type, oldSize: totalSize(childA!) });
        continue;
      }
      if (entryB && !entryA) {
        changes.push({
          kind: 'A',
          path: `/${path}`,
          type: entryB.type,
          ...(entryB.type === 'file' ? { size: entryB.size } : {}),
        });
      } else if (entryA && entryB && entryA.provider !== entryB.provider) {
        const change: ImageFileChange = {
          kind: 'C',
          path: `/${path}`,
          type: entryB.type,
          ...(entryB.type === 'file' ? { size: entryB.size } : {}),
          ...(entryA.type === 'file' ? { oldSize: entryA.size } : {}),
        };
        if (metadataDiffers(entryA, entryB)) changes.push(change);
        else if (entryA.type === 'file' && entryA.size > 0) {
          undecided.push({ at: changes.length, a: entryA.provider, b: entryB.provider });
          changes.push(change);
        }
      }
      // Entries without a header of their own (parents implied by deeper names) still hold children.
      if (childA?.children.size || childB?.children.size) walk(childA, childB, path);
    }
  };
  walk(treeA, treeB, '');
  if (undecided.length === 0) return changes;

  const hashes = await hashProviders(store, layerOf, new Set(undecided.flatMap((u) => [u.a, u.b])));
  const same = new Set(undecided.filter((u) => hashes.get(u.a) === hashes.get(u.b)).map((u) => u.at));
  return changes.filter((_, at) => !same.has(at));
}

/** sha256 of the data of the given layer entries (`diffID#index`), one pass per layer holding any. */
async function hashProviders(
  store: ImageStore,
  layers: Map<string, ImageLayer>,
  providers: Set<string>,
): Promise<Map<string, string>> {
  const byLayer = new Map<string, Set<number>>();
  for (const provider of providers) {
    const [diffID, index] = provider.split('#') as [string, string];
    let set = byLayer.get(diffID);
    if (!set) byLayer.set(diffID, (set = new Set()));
    set.add(Number(index));
  }
  const hashes = new Map<string, string>();
  for (const [diffID, wanted] of byLayer) {
    const layer = layers.get(diffID);
    if (!layer) continue;
    for await (const item of layerEntries(store.content, layer.digest as Digest)) {
      if (item.kind !== 'entry' || !wanted.has(item.position) || item.header.type !== 'file') continue;
      const hash = createHash('sha256');
      await item.reader.forEachBodyChunk((chunk) => hash.update(chunk));
      hashes.set(`${diffID}#${item.position}`, hash.digest('hex'));
    }
  }
  return hashes;
}
