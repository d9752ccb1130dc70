import { describe, expect, it } from 'vitest';
import { Money } from '../money/money.ts';
import { isRejection } from './rejections.ts';
import { cmd, openAccount, Scenario, testRules, types } from './test-support.ts';

const T0 = '2026-11-02T04:30:00.000Z'; // 10:00 IST, Monday 2 Nov 2026

describe('opening an account', () => {
  it('opens with the profile, billing mode and a zero balance', () => {
    const s = new Scenario();
    const events = s.run(openAccount({ gstin: '27AAPFU0939F1ZV' }), T0);
    expect(types(events)).toEqual(['AccountOpened']);
    expect(events[0]?.data).toMatchObject({
      gstin: '27AAPFU0939F1ZV',
      billingMode: 'prepaid',
      creditLimit: '0.00',
      openedAt: T0,
    });
    expect(s.state.status).toBe('active');
    expect(s.state.balance.isZero()).toBe(true);
  });

  it('refuses a GSTIN with a wrong check character, an unknown state, and a credit limit on prepaid', () => {
    const s = new Scenario();
    expect(s.attempt(openAccount({ gstin: '27AAPFU0939F1ZX' }), T0)).toMatchObject({ code: 'INVALID_GSTIN' });
    const badState = openAccount();
    expect(
      s.attempt(
        {
          ...badState,
          billingAddress: { ...(badState as { billingAddress: object }).billingAddress, stateCode: '99' },
        } as typeof badState,
        T0,
      ),
    ).toMatchObject({ code: 'INVALID_STATE_CODE' });
    expect(s.attempt(openAccount({ creditLimit: '5000' }), T0)).toMatchObject({ code: 'INVALID_CREDIT_LIMIT' });
    expect(s.history).toEqual([]);
  });

  it('refuses to open twice and refuses every other command before opening', () => {
    const s = new Scenario();
    expect(s.attempt(cmd('TopUpWallet', { amount: '100' }), T0)).toMatchObject({ code: 'UNKNOWN_ACCOUNT' });
    expect(s.attempt(cmd('StartCall', { callId: 'c1', destination: '+919845012345', at: T0 }), T0)).toMatchObject({
      code: 'UNKNOWN_ACCOUNT',
    });
    s.run(openAccount(), T0);
    expect(s.attempt(openAccount(), T0)).toMatchObject({ code: 'ACCOUNT_EXISTS' });
  });

  it('updates the billing profile and refuses an empty update', () => {
    const s = new Scenario();
    s.run(openAccount(), T0);
    expect(s.attempt(cmd('UpdateBillingProfile', {}), T0)).toMatchObject({ code: 'NOTHING_TO_UPDATE' });
    expect(s.attempt(cmd('UpdateBillingProfile', { gstin: '24AAQCA8719H1ZD' }), T0)).toMatchObject({
      code: 'INVALID_GSTIN',
    });
    s.run(cmd('UpdateBillingProfile', { legalName: 'Acme Renamed', gstin: '24AAQCA8719H1ZC' }), T0);
    expect(s.state.profile).toMatchObject({ legalName: 'Acme Renamed', gstin: '24AAQCA8719H1ZC' });
    s.run(cmd('UpdateBillingProfile', { gstin: null }), T0);
    expect(s.state.profile?.gstin).toBeNull();
  });
});

