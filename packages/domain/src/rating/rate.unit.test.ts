import { describe, expect, it } from 'vitest';
import { Money } from '../money/money.ts';
import { type CallToRate, formatExact, rateCall } from './rate.ts';
import { parseTariff, type RatePlanDocument, type Tariff, WEEKDAYS } from './tariff.ts';

// 2026-04-01 is a Wednesday; 2026-04-03 a Friday, 2026-04-04 a Saturday.
const ist = (local: string): Date => new Date(`${local}+05:30`);

type PlanInput = Partial<RatePlanDocument> & Pick<RatePlanDocument, 'steps'>;

function plan(input: PlanInput): RatePlanDocument {
  return {
    days: WEEKDAYS,
    from: '00:00',
    weight: 0,
    connectFee: '0',
    rounding: { method: 'up', decimals: 4 },
    ...input,
  };
}

function tariffWith(...ratePlans: PlanInput[]): Tariff {
  return parseTariff({
    id: 'test',
    currency: 'INR',
    timezone: 'Asia/Kolkata',
    destinations: [{ name: 'Anywhere', prefixes: ['*'], ratePlans: ratePlans.map(plan) }],
  });
}

function rate(tariff: Tariff, durationSeconds: number, overrides: Partial<CallToRate> = {}) {
  const rated = rateCall(tariff, {
    dialled: '442079460000',
    start: ist('2026-04-01T10:00:00'),
    durationSeconds,
    answered: true,
    ...overrides,
  });
  if (rated === null) throw new Error('expected the call to be rated');
  return rated;
}

const perMinute = (price: string, incrementSeconds: number, from = 0) => ({
  from,
  price,
  unit: 60,
  increment: incrementSeconds,
});

describe('rateCall: pulses and increments', () => {
  it('bills per started minute with a 60/60 pulse', () => {
    const tariff = tariffWith({ steps: [perMinute('1.20', 60)] });
    expect(rate(tariff, 1)).toMatchObject({ billedSeconds: 60, cost: Money.parse('1.20') });
    expect(rate(tariff, 60)).toMatchObject({ billedSeconds: 60, cost: Money.parse('1.20') });
    expect(rate(tariff, 61)).toMatchObject({ billedSeconds: 120, cost: Money.parse('2.40') });
  });

  it('bills per second with a 1/1 pulse', () => {
    const tariff = tariffWith({ steps: [perMinute('1.20', 1)] });
    // 61 s × ₹1.20 / 60 s = ₹1.22; 7 s = ₹0.14.
    expect(rate(tariff, 61)).toMatchObject({ billedSeconds: 61, cost: Money.parse('1.22') });
    expect(rate(tariff, 7)).toMatchObject({ billedSeconds: 7, cost: Money.parse('0.14') });
  });

  it('bills 30/6: a 30 s minimum, then 6 s increments', () => {
    const tariff = tariffWith({ steps: [perMinute('0.60', 30), perMinute('0.60', 6, 30)] });
    expect(rate(tariff, 10)).toMatchObject({ billedSeconds: 30, cost: Money.parse('0.30') });
    // 30 + 1 s → 30 + 6: 36 s × ₹0.01 = ₹0.36.
    expect(rate(tariff, 31)).toMatchObject({ billedSeconds: 36, cost: Money.parse('0.36') });
    // 30 + 35 s → 30 + 36.
    expect(rate(tariff, 65)).toMatchObject({ billedSeconds: 66, cost: Money.parse('0.66') });
  });

  it('changes price at the 60 s step', () => {
    const tariff = tariffWith({ steps: [perMinute('0.20', 60), perMinute('0.10', 1, 60)] });
    expect(rate(tariff, 30)).toMatchObject({ billedSeconds: 60, cost: Money.parse('0.20') });
    // First minute ₹0.20, then 30 s at ₹0.10/min.
    const rated = rate(tariff, 90);
    expect(rated).toMatchObject({ billedSeconds: 90, cost: Money.parse('0.25') });
    expect(rated.slices[0]?.steps.map((step) => [step.stepIndex, step.billedSeconds, formatExact(step.cost)])).toEqual([
      [0, 60, '0.2'],
      [1, 30, '0.05'],
    ]);
  });

  it('bills an increment that overruns the next step at this step and starts the next step later', () => {
    const tariff = tariffWith({ steps: [perMinute('1.00', 45), perMinute('0.50', 1, 60)] });
    // 70 s: the first step's 60 s round up to two 45 s increments (90 s at ₹1.00/min), which covers the call.
    expect(rate(tariff, 70)).toMatchObject({ billedSeconds: 90, cost: Money.parse('1.50') });
    // 100 s: 90 s as above, then the second step from 90 s (not 60): 10 s at ₹0.50/min = ₹0.08333…,
    // so ₹1.58333… rounded up once to ₹1.5834.
    const rated = rate(tariff, 100);
    expect(rated.billedSeconds).toBe(100);
    expect(rated.slices[0]?.steps[1]).toMatchObject({ usageStartSeconds: 90, usageSeconds: 10, billedSeconds: 10 });
    expect(rated.cost).toEqual(Money.parse('1.5834'));
  });
});

