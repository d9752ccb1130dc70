import type { AccountEvent } from '@khata/schemas';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRejection } from '../account/rejections.ts';
import { evolve, InvariantViolation, initialState } from '../account/state.ts';
import { ACCOUNT_ID, cmd, openAccount, Scenario, testRules } from '../account/test-support.ts';
import { Money } from '../money/money.ts';
import {
  assertBalanced,
  customerBalanceChange,
  type JournalEntryDraft,
  type JournalLine,
  journalEntryOf,
  LEDGER_ACCOUNTS,
} from './postings.ts';

const START = '2026-11-02T04:30:00.000Z';

/** Lines as `[account, customer?, debit, credit]` strings, easy to compare. */
function table(entry: JournalEntryDraft | null): [string, string | null, string, string][] | null {
  return (
    entry?.lines.map((line) => [
      line.ledgerAccount,
      line.customerAccountId,
      line.debit.toString(),
      line.credit.toString(),
    ]) ?? null
  );
}

const topUp = (fields: Partial<Extract<AccountEvent, { type: 'WalletToppedUp' }>['data']> = {}): AccountEvent => ({
  type: 'WalletToppedUp',
  data: {
    gross: '2360.00',
    taxable: '2000.00',
    tax: { cgst: '180.00', sgst: '180.00', utgst: '0.00', igst: '0.00' },
    supplierState: '29',
    placeOfSupply: '29',
    paymentId: 'razorpay:pay_1',
    ...fields,
  },
});