describe('wallet', () => {
  it('credits a GST-inclusive recharge with its taxable value: ₹1,180 intra-state → ₹1,000 + CGST 90 + SGST 90', () => {
    const s = new Scenario();
    s.run(openAccount(), T0);
    const [topUp] = s.run(cmd('TopUpWallet', { amount: '1180.00' }), T0);
    expect(topUp?.data).toMatchObject({
      gross: '1180.00',
      taxable: '1000.00',
      tax: { cgst: '90.00', sgst: '90.00', utgst: '0.00', igst: '0.00' },
      supplierState: '29',
      placeOfSupply: '29',
    });
    expect(s.state.balance.toString()).toBe('1000.00');
  });

  it('charges IGST when the customer is in another state', () => {
    const s = new Scenario();
    const base = openAccount();
    s.run(
      {
        ...base,
        billingAddress: { line1: 'x', city: 'Mumbai', stateCode: '27', postalCode: '400001', country: 'IN' },
      } as typeof base,
      T0,
    );
    const [topUp] = s.run(cmd('TopUpWallet', { amount: '500.00' }), T0);
    expect(topUp?.data).toMatchObject({ taxable: '423.73', tax: { igst: '76.27', cgst: '0.00' } });
  });

  it('records a gateway payment once, keyed by its id, and credits it like a recharge', () => {
    const s = new Scenario();
    s.run(openAccount(), T0);
    const events = s.run(
      cmd('RecordPayment', { paymentId: 'pay_123', gateway: 'razorpay', amount: '590.00', purpose: 'topup' }),
      T0,
    );
    expect(types(events)).toEqual(['PaymentRecorded', 'WalletToppedUp']);
    expect(events.map((e) => e.idempotencyKey)).toEqual(['payment:razorpay:pay_123', 'topup:razorpay:pay_123']);
    expect(s.state.balance.toString()).toBe('500.00');
  });

  it('adjusts with a reason, and never debits below what can be spent', () => {
    const s = new Scenario();
    s.run(openAccount(), T0);
    s.run(cmd('AdjustWallet', { amount: '25.50', reason: 'goodwill credit' }), T0);
    expect(s.attempt(cmd('AdjustWallet', { amount: '-30', reason: 'correction' }), T0)).toMatchObject({
      code: 'INSUFFICIENT_FUNDS',
    });
    expect(s.attempt(cmd('AdjustWallet', { amount: '0', reason: 'nothing' }), T0)).toMatchObject({
      code: 'ZERO_AMOUNT',
    });
    s.run(cmd('AdjustWallet', { amount: '-25.50', reason: 'correction' }), T0);
    expect(s.state.balance.isZero()).toBe(true);
    expect(s.state.credits.toString()).toBe('25.50');
    expect(s.state.debits.toString()).toBe('25.50');
  });
});

describe('numbers', () => {
  function subscribed(planId = 'starter') {
    const s = new Scenario();
    s.run(openAccount(), T0);
    s.run(cmd('TopUpWallet', { amount: '11800' }), T0);
    s.run(cmd('Subscribe', { planId, cycle: 'monthly' }), T0);
    return s;
  }

  it('assigns toll-free numbers and extensions within the plan plus add-ons', () => {
    const s = subscribed('starter');
    s.run(cmd('AssignNumber', { kind: 'toll-free', number: '18001234567' }), T0);
    expect(s.attempt(cmd('AssignNumber', { kind: 'toll-free', number: '18007654321' }), T0)).toMatchObject({
      code: 'PLAN_LIMIT_REACHED',
      details: { limit: 1 },
    });
    s.run(cmd('AddAddOn', { addOnId: 'extra-toll-free-number', quantity: 1 }), T0);
    s.run(cmd('AssignNumber', { kind: 'toll-free', number: '18007654321' }), T0);
    s.run(cmd('AssignNumber', { kind: 'extension', number: '101' }), T0);
    s.run(cmd('AssignNumber', { kind: 'extension', number: '102' }), T0);
    expect(s.attempt(cmd('AssignNumber', { kind: 'extension', number: '103' }), T0)).toMatchObject({
      code: 'PLAN_LIMIT_REACHED',
    });
    expect(s.state.tollFreeNumbers).toEqual(['18001234567', '18007654321']);
  });

  it('refuses malformed numbers, duplicates and releasing what is not assigned', () => {
    const s = subscribed('professional');
    expect(s.attempt(cmd('AssignNumber', { kind: 'toll-free', number: '1234567' }), T0)).toMatchObject({
      code: 'INVALID_NUMBER',
    });
    s.run(cmd('AssignNumber', { kind: 'extension', number: '201' }), T0);
    expect(s.attempt(cmd('AssignNumber', { kind: 'extension', number: '201' }), T0)).toMatchObject({
      code: 'NUMBER_ALREADY_ASSIGNED',
    });
    expect(s.attempt(cmd('ReleaseNumber', { kind: 'extension', number: '202' }), T0)).toMatchObject({
      code: 'NUMBER_NOT_ASSIGNED',
    });
    s.run(cmd('ReleaseNumber', { kind: 'extension', number: '201' }), T0);
    expect(s.state.extensions).toEqual([]);
  });

  it('refuses to remove an add-on whose numbers are still assigned', () => {
    const s = subscribed('starter');
    s.run(cmd('AddAddOn', { addOnId: 'extra-extension', quantity: 1 }), T0);
    for (const n of ['101', '102', '103']) s.run(cmd('AssignNumber', { kind: 'extension', number: n }), T0);
    expect(s.attempt(cmd('RemoveAddOn', { addOnId: 'extra-extension', quantity: 1 }), T0)).toMatchObject({
      code: 'PLAN_LIMIT_REACHED',
    });
    s.run(cmd('ReleaseNumber', { kind: 'extension', number: '103' }), T0);
    s.run(cmd('RemoveAddOn', { addOnId: 'extra-extension', quantity: 1 }), T0);
    expect(s.state.subscription?.addOns).toEqual({});
  });
});

