/**
 * `docker diff`: what a container changed against its image, read from the overlay snapshot's
 * upper directory (the writable layer) and looked up in the lower ones (the image), following
 * moby's `archive.OverlayChanges`:
 *
 * - a whiteout (0:0 character device) is `D PATH`;
 * - an entry absent from the image is `A PATH`; one present is `C PATH`, except a directory whose
 *   mode, owner and modification time are unchanged (copied up only to hold a change below it);
 * - when something is added or deleted in a directory that is not itself listed, the directory
 *   is listed as changed first (`C /etc` before `A /etc/new`), as Docker does;
 * - order: the walk's, each directory before its contents, names in bytewise order.
 *
 * Wharf departs from moby on two points. An opaque directory (deleted and made again in the
 * container) is `C DIR` followed by a `D` for each image entry it hides, instead of moby's lone
 * `D DIR` before the new contents. And the empty files and directories the OCI runtime creates as
 * mount points (`/etc/hostname` when the image has none, volume paths), which Docker keeps in its
 * hidden init layer, are not changes: `stubs` names them.
 *
 * The upper directory belongs to a container that may be running, so it is walked through
 * descriptors (rooted-fs.ts); the lower layers are immutable image layers, looked up one
 * component at a time without following symlinks (a layer's `etc -> /` hides `etc/passwd` below
 * it, exactly as overlayfs sees it, and never leads to the host).
 *
 * @example
 * const changes = await containerChanges(await snapshotter.mounts(key), { stubs: ['etc/hosts'] });
 * // [{ kind: 'C', path: '/etc' }, { kind: 'A', path: '/etc/motd' }, { kind: 'D', path: '/tmp/x' }]
 */
import { spawn } from 'node:child_process';
import { readdirSync, realpathSync, type Stats } from 'node:fs';
import { FailedPreconditionError } from '../../errors/index.ts';
import { optionValue } from '../../image/layer/apply-to-mounts.ts';
import { OVERLAY_OPAQUE_XATTR } from '../../image/layer/whiteout.ts';
import { parseDump } from '../../image/layer/xattr.ts';
import type { Mount } from '../../snapshot/snapshotter.ts';
import { lstatOrUndefined } from '../../util/sync-fs.ts';
import { readFdXattrs } from './fd-xattrs.ts';
import { childFdPath, compareBytes, type DirFrame, RootedFs } from './rooted-fs.ts';

export type ChangeKind = 'C' | 'A' | 'D';

export interface Change {
  kind: ChangeKind;
  /** Absolute path in the container. */
  path: string;
}

/** The Engine API's numbers for the kinds (`GET /containers/ID/changes`). */
export const CHANGE_KIND_NUMBER: Record<ChangeKind, number> = { C: 0, A: 1, D: 2 };

export interface ChangesOptions {
  /** Paths (absolute or relative) where the runtime makes mount points: empty stubs there are not changes. */
  stubs?: readonly string[];
}

interface Node {
  name: string;
  rel: string;
  stats: Stats;
  whiteout: boolean;
  opaque: boolean;
  children: Node[] | undefined;
  /** Only runtime mount stubs here (nothing to report). */
  stubOnly: boolean;
}

/** The upper and lower directories of a writable snapshot's mounts. */
export function layerDirsOf(mounts: readonly Mount[]): { upper: string; lowers: string[] } {
  const only = mounts.length === 1 ? mounts[0]! : undefined;
  if (only?.type === 'overlay') {
    const upper = optionValue(only, 'upperdir');
    const lower = optionValue(only, 'lowerdir');
    if (upper !== undefined) return { upper, lowers: lower ? lower.split(':') : [] };
  }
  if (only?.type === 'bind' && !only.target) return { upper: only.source, lowers: [] };
  throw new FailedPreconditionError('Cannot list changes: the container snapshot is not an overlay');
}

export async function containerChanges(
  mounts: readonly Mount[],
  options: ChangesOptions = {},
): Promise<Change[]> {
  const { upper, lowers } = layerDirsOf(mounts);
  const image = new LowerView(lowers);
  const stubs = new Set((options.stubs ?? []).map((path) => path.split('/').filter(Boolean).join('/')));
  const root = RootedFs.open(upper);
  let tree: Node[];
  try {
    tree = await readTree(root, root.rootFrame);
  } finally {
    root.close();
  }
  await image.loadOpaque();
  markStubs(tree, stubs, image);
  return report(tree, image);
}

/**
 * The paths (relative) of the writable layer that only the runtime's mount points put there:
 * what `commit` leaves out of the layer, as Docker's init layer keeps them out of its.
 */