describe('journal entries of money events', () => {
  it('posts a GST-inclusive top-up as gateway money split into the wallet credit and each tax head', () => {
    expect(table(journalEntryOf(ACCOUNT_ID, topUp()))).toEqual([
      ['asset:gateway-clearing', null, '2360.00', '0.00'],
      ['liability:customer-balances', ACCOUNT_ID, '0.00', '2000.00'],
      ['liability:output-cgst', null, '0.00', '180.00'],
      ['liability:output-sgst', null, '0.00', '180.00'],
    ]);
    const interState = topUp({
      gross: '1180.00',
      taxable: '1000.00',
      tax: { cgst: '0', sgst: '0', utgst: '0', igst: '180.00' },
      placeOfSupply: '27',
    });
    expect(table(journalEntryOf(ACCOUNT_ID, interState))?.map(([account]) => account)).toEqual([
      'asset:gateway-clearing',
      'liability:customer-balances',
      'liability:output-igst',
    ]);
  });

  it('credits plan and add-on income separately for a period charge', () => {
    const entry = journalEntryOf(ACCOUNT_ID, {
      type: 'SubscriptionCharged',
      data: {
        subscriptionId: ACCOUNT_ID,
        periodIndex: 1,
        periodStart: '2026-12-02',
        periodEnd: '2027-01-02',
        planId: 'starter',
        cycle: 'monthly',
        planAmount: '349.00',
        addOns: [{ addOnId: 'extra-extension', quantity: 2, amount: '198.00' }],
        amount: '547.00',
      },
    });
    expect(table(entry)).toEqual([
      ['liability:customer-balances', ACCOUNT_ID, '547.00', '0.00'],
      ['income:subscriptions', null, '0.00', '349.00'],
      ['income:add-ons', null, '0.00', '198.00'],
    ]);
    expect(entry?.description).toContain('2026-12-02 to 2027-01-02');
  });

  it('keeps an upgrade’s credit and charge as separate lines, and posts nothing for a free scheduled change', () => {
    const change = (credit: string, charge: string, timing: 'now' | 'period_start'): AccountEvent => ({
      type: 'PlanChanged',
      data: {
        subscriptionId: ACCOUNT_ID,
        fromPlanId: 'professional',
        fromCycle: 'monthly',
        toPlanId: 'call-center',
        toCycle: 'monthly',
        effectiveOn: '2026-11-17',
        timing,
        credit,
        charge,
        remainingDays: 15,
        periodDays: 30,
        anchor: '2026-11-02',
        periodStart: '2026-11-02',
        periodEnd: '2026-12-02',
      },
    });
    expect(table(journalEntryOf(ACCOUNT_ID, change('499.50', '2499.50', 'now')))).toEqual([
      ['liability:customer-balances', ACCOUNT_ID, '2499.50', '0.00'],
      ['income:subscriptions', null, '0.00', '2499.50'],
      ['income:subscriptions', null, '499.50', '0.00'],
      ['liability:customer-balances', ACCOUNT_ID, '0.00', '499.50'],
    ]);
    expect(journalEntryOf(ACCOUNT_ID, change('0.00', '0.00', 'period_start'))).toBeNull();
  });

  it('posts signed corrections on the side their sign gives, never with a negative amount', () => {
    const rerated = (adjustment: string): AccountEvent => ({
      type: 'CallRerated',
      data: {
        callId: 'c-1',
        tariffId: 'professional-overage',
        previousCost: '3.20',
        newCost: Money.parse('3.20').plus(Money.parse(adjustment)).toString(),
        adjustment,
        previousFreeSecondsUsed: 0,
        newFreeSecondsUsed: 0,
        usageMonthStart: null,
        reason: 'tariff corrected',
      },
    });
    expect(table(journalEntryOf(ACCOUNT_ID, rerated('-1.20')))).toEqual([
      ['income:usage', null, '1.20', '0.00'],
      ['liability:customer-balances', ACCOUNT_ID, '0.00', '1.20'],
    ]);
    expect(table(journalEntryOf(ACCOUNT_ID, rerated('0.80')))).toEqual([
      ['liability:customer-balances', ACCOUNT_ID, '0.80', '0.00'],
      ['income:usage', null, '0.00', '0.80'],
    ]);
    const adjusted = (amount: string): AccountEvent => ({ type: 'WalletAdjusted', data: { amount, reason: 'r' } });
    expect(table(journalEntryOf(ACCOUNT_ID, adjusted('10.00')))).toEqual([
      ['expense:wallet-adjustments', null, '10.00', '0.00'],
      ['liability:customer-balances', ACCOUNT_ID, '0.00', '10.00'],
    ]);
    expect(table(journalEntryOf(ACCOUNT_ID, adjusted('-5.00')))).toEqual([
      ['liability:customer-balances', ACCOUNT_ID, '5.00', '0.00'],
      ['expense:wallet-adjustments', null, '0.00', '5.00'],
    ]);
  });

  it('posts nothing for events that move no money, including reservations and free calls', () => {
    const s = new Scenario(testRules());
    s.run(openAccount(), START);
    s.run(cmd('TopUpWallet', { amount: '2360.00' }), START);
    s.run(cmd('Subscribe', { planId: 'professional', cycle: 'monthly' }), START);
    const authorized = s.run(cmd('StartCall', { callId: 'free', destination: '+919845012345', at: START }), START);
    const rated = s.run(
      cmd('RateCdr', {
        cdr: {
          callId: 'free',
          leg: 'A',
          destination: '+919845012345',
          startedAt: START,
          answeredAt: START,
          billableMilliseconds: 30_000,
        },
      }),
      START,
    );
    expect(authorized.map((event) => journalEntryOf(ACCOUNT_ID, event))).toEqual([null]);
    // Within the free minutes the call costs nothing, so it posts nothing.
    expect(rated.map((event) => journalEntryOf(ACCOUNT_ID, event))).toEqual([null]);
    const types = s.history.filter((event) => journalEntryOf(ACCOUNT_ID, event) !== null).map((event) => event.type);
    expect(types).toEqual(['WalletToppedUp', 'SubscriptionCharged']);
  });

  it('refuses an event whose amounts do not balance', () => {
    const broken = topUp({ gross: '2360.01' });
    expect(() => journalEntryOf(ACCOUNT_ID, broken)).toThrow(InvariantViolation);
    expect(() => journalEntryOf(ACCOUNT_ID, broken)).toThrow(/unbalanced: debits 2360.01, credits 2360.00/);
  });

  it('checks each line has exactly one positive side and an entry at least two lines', () => {
    const line = (debit: string, credit: string): JournalLine => ({
      ledgerAccount: LEDGER_ACCOUNTS.usageIncome,
      customerAccountId: null,
      debit: Money.parse(debit),
      credit: Money.parse(credit),
    });
    expect(() => assertBalanced([line('1', '0')], 'one line')).toThrow(/1 line/);
    expect(() => assertBalanced([line('1', '1'), line('0', '0')], 'both sides')).toThrow(/must debit or credit/);
    expect(() => assertBalanced([line('-1', '0'), line('0', '-1')], 'negative')).toThrow(/negative amount/);
    expect(() => assertBalanced([line('1', '0'), line('0', '1')], 'fine')).not.toThrow();
  });
});

type Action =
  | { kind: 'topUp'; paise: number }
  | { kind: 'call'; seconds: number; answered: boolean; international: boolean }
  | { kind: 'adjust'; paise: number }
  | { kind: 'addOn'; quantity: number }
  | { kind: 'changePlan'; planId: string }
  | { kind: 'cancel'; when: 'now' | 'period_end' }
  | { kind: 'subscribe'; planId: string }
  | { kind: 'days'; days: number };

