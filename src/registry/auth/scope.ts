/**
 * Scopes of Docker's token auth (distribution `docs/spec/auth/scope.md`): `type:name:actions`,
 * e.g. `repository:team/app:pull,push` or `registry:catalog:*`. A name may contain colons (a
 * registry host with a port), so the type ends at the first colon and the actions start after the
 * last. A resource class (`repository(plugin)`) is dropped. Several scopes may share one `scope`
 * parameter, separated by spaces (the OAuth2 form).
 *
 * @example
 * parseScopes(['repository:team/app:pull,push registry:catalog:*']);
 * // [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }, { type: 'registry', name: 'catalog', actions: ['*'] }]
 */

export interface Scope {
  type: string;
  name: string;
  actions: string[];
}

export function parseScopes(values: readonly string[]): Scope[] {
  const scopes: Scope[] = [];
  for (const value of values) {
    for (const text of value.split(' ')) {
      const first = text.indexOf(':');
      const last = text.lastIndexOf(':');
      if (first <= 0 || last === first) continue;
      const type = text.slice(0, first).replace(/\(.*\)$/, '');
      const name = text.slice(first + 1, last);
      const actions = text
        .slice(last + 1)
        .split(',')
        .filter((action) => action !== '');
      if (name === '' || actions.length === 0) continue;
      scopes.push({ type, name, actions });
    }
  }
  return scopes;
}

export function formatScope(scope: Scope): string {
  return `${scope.type}:${scope.name}:${scope.actions.join(',')}`;
}
