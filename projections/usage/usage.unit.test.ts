import { describe, expect, it } from 'vitest';
import { istMonth } from './projection.ts';

describe('the usage month of a call', () => {
  it('is the calendar month in India Standard Time, which starts 5 h 30 min before UTC’s', () => {
    expect(istMonth('2026-11-30T18:29:59.999Z')).toBe('2026-11');
    expect(istMonth('2026-11-30T18:30:00.000Z')).toBe('2026-12');
    expect(istMonth('2026-12-31T20:00:00.000Z')).toBe('2027-01');
    expect(istMonth('2027-01-01T00:00:00+05:30')).toBe('2027-01');
  });
});
