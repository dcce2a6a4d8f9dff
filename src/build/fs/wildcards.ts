/**
 * BuildKit's `ResolveWildcards` over a source tree: the part of a source path before its first
 * wildcard is resolved (symlinks followed inside the tree), then the tree below it is walked
 * without following links, and every path matching the rest (Go's filepath.Match, `*` never
 * crossing `/`) is a source; a matched directory is not searched further.
 *
 * @example
 * resolveWildcards(tree, '/src/*.go'); // ['src/a.go', 'src/b.go']
 */
import { resolveInRoot } from '../../image/layer/root-path.ts';
import { containsWildcards, goMatch } from './go-match.ts';
import type { SourceTree } from './source-tree.ts';

function cleanParts(p: string): string[] {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out;
}

/** BuildKit's ResolveWildcards over a source tree: the relative paths matching `src`. */
export function resolveWildcards(tree: SourceTree, src: string): string[] {
  const parts = cleanParts(src);
  const fixed: string[] = [];
  const rest: string[] = [];
  for (const part of parts) {
    if (rest.length === 0 && !containsWildcards(part)) fixed.push(part);
    else rest.push(part);
  }
  const base = resolveInRoot(fixed.join('/'), (rel) => tree.kind(rel));
  if (rest.length === 0) return [base];
  const pattern = rest.join('/');
  const out: string[] = [];
  const walk = (dir: string, relDir: string): void => {
    for (const name of tree.children(dir)) {
      const path = dir === '' ? name : `${dir}/${name}`;
      const rel = relDir === '' ? name : `${relDir}/${name}`;
      const st = tree.stat(path);
      if (!st) continue;
      if (goMatch(pattern, rel)) {
        out.push(path);
        continue; // a matched directory is not searched further (SkipDir)
      }
      if (st.type === 'directory') walk(path, rel);
    }
  };
  if (tree.stat(base)?.type === 'directory') walk(base, '');
  return out;
}
