import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Money } from '../money/money.ts';
import type { Weekday } from '../time/calendar.ts';
import { maxDurationWithAllowance, rateWithAllowance } from './allowance.ts';
import { maxDuration } from './max-duration.ts';
import { rateCall } from './rate.ts';
import { planAt } from './slices.ts';
import { parseTariff, type RatePlanDocument, type Tariff, WEEKDAYS } from './tariff.ts';

/** Calls in these properties are short enough to scan every duration as an oracle. */
const CAP_SECONDS_MAX = 900;
const DIALLED = '+44 20 7946 0000';

const amount = (maxUnits: number) =>
  fc.integer({ min: 0, max: maxUnits }).map((units) => Money.ofUnits(BigInt(units)).toString());

const steps = fc
  .array(
    fc.record({
      gapSeconds: fc.integer({ min: 1, max: 150 }),
      price: amount(5_000),
      unit: fc.constantFrom(1, 6, 30, 60, 100),
      increment: fc.constantFrom(1, 6, 30, 45, 60),
    }),
    { minLength: 1, maxLength: 3 },
  )
  .map((drafts) => {
    let from = 0;
    return drafts.map((draft, index) => {
      if (index > 0) from += draft.gapSeconds;
      return { from, price: draft.price, unit: draft.unit, increment: draft.increment };
    });
  });

// maxCost is left out (not set to undefined) when absent, as in a document.
const planFields = fc.record(
  {
    connectFee: amount(5_000),
    rounding: fc.record({
      method: fc.constantFrom('up' as const, 'down' as const, 'half-up' as const),
      decimals: fc.integer({ min: 0, max: 4 }),
    }),
    maxCost: fc.record({ amount: amount(100_000), strategy: fc.constantFrom('free' as const, 'disconnect' as const) }),
    steps,
  },
  { requiredKeys: ['connectFee', 'rounding', 'steps'] },
);

/** Plan starts near which calls are placed, so slices and midnights are exercised. */
const PLAN_STARTS = ['06:00', '08:00', '13:30', '20:00', '23:59'];

const tariffs: fc.Arbitrary<Tariff> = fc
  .record({
    base: planFields,
    extra: fc.array(
      fc.record({
        fields: planFields,
        days: fc.subarray([...WEEKDAYS] as Weekday[], { minLength: 1 }),
        from: fc.constantFrom(...PLAN_STARTS),
      }),
      { minLength: 1, maxLength: 3 },
    ),
  })
  .map(({ base, extra }) => {
    const ratePlans: RatePlanDocument[] = [
      { days: WEEKDAYS, from: '00:00', weight: 0, ...base },
      // Distinct weights: no ties for parseTariff to refuse.
      ...extra.map((plan, index) => ({
        days: plan.days,
        from: plan.from,
        weight: index + 1,
        ...plan.fields,
      })),
    ];
    return parseTariff({
      id: 'random',
      currency: 'INR',
      timezone: 'Asia/Kolkata',
      destinations: [{ name: 'UK', prefixes: ['44'], ratePlans }],
    });
  });

/** A start up to ten minutes before (or one after) a plan start or midnight on a day of a week, with milliseconds. */
const starts = fc
  .record({
    day: fc.integer({ min: 0, max: 6 }),
    anchor: fc.constantFrom('00:00', ...PLAN_STARTS),
    offsetMs: fc.integer({ min: -600_000, max: 60_000 }),
  })
  .map(({ day, anchor, offsetMs }) => {
    const base = new Date(`2026-04-0${day + 1}T${anchor}:00+05:30`).getTime();
    return new Date(base + offsetMs);
  });

const durations = fc.integer({ min: 0, max: CAP_SECONDS_MAX });

function cost(tariff: Tariff, start: Date, durationSeconds: number): Money {
  const rated = rateCall(tariff, { dialled: DIALLED, start, durationSeconds, answered: true });
  if (rated === null) throw new Error('not rated');
  return rated.cost;
}