export async function stubOnlyPaths(
  mounts: readonly Mount[],
  stubs: readonly string[],
): Promise<Set<string>> {
  const { upper, lowers } = layerDirsOf(mounts);
  const image = new LowerView(lowers);
  const root = RootedFs.open(upper);
  let tree: Node[];
  try {
    tree = await readTree(root, root.rootFrame);
  } finally {
    root.close();
  }
  await image.loadOpaque();
  markStubs(tree, new Set(stubs.map((path) => path.split('/').filter(Boolean).join('/'))), image);
  const out = new Set<string>();
  const collect = (nodes: Node[]) => {
    for (const node of nodes) {
      if (node.stubOnly) out.add(node.rel);
      else if (node.children) collect(node.children);
    }
  };
  collect(tree);
  return out;
}

/** The upper directory as a tree, through descriptors, with whiteouts and opaque flags. */
async function readTree(root: RootedFs, frame: DirFrame): Promise<Node[]> {
  const nodes: Node[] = [];
  const dirs: { node: Node; fd: number }[] = [];
  try {
    for (const name of root.readdir(frame)) {
      const child = root.openChild(frame, name);
      if (!child) continue;
      const { stats } = child;
      const node: Node = {
        name,
        rel: frame.rel === '' ? name : `${frame.rel}/${name}`,
        stats,
        whiteout: stats.isCharacterDevice() && stats.rdev === 0,
        opaque: false,
        children: undefined,
        stubOnly: false,
      };
      nodes.push(node);
      if (stats.isDirectory()) dirs.push({ node, fd: child.fd });
      else root.closeFd(child.fd);
    }
    for (let i = 0; i < dirs.length; i += 512) {
      const batch = dirs.slice(i, i + 512);
      const attrs = await readFdXattrs(
        batch.map(({ fd }) => childFdPath(fd)),
        `^${OVERLAY_OPAQUE_XATTR.replace(/\./g, '\\.')}$`,
      );
      for (const { node, fd } of batch)
        node.opaque = attrs.get(childFdPath(fd))?.get(OVERLAY_OPAQUE_XATTR)?.toString() === 'y';
    }
    for (const { node, fd } of dirs) {
      node.children = await readTree(root, { fd, rel: node.rel, readonly: true });
    }
  } finally {
    for (const { fd } of dirs) root.closeFd(fd);
  }
  return nodes;
}

/** Marks what only the runtime's mount points put there, bottom up. */
function markStubs(nodes: Node[], stubs: ReadonlySet<string>, image: LowerView): void {
  if (stubs.size === 0) return;
  for (const node of nodes) {
    if (node.whiteout) continue;
    if (node.children) markStubs(node.children, stubs, image);
    const lower = image.stat(node.rel);
    if (stubs.has(node.rel) && lower === undefined) {
      node.stubOnly = node.stats.isDirectory()
        ? !node.opaque && node.children!.every((child) => child.stubOnly)
        : node.stats.isFile() && node.stats.size === 0;
      continue;
    }
    if (
      node.stats.isDirectory() &&
      !node.opaque &&
      node.children!.length > 0 &&
      node.children!.every((c) => c.stubOnly)
    ) {
      node.stubOnly =
        lower === undefined ||
        (lower.isDirectory() &&
          lower.mode === node.stats.mode &&
          lower.uid === node.stats.uid &&
          lower.gid === node.stats.gid);
    }
  }
}

function report(tree: Node[], image: LowerView): Change[] {
  const changes: Change[] = [];
  const changedDirs = new Set<string>();
  const injectParent = (rel: string) => {
    const slash = rel.lastIndexOf('/');
    if (slash < 0) return; // the parent is the root
    const parent = rel.slice(0, slash);
    if (changedDirs.has(parent)) return;
    changes.push({ kind: 'C', path: `/${parent}` });
    changedDirs.add(parent);
  };
  const walk = (nodes: Node[], hidden: boolean) => {
    for (const node of nodes) {
      if (node.stubOnly) continue;
      if (node.whiteout) {
        injectParent(node.rel);
        changes.push({ kind: 'D', path: `/${node.rel}` });
        continue;
      }
      const lower = hidden ? undefined : image.stat(node.rel);
      const isDir = node.stats.isDirectory();
      const kind: ChangeKind = lower ? 'C' : 'A';
      const unchangedDir =
        isDir && lower?.isDirectory() === true && !node.opaque && sameDir(node.stats, lower);
      if (!unchangedDir) {
        if (kind === 'A') injectParent(node.rel);
        if (isDir) changedDirs.add(node.rel);
        changes.push({ kind, path: `/${node.rel}` });
      }
      if (!isDir) continue;
      const below = node.children!;
      if (node.opaque && lower?.isDirectory()) {
        // Deleted and made again: what the image had in it is gone, unless made again too.
        const present = new Set(below.map((child) => child.name));
        const gone = image.children(node.rel).filter((name) => !present.has(name));
        const merged = [
          ...below.map((child) => ({ name: child.name, child })),
          ...gone.map((name) => ({ name, child: undefined })),
        ].sort((a, b) => compareBytes(a.name, b.name));
        for (const item of merged) {
          if (item.child) walk([item.child], true);
          else changes.push({ kind: 'D', path: `/${node.rel}/${item.name}` });
        }
        continue;
      }
      walk(below, hidden || node.opaque || lower === undefined || !lower.isDirectory());
    }
  };
  walk(tree, false);
  return changes;
}

