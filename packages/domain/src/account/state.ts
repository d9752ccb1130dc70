/**
 * The state of one account, folded from its events. `evolve` is pure: it never mutates the state it is
 * given and never reads a clock. It asserts the ledger's invariants on every event, so a stream that
 * breaks them (a bug, or tampering the hash chain did not catch) stops replay loudly.
 */
import type { AccountEvent, EventOf } from '@khata/schemas';
import { Map as ImmutableMap } from 'immutable';
import { Money } from '../money/money.ts';

export type BillingMode = 'prepaid' | 'postpaid';
export type BillingCycle = 'monthly' | 'quarterly' | 'annual';
export type AccountStatus = 'unopened' | 'active' | 'suspended' | 'closed';

export interface Profile {
  readonly legalName: string;
  readonly contact: EventOf<'AccountOpened'>['data']['contact'];
  readonly billingAddress: EventOf<'AccountOpened'>['data']['billingAddress'];
  readonly gstin: string | null;
}

/** Money and free seconds set aside for a call in progress (a pending transfer, SPEC §8). */
export interface Reservation {
  readonly callId: string;
  readonly destination: string;
  readonly destinationName: string;
  readonly tariffId: string;
  readonly basis: 'plan' | 'tariff';
  readonly maxSeconds: number;
  readonly amount: Money;
  readonly freeSeconds: number;
  readonly authorizedAt: string;
  readonly expiresAt: string;
  /** The usage month the reserved free seconds were taken from (null when none were). */
  readonly usageMonthStart: string | null;
}

export interface Subscription {
  readonly subscriptionId: string;
  readonly planId: string;
  readonly cycle: BillingCycle;
  /** Periods are counted from this date (IST), keeping its day of month. */
  readonly anchor: string;
  /** The period the subscription is in: `periodIndex` counted from `anchor`. */
  readonly periodIndex: number;
  readonly periodStart: string;
  readonly periodEnd: string;
  /** Highest period index charged under the current anchor (−1: none yet). */
  readonly chargedThrough: number;
  readonly addOns: Readonly<Record<string, number>>;
  readonly pendingChange: {
    readonly planId: string;
    readonly cycle: BillingCycle;
    readonly effectiveOn: string;
  } | null;
  readonly cancellation: { readonly effectiveOn: string } | null;
}

/** Free minutes of one month of the subscription (they reset monthly whatever the billing cycle). */
export interface UsageMonth {
  readonly start: string;
  readonly end: string;
  readonly freeSeconds: number;
  readonly usedSeconds: number;
}

export interface AccountState {
  readonly status: AccountStatus;
  readonly accountId: string | null;
  readonly profile: Profile | null;
  readonly billingMode: BillingMode;
  /** Postpaid: the most the account may owe, GST included. */
  readonly creditLimit: Money;
  /** Σ credits − Σ debits, before GST. Prepaid: the wallet. Postpaid: negative while usage is owed. */
  readonly balance: Money;
  readonly credits: Money;
  readonly debits: Money;
  /** Σ amounts of open reservations. */
  readonly reserved: Money;
  readonly reservedFreeSeconds: number;
  /**
   * Open reservations by call id: a persistent map, so an event that opens or closes one shares the rest with the
   * state before it instead of copying them (a Call Center account holds hundreds while its lines are busy).
   */
  readonly reservations: ImmutableMap<string, Reservation>;
  readonly tollFreeNumbers: readonly string[];
  readonly extensions: readonly string[];
  readonly subscription: Subscription | null;
  readonly usageMonth: UsageMonth | null;
  /** Calls rated so far and how much was charged for usage (for reports; not used for decisions). */
  readonly callsRated: number;
}

export function initialState(): AccountState {
  return {
    status: 'unopened',
    accountId: null,
    profile: null,
    billingMode: 'prepaid',
    creditLimit: Money.zero,
    balance: Money.zero,
    credits: Money.zero,
    debits: Money.zero,
    reserved: Money.zero,
    reservedFreeSeconds: 0,
    reservations: ImmutableMap(),
    tollFreeNumbers: [],
    extensions: [],
    subscription: null,
    usageMonth: null,
    callsRated: 0,
  };
}

/** A broken ledger invariant: a bug or a corrupted stream, never a user error. */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new InvariantViolation(message);
}

function credit(state: AccountState, amount: Money): Pick<AccountState, 'balance' | 'credits'> {
  assert(!amount.isNegative(), `credit of a negative amount ${amount}`);
  return { balance: state.balance.plus(amount), credits: state.credits.plus(amount) };
}

