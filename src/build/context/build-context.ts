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
import type { DockerIgnore, IgnoreMatchInfo } from '../../dockerfile/dockerignore.ts';
import type { MetadataDatabase } from '../../metadata/database.ts';
import { ContextTree } from '../fs/source-tree.ts';
import { ContextIndex } from './context-index.ts';
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

  constructor(dir: string, ignore: DockerIgnore, db: MetadataDatabase) {
    this.dir = dir;
    this.#ignore = ignore;
    this.#db = db;
  }

  get loaded(): boolean {
    return this.#index !== undefined;
  }

  index(): ContextIndex {
    this.#index ??= ContextIndex.walk(this.dir, this.#ignore);
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
    const index = this.index();
    const digests = this.digests();
    const hash = createHash('sha256');
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
      if (e.type === 'file') what = e.hardlinkTo !== undefined ? `link:${e.hardlinkTo}` : digests.digest(e);
      else if (e.type === 'symlink') what = e.linkTarget ?? '';
      else if (e.type === 'char-device' || e.type === 'block-device') what = String(e.rdev);
      hash.update(`${components}\0${include ? 'i' : 'p'}\0${e.type}\0${e.mode.toString(8)}\0${what}\n`);
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
    return `sha256:${hash.digest('hex')}`;
  }

  /** Persists the file digests computed in this build. */
  save(): void {
    if (this.#digests && this.#index) this.#digests.save(this.#index);
  }
}
