import { describe, expect, it } from 'vitest';
import { Money } from '../money/money.ts';
import { maxDurationWithAllowance, rateWithAllowance } from './allowance.ts';
import { parseTariff, planOverageTariff, type Tariff } from './tariff.ts';

const start = new Date('2026-04-01T10:00:00+05:30');
const starter = (pulseSeconds: number): Tariff =>
  parseTariff(planOverageTariff({ id: 'starter-overage', pricePerMinute: '1.99', pulseSeconds, decimals: 4 }));

function rated(
  tariff: Tariff,
  durationSeconds: number,
  freeSecondsLeft: number,
  pulseSeconds: number,
  answered = true,
) {
  return rateWithAllowance(
    tariff,
    { dialled: '9876543210', start, durationSeconds, answered },
    { freeSecondsLeft, pulseSeconds },
  );
}

describe('rateWithAllowance', () => {
  it('uses free seconds first, in whole pulses', () => {
    // 30 s at a 60 s pulse counts as a minute of free time.
    expect(rated(starter(60), 30, 600, 60)).toMatchObject({
      freeSecondsUsed: 60,
      billedSeconds: 60,
      overageSeconds: 0,
      cost: Money.zero,
      overage: null,
    });
  });

  it('rates the rest of a straddling call as overage from where the free seconds end', () => {
    // 150 s with one free minute left: 60 s free, 90 s overage → two started minutes at ₹1.99.
    const result = rated(starter(60), 150, 60, 60);
    expect(result).toMatchObject({
      freeSecondsUsed: 60,
      billedSeconds: 180,
      overageSeconds: 90,
      cost: Money.parse('3.98'),
    });
    expect(result?.overage?.slices[0]?.start.toISOString()).toBe('2026-04-01T04:31:00.000Z');
  });

  it('bills overage per second on a 1 s pulse plan', () => {
    // 100 s with 40 free: 60 s × ₹1.99/60 = ₹1.99.
    expect(rated(starter(1), 100, 40, 1)).toMatchObject({
      freeSecondsUsed: 40,
      billedSeconds: 100,
      cost: Money.parse('1.99'),
    });
  });

  it('leaves a part-pulse of free seconds unused rather than billing a pulse twice', () => {
    // 45 free seconds at a 60 s pulse: no whole pulse, so the 150 s call is all overage (3 minutes), not
    // 45 free + 3 minutes for 105 s.
    expect(rated(starter(60), 150, 45, 60)).toMatchObject({
      freeSecondsUsed: 0,
      billedSeconds: 180,
      cost: Money.parse('5.97'),
    });
  });

  it('charges nothing and uses no free seconds for an unanswered call', () => {
    expect(rated(starter(60), 30, 600, 60, false)).toMatchObject({
      freeSecondsUsed: 0,
      billedSeconds: 0,
      cost: Money.zero,
    });
  });
});

describe('maxDurationWithAllowance', () => {
  const longest = (credit: string, freeSecondsLeft: number, pulseSeconds: number, capSeconds = 7_200) =>
    maxDurationWithAllowance(starter(pulseSeconds), {
      dialled: '9876543210',
      start,
      credit: Money.parse(credit),
      freeSecondsLeft,
      pulseSeconds,
      capSeconds,
    });

  it('adds what the credit buys to the free seconds', () => {
    // 10 free minutes + ₹5.00 / ₹1.99 = 2 whole minutes.
    expect(longest('5.00', 600, 60)).toBe(720);
    expect(longest('0', 600, 60)).toBe(600);
    // Per second: ₹1.00 buys 30 s (₹0.995) but not 31 s (₹1.0283…).
    expect(longest('1.00', 60, 1)).toBe(90);
  });

  it('lets free seconds alone fill the cap, even with no credit', () => {
    expect(longest('0', 6_000, 60, 3_600)).toBe(3_600);
    expect(longest('-10', 120, 60)).toBe(120);
  });
});
