/**
 * Billing calendar in India Standard Time. IST is UTC+05:30 all year (India has had no daylight saving
 * since 1945), so local dates are computed with a fixed offset and no time-zone database.
 *
 * Time is always passed in: nothing here reads a clock.
 */

export const IST_OFFSET_MINUTES = 330;
const IST_OFFSET_MS = IST_OFFSET_MINUTES * 60_000;
const DAY_MS = 86_400_000;

/** A calendar date in IST; `month` is 1–12. */
export interface LocalDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
const WEEKDAYS: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

export class CalendarError extends Error {
  override readonly name = 'CalendarError';
}

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

export function localDate(year: number, month: number, day: number): LocalDate {
  if (!Number.isInteger(year) || year < 1970 || year > 9999) throw new CalendarError(`year out of range: ${year}`);
  if (!Number.isInteger(month) || month < 1 || month > 12) throw new CalendarError(`month out of range: ${month}`);
  if (!Number.isInteger(day) || day < 1 || day > daysInMonth(year, month)) {
    throw new CalendarError(`no day ${day} in ${year}-${String(month).padStart(2, '0')}`);
  }
  return { year, month, day };
}

/** Parses `YYYY-MM-DD`. */
export function parseLocalDate(text: string): LocalDate {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (match === null) throw new CalendarError(`not a date (YYYY-MM-DD): ${JSON.stringify(text)}`);
  return localDate(Number(match[1]), Number(match[2]), Number(match[3]));
}

export function formatLocalDate(date: LocalDate): string {
  return `${String(date.year).padStart(4, '0')}-${String(date.month).padStart(2, '0')}-${String(date.day).padStart(2, '0')}`;
}

/** The IST calendar date of an instant. */
export function toLocalDate(instant: Date): LocalDate {
  const shifted = new Date(instant.getTime() + IST_OFFSET_MS);
  return { year: shifted.getUTCFullYear(), month: shifted.getUTCMonth() + 1, day: shifted.getUTCDate() };
}

/** The instant IST midnight begins on `date`. */
export function startOfLocalDay(date: LocalDate): Date {
  return new Date(Date.UTC(date.year, date.month - 1, date.day) - IST_OFFSET_MS);
}

/** Weekday and seconds since IST midnight of an instant (for time-of-day rating). */
export function localClock(instant: Date): {
  readonly weekday: Weekday;
  readonly secondOfDay: number;
  readonly date: LocalDate;
} {
  const shiftedMs = instant.getTime() + IST_OFFSET_MS;
  const shifted = new Date(shiftedMs);
  const msOfDay = ((shiftedMs % DAY_MS) + DAY_MS) % DAY_MS;
  return {
    weekday: WEEKDAYS[shifted.getUTCDay()] as Weekday,
    secondOfDay: Math.floor(msOfDay / 1_000),
    date: { year: shifted.getUTCFullYear(), month: shifted.getUTCMonth() + 1, day: shifted.getUTCDate() },
  };
}

export function compareLocalDates(a: LocalDate, b: LocalDate): -1 | 0 | 1 {
  const left = a.year * 10_000 + a.month * 100 + a.day;
  const right = b.year * 10_000 + b.month * 100 + b.day;
  return left < right ? -1 : left > right ? 1 : 0;
}

/** Whole days from `a` to `b` (negative when b is earlier). */
export function daysBetween(a: LocalDate, b: LocalDate): number {
  return Math.round((Date.UTC(b.year, b.month - 1, b.day) - Date.UTC(a.year, a.month - 1, a.day)) / DAY_MS);
}

export function addDays(date: LocalDate, days: number): LocalDate {
  const shifted = new Date(Date.UTC(date.year, date.month - 1, date.day) + days * DAY_MS);
  return { year: shifted.getUTCFullYear(), month: shifted.getUTCMonth() + 1, day: shifted.getUTCDate() };
}

/**
 * The date `months` months after `anchor`, keeping the anchor's day where the month has it and the
 * month's last day where it does not: 31 Jan + 1 = 28/29 Feb, 31 Jan + 2 = 31 Mar. Always computed from
 * the anchor, never chained, so a short month does not pull later periods earlier.
 */
export function addMonthsKeepingAnchor(anchor: LocalDate, months: number): LocalDate {
  if (!Number.isInteger(months)) throw new CalendarError(`months must be an integer, got ${months}`);
  const index = anchor.year * 12 + (anchor.month - 1) + months;
  const year = Math.floor(index / 12);
  const month = (index % 12) + 1;
  return { year, month, day: Math.min(anchor.day, daysInMonth(year, month)) };
}

/** A half-open range of IST dates: from `start` up to, not including, `end`. */
export interface Period {
  readonly start: LocalDate;
  readonly end: LocalDate;
}

/** Period number `index` (0-based) of a cycle of `cycleMonths` months anchored on `anchor`. */
export function periodAt(anchor: LocalDate, cycleMonths: number, index: number): Period {
  assertCycle(cycleMonths);
  return {
    start: addMonthsKeepingAnchor(anchor, index * cycleMonths),
    end: addMonthsKeepingAnchor(anchor, (index + 1) * cycleMonths),
  };
}

/** The period of the cycle that contains `date` (dates before the anchor have no period). */
export function periodContaining(
  anchor: LocalDate,
  cycleMonths: number,
  date: LocalDate,
): Period & { readonly index: number } {
  assertCycle(cycleMonths);
  if (compareLocalDates(date, anchor) < 0) {
    throw new CalendarError(`${formatLocalDate(date)} is before the anchor ${formatLocalDate(anchor)}`);
  }
  const monthsApart = (date.year - anchor.year) * 12 + (date.month - anchor.month);
  // Start one period early and step forward: the clamped anchor day can put a period's start after `date`.
  let index = Math.max(0, Math.floor(monthsApart / cycleMonths) - 1);
  const STEPS_MAX = 3;
  for (let step = 0; step < STEPS_MAX; step += 1) {
    const period = periodAt(anchor, cycleMonths, index);
    if (compareLocalDates(date, period.end) < 0) return { ...period, index };
    index += 1;
  }
  throw new CalendarError('period search did not converge');
}

function assertCycle(cycleMonths: number): void {
  if (!Number.isInteger(cycleMonths) || cycleMonths < 1 || cycleMonths > 120) {
    throw new CalendarError(`cycle must be 1 to 120 months, got ${cycleMonths}`);
  }
}

/** India's financial year (April to March) that contains `date`, e.g. `2026-27`. */
export function financialYear(date: LocalDate): { readonly label: string; readonly startYear: number } {
  const startYear = date.month >= 4 ? date.year : date.year - 1;
  return { label: `${startYear}-${String((startYear + 1) % 100).padStart(2, '0')}`, startYear };
}
