/**
 * "Did you mean ...?" for a misspelt word, as BuildKit's util/suggest: the option at the smallest
 * Levenshtein distance below 3, case-insensitively, written in the case of the input (all lower,
 * all upper, else lower). Go walks a map in random order, so BuildKit breaks ties at random;
 * here the option needing fewer edits when a swap of neighbours counts as one wins (`rnu` is
 * `run`, not `env`), then the first in the given order.
 *
 * @example
 * suggest('FORM', ['ADD', 'FROM', 'RUN']); // 'FROM'
 * suggest('form', ['ADD', 'FROM', 'RUN']); // 'from'
 */
import { goToLower, goToUpper } from './go-text.ts';

export function suggest(value: string, options: readonly string[]): string | undefined {
  const lower = goToLower(value);
  let match: string | undefined;
  let best = 3;
  let bestSwaps = Number.POSITIVE_INFINITY;
  for (const option of options) {
    const candidate = goToLower(option);
    if (candidate === lower) return undefined; // an exact match: the error was about something else
    const distance = editDistance(lower, candidate, false);
    if (distance > best || distance >= 3) continue;
    const swaps = editDistance(lower, candidate, true);
    if (distance < best || swaps < bestSwaps) {
      best = distance;
      bestSwaps = swaps;
      match = matchCase(candidate, value);
    }
  }
  return match;
}

function matchCase(option: string, original: string): string {
  if (original === goToLower(original)) return goToLower(option);
  if (original === goToUpper(original)) return goToUpper(option);
  return option;
}

/** Levenshtein distance over code points (agext/levenshtein's default costs, as BuildKit). */
export function levenshtein(a: string, b: string): number {
  return editDistance(a, b, false);
}

/**
 * Edit distance over code points: insertions, deletions and substitutions cost 1 (Levenshtein);
 * with `swaps`, exchanging two neighbours costs 1 too (optimal string alignment).
 */
function editDistance(a: string, b: string, swaps: boolean): number {
  const s = Array.from(a);
  const t = Array.from(b);
  const rows: number[][] = [Array.from({ length: t.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= s.length; i++) {
    const row = [i];
    const above = rows[i - 1]!;
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let best = Math.min(above[j]! + 1, row[j - 1]! + 1, above[j - 1]! + cost);
      if (swaps && i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) {
        best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      }
      row[j] = best;
    }
    rows.push(row);
  }
  return rows[s.length]![t.length]!;
}
