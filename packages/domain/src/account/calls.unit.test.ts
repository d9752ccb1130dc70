import { describe, expect, it } from 'vitest';
import { Money } from '../money/money.ts';
import { cmd, openAccount, Scenario, testRules, types } from './test-support.ts';

const DAY = '2026-11-02';
const T = (time: string): string => new Date(`${DAY}T${time}+05:30`).toISOString();
const INDIA = '+919845012345';

/** An account on `planId` whose wallet holds `walletAfterSubscription` once the first period is paid. */
function ready(planId: string, planPrice: string, walletAfterSubscription: string, rules = testRules()): Scenario {
  const s = new Scenario(rules);
  s.run(openAccount(), T('09:00'));
  const taxable = Money.parse(planPrice).plus(Money.parse(walletAfterSubscription));
  const gross = taxable.toFraction().times(118n).dividedBy(100n).toMoney(2, 'up');
  s.run(cmd('TopUpWallet', { amount: gross.toFixedDecimals(2) }), T('09:00'));
  s.run(cmd('Subscribe', { planId, cycle: 'monthly' }), T('09:00'));
  s.state = { ...s.state };
  expect(s.state.balance.compare(Money.parse(walletAfterSubscription))).toBeGreaterThanOrEqual(0);
  return s;
}

const cdr = (callId: string, billableMilliseconds: number, answered = true, destination = INDIA) => ({
  callId,
  leg: 'A' as const,
  destination,
  startedAt: T('10:00'),
  answeredAt: answered ? T('10:00') : null,
  billableMilliseconds,
});

describe('authorizing calls', () => {
  it('authorizes from free minutes first, reserving seconds rather than money, capped at two hours', () => {
    const s = ready('professional', '999', '0');
    const [authorized] = s.run(cmd('StartCall', { callId: 'c1', destination: INDIA, at: T('10:00') }), T('10:00'));
    expect(authorized).toMatchObject({
      type: 'CallAuthorized',
      idempotencyKey: 'call:c1:authorized',
      data: {
        basis: 'plan',
        maxSeconds: 7_200,
        reservedFreeSeconds: 7_200,
        reservedAmount: '0.00',
        tariffId: 'professional-overage',
      },
    });
    expect(authorized?.data).toMatchObject({
      expiresAt: new Date(Date.parse(T('10:00')) + (7_200 + 900) * 1000).toISOString(),
    });
    expect(s.state.reservedFreeSeconds).toBe(7_200);
  });

  it('buys the rest with credit at the plan’s overage rate: 1 free minute + ₹10 at ₹1.60/min = 7 minutes', () => {
    const s = ready('tiny', '100', '10');
    const [authorized] = s.run(cmd('StartCall', { callId: 'c1', destination: INDIA, at: T('10:00') }), T('10:00'));
    expect(authorized?.data).toMatchObject({ maxSeconds: 420, reservedFreeSeconds: 60, reservedAmount: '9.60' });
    // A second call at the same time finds 40 paise and no free seconds: not enough for a minute.
    expect(s.attempt(cmd('StartCall', { callId: 'c2', destination: INDIA, at: T('10:00') }), T('10:00'))).toMatchObject(
      {
        code: 'INSUFFICIENT_FUNDS',
        details: { available: '0.40' },
      },
    );
  });

  it('keeps the first authorization when the same call is started twice', () => {
    const s = ready('tiny', '100', '10');
    s.run(cmd('StartCall', { callId: 'c1', destination: INDIA, at: T('10:00') }), T('10:00'));
    expect(s.run(cmd('StartCall', { callId: 'c1', destination: INDIA, at: T('10:00') }), T('10:00'))).toEqual([]);
    expect(s.state.reservations.size).toBe(1);
  });

  it('rates international numbers by the destination tariff without free minutes, and refuses unrated ones', () => {
    const s = ready('professional', '999', '100');
    const [authorized] = s.run(
      cmd('StartCall', { callId: 'uk', destination: '+447911123456', at: T('10:00') }),
      T('10:00'),
    );
    // ₹100 − ₹0.40 connect fee buys 16 whole minutes at ₹6.00: reserve 0.40 + 96.00.
    expect(authorized?.data).toMatchObject({
      basis: 'tariff',
      tariffId: 'intl-2026',
      destinationName: 'UK',
      maxSeconds: 960,
      reservedAmount: '96.40',
      reservedFreeSeconds: 0,
    });
    expect(
      s.attempt(cmd('StartCall', { callId: 'us', destination: '+15551234567', at: T('10:00') }), T('10:00')),
    ).toMatchObject({
      code: 'DESTINATION_NOT_RATED',
    });
    expect(
      new Scenario(testRules({ destinationTariff: null })).attempt(
        cmd('StartCall', { callId: 'x', destination: '+447911123456', at: T('10:00') }),
        T('10:00'),
      ),
    ).toMatchObject({ code: 'UNKNOWN_ACCOUNT' });
  });

  it('refuses calls without a subscription', () => {
    const s = new Scenario();
    s.run(openAccount(), T('09:00'));
    s.run(cmd('TopUpWallet', { amount: '1180' }), T('09:00'));
    expect(s.attempt(cmd('StartCall', { callId: 'c1', destination: INDIA, at: T('10:00') }), T('10:00'))).toMatchObject(
      {
        code: 'NO_ACTIVE_SUBSCRIPTION',
      },
    );
  });
});

