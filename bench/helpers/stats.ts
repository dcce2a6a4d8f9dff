/**
 * Summaries of a benchmark's samples: the median and percentiles.
 *
 * Why it exists: each benchmark had its own copy, and two ways of taking a median had grown up
 * (the mean of the two middle samples, or the upper one); both are kept, by name, so that a
 * benchmark's figures stay comparable with the ones it printed before.
 *
 * @example
 * median([3, 1, 2, 4]); // 2.5
 * median([3, 1, 2, 4], { even: 'upper' }); // 3
 * percentile([5, 1, 9, 7], 99); // 9
 */

export interface MedianOptions {
  /**
   * For an even count: `'mean'` (default) of the two middle samples, or the `'upper'` one (what
   * the distribution and startup benchmarks have always reported).
   */
  even?: 'mean' | 'upper';
}

/** The median of `values` (not changed); NaN when there are none. */
export function median(values: readonly number[], options: MedianOptions = {}): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length % 2 || options.even === 'upper') return sorted[middle] ?? Number.NaN;
  return (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * The sample at percentile `p` (0-100), nearest rank from below: the `floor(n * p / 100)`-th of
 * the sorted samples, the last one at most; 0 when there are none.
 */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
}