/** Go's sameFsTime: equal, or equal seconds when one side has no sub-second part. */
function sameTime(a: Stats, b: Stats): boolean {
  const an = BigInt(Math.round(a.mtimeMs * 1e6));
  const bn = BigInt(Math.round(b.mtimeMs * 1e6));
  if (an === bn) return true;
  const second = 1_000_000_000n;
  return an / second === bn / second && (an % second === 0n || bn % second === 0n);
}

function sameDir(upper: Stats, lower: Stats): boolean {
  return (
    upper.mode === lower.mode && upper.uid === lower.uid && upper.gid === lower.gid && sameTime(upper, lower)
  );
}

/**
 * The image's merged view, from its layer directories (top first), read the way overlayfs reads
 * them: per layer, component by component, never following a symlink.
 */
class LowerView {
  readonly #layers: string[];
  /** Opaque directories (relative paths) of each layer but the bottom one (whose flag means nothing). */
  #opaque: Set<string>[] = [];

  constructor(layers: string[]) {
    // The snapshotter names lower layers by short links (`l/1a -> ../snapshots/9/fs`).
    this.#layers = layers.map((layer) => realpathSync(layer));
  }

  async loadOpaque(): Promise<void> {
    this.#opaque = await Promise.all(
      this.#layers.map((layer, i) => (i === this.#layers.length - 1 ? new Set<string>() : opaqueDirs(layer))),
    );
  }

  /** The entry at `rel` in the image, or undefined when the image has none there. */
  stat(rel: string): Stats | undefined {
    const parts = rel.split('/');
    for (let i = 0; i < this.#layers.length; i++) {
      const layer = this.#layers[i]!;
      let path = layer;
      for (let depth = 0; depth < parts.length; depth++) {
        path += `/${parts[depth]}`;
        const stats = lstatOrUndefined(path);
        if (!stats) break; // nothing here in this layer: look below
        if (stats.isCharacterDevice() && stats.rdev === 0) return undefined; // whited out
        if (depth === parts.length - 1) return stats;
        if (!stats.isDirectory()) return undefined; // a file or link here hides the layers below
        if (this.#opaque[i]?.has(parts.slice(0, depth + 1).join('/'))) {
          // The layers below are hidden from here: only this layer can still have it.
          return this.#statIn(layer, parts, depth + 1);
        }
      }
    }
    return undefined;
  }

  /** The names the image has in directory `rel`. */
  children(rel: string): string[] {
    const names = new Set<string>();
    const removed = new Set<string>();
    for (let i = 0; i < this.#layers.length; i++) {
      const dir = `${this.#layers[i]}/${rel}`;
      const stats = this.#statIn(this.#layers[i]!, rel.split('/'), 0);
      if (!stats) continue;
      if (!stats.isDirectory()) break;
      for (const name of readdirSync(dir)) {
        if (names.has(name) || removed.has(name)) continue;
        const child = lstatOrUndefined(`${dir}/${name}`);
        if (child?.isCharacterDevice() && child.rdev === 0) removed.add(name);
        else names.add(name);
      }
      if (this.#opaque[i]?.has(rel)) break;
    }
    return [...names].sort(compareBytes);
  }

  /** `parts` in one layer, from component `from` on, directories only on the way. */
  #statIn(layer: string, parts: string[], from: number): Stats | undefined {
    let path = `${layer}/${parts.slice(0, from).join('/')}`;
    if (from === 0) path = layer;
    for (let depth = from; depth < parts.length; depth++) {
      path += `/${parts[depth]}`;
      const stats = lstatOrUndefined(path);
      if (!stats) return undefined;
      if (stats.isCharacterDevice() && stats.rdev === 0) return undefined;
      if (depth === parts.length - 1) return stats;
      if (!stats.isDirectory()) return undefined;
    }
    return lstatOrUndefined(path);
  }
}

/** The directories of an image layer marked opaque (one getfattr over the layer, no symlink followed). */
function opaqueDirs(layer: string): Promise<Set<string>> {
  return new Promise((resolve, reject) => {
    const pattern = `^${OVERLAY_OPAQUE_XATTR.replace(/\./g, '\\.')}$`;
    const child = spawn(
      'getfattr',
      ['-R', '-P', '-h', '-d', '-m', pattern, '--absolute-names', '--', layer],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    const out: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.on('error', reject);
    child.on('close', () => {
      const dirs = new Set<string>();
      const prefix = `${layer.replace(/\/+$/, '')}/`;
      for (const [path, attrs] of parseDump(Buffer.concat(out).toString('utf8'))) {
        if (attrs.get(OVERLAY_OPAQUE_XATTR)?.toString() !== 'y') continue;
        if (path.startsWith(prefix)) dirs.add(path.slice(prefix.length));
      }
      resolve(dirs);
    });
  });
}