describe('rating CDRs', () => {
  it('posts the actual cost, free seconds first in the plan’s 60 s pulse, and releases the rest', () => {
    const s = ready('tiny', '100', '10');
    s.run(cmd('StartCall', { callId: 'c1', destination: INDIA, at: T('10:00') }), T('10:00'));
    const [rated] = s.run(cmd('RateCdr', { cdr: cdr('c1', 200_000) }), T('10:04'));
    expect(rated).toMatchObject({
      type: 'CdrRated',
      idempotencyKey: 'cdr:c1',
      data: {
        durationSeconds: 200,
        billedSeconds: 240,
        freeSecondsUsed: 60,
        overageSeconds: 180,
        cost: '4.80',
        hadReservation: true,
        reservedAmount: '9.60',
        excess: '0.00',
        usageMonthStart: DAY,
      },
    });
    expect(s.state.balance.toString()).toBe('5.20');
    expect(s.state.reserved.isZero()).toBe(true);
    expect(s.state.reservations.size).toBe(0);
    expect(s.state.usageMonth?.usedSeconds).toBe(60);
  });

  it('bills on milliseconds rounded up to whole seconds: 61.001 s is 62 s, two started minutes', () => {
    const s = ready('professional', '999', '0');
    s.run(cmd('StartCall', { callId: 'c1', destination: INDIA, at: T('10:00') }), T('10:00'));
    const [rated] = s.run(cmd('RateCdr', { cdr: cdr('c1', 61_001) }), T('10:02'));
    expect(rated?.data).toMatchObject({ durationSeconds: 62, billedSeconds: 120, freeSecondsUsed: 120, cost: '0.00' });
  });

  it('rates per second on a 1 s pulse plan', () => {
    const s = ready('per-second', '999', '0');
    s.run(cmd('StartCall', { callId: 'c1', destination: INDIA, at: T('10:00') }), T('10:00'));
    const [rated] = s.run(cmd('RateCdr', { cdr: cdr('c1', 61_001) }), T('10:02'));
    expect(rated?.data).toMatchObject({ durationSeconds: 62, billedSeconds: 62, freeSecondsUsed: 62 });
  });

  it('charges nothing for an unanswered call and releases its reservation', () => {
    const s = ready('tiny', '100', '10');
    s.run(cmd('StartCall', { callId: 'c1', destination: INDIA, at: T('10:00') }), T('10:00'));
    const [rated] = s.run(cmd('RateCdr', { cdr: cdr('c1', 0, false) }), T('10:01'));
    expect(rated?.data).toMatchObject({ cost: '0.00', billedSeconds: 0, answeredAt: null, freeSecondsUsed: 0 });
    expect(s.state.balance.toString()).toBe('10.00');
    expect(s.state.reservedFreeSeconds).toBe(0);
  });

  it('bills only the A-leg: a B-leg CDR changes nothing', () => {
    const s = ready('tiny', '100', '10');
    s.run(cmd('StartCall', { callId: 'c1', destination: INDIA, at: T('10:00') }), T('10:00'));
    expect(s.run(cmd('RateCdr', { cdr: { ...cdr('c1', 50_000), leg: 'B' } }), T('10:01'))).toEqual([]);
    expect(s.state.reservations.size).toBe(1);
  });

  it('posts a cost above the reservation anyway and flags the excess', () => {
    const s = ready('tiny', '100', '10');
    s.run(cmd('StartCall', { callId: 'c1', destination: INDIA, at: T('10:00') }), T('10:00'));
    const [rated] = s.run(cmd('RateCdr', { cdr: cdr('c1', 430_000) }), T('10:08'));
    expect(rated?.data).toMatchObject({ billedSeconds: 480, cost: '11.20', reservedAmount: '9.60', excess: '1.60' });
    expect(s.state.balance.toString()).toBe('-1.20');
  });

  it('charges a CDR that arrives without a reservation (expired or never authorized) and flags it', () => {
    const s = ready('tiny', '100', '10');
    const [rated] = s.run(cmd('RateCdr', { cdr: cdr('lost', 90_000) }), T('10:05'));
    expect(rated?.data).toMatchObject({ hadReservation: false, freeSecondsUsed: 60, overageSeconds: 60, cost: '1.60' });
  });
});

