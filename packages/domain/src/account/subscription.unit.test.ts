import { describe, expect, it } from 'vitest';
import { Money } from '../money/money.ts';
import { cmd, openAccount, Scenario, types } from './test-support.ts';

/** 10:00 IST on a date. */
const at = (date: string): string => new Date(`${date}T04:30:00.000Z`).toISOString();

function funded(rupeesTaxable: number, date = '2026-11-01'): Scenario {
  const s = new Scenario();
  s.run(openAccount(), at(date));
  const gross = Money.ofRupees(BigInt(rupeesTaxable)).times(118n).toFraction().dividedBy(100n).toMoney(2, 'up');
  s.run(cmd('TopUpWallet', { amount: gross.toFixedDecimals(2) }), at(date));
  return s;
}

describe('subscribing', () => {
  it('starts, charges the first period in advance and opens the month of free minutes', () => {
    const s = funded(2000, '2026-11-02');
    const events = s.run(cmd('Subscribe', { planId: 'professional', cycle: 'monthly' }), at('2026-11-02'));
    expect(types(events)).toEqual(['SubscriptionStarted', 'SubscriptionCharged', 'UsageMonthStarted']);
    expect(events[0]?.data).toMatchObject({
      planId: 'professional',
      anchor: '2026-11-02',
      periodStart: '2026-11-02',
      periodEnd: '2026-12-02',
    });
    expect(events[1]?.data).toMatchObject({ periodIndex: 0, planAmount: '999.00', amount: '999.00', addOns: [] });
    expect(events[2]?.data).toEqual({ start: '2026-11-02', end: '2026-12-02', freeSeconds: 30_000 });
    expect(s.state.balance.toString()).toBe('1001.00');
  });

  it('charges the catalog price of each cycle: quarterly ₹2,997, annual ₹47,990 for Call Center', () => {
    const quarterly = funded(3000);
    const [, charged] = quarterly.run(
      cmd('Subscribe', { planId: 'professional', cycle: 'quarterly' }),
      at('2026-11-01'),
    );
    expect(charged?.data).toMatchObject({ amount: '2997.00', periodEnd: '2027-02-01' });
    const annual = funded(50000);
    const [, charge] = annual.run(cmd('Subscribe', { planId: 'call-center', cycle: 'annual' }), at('2026-11-01'));
    expect(charge?.data).toMatchObject({ amount: '47990.00', periodEnd: '2027-11-01' });
  });

  it('refuses a second subscription, an unknown plan, an empty wallet and a start too far back', () => {
    const s = funded(500);
    expect(s.attempt(cmd('Subscribe', { planId: 'gold', cycle: 'monthly' }), at('2026-11-01'))).toMatchObject({
      code: 'UNKNOWN_PLAN',
    });
    expect(s.attempt(cmd('Subscribe', { planId: 'professional', cycle: 'monthly' }), at('2026-11-01'))).toMatchObject({
      code: 'INSUFFICIENT_FUNDS',
      details: { required: '999.00' },
    });
    expect(
      s.attempt(cmd('Subscribe', { planId: 'starter', cycle: 'monthly', startOn: '2026-09-01' }), at('2026-11-01')),
    ).toMatchObject({ code: 'INVALID_START_DATE' });
    s.run(cmd('Subscribe', { planId: 'starter', cycle: 'monthly' }), at('2026-11-01'));
    expect(s.attempt(cmd('Subscribe', { planId: 'starter', cycle: 'monthly' }), at('2026-11-01'))).toMatchObject({
      code: 'ALREADY_SUBSCRIBED',
    });
  });
});

