/**
 * A small method + path router with gorilla/mux-style patterns, as moby declares its routes:
 * `{id}` matches one path segment, `{name:.*}` anything (image names contain slashes:
 * `/images/localhost:5000/team/app:1/json`). Routes are tried in the order added, so put the
 * fixed paths (`/images/json`) before the patterns that could swallow them.
 *
 * @example
 * const router = new Router<Handler>();
 * router.add('GET', '/images/{name:.*}/json', inspectImage);
 * router.match('GET', '/images/busybox/json'); // { handler: inspectImage, params: { name: 'busybox' } }
 */

interface CompiledRoute<H> {
  method: string;
  pattern: string;
  regex: RegExp;
  names: string[];
  handler: H;
}

export interface RouteMatch<H> {
  handler: H;
  params: Record<string, string>;
  /** The pattern that matched, for logs (`/images/{name:.*}/json`). */
  pattern: string;
}

const PARAM = /\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}/g;

function compile(pattern: string): { regex: RegExp; names: string[] } {
  const names: string[] = [];
  let source = '';
  let last = 0;
  for (const match of pattern.matchAll(PARAM)) {
    source += escapeRegExp(pattern.slice(last, match.index));
    names.push(match[1]!);
    source += `(${match[2] ?? '[^/]+'})`;
    last = match.index + match[0].length;
  }
  source += escapeRegExp(pattern.slice(last));
  return { regex: new RegExp(`^${source}$`), names };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // a stray % is taken literally, as Go's mux does with unescapable paths
  }
}

export class Router<H> {
  readonly #routes: CompiledRoute<H>[] = [];

  add(method: string, pattern: string, handler: H): void {
    const { regex, names } = compile(pattern);
    this.#routes.push({ method: method.toUpperCase(), pattern, regex, names, handler });
  }

  /** The first route of `method` whose pattern matches the (still percent-encoded) `path`. */
  match(method: string, path: string): RouteMatch<H> | undefined {
    const upper = method.toUpperCase();
    for (const route of this.#routes) {
      if (route.method !== upper) continue;
      const found = route.regex.exec(path);
      if (!found) continue;
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => {
        params[name] = decode(found[i + 1] ?? '');
      });
      return { handler: route.handler, params, pattern: route.pattern };
    }
    return undefined;
  }

  /** Every route as `METHOD pattern`, in order (for the docs and the route table test). */
  list(): string[] {
    return this.#routes.map((route) => `${route.method} ${route.pattern}`);
  }
}