function debit(state: AccountState, amount: Money): Pick<AccountState, 'balance' | 'debits'> {
  assert(!amount.isNegative(), `debit of a negative amount ${amount}`);
  return { balance: state.balance.minus(amount), debits: state.debits.plus(amount) };
}

function withoutReservation(
  state: AccountState,
  callId: string,
): Pick<AccountState, 'reservations' | 'reserved' | 'reservedFreeSeconds'> {
  const reservation = state.reservations.get(callId);
  assert(reservation !== undefined, `call ${callId} has no open reservation to resolve`);
  return {
    reservations: state.reservations.delete(callId),
    reserved: state.reserved.minus(reservation.amount),
    reservedFreeSeconds: state.reservedFreeSeconds - reservation.freeSeconds,
  };
}

function requireSubscription(state: AccountState): Subscription {
  assert(state.subscription !== null, 'subscription event on an account without a subscription');
  return state.subscription;
}

function usedInMonth(state: AccountState, monthStart: string | null, seconds: number): UsageMonth | null {
  const month = state.usageMonth;
  if (month === null || monthStart === null || month.start !== monthStart || seconds === 0) return month;
  return { ...month, usedSeconds: month.usedSeconds + seconds };
}

export function evolve(state: AccountState, event: AccountEvent): AccountState {
  const next = apply(state, event);
  assertInvariants(state, next, event);
  return next;
}

