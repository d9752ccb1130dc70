/**
 * The account decider: `decide(command, state, now)` → events or a rejection. Pure: everything it knows
 * comes from the command, the state folded from the account's events, `now`, and the rules given once
 * to `createAccountDecider`.
 */
import type { AccountCommand, AccountEvent, CommandOf } from '@khata/schemas';
import { Money } from '../money/money.ts';
import { computeGstInclusive } from '../tax/gst.ts';
import { validateGstin } from '../tax/gstin.ts';
import { findState } from '../tax/states.ts';
import { expireDueReservations, expireReservation, extendReservation, rateCdr, startCall } from './calls.ts';
import { availableCredit, type Decided, type Decision, numberLimits } from './decision.ts';
import { type Rejection, reject } from './rejections.ts';
import { rerateUsage } from './rerate.ts';
import type { AccountRules, PlanTerms } from './rules.ts';
import { type AccountState, evolve, initialState } from './state.ts';
import {
  addAddOn,
  cancelSubscription,
  changePlan,
  chargeSubscription,
  removeAddOn,
  startUsageMonth,
  subscribe,
} from './subscription.ts';

const TOLL_FREE = /^1800\d{6,7}$/;
const EXTENSION = /^\d{2,6}$/;

export interface AccountDecider {
  decide(command: AccountCommand, state: AccountState, now: Date): Decision;
  evolve(state: AccountState, event: AccountEvent): AccountState;
  initialState(): AccountState;
}

export function createAccountDecider(rules: AccountRules): AccountDecider {
  return { decide: (command, state, now) => decide(rules, command, state, now), evolve, initialState };
}

function decide(rules: AccountRules, command: AccountCommand, state: AccountState, now: Date): Decision {
  if (command.type === 'OpenAccount') return openAccount(command, state, now);
  if (state.status === 'unopened') return reject('UNKNOWN_ACCOUNT', 'no such account');
  if (
    state.status === 'closed' &&
    command.type !== 'RateCdr' &&
    command.type !== 'ExpireReservation' &&
    command.type !== 'ExpireReservations' &&
    command.type !== 'ReleaseReservation'
  ) {
    return reject('ACCOUNT_CLOSED', 'the account is closed');
  }
  if (state.status === 'suspended' && PURCHASES.has(command.type)) {
    return reject('ACCOUNT_SUSPENDED', 'the account is suspended: pay what is due to reinstate it');
  }
  switch (command.type) {
    case 'UpdateBillingProfile':
      return updateBillingProfile(command);
    case 'SetCreditLimit':
      if (state.billingMode !== 'postpaid')
        return reject('BILLING_MODE_MISMATCH', 'only postpaid accounts have a credit limit');
      return [{ type: 'CreditLimitChanged', data: { creditLimit: Money.parse(command.creditLimit).toString() } }];
    case 'AssignNumber':
      return assignNumber(command, state, rules);
    case 'ReleaseNumber':
      return releaseNumber(command, state);
    case 'Subscribe':
      return subscribe(command, state, now, rules, command.commandId);
    case 'ChangePlan':
      return changePlan(command, state, now, rules);
    case 'CancelSubscription':
      return cancelSubscription(command, state, now, rules);
    case 'ChargeSubscription':
      return chargeSubscription(command, state, rules);
    case 'AddAddOn':
      return addAddOn(command, state, now, rules);
    case 'RemoveAddOn':
      return removeAddOn(command, state, rules);
    case 'StartUsageMonth':
      return startUsageMonth(command, state, rules);
    case 'RerateUsage':
      return rerateUsage(command, rules);
    case 'RecordPayment':
      return recordPayment(command, state, now, rules);
    case 'TopUpWallet':
      return topUp(state, rules, command.amount, command.paymentId ?? null);
    case 'AdjustWallet':
      return adjustWallet(command, state, rules);
    case 'StartCall':
      return startCall(command, state, now, rules);
    case 'ExtendReservation':
      return extendReservation(command, state, rules);
    case 'RateCdr':
      return rateCdr(command, state, now, rules);
    case 'ExpireReservation':
    case 'ReleaseReservation':
      return expireReservation(command, state, now);
    case 'ExpireReservations':
      return expireDueReservations(command, state, now);
    case 'SuspendAccount':
      if (state.status !== 'active') return reject('ACCOUNT_SUSPENDED', 'the account is already suspended');
      return [{ type: 'AccountSuspended', data: { reason: command.reason } }];
    case 'ReinstateAccount':
      if (state.status !== 'suspended') return reject('ACCOUNT_NOT_SUSPENDED', 'the account is not suspended');
      return [{ type: 'AccountReinstated', data: { reason: command.reason } }];
    case 'CloseAccount':
      if (state.reservations.size > 0) {
        return reject('ACCOUNT_HAS_ACTIVE_CALLS', `${state.reservations.size} calls are in progress`);
      }
      return [{ type: 'AccountClosed', data: { reason: command.reason } }];
  }
}

