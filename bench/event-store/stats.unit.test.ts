import { describe, expect, it } from 'vitest';
import { formatRate, median, percentile, round, spread } from './stats.ts';

describe('benchmark statistics', () => {
  it('takes the middle run as the median, whatever order the runs finished in', () => {
    expect(median([30, 10, 20])).toBe(20);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(RangeError);
  });

  it('reports percentiles as latencies that were actually observed', () => {
    const latencies = Array.from({ length: 100 }, (_, index) => index + 1);
    expect(percentile(latencies, 0.5)).toBe(50);
    expect(percentile(latencies, 0.99)).toBe(99);
    expect(percentile(latencies, 1)).toBe(100);
    expect(percentile([7], 0.99)).toBe(7);
    expect(() => percentile(latencies, 0)).toThrow(RangeError);
  });

  it('measures how far the runs disagree as largest over smallest', () => {
    expect(spread([100, 120, 110])).toBeCloseTo(1.2);
    expect(spread([5, 5])).toBe(1);
  });

  it('prints rates short enough for a table', () => {
    expect(formatRate(950.4)).toBe('950');
    expect(formatRate(9_512)).toBe('9.5k');
    expect(formatRate(412_345)).toBe('412k');
    expect(formatRate(2_300_000)).toBe('2.3M');
    expect(round(1.23456, 2)).toBe(1.23);
  });
});