describe('renewal', () => {
  it('charges each period once, at its start, and resets free minutes monthly', () => {
    const s = funded(5000, '2026-11-02');
    s.run(cmd('Subscribe', { planId: 'professional', cycle: 'monthly' }), at('2026-11-02'));
    expect(s.run(cmd('ChargeSubscription', { on: '2026-12-01' }), at('2026-12-01'))).toEqual([]);
    const renewed = s.run(cmd('ChargeSubscription', { on: '2026-12-02' }), at('2026-12-02'));
    expect(types(renewed)).toEqual(['SubscriptionCharged', 'UsageMonthStarted']);
    expect(renewed[0]?.data).toMatchObject({ periodIndex: 1, periodStart: '2026-12-02', periodEnd: '2027-01-02' });
    expect(s.run(cmd('ChargeSubscription', { on: '2026-12-02' }), at('2026-12-02'))).toEqual([]);
    expect(s.state.balance.toString()).toBe('3002.00');
  });

  it('keeps the anchor day across month ends: 31 Jan → 28 Feb → 31 Mar', () => {
    const s = funded(5000, '2026-01-31');
    s.run(cmd('Subscribe', { planId: 'starter', cycle: 'monthly' }), at('2026-01-31'));
    const feb = s.run(cmd('ChargeSubscription', { on: '2026-02-28' }), at('2026-02-28'));
    expect(feb[0]?.data).toMatchObject({ periodStart: '2026-02-28', periodEnd: '2026-03-31' });
    const mar = s.run(cmd('ChargeSubscription', { on: '2026-03-31' }), at('2026-03-31'));
    expect(mar[0]?.data).toMatchObject({ periodStart: '2026-03-31', periodEnd: '2026-04-30' });
  });

  it('catches up several missed periods in one command, and stops where the wallet runs out', () => {
    const s = funded(349 * 3, '2026-11-01');
    s.run(cmd('Subscribe', { planId: 'starter', cycle: 'monthly' }), at('2026-11-01'));
    const events = s.run(cmd('ChargeSubscription', { on: '2027-02-15' }), at('2027-02-15'));
    // December and January are paid; February is not, so its free minutes do not start either.
    expect(types(events)).toEqual(['SubscriptionCharged', 'SubscriptionCharged']);
    expect(s.state.balance.isZero()).toBe(true);
    expect(s.attempt(cmd('ChargeSubscription', { on: '2027-02-15' }), at('2027-02-15'))).toMatchObject({
      code: 'INSUFFICIENT_FUNDS',
    });
    expect(
      s.attempt(
        cmd('StartCall', { callId: 'x', destination: '+919845012345', at: at('2027-02-15') }),
        at('2027-02-15'),
      ),
    ).toMatchObject({
      code: 'SUBSCRIPTION_UNPAID',
    });
  });
});

describe('changing plans', () => {
  it('upgrades now with daily proration: 15 of 30 days → credit ₹174.50, charge ₹499.50', () => {
    const s = funded(2000, '2026-11-01');
    s.run(cmd('Subscribe', { planId: 'starter', cycle: 'monthly' }), at('2026-11-01'));
    const [changed] = s.run(cmd('ChangePlan', { planId: 'professional' }), at('2026-11-16'));
    expect(changed?.data).toMatchObject({
      timing: 'now',
      fromPlanId: 'starter',
      toPlanId: 'professional',
      effectiveOn: '2026-11-16',
      credit: '174.50',
      charge: '499.50',
      remainingDays: 15,
      periodDays: 30,
      periodStart: '2026-11-01',
      periodEnd: '2026-12-01',
    });
    expect(s.state.balance.toString()).toBe('1326.00'); // 2000 − 349 + 174.50 − 499.50
    expect(s.state.subscription?.planId).toBe('professional');
  });

  it('downgrades at the end of the paid period, then charges the cheaper plan', () => {
    const s = funded(3000, '2026-11-01');
    s.run(cmd('Subscribe', { planId: 'professional', cycle: 'monthly' }), at('2026-11-01'));
    const [scheduled] = s.run(cmd('ChangePlan', { planId: 'starter' }), at('2026-11-16'));
    expect(scheduled).toMatchObject({
      type: 'PlanChangeScheduled',
      data: { toPlanId: 'starter', effectiveOn: '2026-12-01' },
    });
    expect(s.state.subscription?.planId).toBe('professional');
    const renewal = s.run(cmd('ChargeSubscription', { on: '2026-12-01' }), at('2026-12-01'));
    expect(types(renewal)).toEqual(['PlanChanged', 'SubscriptionCharged', 'UsageMonthStarted']);
    expect(renewal[0]?.data).toMatchObject({
      timing: 'period_start',
      toPlanId: 'starter',
      credit: '0.00',
      charge: '0.00',
    });
    expect(renewal[1]?.data).toMatchObject({ planId: 'starter', amount: '349.00', periodStart: '2026-12-01' });
    expect(renewal[2]?.data).toMatchObject({ freeSeconds: 6_000 });
  });

  it('moves to a new cycle now with a whole new period, crediting the old plan’s unused days', () => {
    const s = funded(20000, '2026-11-01');
    s.run(cmd('Subscribe', { planId: 'professional', cycle: 'monthly' }), at('2026-11-01'));
    const [changed] = s.run(cmd('ChangePlan', { planId: 'call-center', cycle: 'quarterly' }), at('2026-11-16'));
    expect(changed?.data).toMatchObject({
      credit: '499.50',
      charge: '14997.00',
      anchor: '2026-11-16',
      periodStart: '2026-11-16',
      periodEnd: '2027-02-16',
    });
    expect(s.attempt(cmd('ChangePlan', { planId: 'call-center', cycle: 'quarterly' }), at('2026-11-17'))).toMatchObject(
      {
        code: 'SAME_PLAN',
      },
    );
  });

  it('refuses a downgrade that would leave more numbers than the new plan allows', () => {
    const s = funded(3000, '2026-11-01');
    s.run(cmd('Subscribe', { planId: 'professional', cycle: 'monthly' }), at('2026-11-01'));
    for (const n of ['101', '102', '103'])
      s.run(cmd('AssignNumber', { kind: 'extension', number: n }), at('2026-11-01'));
    expect(s.attempt(cmd('ChangePlan', { planId: 'starter' }), at('2026-11-16'))).toMatchObject({
      code: 'PLAN_LIMIT_REACHED',
    });
  });
});