describe('rateCall: connect fee, unanswered calls, maxCost', () => {
  const tariff = tariffWith({ connectFee: '0.40', steps: [perMinute('1.00', 60)] });

  it('adds the connect fee once per answered call', () => {
    expect(rate(tariff, 61)).toMatchObject({ cost: Money.parse('2.40'), connectFee: Money.parse('0.40') });
    expect(rate(tariff, 0)).toMatchObject({ cost: Money.parse('0.40'), billedSeconds: 0 });
  });

  it('charges nothing for an unanswered call', () => {
    const rated = rate(tariff, 61, { answered: false });
    expect(rated).toMatchObject({ cost: Money.zero, billedSeconds: 0, connectFee: Money.zero, slices: [] });
  });

  it('caps the cost with maxCost strategy free', () => {
    const capped = tariffWith({ maxCost: { amount: '5.00', strategy: 'free' }, steps: [perMinute('1.00', 60)] });
    expect(rate(capped, 600)).toMatchObject({ cost: Money.parse('5.00'), maxCostApplied: true, billedSeconds: 600 });
    expect(rate(capped, 180)).toMatchObject({ cost: Money.parse('3.00'), maxCostApplied: false });
  });

  it('leaves the price alone with maxCost strategy disconnect', () => {
    const disconnect = tariffWith({
      maxCost: { amount: '5.00', strategy: 'disconnect' },
      steps: [perMinute('1.00', 60)],
    });
    expect(rate(disconnect, 600)).toMatchObject({ cost: Money.parse('10.00'), maxCostApplied: false });
  });
});

describe('rateCall: one rounding', () => {
  const roundedBy = (method: 'up' | 'down' | 'half-up', decimals: number, price: string, unit: number) =>
    tariffWith({ rounding: { method, decimals }, steps: [{ from: 0, price, unit, increment: 1 }] });

  it('rounds up, down and half-up as the first plan says', () => {
    // 61 s at ₹1.00/min = ₹1.01666…
    expect(rate(roundedBy('up', 2, '1.00', 60), 61).cost).toEqual(Money.parse('1.02'));
    expect(rate(roundedBy('down', 2, '1.00', 60), 61).cost).toEqual(Money.parse('1.01'));
    expect(rate(roundedBy('half-up', 2, '1.00', 60), 61).cost).toEqual(Money.parse('1.02'));
    expect(rate(roundedBy('up', 0, '1.00', 60), 61).cost).toEqual(Money.parse('2'));
    // 1 s at ₹0.25 per 2 s = ₹0.125 exactly: half-up goes away from zero, down truncates.
    expect(rate(roundedBy('half-up', 2, '0.25', 2), 1).cost).toEqual(Money.parse('0.13'));
    expect(rate(roundedBy('down', 2, '0.25', 2), 1).cost).toEqual(Money.parse('0.12'));
    // 5 s at ₹0.0249/s = ₹0.1245: below the half.
    expect(rate(roundedBy('half-up', 2, '0.0249', 1), 5).cost).toEqual(Money.parse('0.12'));
    expect(rate(roundedBy('up', 2, '0.0249', 1), 5).cost).toEqual(Money.parse('0.13'));
  });

  it('rounds the total once, never each step', () => {
    // Two steps of ₹0.00333… each: rounded separately they would be ₹0.02, the total ₹0.00666… is ₹0.01.
    const tariff = tariffWith({
      rounding: { method: 'up', decimals: 2 },
      steps: [
        { from: 0, price: '0.01', unit: 3, increment: 1 },
        { from: 1, price: '0.01', unit: 3, increment: 1 },
      ],
    });
    const rated = rate(tariff, 2);
    expect(formatExact(rated.exactCost)).toBe('1/150');
    expect(rated.cost).toEqual(Money.parse('0.01'));
  });
});