/** Commands that buy something: refused while the account is suspended. */
const PURCHASES: ReadonlySet<AccountCommand['type']> = new Set([
  'StartCall',
  'Subscribe',
  'ChangePlan',
  'AddAddOn',
  'AssignNumber',
  'ExtendReservation',
]);

function checkGstin(gstin: string | null | undefined): Rejection | null {
  if (gstin === null || gstin === undefined) return null;
  const result = validateGstin(gstin);
  return result.ok ? null : reject('INVALID_GSTIN', `GSTIN ${gstin}: ${result.reason}`);
}

function checkStateCode(stateCode: string): Rejection | null {
  return findState(stateCode) === undefined
    ? reject('INVALID_STATE_CODE', `no GST state with code ${stateCode}`)
    : null;
}

function openAccount(command: CommandOf<'OpenAccount'>, state: AccountState, now: Date): Decision {
  if (state.status !== 'unopened') return reject('ACCOUNT_EXISTS', 'the account is already open');
  const invalid = checkStateCode(command.billingAddress.stateCode) ?? checkGstin(command.gstin);
  if (invalid !== null) return invalid;
  const creditLimit = Money.parse(command.creditLimit ?? '0');
  if (command.billingMode === 'prepaid' && !creditLimit.isZero()) {
    return reject('INVALID_CREDIT_LIMIT', 'a prepaid account has no credit limit');
  }
  return [
    {
      type: 'AccountOpened',
      data: {
        accountId: command.accountId,
        legalName: command.legalName,
        contact: command.contact,
        billingAddress: command.billingAddress,
        gstin: command.gstin ?? null,
        billingMode: command.billingMode,
        creditLimit: creditLimit.toString(),
        openedAt: now.toISOString(),
      },
    },
  ];
}

function updateBillingProfile(command: CommandOf<'UpdateBillingProfile'>): Decision {
  const { legalName, contact, billingAddress, gstin } = command;
  if (legalName === undefined && contact === undefined && billingAddress === undefined && gstin === undefined) {
    return reject('NOTHING_TO_UPDATE', 'the command changes no field');
  }
  const invalid = (billingAddress === undefined ? null : checkStateCode(billingAddress.stateCode)) ?? checkGstin(gstin);
  if (invalid !== null) return invalid;
  return [
    {
      type: 'BillingProfileUpdated',
      data: {
        ...(legalName === undefined ? {} : { legalName }),
        ...(contact === undefined ? {} : { contact }),
        ...(billingAddress === undefined ? {} : { billingAddress }),
        ...(gstin === undefined ? {} : { gstin }),
      },
    },
  ];
}