describe('account status', () => {
  it('suspends (calls barred), reinstates, and closes only without calls in progress', () => {
    const s = new Scenario();
    s.run(openAccount(), T0);
    s.run(cmd('TopUpWallet', { amount: '2360' }), T0);
    s.run(cmd('Subscribe', { planId: 'professional', cycle: 'monthly' }), T0);
    s.run(cmd('SuspendAccount', { reason: 'payment overdue' }), T0);
    expect(s.attempt(cmd('StartCall', { callId: 'c1', destination: '+919845012345', at: T0 }), T0)).toMatchObject({
      code: 'ACCOUNT_SUSPENDED',
    });
    expect(s.attempt(cmd('SuspendAccount', { reason: 'again' }), T0)).toMatchObject({ code: 'ACCOUNT_SUSPENDED' });
    s.run(cmd('TopUpWallet', { amount: '118' }), T0);
    s.run(cmd('ReinstateAccount', { reason: 'paid' }), T0);
    s.run(cmd('StartCall', { callId: 'c1', destination: '+919845012345', at: T0 }), T0);
    expect(s.attempt(cmd('CloseAccount', { reason: 'leaving' }), T0)).toMatchObject({
      code: 'ACCOUNT_HAS_ACTIVE_CALLS',
    });
    s.run(
      cmd('RateCdr', {
        cdr: {
          callId: 'c1',
          leg: 'A',
          destination: '+919845012345',
          startedAt: T0,
          answeredAt: T0,
          billableMilliseconds: 30_000,
        },
      }),
      T0,
    );
    s.run(cmd('CloseAccount', { reason: 'leaving' }), T0);
    const closed = s.attempt(cmd('TopUpWallet', { amount: '100' }), T0);
    expect(isRejection(closed) && closed.code).toBe('ACCOUNT_CLOSED');
  });

  it('bounds a postpaid account by its GST-inclusive credit limit', () => {
    const s = new Scenario(testRules());
    s.run(openAccount({ billingMode: 'postpaid', creditLimit: '1180' }), T0);
    expect(s.attempt(cmd('SetCreditLimit', { creditLimit: '2360' }), T0)).not.toHaveProperty('code');
    expect(s.state.creditLimit.toString()).toBe('2360.00');
    // Subscribing accrues the fee (no wallet needed); ₹2,360 incl. GST = ₹2,000 pre-tax headroom.
    s.run(cmd('Subscribe', { planId: 'professional', cycle: 'monthly' }), T0);
    expect(s.state.balance.equals(Money.parse('-999'))).toBe(true);
  });
});
