/**
 * The build context of one build, loaded when a step first needs it: the walk (with
 * `.dockerignore`), the file digests (cached across builds), and the content digest of what a
 * COPY selects, which goes into that COPY's cache key. The digest covers, for each selected
 * entry, its path below the source, type, mode, owner (as the copy will write it: 0:0 from the
 * context), content digest, link target, device number and hard-link partner; never its mtime.
 *
 * @example
 * const context = new BuildContext('/src/app', ignore, db);
 * const digest = context.selectionDigest('src', {});
 * context.save();
 */
import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import type { DockerIgnore, IgnoreMatchInfo } from '../../dockerfile/dockerignore.ts';
import type { MetadataDatabase } from '../../metadata/database.ts';
import { ContextTree } from '../fs/source-tree.ts';
import { type ContextFile, ContextIndex } from './context-index.ts';
import { FileDigests } from './file-digests.ts';

export interface SelectionFilter {
  include?: DockerIgnore;
  exclude?: DockerIgnore;
}

export class BuildContext {
  readonly dir: string;
  readonly #ignore: DockerIgnore;
  readonly #db: MetadataDatabase;
  #index: ContextIndex | undefined;
  #digests: FileDigests | undefined;
  #tree: ContextTree | undefined;

  readonly #known: ReadonlyMap<string, Stats> | undefined;
  readonly #handedDigests: ReadonlyMap<string, string> | undefined;

  /**
   * `known.stats`: current lstat results of the context's entries, when the caller has them
   * (ContextIndex.walk); `known.digests`: content digests of its regular files, when the caller
   * has just hashed their bytes (these are neither hashed again nor looked up in the cache).
   */
  constructor(
    dir: string,
    ignore: DockerIgnore,
    db: MetadataDatabase,
    known: { stats?: ReadonlyMap<string, Stats>; digests?: ReadonlyMap<string, string> } = {},
  ) {
    this.dir = dir;
    this.#ignore = ignore;
    this.#db = db;
    this.#known = known.stats;
    this.#handedDigests = known.digests;
  }

  /** The content digest of a regular file of the context. */
  #digest(entry: ContextFile): string {
    return this.#handedDigests?.get(entry.path) ?? this.digests().digest(entry);
  }

  get loaded(): boolean {
    return this.#index !== undefined;
  }

  index(): ContextIndex {
    this.#index ??= ContextIndex.walk(this.dir, this.#ignore, this.#known);
    return this.#index;
  }

  tree(): ContextTree {
    this.#tree ??= new ContextTree(this.index());
    return this.#tree;
  }

  digests(): FileDigests {
    this.#digests ??= new FileDigests(this.#db, this.index().root);
    return this.#digests;
  }

  /** The digest of what copying `rel` (already resolved) selects. */
  selectionDigest(rel: string, filter: SelectionFilter): string {
    return this.selection(rel, filter).digest;
  }

  /**
   * The content digest of what copying `rel` selects, and its *shape*: the same walk with the
   * bytes of regular files left out (paths, types, modes, link targets and devices stay). Two
   * selections of one shape make a copy do the same things, only with other file contents: what
   * copy reuse (copy-reuse.ts) relies on. `plain` is false when the selection holds anything
   * but directories, symlinks and regular files with one name (hard links, devices, fifos,
   * sockets), which reuse leaves to the full copy.
   */
  selection(rel: string, filter: SelectionFilter): { digest: string; shape: string; plain: boolean } {
    const index = this.index();
    // the lines are hashed in batches: one native call per line cost more than the hashing
    let lines = '';
    let shapeLines = '';
    const hash = createHash('sha256');
    const shape = createHash('sha256');
    let plain = true;
    const visit = (
      path: string,
      components: string,
      pIncl?: IgnoreMatchInfo,
      pExcl?: IgnoreMatchInfo,
    ): void => {
      let include = true;
      let excluded = false;
      let inclInfo: IgnoreMatchInfo | undefined;
      let exclInfo: IgnoreMatchInfo | undefined;
      if (components !== '') {
        if (filter.include) {
          const r = filter.include.matchWithParent(components, pIncl);
          include = r.excluded;
          inclInfo = r.info;
        }
        if (filter.exclude) {
          const r = filter.exclude.matchWithParent(components, pExcl);
          exclInfo = r.info;
          if (r.excluded) {
            include = false;
            excluded = true;
          }
        }
        if (!include && !filter.include && !(filter.exclude?.hasExclusions ?? false)) return;
      }
      const e = index.get(path);
      if (!e) return;
      if (!include && e.type !== 'directory') return;
      let what = '';
      let form = '';
      if (e.type === 'file') {
        if (e.hardlinkTo !== undefined) what = form = `link:${e.hardlinkTo}`;
        else what = this.#digest(e);
        // a name of an inode with several in the context (not one also named outside it: a
        // layer's link to a context slot's file, or the user's own link elsewhere)
        if (index.sharesInode(e)) plain = false;
      } else if (e.type === 'symlink') what = form = e.linkTarget ?? '';
      else if (e.type === 'char-device' || e.type === 'block-device') what = form = String(e.rdev);
      if (e.type !== 'file' && e.type !== 'directory' && e.type !== 'symlink') plain = false;
      const line = `${components}\0${include ? 'i' : 'p'}\0${e.type}\0${e.mode.toString(8)}\0`;
      lines += `${line}${what}\n`;
      shapeLines += `${line}${form}\n`;
      if (lines.length > 1 << 16) {
        hash.update(lines);
        shape.update(shapeLines);
        lines = shapeLines = '';
      }
      if (e.type !== 'directory') return;
      if (excluded && !(filter.exclude?.hasExclusions ?? false)) return;
      for (const name of index.children(path)) {
        visit(
          path === '' ? name : `${path}/${name}`,
          components === '' ? name : `${components}/${name}`,
          inclInfo,
          exclInfo,
        );
      }
    };
    visit(rel, '');
    hash.update(lines);
    shape.update(shapeLines);
    return { digest: `sha256:${hash.digest('hex')}`, shape: `sha256:${shape.digest('hex')}`, plain };
  }

  /** The context entry at `path` with its content digest (files), for copy reuse. */
  file(path: string): { entry: ContextFile; digest: string } | undefined {
    const entry = this.index().get(path);
    if (!entry) return undefined;
    return { entry, digest: entry.type === 'file' ? this.#digest(entry) : '' };
  }

  /** Persists the file digests computed in this build. */
  save(): void {
    if (this.#digests && this.#index) this.#digests.save(this.#index);
  }
}