function assignNumber(command: CommandOf<'AssignNumber'>, state: AccountState, rules: AccountRules): Decision {
  const { kind, number } = command;
  if (!(kind === 'toll-free' ? TOLL_FREE : EXTENSION).test(number)) {
    return reject(
      'INVALID_NUMBER',
      kind === 'toll-free' ? 'a toll-free number is 1800 followed by 6 or 7 digits' : 'an extension is 2 to 6 digits',
    );
  }
  const held = kind === 'toll-free' ? state.tollFreeNumbers : state.extensions;
  if (held.includes(number)) return reject('NUMBER_ALREADY_ASSIGNED', `${number} is already assigned to this account`);
  const subscription = state.subscription;
  if (subscription === null) return reject('NO_ACTIVE_SUBSCRIPTION', 'numbers come with a subscription');
  const limits = numberLimits(rules, rules.plan(subscription.planId) as PlanTerms, subscription.addOns);
  const limit = kind === 'toll-free' ? limits.tollFree : limits.extensions;
  if (held.length >= limit) {
    return reject('PLAN_LIMIT_REACHED', `the plan and add-ons allow ${limit} ${kind} numbers`, { limit });
  }
  return [{ type: 'NumberAssigned', data: { kind, number } }];
}

function releaseNumber(command: CommandOf<'ReleaseNumber'>, state: AccountState): Decision {
  const held = command.kind === 'toll-free' ? state.tollFreeNumbers : state.extensions;
  if (!held.includes(command.number))
    return reject('NUMBER_NOT_ASSIGNED', `${command.number} is not assigned to this account`);
  return [{ type: 'NumberReleased', data: { kind: command.kind, number: command.number } }];
}

/**
 * A GST-inclusive recharge (SPEC §6): the customer pays X, a tax invoice shows taxable X/1.18 (half-up
 * to paise) and GST X − taxable, split by place of supply; the wallet is credited the taxable value.
 */
function topUp(state: AccountState, rules: AccountRules, amount: string, paymentId: string | null): Decision {
  const gross = Money.parse(amount);
  if (!gross.isPositive()) return reject('ZERO_AMOUNT', 'a top-up must be positive');
  const placeOfSupply = state.profile?.billingAddress.stateCode as string;
  const split = computeGstInclusive({
    total: gross,
    supplierState: rules.supplierState,
    placeOfSupply,
    ratePercent: rules.gstRatePercent,
  });
  const event: Decided = {
    type: 'WalletToppedUp',
    data: {
      gross: gross.toString(),
      taxable: split.taxable.toString(),
      tax: {
        cgst: split.cgst.toString(),
        sgst: split.sgst.toString(),
        utgst: split.utgst.toString(),
        igst: split.igst.toString(),
      },
      supplierState: rules.supplierState,
      placeOfSupply,
      paymentId,
    },
  };
  return [paymentId === null ? event : { ...event, idempotencyKey: `topup:${paymentId}` }];
}

/** Money received from a gateway: recorded once per gateway payment id, credited as a tax-inclusive amount. */
function recordPayment(
  command: CommandOf<'RecordPayment'>,
  state: AccountState,
  now: Date,
  rules: AccountRules,
): Decision {
  const recorded: Decided = {
    type: 'PaymentRecorded',
    idempotencyKey: `payment:${command.gateway}:${command.paymentId}`,
    data: {
      paymentId: command.paymentId,
      gateway: command.gateway,
      amount: Money.parse(command.amount).toString(),
      purpose: command.purpose,
      reference: command.reference ?? null,
      recordedAt: now.toISOString(),
    },
  };
  const credited = topUp(state, rules, command.amount, `${command.gateway}:${command.paymentId}`);
  if (!Array.isArray(credited)) return credited;
  return [recorded, ...credited];
}

function adjustWallet(command: CommandOf<'AdjustWallet'>, state: AccountState, rules: AccountRules): Decision {
  const amount = Money.parse(command.amount);
  if (amount.isZero()) return reject('ZERO_AMOUNT', 'an adjustment must not be zero');
  if (amount.isNegative() && availableCredit(state, rules).plus(amount).isNegative()) {
    return reject('INSUFFICIENT_FUNDS', 'the debit exceeds what the account can spend', {
      available: availableCredit(state, rules).toString(),
    });
  }
  return [{ type: 'WalletAdjusted', data: { amount: amount.toString(), reason: command.reason } }];
}
