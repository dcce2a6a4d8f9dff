/**
 * Parses `WWW-Authenticate` headers (RFC 7235): one or more challenges, each a scheme and
 * comma-separated `name=value` parameters whose values may be quoted strings with `\` escapes.
 * A registry answers 401 with `Bearer realm="…",service="…",scope="…"` (token auth) or
 * `Basic realm="…"` (htpasswd).
 *
 * @example
 * parseWwwAuthenticate('Bearer realm="https://auth.example/token",service="registry"');
 * // [{ scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry' } }]
 */

export interface AuthChallenge {
  /** Lower-cased scheme: `bearer`, `basic`. */
  scheme: string;
  /** Parameters with lower-cased names. */
  params: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;

/** Parses every challenge of one or several header values. Malformed parts are skipped. */
export function parseWwwAuthenticate(header: string | readonly string[] | undefined): AuthChallenge[] {
  if (header === undefined) return [];
  const values = typeof header === 'string' ? [header] : header;
  const out: AuthChallenge[] = [];
  for (const value of values) out.push(...parseOne(value));
  return out;
}

function parseOne(input: string): AuthChallenge[] {
  const challenges: AuthChallenge[] = [];
  let rest = input;
  let current: AuthChallenge | undefined;
  const skip = (pattern: RegExp) => {
    rest = rest.replace(pattern, '');
  };
  while (rest.length > 0) {
    skip(/^[\s,]+/);
    const token = TOKEN.exec(rest)?.[0];
    if (!token) {
      // not a token: drop one character and resynchronise at the next comma
      rest = rest.slice(1);
      continue;
    }
    const afterToken = rest.slice(token.length);
    const isParam =
      /^\s*=/.test(afterToken) && current !== undefined && !/^\s*=\s*=*\s*(,|$)/.test(afterToken);
    if (!isParam) {
      // a new challenge (token68 credentials after a scheme are ignored: registries send none)
      current = { scheme: token.toLowerCase(), params: {} };
      challenges.push(current);
      rest = afterToken;
      continue;
    }
    rest = afterToken.replace(/^\s*=\s*/, '');
    let value: string;
    if (rest.startsWith('"')) {
      let i = 1;
      value = '';
      while (i < rest.length && rest[i] !== '"') {
        if (rest[i] === '\\' && i + 1 < rest.length) i++;
        value += rest[i];
        i++;
      }
      rest = rest.slice(i + 1);
    } else {
      const end = rest.search(/[\s,]/);
      value = end < 0 ? rest : rest.slice(0, end);
      rest = end < 0 ? '' : rest.slice(end);
    }
    current!.params[token.toLowerCase()] = value;
  }
  return challenges;
}