const PLAN_IDS = ['starter', 'professional', 'call-center', 'tiny'];

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constant('topUp' as const), paise: fc.integer({ min: 1, max: 1_000_000 }) }),
  fc.record({
    kind: fc.constant('call' as const),
    seconds: fc.integer({ min: 0, max: 7_200 }),
    answered: fc.boolean(),
    international: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('adjust' as const), paise: fc.integer({ min: -50_000, max: 50_000 }) }),
  fc.record({ kind: fc.constant('addOn' as const), quantity: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('changePlan' as const), planId: fc.constantFrom(...PLAN_IDS) }),
  fc.record({ kind: fc.constant('cancel' as const), when: fc.constantFrom('now' as const, 'period_end' as const) }),
  fc.record({ kind: fc.constant('subscribe' as const), planId: fc.constantFrom(...PLAN_IDS) }),
  fc.record({ kind: fc.constant('days' as const), days: fc.integer({ min: 1, max: 40 }) }),
);

describe('journal invariants under random command sequences', () => {
  it('balances every entry, and moves each customer balance exactly as the ledger does', () => {
    const posted = new Set<string>();
    fc.assert(
      fc.property(
        fc.constantFrom('prepaid' as const, 'postpaid' as const),
        fc.array(action, { minLength: 1, maxLength: 40 }),
        (billingMode, actions) => {
          const s = new Scenario(testRules());
          let clock = Date.parse(START);
          const at = () => new Date(clock).toISOString();
          s.run(
            openAccount(billingMode === 'postpaid' ? { billingMode, creditLimit: '50000' } : { billingMode }),
            at(),
          );
          s.run(cmd('TopUpWallet', { amount: '23600.00' }), at());
          s.run(cmd('Subscribe', { planId: 'professional', cycle: 'monthly' }), at());
          let calls = 0;
          for (const step of actions) {
            switch (step.kind) {
              case 'topUp':
                s.attempt(cmd('TopUpWallet', { amount: Money.ofPaise(BigInt(step.paise)).toFixedDecimals(2) }), at());
                break;
              case 'call': {
                calls += 1;
                const callId = `call-${calls}`;
                const destination = step.international ? '+447911123456' : '+919845012345';
                const started = s.attempt(cmd('StartCall', { callId, destination, at: at() }), at());
                if (isRejection(started)) break;
                const answeredAt = step.answered ? at() : null;
                const billableMilliseconds = step.answered ? step.seconds * 1_000 : 0;
                const cdr = {
                  callId,
                  leg: 'A' as const,
                  destination,
                  startedAt: at(),
                  answeredAt,
                  billableMilliseconds,
                };
                s.attempt(cmd('RateCdr', { cdr }), at());
                break;
              }
              case 'adjust':
                if (step.paise === 0) break;
                s.attempt(
                  cmd('AdjustWallet', { amount: Money.ofPaise(BigInt(step.paise)).toFixedDecimals(2), reason: 'test' }),
                  at(),
                );
                break;
              case 'addOn':
                s.attempt(cmd('AddAddOn', { addOnId: 'extra-extension', quantity: step.quantity }), at());
                break;
              case 'changePlan':
                s.attempt(cmd('ChangePlan', { planId: step.planId }), at());
                break;
              case 'cancel':
                s.attempt(cmd('CancelSubscription', { when: step.when }), at());
                break;
              case 'subscribe':
                s.attempt(cmd('Subscribe', { planId: step.planId, cycle: 'monthly' }), at());
                break;
              case 'days':
                clock += step.days * 86_400_000;
                s.attempt(cmd('ChargeSubscription', { on: at().slice(0, 10) }), at());
                break;
            }
          }
          let state = initialState();
          let customerTotal = Money.zero;
          for (const event of s.history) {
            const next = evolve(state, event);
            const entry = journalEntryOf(ACCOUNT_ID, event);
            const change = entry === null ? Money.zero : customerBalanceChange(entry, ACCOUNT_ID);
            expect(change.toString(), event.type).toBe(next.balance.minus(state.balance).toString());
            if (entry !== null) {
              const debits = Money.sum(entry.lines.map((line) => line.debit));
              const credits = Money.sum(entry.lines.map((line) => line.credit));
              expect(debits.equals(credits)).toBe(true);
              expect(entry.lines.length).toBeGreaterThanOrEqual(2);
              posted.add(event.type);
            }
            customerTotal = customerTotal.plus(change);
            state = next;
          }
          expect(customerTotal.toString()).toBe(s.state.balance.toString());
        },
      ),
      { numRuns: 150 },
    );
    // The sequences reach every kind of money event the decider can produce without a re-rating.
    expect([...posted].sort()).toEqual([
      'AddOnAdded',
      'CdrRated',
      'PlanChanged',
      'SubscriptionCancelled',
      'SubscriptionCharged',
      'WalletAdjusted',
      'WalletToppedUp',
    ]);
  });
});
