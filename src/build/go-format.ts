/**
 * The few Go formatting verbs BuildKit's history entries and messages are made of, so that
 * `created_by` strings match byte for byte: `%v` of a string slice (`[a b]`), `%q` of one
 * (`["a" "b"]`), time.Duration's String (`1m30s`, `500ms`), and `%+v` of a health check.
 *
 * @example
 * goList(['/bin/sh', '-c']);   // '[/bin/sh -c]'
 * goDuration(90_000_000_000n); // '1m30s'
 */

import type { HealthConfig } from '../dockerfile/instructions/index.ts';
import { goQuote, goQuoteList } from '../dockerfile/parser/go-quote.ts';

export { goQuote, goQuoteList };

/** `fmt.Sprintf("%v", []string{...})`. */
export function goList(items: readonly string[]): string {
  return `[${items.join(' ')}]`;
}

/** Go's fmtFrac: the fraction of v / 10^prec without trailing zeros; returns [text, v / 10^prec]. */
function fmtFrac(v: bigint, prec: number): [string, bigint] {
  let digits = '';
  let print = false;
  for (let i = 0; i < prec; i++) {
    const digit = v % 10n;
    print = print || digit !== 0n;
    if (print) digits = `${digit}${digits}`;
    v /= 10n;
  }
  return [print ? `.${digits}` : '', v];
}

/** time.Duration.String for a duration in nanoseconds. */
export function goDuration(ns: bigint | number): string {
  let u = BigInt(ns);
  const neg = u < 0n;
  if (neg) u = -u;
  let out: string;
  if (u < 1_000_000_000n) {
    if (u === 0n) return '0s';
    let unit: string;
    let prec: number;
    if (u < 1000n) {
      unit = 'ns';
      prec = 0;
    } else if (u < 1_000_000n) {
      unit = 'µs';
      prec = 3;
    } else {
      unit = 'ms';
      prec = 6;
    }
    const [frac, whole] = fmtFrac(u, prec);
    out = `${whole}${frac}${unit}`;
  } else {
    const [frac, seconds] = fmtFrac(u, 9);
    out = `${seconds % 60n}${frac}s`;
    let minutes = seconds / 60n;
    if (minutes > 0n) {
      out = `${minutes % 60n}m${out}`;
      const hours = minutes / 60n;
      if (hours > 0n) out = `${hours}h${out}`;
      minutes = 0n;
    }
  }
  return neg ? `-${out}` : out;
}

/** `fmt.Sprintf("HEALTHCHECK %+v", config)` of Docker's HealthcheckConfig. */
export function healthcheckHistory(h: HealthConfig): string {
  return (
    `HEALTHCHECK {Test:${goList(h.test)} Interval:${goDuration(h.interval)} Timeout:${goDuration(h.timeout)} ` +
    `StartPeriod:${goDuration(h.startPeriod)} StartInterval:${goDuration(h.startInterval)} Retries:${h.retries}}`
  );
}