function apply(state: AccountState, event: AccountEvent): AccountState {
  switch (event.type) {
    case 'AccountOpened': {
      assert(state.status === 'unopened', 'AccountOpened on an account that is already open');
      const { data } = event;
      return {
        ...state,
        status: 'active',
        accountId: data.accountId,
        profile: {
          legalName: data.legalName,
          contact: data.contact,
          billingAddress: data.billingAddress,
          gstin: data.gstin,
        },
        billingMode: data.billingMode,
        creditLimit: Money.parse(data.creditLimit),
      };
    }
    case 'BillingProfileUpdated': {
      const profile = state.profile as Profile;
      const { data } = event;
      return {
        ...state,
        profile: {
          legalName: data.legalName ?? profile.legalName,
          contact: data.contact ?? profile.contact,
          billingAddress: data.billingAddress ?? profile.billingAddress,
          gstin: data.gstin === undefined ? profile.gstin : data.gstin,
        },
      };
    }
    case 'CreditLimitChanged':
      return { ...state, creditLimit: Money.parse(event.data.creditLimit) };
    case 'NumberAssigned': {
      const { kind, number } = event.data;
      const list = kind === 'toll-free' ? state.tollFreeNumbers : state.extensions;
      assert(!list.includes(number), `number ${number} assigned twice`);
      return kind === 'toll-free'
        ? { ...state, tollFreeNumbers: [...list, number] }
        : { ...state, extensions: [...list, number] };
    }
    case 'NumberReleased': {
      const { kind, number } = event.data;
      const list = kind === 'toll-free' ? state.tollFreeNumbers : state.extensions;
      assert(list.includes(number), `number ${number} released but not assigned`);
      const rest = list.filter((n) => n !== number);
      return kind === 'toll-free' ? { ...state, tollFreeNumbers: rest } : { ...state, extensions: rest };
    }
    case 'SubscriptionStarted': {
      assert(state.subscription === null, 'a second subscription started while one is active');
      const { data } = event;
      return {
        ...state,
        subscription: {
          subscriptionId: data.subscriptionId,
          planId: data.planId,
          cycle: data.cycle,
          anchor: data.anchor,
          periodIndex: 0,
          periodStart: data.periodStart,
          periodEnd: data.periodEnd,
          chargedThrough: -1,
          addOns: {},
          pendingChange: null,
          cancellation: null,
        },
      };
    }
    case 'SubscriptionCharged': {
      const subscription = requireSubscription(state);
      const { data } = event;
      assert(data.periodIndex > subscription.chargedThrough, `period ${data.periodIndex} charged twice`);
      return {
        ...state,
        ...debit(state, Money.parse(data.amount)),
        subscription: {
          ...subscription,
          planId: data.planId,
          cycle: data.cycle,
          periodIndex: data.periodIndex,
          periodStart: data.periodStart,
          periodEnd: data.periodEnd,
          chargedThrough: data.periodIndex,
          pendingChange: null,
        },
      };
    }
    case 'PlanChanged': {
      const subscription = requireSubscription(state);
      const { data } = event;
      const cycleChanged = data.fromCycle !== data.toCycle;
      const afterCredit = { ...state, ...credit(state, Money.parse(data.credit)) };
      // A change now replaces the current period (same cycle: same dates; new cycle: a new, already
      // charged period from today). A change at a period start with a new cycle starts a new anchor whose
      // first period the following SubscriptionCharged pays; with the same cycle the charge moves the period.
      const periodMoves = data.timing === 'now' || cycleChanged;
      return {
        ...afterCredit,
        ...debit(afterCredit, Money.parse(data.charge)),
        subscription: {
          ...subscription,
          planId: data.toPlanId,
          cycle: data.toCycle,
          anchor: data.anchor,
          periodStart: periodMoves ? data.periodStart : subscription.periodStart,
          periodEnd: periodMoves ? data.periodEnd : subscription.periodEnd,
          periodIndex: cycleChanged ? 0 : subscription.periodIndex,
          chargedThrough: cycleChanged ? (data.timing === 'now' ? 0 : -1) : subscription.chargedThrough,
          pendingChange: null,
        },
      };
    }
    case 'PlanChangeScheduled': {
      const subscription = requireSubscription(state);
      const { data } = event;
      return {
        ...state,
        subscription: {
          ...subscription,
          pendingChange: { planId: data.toPlanId, cycle: data.toCycle, effectiveOn: data.effectiveOn },
        },
      };
    }
    case 'SubscriptionCancelled': {
      const subscription = requireSubscription(state);
      const { data } = event;
      const credited = { ...state, ...credit(state, Money.parse(data.credit)) };
      if (data.when === 'now') return { ...credited, subscription: null };
      return {
        ...credited,
        subscription: { ...subscription, cancellation: { effectiveOn: data.effectiveOn }, pendingChange: null },
      };
    }
    case 'SubscriptionEnded':
      requireSubscription(state);
      return { ...state, subscription: null };
    case 'AddOnAdded': {
      const subscription = requireSubscription(state);
      const { data } = event;
      return {
        ...state,
        ...debit(state, Money.parse(data.charge)),
        subscription: {
          ...subscription,
          addOns: { ...subscription.addOns, [data.addOnId]: (subscription.addOns[data.addOnId] ?? 0) + data.quantity },
        },
      };
    }
    case 'AddOnRemoved': {
      const subscription = requireSubscription(state);
      const { data } = event;
      const remaining = (subscription.addOns[data.addOnId] ?? 0) - data.quantity;
      assert(remaining >= 0, `removed more ${data.addOnId} than the subscription has`);
      const addOns = { ...subscription.addOns };
      if (remaining === 0) delete addOns[data.addOnId];
      else addOns[data.addOnId] = remaining;
      return { ...state, subscription: { ...subscription, addOns } };
    }
    case 'UsageMonthStarted': {
      const { data } = event;
      assert(state.usageMonth === null || state.usageMonth.start < data.start, 'usage months must move forward');
      return {
        ...state,
        usageMonth: { start: data.start, end: data.end, freeSeconds: data.freeSeconds, usedSeconds: 0 },
      };
    }
    case 'PaymentRecorded':
      // Money arrives with the event that says what it pays for (a top-up, an invoice); recording the
      // payment itself moves no balance.
      return state;
    case 'WalletToppedUp':
      return { ...state, ...credit(state, Money.parse(event.data.taxable)) };
    case 'WalletAdjusted': {
      const amount = Money.parse(event.data.amount);
      return { ...state, ...(amount.isNegative() ? debit(state, amount.negate()) : credit(state, amount)) };
    }
    case 'CallAuthorized': {
      const { data } = event;
      assert(!state.reservations.has(data.callId), `call ${data.callId} authorized twice`);
      const amount = Money.parse(data.reservedAmount);
      const reservation: Reservation = {
        callId: data.callId,
        destination: data.destination,
        destinationName: data.destinationName,
        tariffId: data.tariffId,
        basis: data.basis,
        maxSeconds: data.maxSeconds,
        amount,
        freeSeconds: data.reservedFreeSeconds,
        authorizedAt: data.authorizedAt,
        expiresAt: data.expiresAt,
        usageMonthStart: data.reservedFreeSeconds > 0 ? (state.usageMonth?.start ?? null) : null,
      };
      return {
        ...state,
        reservations: state.reservations.set(data.callId, reservation),
        reserved: state.reserved.plus(amount),
        reservedFreeSeconds: state.reservedFreeSeconds + data.reservedFreeSeconds,
      };
    }
    case 'ReservationExtended': {
      const { data } = event;
      const reservation = state.reservations.get(data.callId);
      assert(reservation !== undefined, `extension of call ${data.callId} without an open reservation`);
      const additional = Money.parse(data.additionalAmount);
      const reservations = state.reservations.set(data.callId, {
        ...reservation,
        maxSeconds: data.maxSeconds,
        amount: reservation.amount.plus(additional),
        freeSeconds: reservation.freeSeconds + data.additionalFreeSeconds,
        expiresAt: data.expiresAt,
        usageMonthStart:
          reservation.usageMonthStart ?? (data.additionalFreeSeconds > 0 ? (state.usageMonth?.start ?? null) : null),
      });
      return {
        ...state,
        reservations,
        reserved: state.reserved.plus(additional),
        reservedFreeSeconds: state.reservedFreeSeconds + data.additionalFreeSeconds,
      };
    }
    case 'CdrRated': {
      const { data } = event;
      const cost = Money.parse(data.cost);
      const released = state.reservations.has(data.callId) ? withoutReservation(state, data.callId) : {};
      assert(
        state.reservations.has(data.callId) === data.hadReservation,
        `call ${data.callId} posted against a reservation that is ${data.hadReservation ? 'not open' : 'open'}`,
      );
      return {
        ...state,
        ...released,
        ...debit(state, cost),
        usageMonth: usedInMonth(state, data.usageMonthStart, data.freeSecondsUsed),
        callsRated: state.callsRated + 1,
      };
    }
    case 'CallRerated': {
      const { data } = event;
      const adjustment = Money.parse(data.adjustment);
      const moved = adjustment.isNegative() ? credit(state, adjustment.negate()) : debit(state, adjustment);
      const month = state.usageMonth;
      const freeDelta = data.newFreeSecondsUsed - data.previousFreeSecondsUsed;
      const usageMonth =
        month !== null && month.start === data.usageMonthStart
          ? { ...month, usedSeconds: month.usedSeconds + freeDelta }
          : month;
      return { ...state, ...moved, usageMonth };
    }
    case 'ReservationExpired':
      return { ...state, ...withoutReservation(state, event.data.callId) };
    case 'AccountSuspended':
      assert(state.status === 'active', 'suspension of an account that is not active');
      return { ...state, status: 'suspended' };
    case 'AccountReinstated':
      assert(state.status === 'suspended', 'reinstatement of an account that is not suspended');
      return { ...state, status: 'active' };
    case 'AccountClosed':
      assert(state.status === 'active' || state.status === 'suspended', 'closing an account that is not open');
      return { ...state, status: 'closed' };
  }
}