describe('rateCall: time of day', () => {
  const offPeak = { steps: [perMinute('1.00', 1)] };
  const peak = { days: WEEKDAYS.slice(0, 5), from: '08:00', weight: 10, steps: [perMinute('2.00', 1)] };
  const evening = { days: WEEKDAYS.slice(0, 5), from: '20:00', weight: 20, steps: [perMinute('1.00', 1)] };
  const tariff = tariffWith(offPeak, peak, evening);

  it('splits a call where off-peak turns into peak and rates each slice by its plan', () => {
    const rated = rate(tariff, 120, { start: ist('2026-04-01T07:59:00') });
    // 60 s at ₹1.00/min + 60 s at ₹2.00/min.
    expect(rated.cost).toEqual(Money.parse('3.00'));
    expect(
      rated.slices.map((slice) => [slice.start.toISOString(), slice.plan.ratePlanIndex, slice.durationSeconds]),
    ).toEqual([
      ['2026-04-01T02:29:00.000Z', 0, 60],
      ['2026-04-01T02:30:00.000Z', 1, 60],
    ]);
  });

  it('keeps peak and evening apart on weekdays and uses off-peak all Saturday', () => {
    expect(rate(tariff, 60, { start: ist('2026-04-01T12:00:00') }).cost).toEqual(Money.parse('2.00'));
    expect(rate(tariff, 60, { start: ist('2026-04-01T21:00:00') }).slices[0]?.plan.ratePlanIndex).toBe(2);
    const saturday = rate(tariff, 60, { start: ist('2026-04-04T12:00:00') });
    expect(saturday.cost).toEqual(Money.parse('1.00'));
    expect(saturday.slices[0]?.plan.ratePlanIndex).toBe(0);
  });

  it('picks the latest from among plans of equal weight', () => {
    const tied = tariffWith({ steps: [perMinute('1.00', 60)] }, { from: '12:00', steps: [perMinute('3.00', 60)] });
    expect(rate(tied, 60, { start: ist('2026-04-01T13:00:00') }).cost).toEqual(Money.parse('3.00'));
    expect(rate(tied, 60, { start: ist('2026-04-01T11:00:00') }).cost).toEqual(Money.parse('1.00'));
  });

  it('splits a call across midnight into the weekend plan', () => {
    const weekend = tariffWith(
      { steps: [perMinute('1.00', 1)] },
      { days: ['sat', 'sun'], weight: 10, steps: [perMinute('0.50', 1)] },
    );
    // Friday 23:59:30 for 60 s: 30 s at ₹1.00/min + 30 s at ₹0.50/min.
    const rated = rate(weekend, 60, { start: ist('2026-04-03T23:59:30') });
    expect(rated.cost).toEqual(Money.parse('0.75'));
    expect(rated.slices.map((slice) => slice.start.toISOString())).toEqual([
      '2026-04-03T18:29:30.000Z',
      '2026-04-03T18:30:00.000Z',
    ]);
  });

  it('does not split at midnight when the same plan goes on', () => {
    const flat = tariffWith({ steps: [perMinute('1.00', 60)] });
    const rated = rate(flat, 60, { start: ist('2026-04-03T23:59:30') });
    expect(rated.slices).toHaveLength(1);
    expect(rated).toMatchObject({ billedSeconds: 60, cost: Money.parse('1.00') });
  });

  it('bills an increment that crosses into the next slice at the earlier plan, and the next slice after it', () => {
    const minutes = tariffWith(
      { steps: [perMinute('1.00', 60)] },
      { days: WEEKDAYS.slice(0, 5), from: '08:00', weight: 10, steps: [perMinute('2.00', 60)] },
    );
    // 07:59:30 for 90 s: off-peak bills its 30 s as a whole minute (to 08:00:30); peak bills from there,
    // 60 s of usage rounded to one minute. 120 s billed, ₹1.00 + ₹2.00.
    const rated = rate(minutes, 90, { start: ist('2026-04-01T07:59:30') });
    expect(rated.billedSeconds).toBe(120);
    expect(rated.cost).toEqual(Money.parse('3.00'));
    expect(rated.slices.map((slice) => [slice.durationSeconds, slice.billedSeconds])).toEqual([
      [30, 60],
      [60, 60],
    ]);
    expect(rated.slices[1]?.steps[0]).toMatchObject({ usageStartSeconds: 60, usageSeconds: 30 });
  });

  it('assigns each whole second to the plan in force when it starts, for starts with milliseconds', () => {
    // 07:59:59.500: second 0 is off-peak, second 1 starts 08:00:00.500 and is peak.
    const rated = rate(tariff, 2, { start: new Date(ist('2026-04-01T07:59:59').getTime() + 500) });
    expect(rated.slices.map((slice) => [slice.plan.ratePlanIndex, slice.durationSeconds])).toEqual([
      [0, 1],
      [1, 1],
    ]);
  });

  it('takes connect fee and rounding from the first slice', () => {
    const mixed = tariffWith(
      { connectFee: '0.10', rounding: { method: 'up', decimals: 0 }, steps: [perMinute('1.00', 1)] },
      {
        from: '08:00',
        weight: 10,
        connectFee: '5.00',
        rounding: { method: 'down', decimals: 4 },
        steps: [perMinute('1.00', 1)],
      },
    );
    // ₹0.10 + 120 s × ₹1.00/min = ₹2.10, rounded up to whole rupees.
    const rated = rate(mixed, 120, { start: ist('2026-04-01T07:59:00') });
    expect(rated.connectFee).toEqual(Money.parse('0.10'));
    expect(rated.cost).toEqual(Money.parse('3'));
  });
});

describe('rateCall: destinations', () => {
  it('returns null for a destination the tariff does not rate', () => {
    const uk = parseTariff({
      id: 'uk-only',
      currency: 'INR',
      timezone: 'Asia/Kolkata',
      destinations: [{ name: 'UK', prefixes: ['44'], ratePlans: [plan({ steps: [perMinute('1.00', 60)] })] }],
    });
    expect(rate(uk, 60, { dialled: '+44 20 7946 0000' }).destination).toBe('UK');
    expect(
      rateCall(uk, {
        dialled: '+1 415 555 0100',
        start: ist('2026-04-01T10:00:00'),
        durationSeconds: 60,
        answered: true,
      }),
    ).toBeNull();
  });
});

describe('formatExact', () => {
  it('prints terminating fractions as decimals and others as n/d', () => {
    expect(formatExact(Money.parse('0.25').toFraction())).toBe('0.25');
    expect(formatExact(Money.parse('3').toFraction())).toBe('3');
    expect(formatExact(Money.parse('1').toFraction().dividedBy(3n))).toBe('1/3');
    expect(formatExact(Money.parse('-0.125').toFraction())).toBe('-0.125');
    expect(formatExact(Money.parse('1').toFraction().dividedBy(40n))).toBe('0.025');
  });
});