describe('reservations', () => {
  it('expire only after their time, once', () => {
    const s = ready('tiny', '100', '10');
    const [authorized] = s.run(cmd('StartCall', { callId: 'c1', destination: INDIA, at: T('10:00') }), T('10:00'));
    const expiresAt = (authorized as { data: { expiresAt: string } }).data.expiresAt;
    expect(s.attempt(cmd('ExpireReservation', { callId: 'c1' }), T('10:10'))).toMatchObject({
      code: 'RESERVATION_NOT_EXPIRED',
    });
    const [expired] = s.run(cmd('ExpireReservation', { callId: 'c1' }), expiresAt);
    expect(expired?.data).toMatchObject({ callId: 'c1', releasedAmount: '9.60', releasedFreeSeconds: 60 });
    expect(s.run(cmd('ExpireReservation', { callId: 'c1' }), expiresAt)).toEqual([]);
    expect(s.state.reserved.isZero()).toBe(true);
    expect(s.state.balance.toString()).toBe('10.00');
  });

  it('are swept together once their time is up, and a sweep meant for a reservation not yet due is refused', () => {
    const s = ready('tiny', '1000', '100');
    const expiry = (callId: string, at: string): string => {
      const [authorized] = s.run(cmd('StartCall', { callId, destination: INDIA, at }), at);
      return (authorized as { data: { expiresAt: string } }).data.expiresAt;
    };
    const first = expiry('c2', T('10:00'));
    expiry('c1', T('10:00'));
    const later = expiry('c3', T('10:05'));
    expect(s.run(cmd('ExpireReservations', {}), T('10:01'))).toEqual([]);
    // Due by the sweep's time, not by the ledger's clock: nothing expires, the sweep is retried.
    expect(s.attempt(cmd('ExpireReservations', { dueBy: later }), first)).toMatchObject({
      code: 'RESERVATION_NOT_EXPIRED',
    });
    expect(s.state.reservations.size).toBe(3);
    const swept = s.run(cmd('ExpireReservations', { dueBy: first }), first);
    expect(swept.map((event) => [event.type, (event.data as { callId: string }).callId])).toEqual([
      ['ReservationExpired', 'c1'],
      ['ReservationExpired', 'c2'],
    ]);
    expect(s.state.reservations.size).toBe(1);
    expect(s.run(cmd('ExpireReservations', { dueBy: first }), first)).toEqual([]);
    s.run(cmd('RateCdr', { cdr: cdr('c3', 30_000) }), T('10:06'));
    expect(s.run(cmd('ExpireReservations', {}), later)).toEqual([]);
    expect(s.state.reserved.isZero()).toBe(true);
  });

  it('can be released early when the call no longer exists', () => {
    const s = ready('tiny', '100', '10');
    s.run(cmd('StartCall', { callId: 'gone', destination: INDIA, at: T('10:00') }), T('10:00'));
    const [released] = s.run(
      cmd('ReleaseReservation', { callId: 'gone', reason: 'FreeSWITCH does not know the call' }),
      T('10:01'),
    );
    expect(released).toMatchObject({ type: 'ReservationExpired', data: { callId: 'gone', releasedAmount: '9.60' } });
    expect(s.run(cmd('ReleaseReservation', { callId: 'gone', reason: 'again' }), T('10:02'))).toEqual([]);
  });

  it('extend after a top-up during the call', () => {
    const s = ready('tiny', '100', '10');
    s.run(cmd('StartCall', { callId: 'c1', destination: INDIA, at: T('10:00') }), T('10:00'));
    expect(s.attempt(cmd('ExtendReservation', { callId: 'c1' }), T('10:01'))).toMatchObject({
      code: 'NOTHING_TO_EXTEND',
    });
    s.run(cmd('TopUpWallet', { amount: '118.00' }), T('10:02'));
    const [extended] = s.run(cmd('ExtendReservation', { callId: 'c1' }), T('10:02'));
    // ₹110 and one free minute buy 1 + 68 minutes (68 × 1.60 = 108.80).
    expect(extended?.data).toMatchObject({ maxSeconds: 4_140, additionalAmount: '99.20', additionalFreeSeconds: 0 });
    expect(s.attempt(cmd('ExtendReservation', { callId: 'nope' }), T('10:02'))).toMatchObject({
      code: 'NO_OPEN_RESERVATION',
    });
  });

  it('renews a lapsed period before authorizing, when the wallet can pay it', () => {
    const s = ready('tiny', '100', '200');
    const next = new Date('2026-12-02T05:00:00.000Z').toISOString();
    const events = s.run(cmd('StartCall', { callId: 'dec', destination: INDIA, at: next }), next);
    expect(types(events)).toEqual(['SubscriptionCharged', 'UsageMonthStarted', 'CallAuthorized']);
  });
});
