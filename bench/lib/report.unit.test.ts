import { describe, expect, it } from 'vitest';
import { toLine } from './report.ts';

describe('benchmark measurement lines', () => {
  it('states the ratio so that above 1 always means faster than the baseline', () => {
    const rate = toLine({
      bench: 'cdr-ingest',
      metric: 'cdrs_per_second',
      value: 25_000,
      unit: 'cdr/s',
      direction: 'higher-is-better',
      baseline: 4_000,
      target: 20_000,
    });
    expect(rate).toEqual({
      bench: 'cdr-ingest',
      metric: 'cdrs_per_second',
      value: 25_000,
      unit: 'cdr/s',
      baseline: 4_000,
      ratio: 6.25,
      target: 20_000,
      met: true,
    });
    const latency = toLine({
      bench: 'authorize',
      metric: 'p99',
      value: 2,
      unit: 'ms',
      direction: 'lower-is-better',
      baseline: 8,
      target: 1,
    });
    expect(latency).toMatchObject({ ratio: 4, met: false });
  });

  it('has no ratio without a baseline', () => {
    expect(
      toLine({ bench: 'replay', metric: 'duration', value: 812.34567, unit: 'ms', direction: 'lower-is-better' }),
    ).toEqual({ bench: 'replay', metric: 'duration', value: 812.346, unit: 'ms', baseline: null, ratio: null });
  });
});
