/** Small pure helpers for summarising benchmark samples. */

/** The middle value (the mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] as number;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] as number) + upper) / 2;
}

/**
 * Nearest-rank percentile (`fraction` 0.5 = p50, 0.99 = p99): the smallest sample with at least that
 * share of samples at or below it. No interpolation, so it is always a latency that was observed.
 */
export function percentile(values: readonly number[], fraction: number): number {
  if (values.length === 0) throw new RangeError('percentile of no values');
  if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`fraction must be in (0, 1], got ${fraction}`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil(fraction * sorted.length);
  return sorted[rank - 1] as number;
}

/** Largest over smallest: 1.0 means the runs agreed exactly; 1.2 means a 20 % spread. */
export function spread(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('spread of no values');
  const smallest = Math.min(...values);
  return smallest === 0 ? Number.POSITIVE_INFINITY : Math.max(...values) / smallest;
}

/** Events per second as a short human figure: 950, 9.5k, 95k, 950k, 9.5M. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return String(perSecond);
  const units: readonly [number, string][] = [
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [size, suffix] of units) {
    if (Math.abs(perSecond) >= size) {
      const scaled = perSecond / size;
      const digits = Math.abs(scaled) >= 100 ? 0 : 1;
      return `${scaled.toFixed(digits)}${suffix}`;
    }
  }
  return Math.round(perSecond).toString();
}

/** Rounds to a fixed number of decimals for JSON output (benchmark figures, never money). */
export function round(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}
