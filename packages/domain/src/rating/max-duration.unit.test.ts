import { describe, expect, it } from 'vitest';
import { Money } from '../money/money.ts';
import { maxDuration } from './max-duration.ts';
import { rateCall } from './rate.ts';
import { parseTariff, type RatePlanDocument, type Tariff, WEEKDAYS } from './tariff.ts';

const ist = (local: string): Date => new Date(`${local}+05:30`);
const WEDNESDAY_MORNING = ist('2026-04-01T10:00:00');
const CAP_SECONDS = 7_200;

function tariffWith(...ratePlans: (Partial<RatePlanDocument> & Pick<RatePlanDocument, 'steps'>)[]): Tariff {
  return parseTariff({
    id: 'test',
    currency: 'INR',
    timezone: 'Asia/Kolkata',
    destinations: [
      {
        name: 'UK',
        prefixes: ['44'],
        ratePlans: ratePlans.map((plan) => ({
          days: WEEKDAYS,
          from: '00:00',
          weight: 0,
          connectFee: '0',
          rounding: { method: 'up', decimals: 4 },
          ...plan,
        })),
      },
    ],
  });
}

function longest(tariff: Tariff, credit: string, start = WEDNESDAY_MORNING, capSeconds = CAP_SECONDS) {
  return maxDuration(tariff, { dialled: '+44 20 7946 0000', start, credit: Money.parse(credit), capSeconds });
}

function costOf(tariff: Tariff, durationSeconds: number, start = WEDNESDAY_MORNING): Money {
  const rated = rateCall(tariff, { dialled: '442079460000', start, durationSeconds, answered: true });
  if (rated === null) throw new Error('not rated');
  return rated.cost;
}

describe('maxDuration', () => {
  const uk = tariffWith({
    connectFee: '0.40',
    steps: [
      { from: 0, price: '0.20', unit: 60, increment: 60 },
      { from: 60, price: '0.10', unit: 60, increment: 1 },
    ],
  });

  it('buys the connect fee, the first minute, then seconds', () => {
    // ₹1.00 − ₹0.40 fee − ₹0.20 first minute = ₹0.40 at ₹0.10/min = 240 s more.
    expect(longest(uk, '1.00')).toBe(300);
    expect(costOf(uk, 300)).toEqual(Money.parse('1.00'));
    expect(costOf(uk, 301).compare(Money.parse('1.00'))).toBe(1);
  });

  it('buys a whole first increment or nothing of it', () => {
    // ₹0.59 covers the fee but not the first minute's ₹0.20.
    expect(longest(uk, '0.59')).toBe(0);
    expect(longest(uk, '0.60')).toBe(60);
  });

  it('returns 0 when not even the connect fee is covered, and null for an unrated number', () => {
    expect(longest(uk, '0.39')).toBe(0);
    expect(
      maxDuration(uk, {
        dialled: '+1 415 555 0100',
        start: WEDNESDAY_MORNING,
        credit: Money.parse('100'),
        capSeconds: 60,
      }),
    ).toBeNull();
  });

  it('never exceeds the cap', () => {
    expect(longest(uk, '100000')).toBe(CAP_SECONDS);
    expect(longest(uk, '100000', WEDNESDAY_MORNING, 90)).toBe(90);
  });

  it('folds the rounding into the limit', () => {
    // Per second at ₹1.00/min: 61 s = ₹1.0166…; rounded up to paise that is ₹1.02, down ₹1.01.
    const up = tariffWith({
      rounding: { method: 'up', decimals: 2 },
      steps: [{ from: 0, price: '1.00', unit: 60, increment: 1 }],
    });
    const down = tariffWith({
      rounding: { method: 'down', decimals: 2 },
      steps: [{ from: 0, price: '1.00', unit: 60, increment: 1 }],
    });
    const halfUp = tariffWith({
      rounding: { method: 'half-up', decimals: 2 },
      steps: [{ from: 0, price: '1.00', unit: 60, increment: 1 }],
    });
    // ₹1.01: up allows 60 s (₹1.00; 61 s rounds to ₹1.02); down allows 61 s (₹1.0166 → ₹1.01, 62 s ₹1.0333 → ₹1.03);
    // half-up allows 60 s (61 s → ₹1.02).
    expect(longest(up, '1.01')).toBe(60);
    expect(longest(down, '1.01')).toBe(61);
    expect(longest(halfUp, '1.01')).toBe(60);
    // ₹1.02: half-up allows 61 s (₹1.0166 → ₹1.02) and 62 s is ₹1.0333 → ₹1.03.
    expect(longest(halfUp, '1.02')).toBe(61);
  });

  it('lets a free maxCost make any duration affordable once its amount is', () => {
    const capped = tariffWith({
      maxCost: { amount: '5.00', strategy: 'free' },
      steps: [{ from: 0, price: '1.00', unit: 60, increment: 60 }],
    });
    expect(longest(capped, '5.00')).toBe(CAP_SECONDS);
    expect(longest(capped, '4.99')).toBe(240);
  });

  it('stops a disconnect maxCost call where the cost would pass its amount', () => {
    const disconnect = tariffWith({
      maxCost: { amount: '5.00', strategy: 'disconnect' },
      steps: [{ from: 0, price: '1.00', unit: 60, increment: 60 }],
    });
    expect(longest(disconnect, '100.00')).toBe(300);
    expect(longest(disconnect, '3.00')).toBe(180);
  });

  it('prices the time of day the call will run into', () => {
    const peak = tariffWith(
      { steps: [{ from: 0, price: '1.00', unit: 60, increment: 1 }] },
      {
        days: WEEKDAYS.slice(0, 5),
        from: '08:00',
        weight: 10,
        steps: [{ from: 0, price: '2.00', unit: 60, increment: 1 }],
      },
    );
    // From 07:59: ₹1.00 buys the off-peak minute; ₹2.00 buys it plus 30 s of peak.
    const start = ist('2026-04-01T07:59:00');
    expect(longest(peak, '1.00', start)).toBe(60);
    expect(longest(peak, '2.00', start)).toBe(90);
  });
});