/** Checked after every event: the ledger's arithmetic must always hold. */
function assertInvariants(previous: AccountState, state: AccountState, event: AccountEvent): void {
  const after = event.type;
  assert(state.balance.equals(state.credits.minus(state.debits)), `balance ≠ credits − debits after ${after}`);
  assert(!state.reserved.isNegative(), `negative reserved amount after ${after}`);
  assert(state.reservedFreeSeconds >= 0, `negative reserved free seconds after ${after}`);
  // Σ open reservations = reserved (and the same for free seconds). It holds for a new account and for a state
  // checked in full (`assertReservationTotals`, on every snapshot read); each event then changes at most its own
  // call's reservation, and the totals must move by exactly that change. Summing every reservation after every
  // event cost a Call Center account with hundreds of calls open as much as the rest of the fold.
  const callId = 'callId' in event.data && typeof event.data.callId === 'string' ? event.data.callId : null;
  const before = callId === null ? undefined : previous.reservations.get(callId);
  const now = callId === null ? undefined : state.reservations.get(callId);
  const opened = (now === undefined ? 0 : 1) - (before === undefined ? 0 : 1);
  const amount = (now?.amount ?? Money.zero).minus(before?.amount ?? Money.zero);
  const freeSeconds = (now?.freeSeconds ?? 0) - (before?.freeSeconds ?? 0);
  assert(
    state.reservations.size === previous.reservations.size + opened &&
      state.reserved.equals(previous.reserved.plus(amount)) &&
      state.reservedFreeSeconds === previous.reservedFreeSeconds + freeSeconds,
    `reservation totals drifted after ${after}`,
  );
  const month = state.usageMonth;
  if (month !== null) {
    assert(
      month.usedSeconds >= 0 && month.usedSeconds <= month.freeSeconds,
      `free seconds out of range after ${after}`,
    );
  }
}

/** Σ open reservations = reserved, summed over every reservation: for a state that was not folded here. */
export function assertReservationTotals(state: AccountState, source: string): void {
  let reserved = Money.zero;
  let reservedFree = 0;
  for (const reservation of state.reservations.values()) {
    reserved = reserved.plus(reservation.amount);
    reservedFree += reservation.freeSeconds;
  }
  assert(
    reserved.equals(state.reserved) && reservedFree === state.reservedFreeSeconds,
    `reservation totals do not add up in ${source}`,
  );
}
