/**
 * The LABELS column of the listings (`ps`, `volume ls`) and their `{{.Labels}}`: `key=value`
 * pairs in sorted key order, joined by commas.
 *
 * @example
 * labelsColumn({ b: '2', a: '1' }); // 'a=1,b=2'
 */
import { goMapOrder } from '../../util/go-map-order.ts';

export function labelsColumn(labels: Readonly<Record<string, string>>): string {
  return Object.entries(goMapOrder(labels))
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}