describe('rating properties', () => {
  it('never bills fewer seconds than the call lasted', () => {
    fc.assert(
      fc.property(tariffs, starts, durations, (tariff, start, durationSeconds) => {
        const rated = rateCall(tariff, { dialled: DIALLED, start, durationSeconds, answered: true });
        expect(rated?.billedSeconds).toBeGreaterThanOrEqual(durationSeconds);
        const sliceSeconds = rated?.slices.reduce((total, slice) => total + slice.durationSeconds, 0);
        expect(sliceSeconds).toBe(durationSeconds);
      }),
      { numRuns: 300 },
    );
  });

  it('never makes a longer call cheaper', () => {
    fc.assert(
      fc.property(
        tariffs,
        starts,
        durations,
        fc.integer({ min: 1, max: 300 }),
        (tariff, start, durationSeconds, more) => {
          expect(
            cost(tariff, start, durationSeconds + more).compare(cost(tariff, start, durationSeconds)),
          ).toBeGreaterThanOrEqual(0);
          expect(
            cost(tariff, start, durationSeconds + 1).compare(cost(tariff, start, durationSeconds)),
          ).toBeGreaterThanOrEqual(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('maxDuration is the longest duration whose cost fits the credit (checked at d and d + 1)', () => {
    fc.assert(
      fc.property(tariffs, starts, amount(200_000), durations, (tariff, start, creditText, capSeconds) => {
        const credit = Money.parse(creditText);
        const longest = maxDuration(tariff, { dialled: DIALLED, start, credit, capSeconds });
        if (longest === null) throw new Error('not rated');
        expect(longest).toBeLessThanOrEqual(capSeconds);
        const fits = (durationSeconds: number) => withinLimits(tariff, start, durationSeconds, credit);
        if (longest > 0 || fits(0)) expect(fits(longest)).toBe(true);
        if (longest < capSeconds) expect(fits(longest + 1)).toBe(false);
      }),
      { numRuns: 400 },
    );
  });

  it('maxDuration agrees with scanning every duration', () => {
    fc.assert(
      fc.property(tariffs, starts, amount(30_000), (tariff, start, creditText) => {
        const credit = Money.parse(creditText);
        const capSeconds = 300;
        let scanned = 0;
        for (let durationSeconds = 1; durationSeconds <= capSeconds; durationSeconds += 1) {
          if (!withinLimits(tariff, start, durationSeconds, credit)) break;
          scanned = durationSeconds;
        }
        expect(maxDuration(tariff, { dialled: DIALLED, start, credit, capSeconds })).toBe(scanned);
      }),
      { numRuns: 100 },
    );
  });

  it('maxDurationWithAllowance is the longest duration whose overage cost fits the credit', () => {
    fc.assert(
      fc.property(
        tariffs,
        starts,
        amount(50_000),
        fc.integer({ min: 0, max: 400 }),
        fc.constantFrom(1, 6, 30, 60),
        durations,
        (tariff, start, creditText, freeSecondsLeft, pulseSeconds, capSeconds) => {
          const credit = Money.parse(creditText);
          const allowance = { freeSecondsLeft, pulseSeconds };
          const longest = maxDurationWithAllowance(tariff, {
            dialled: DIALLED,
            start,
            credit,
            capSeconds,
            ...allowance,
          });
          if (longest === null) throw new Error('not rated');
          const fits = (durationSeconds: number) => {
            const rated = rateWithAllowance(
              tariff,
              { dialled: DIALLED, start, durationSeconds, answered: true },
              allowance,
            );
            if (rated === null) throw new Error('not rated');
            const overageStart = new Date(start.getTime() + rated.freeSecondsUsed * 1_000);
            const disconnect = rated.overage === null ? null : disconnectLimit(tariff, overageStart);
            return rated.cost.compare(credit) <= 0 && (disconnect === null || rated.cost.compare(disconnect) <= 0);
          };
          expect(longest).toBeLessThanOrEqual(capSeconds);
          expect(fits(longest)).toBe(true);
          if (longest < capSeconds) expect(fits(longest + 1)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** cost ≤ credit, and ≤ a first-plan `disconnect` maxCost: what maxDuration promises. */
function withinLimits(tariff: Tariff, start: Date, durationSeconds: number, credit: Money): boolean {
  const price = cost(tariff, start, durationSeconds);
  const disconnect = disconnectLimit(tariff, start);
  return price.compare(credit) <= 0 && (disconnect === null || price.compare(disconnect) <= 0);
}

function disconnectLimit(tariff: Tariff, start: Date): Money | null {
  const destination = tariff.destinations[0];
  if (destination === undefined) throw new Error('fixture');
  const { maxCost } = planAt(destination, start);
  return maxCost?.strategy === 'disconnect' ? maxCost.amount : null;
}