describe('cancelling', () => {
  it('cancels now with a prorated credit of plan and add-ons', () => {
    const s = funded(2000, '2026-11-01');
    s.run(cmd('Subscribe', { planId: 'professional', cycle: 'monthly' }), at('2026-11-01'));
    s.run(cmd('AddAddOn', { addOnId: 'extra-extension', quantity: 1 }), at('2026-11-01'));
    const [cancelled] = s.run(cmd('CancelSubscription', { when: 'now', reason: 'moving provider' }), at('2026-11-16'));
    // (999 + 99) × 15 / 30 = 549.00
    expect(cancelled?.data).toMatchObject({
      when: 'now',
      effectiveOn: '2026-11-16',
      credit: '549.00',
      reason: 'moving provider',
    });
    expect(s.state.subscription).toBeNull();
    expect(
      s.attempt(
        cmd('StartCall', { callId: 'c', destination: '+919845012345', at: at('2026-11-16') }),
        at('2026-11-16'),
      ),
    ).toMatchObject({
      code: 'NO_ACTIVE_SUBSCRIPTION',
    });
  });

  it('cancels at period end: calls work until then, and the renewal ends the subscription instead of charging', () => {
    const s = funded(2000, '2026-11-01');
    s.run(cmd('Subscribe', { planId: 'starter', cycle: 'monthly' }), at('2026-11-01'));
    const [scheduled] = s.run(cmd('CancelSubscription', { when: 'period_end' }), at('2026-11-10'));
    expect(scheduled?.data).toMatchObject({ when: 'period_end', effectiveOn: '2026-12-01', credit: '0.00' });
    expect(s.attempt(cmd('CancelSubscription', { when: 'period_end' }), at('2026-11-11'))).toMatchObject({
      code: 'SUBSCRIPTION_CANCELLED',
    });
    s.run(cmd('StartCall', { callId: 'c1', destination: '+919845012345', at: at('2026-11-20') }), at('2026-11-20'));
    const ended = s.run(cmd('ChargeSubscription', { on: '2026-12-01' }), at('2026-12-01'));
    expect(types(ended)).toEqual(['SubscriptionEnded']);
    expect(s.state.balance.toString()).toBe('1651.00');
  });
});

describe('add-ons', () => {
  it('charges an add-on prorated by day and bills it with each renewal', () => {
    const s = funded(3000, '2026-11-01');
    s.run(cmd('Subscribe', { planId: 'starter', cycle: 'monthly' }), at('2026-11-01'));
    const [added] = s.run(cmd('AddAddOn', { addOnId: 'extra-extension', quantity: 2 }), at('2026-11-16'));
    expect(added?.data).toMatchObject({
      addOnId: 'extra-extension',
      quantity: 2,
      charge: '99.00',
      remainingDays: 15,
      periodDays: 30,
    });
    const [renewal] = s.run(cmd('ChargeSubscription', { on: '2026-12-01' }), at('2026-12-01'));
    expect(renewal?.data).toMatchObject({
      planAmount: '349.00',
      addOns: [{ addOnId: 'extra-extension', quantity: 2, amount: '198.00' }],
      amount: '547.00',
    });
    expect(s.attempt(cmd('AddAddOn', { addOnId: 'fax', quantity: 1 }), at('2026-12-01'))).toMatchObject({
      code: 'UNKNOWN_ADD_ON',
    });
  });
});
