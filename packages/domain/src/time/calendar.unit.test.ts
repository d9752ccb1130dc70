import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addMonthsKeepingAnchor,
  CalendarError,
  daysBetween,
  financialYear,
  formatLocalDate,
  localClock,
  localDate,
  parseLocalDate,
  periodAt,
  periodContaining,
  startOfLocalDay,
  toLocalDate,
} from './calendar.ts';

const d = parseLocalDate;
const f = formatLocalDate;

describe('billing calendar (IST)', () => {
  it('keeps the anchor day across short months: 31 Jan → 28/29 Feb → 31 Mar', () => {
    expect(f(addMonthsKeepingAnchor(d('2026-01-31'), 1))).toBe('2026-02-28');
    expect(f(addMonthsKeepingAnchor(d('2028-01-31'), 1))).toBe('2028-02-29');
    expect(f(addMonthsKeepingAnchor(d('2026-01-31'), 2))).toBe('2026-03-31');
    expect(f(addMonthsKeepingAnchor(d('2026-01-30'), 1))).toBe('2026-02-28');
    expect(f(addMonthsKeepingAnchor(d('2026-01-30'), 2))).toBe('2026-03-30');
    expect(f(addMonthsKeepingAnchor(d('2026-11-30'), 3))).toBe('2027-02-28');
    expect(f(addMonthsKeepingAnchor(d('2026-03-31'), -1))).toBe('2026-02-28');
  });

  it('builds monthly, quarterly and annual periods from the anchor without drift', () => {
    const anchor = d('2026-01-31');
    expect([0, 1, 2, 3].map((i) => `${f(periodAt(anchor, 1, i).start)}..${f(periodAt(anchor, 1, i).end)}`)).toEqual([
      '2026-01-31..2026-02-28',
      '2026-02-28..2026-03-31',
      '2026-03-31..2026-04-30',
      '2026-04-30..2026-05-31',
    ]);
    expect(f(periodAt(anchor, 3, 1).start)).toBe('2026-04-30');
    expect(f(periodAt(d('2028-02-29'), 12, 1).start)).toBe('2029-02-28');
    expect(f(periodAt(d('2028-02-29'), 12, 4).start)).toBe('2032-02-29');
  });

  it('finds the period containing a date, including the clamped-anchor edge', () => {
    const anchor = d('2026-01-31');
    expect(periodContaining(anchor, 1, d('2026-02-27')).index).toBe(0);
    expect(periodContaining(anchor, 1, d('2026-02-28')).index).toBe(1);
    expect(periodContaining(anchor, 1, d('2026-03-30')).index).toBe(1);
    expect(periodContaining(anchor, 1, d('2026-03-31')).index).toBe(2);
    expect(periodContaining(anchor, 3, d('2026-04-29')).index).toBe(0);
    expect(() => periodContaining(anchor, 1, d('2026-01-30'))).toThrow(CalendarError);
  });

  it('places every date in exactly one period, periods tiling without gaps (property)', () => {
    const dates = fc.date({
      min: new Date('2020-01-01T00:00:00Z'),
      max: new Date('2035-12-31T00:00:00Z'),
      noInvalidDate: true,
    });
    fc.assert(
      fc.property(dates, dates, fc.constantFrom(1, 3, 12), (a, b, cycle) => {
        const [anchorInstant, laterInstant] = a <= b ? [a, b] : [b, a];
        const anchor = toLocalDate(anchorInstant);
        const date = toLocalDate(laterInstant);
        const period = periodContaining(anchor, cycle, date);
        expect(f(period.start) <= f(date) && f(date) < f(period.end)).toBe(true);
        expect(f(periodAt(anchor, cycle, period.index + 1).start)).toBe(f(period.end));
      }),
    );
  });

  it('converts instants to IST dates and back at +05:30', () => {
    expect(f(toLocalDate(new Date('2026-03-31T18:29:59Z')))).toBe('2026-03-31');
    expect(f(toLocalDate(new Date('2026-03-31T18:30:00Z')))).toBe('2026-04-01');
    expect(startOfLocalDay(d('2026-04-01')).toISOString()).toBe('2026-03-31T18:30:00.000Z');
    const clock = localClock(new Date('2026-11-23T02:30:00Z'));
    expect(clock).toEqual({ weekday: 'mon', secondOfDay: 8 * 3600, date: { year: 2026, month: 11, day: 23 } });
  });

  it('names financial years April to March', () => {
    expect(financialYear(d('2026-03-31')).label).toBe('2025-26');
    expect(financialYear(d('2026-04-01')).label).toBe('2026-27');
    expect(financialYear(d('2099-12-01')).label).toBe('2099-00');
  });

  it('counts days and refuses impossible dates', () => {
    expect(daysBetween(d('2026-02-01'), d('2026-03-01'))).toBe(28);
    expect(daysBetween(d('2026-03-01'), d('2026-02-01'))).toBe(-28);
    expect(() => localDate(2026, 2, 29)).toThrow(CalendarError);
    expect(() => parseLocalDate('2026-13-01')).toThrow(CalendarError);
    expect(() => parseLocalDate('1/2/2026')).toThrow(CalendarError);
  });
});
