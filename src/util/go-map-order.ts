/**
 * A map's entries in the order Go's encoding/json writes them: keys sorted by their bytes. Docker
 * answers every map (labels, options, exposed ports, volumes) that way, and scripts compare
 * `{{json .Labels}}` or whole inspect outputs; a JavaScript object keeps insertion order instead.
 *
 * @example
 * goMapOrder({ b: '1', a: '2' }); // { a: '2', b: '1' }
 */
export function goMapOrder<T>(map: Readonly<Record<string, T>>): Record<string, T> {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
