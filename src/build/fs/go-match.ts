/**
 * Go's `path/filepath.Match` (Unix separators): `*` any run of non-`/` characters, `?` one
 * non-`/` character, `[...]` a class with ranges and `^` negation, `\` escaping the next
 * character. A malformed pattern matches nothing (Go returns ErrBadPattern, which BuildKit's
 * wildcard resolution treats as no match). COPY sources use it for their wildcards.
 *
 * @example
 * goMatch('*.go', 'main.go');        // true
 * goMatch('sub/*', 'sub/a/b');       // false: `*` never crosses `/`
 */

const cache = new Map<string, RegExp | null>();

function escapeRegex(ch: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(ch) ? `\\${ch}` : ch;
}

function compile(pattern: string): RegExp | null {
  let out = '';
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '\\') {
      i++;
      if (i >= chars.length) return null;
      out += escapeRegex(chars[i]!);
    } else if (c === '[') {
      i++;
      let negate = false;
      if (chars[i] === '^') {
        negate = true;
        i++;
      }
      let cls = '';
      let first = true;
      // Go's getEsc: `-` and `]` cannot start a range end point; `\` escapes.
      const esc = (): string | null => {
        let ch = chars[i];
        if (ch === undefined || ch === '-' || ch === ']') return null;
        if (ch === '\\') {
          i++;
          ch = chars[i];
          if (ch === undefined) return null;
        }
        i++;
        return ch;
      };
      for (;;) {
        if (i >= chars.length) return null;
        if (chars[i] === ']' && !first) break;
        first = false;
        const lo = esc();
        if (lo === null) return null;
        if (chars[i] === '-') {
          i++;
          const hi = esc();
          if (hi === null || hi.codePointAt(0)! < lo.codePointAt(0)!) return null;
          cls += `${escapeRegex(lo)}-${escapeRegex(hi)}`;
        } else {
          cls += escapeRegex(lo);
        }
      }
      if (cls === '') return null;
      out += negate ? `(?![/])[^${cls}]` : `[${cls}]`;
    } else out += escapeRegex(c);
  }
  return new RegExp(`^${out}$`, 'su');
}

export function goMatch(pattern: string, name: string): boolean {
  let re = cache.get(pattern);
  if (re === undefined) {
    re = compile(pattern);
    cache.set(pattern, re);
  }
  return re?.test(name) ?? false;
}

/** BuildKit's `containsWildcards`: an unescaped `*`, `?` or `[`. */
export function containsWildcards(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const ch = name[i];
    if (ch === '\\') i++;
    else if (ch === '*' || ch === '?' || ch === '[') return true;
  }
  return false;
}
