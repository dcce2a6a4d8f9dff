/**
 * A stored layer's tar entries, classified by the OCI whiteout rules (src/oci/layer-path.ts): an opaque
 * marker hides what the layers below have in its directory, a `.wh.NAME` deletes NAME, other
 * `.wh..wh.*` names are metadata and left out, everything else is an entry of the layer. The
 * readers of an image's final tree (`image diff`, `image scan`'s file reader) walk layers this way.
 *
 * An entry's `position` counts every header of the tar (the ones left out too), so it names the
 * entry again on a later read of the same layer. Its data can be read, while it is the current
 * one, through `reader`.
 *
 * @example
 * for await (const item of layerEntries(store.content, layer.digest)) {
 *   if (item.kind === 'entry' && item.header.type === 'file') for await (const c of item.reader.body()) use(c);
 * }
 */
import type { ContentProvider } from '../../content/content-store.ts';
import type { Digest } from '../../oci/digest.ts';
import { classifyLayerPath } from '../../oci/layer-path.ts';
import { openDecompressed } from './compression.ts';
import type { TarHeader } from './tar-format.ts';
import { TarReader } from './tar-reader.ts';

export type LayerEntry =
  /** `.wh..wh..opq` in `dir` ('' for the root). */
  | { kind: 'opaque'; dir: string }
  /** `.wh.NAME`: `path` (relative) is deleted. */
  | { kind: 'whiteout'; path: string }
  | { kind: 'entry'; rel: string; dir: string; header: TarHeader; position: number; reader: TarReader };

/** The entries of the layer blob `digest` (any compression), in tar order. */
export async function* layerEntries(content: ContentProvider, digest: Digest): AsyncGenerator<LayerEntry> {
  const { chunks } = await openDecompressed(await content.read(digest));
  const reader = new TarReader(chunks);
  try {
    let position = 0;
    for (let header = await reader.next(); header; header = await reader.next()) {
      const at = position++;
      const path = classifyLayerPath(header.name);
      if (path.kind === 'opaque' || path.kind === 'whiteout') yield path;
      else if (path.kind === 'entry')
        yield { kind: 'entry', rel: path.rel, dir: path.dir, header, position: at, reader };
    }
  } finally {
    await reader.close();
  }
}
