/**
 * Calls as two-phase transfers (SPEC §8, TigerBeetle's pending transfers as events): `StartCall`
 * reserves money and free seconds for the longest call the account can pay for; `RateCdr` posts the
 * actual cost and releases the rest; `ExpireReservation` releases a reservation whose CDR never came.
 * The invariant every authorization keeps: Σ open reservations ≤ what the account can spend.
 */
import type { CommandOf } from '@khata/schemas';
import { Money } from '../money/money.ts';
import { maxDurationWithAllowance, rateWithAllowance } from '../rating/allowance.ts';
import { matchDestination, normalizeDialled } from '../rating/destination.ts';
import { maxDuration, rateCall } from '../rating/index.ts';
import type { Tariff } from '../rating/tariff.ts';
import { availableCredit, type Decided, type Decision, todayOf } from './decision.ts';
import { isRejection, reject } from './rejections.ts';
import type { AccountRules, PlanTerms } from './rules.ts';
import type { AccountState, Reservation } from './state.ts';
import { currentSubscription } from './subscription.ts';

const MS_PER_SECOND = 1_000;

interface Pricing {
  readonly basis: 'plan' | 'tariff';
  readonly tariff: Tariff;
  /** Plan basis: the pulse free seconds and overage are counted in. */
  readonly pulseSeconds: number;
}

/**
 * Which tariff prices a call: numbers the plan covers (Indian and toll-free numbers by default) are
 * plan usage, free minutes first; any other number is rated by the destination tariff without free
 * minutes; a number neither covers is not rated (null).
 */
function pricingFor(rules: AccountRules, plan: PlanTerms, destination: string): Pricing | null {
  const digits = normalizeDialled(destination);
  if (digits === null) return null;
  if (rules.planDestinationPrefixes.some((prefix) => digits.startsWith(prefix))) {
    return { basis: 'plan', tariff: plan.overageTariff, pulseSeconds: plan.pulseSeconds };
  }
  const special = rules.destinationTariff;
  if (special !== null && matchDestination(special, destination) !== null) {
    return { basis: 'tariff', tariff: special, pulseSeconds: 1 };
  }
  return null;
}

function freeSecondsUnreserved(state: AccountState): number {
  const month = state.usageMonth;
  if (month === null) return 0;
  return Math.max(0, month.freeSeconds - month.usedSeconds - state.reservedFreeSeconds);
}

function statusRejection(state: AccountState) {
  switch (state.status) {
    case 'unopened':
      return reject('UNKNOWN_ACCOUNT', 'no such account');
    case 'suspended':
      return reject('ACCOUNT_SUSPENDED', 'the account is suspended: calls are barred');
    case 'closed':
      return reject('ACCOUNT_CLOSED', 'the account is closed');
    case 'active':
      return null;
  }
}

function price(
  pricing: Pricing,
  call: { dialled: string; start: Date; durationSeconds: number; answered: boolean },
  freeSecondsLeft: number,
) {
  if (pricing.basis === 'plan') {
    return rateWithAllowance(pricing.tariff, call, { freeSecondsLeft, pulseSeconds: pricing.pulseSeconds });
  }
  const rated = rateCall(pricing.tariff, call);
  if (rated === null) return null;
  return {
    freeSecondsUsed: 0,
    billedSeconds: rated.billedSeconds,
    overageSeconds: rated.billedSeconds,
    cost: rated.cost,
    overage: rated,
  };
}

function longest(
  pricing: Pricing,
  dialled: string,
  start: Date,
  credit: Money,
  freeSecondsLeft: number,
  capSeconds: number,
) {
  if (pricing.basis === 'plan') {
    return maxDurationWithAllowance(pricing.tariff, {
      dialled,
      start,
      credit,
      freeSecondsLeft,
      pulseSeconds: pricing.pulseSeconds,
      capSeconds,
    });
  }
  return maxDuration(pricing.tariff, { dialled, start, credit: Money.max(credit, Money.zero), capSeconds });
}

export function startCall(
  command: CommandOf<'StartCall'>,
  state: AccountState,
  now: Date,
  rules: AccountRules,
): Decision {
  const refused = statusRejection(state);
  if (refused !== null) return refused;
  // The same call reported twice (ESL and HTTP, a retry) keeps its first authorization.
  if (state.reservations.has(command.callId)) return [];
  const start = new Date(command.at);
  const current = currentSubscription(state, rules, todayOf(start));
  if (isRejection(current)) return current;
  const { state: renewed, subscription } = current;
  const plan = rules.plan(subscription.planId) as PlanTerms;
  const pricing = pricingFor(rules, plan, command.destination);
  if (pricing === null) return reject('DESTINATION_NOT_RATED', `no tariff rates ${command.destination}`);
  const available = availableCredit(renewed, rules);
  const freeLeft = pricing.basis === 'plan' ? freeSecondsUnreserved(renewed) : 0;
  const maxSeconds = longest(pricing, command.destination, start, available, freeLeft, rules.callSecondsMax);
  if (maxSeconds === null) {
    return reject('DESTINATION_NOT_RATED', `no tariff rates ${command.destination}`);
  }
  if (maxSeconds < 1) {
    return reject('INSUFFICIENT_FUNDS', 'the balance does not pay for a call to this destination', {
      available: available.toString(),
    });
  }
  const reservation = price(
    pricing,
    { dialled: command.destination, start, durationSeconds: maxSeconds, answered: true },
    freeLeft,
  );
  if (reservation === null) return reject('DESTINATION_NOT_RATED', `no tariff rates ${command.destination}`);
  if (reservation.cost.compare(Money.max(available, Money.zero)) > 0) {
    throw new Error(`assertion failed: a ${maxSeconds} s reservation costs more than the available credit`);
  }
  const match = matchDestination(pricing.tariff, command.destination);
  const authorized: Decided = {
    type: 'CallAuthorized',
    idempotencyKey: `call:${command.callId}:authorized`,
    data: {
      callId: command.callId,
      destination: command.destination,
      destinationName: match?.destination.name ?? '',
      tariffId: pricing.tariff.id,
      basis: pricing.basis,
      maxSeconds,
      reservedAmount: reservation.cost.toString(),
      reservedFreeSeconds: reservation.freeSecondsUsed,
      authorizedAt: now.toISOString(),
      expiresAt: new Date(start.getTime() + (maxSeconds + rules.reservationGraceSeconds) * MS_PER_SECOND).toISOString(),
    },
  };
  return [...current.events, authorized];
}

export function extendReservation(
  command: CommandOf<'ExtendReservation'>,
  state: AccountState,
  rules: AccountRules,
): Decision {
  const refused = statusRejection(state);
  if (refused !== null) return refused;
  const reservation = state.reservations.get(command.callId);
  if (reservation === undefined) return reject('NO_OPEN_RESERVATION', `call ${command.callId} has no open reservation`);
  const plan = state.subscription === null ? undefined : rules.plan(state.subscription.planId);
  if (plan === undefined) return reject('NO_ACTIVE_SUBSCRIPTION', 'the account has no active subscription');
  const pricing: Pricing =
    reservation.basis === 'plan'
      ? { basis: 'plan', tariff: plan.overageTariff, pulseSeconds: plan.pulseSeconds }
      : { basis: 'tariff', tariff: rules.destinationTariff as Tariff, pulseSeconds: 1 };
  // What this call could use if it were authorized again now: its own reservation plus what is free.
  const credit = availableCredit(state, rules).plus(reservation.amount);
  const freeLeft = reservation.basis === 'plan' ? freeSecondsUnreserved(state) + reservation.freeSeconds : 0;
  const start = new Date(reservation.authorizedAt);
  const maxSeconds = longest(pricing, reservation.destination, start, credit, freeLeft, rules.callSecondsMax);
  if (maxSeconds === null || maxSeconds <= reservation.maxSeconds) {
    return reject('NOTHING_TO_EXTEND', 'the balance does not allow a longer call', {
      maxSeconds: reservation.maxSeconds,
    });
  }
  const priced = price(
    pricing,
    { dialled: reservation.destination, start, durationSeconds: maxSeconds, answered: true },
    freeLeft,
  );
  if (priced === null) return reject('DESTINATION_NOT_RATED', `no tariff rates ${reservation.destination}`);
  const additionalAmount = priced.cost.minus(reservation.amount);
  const additionalFreeSeconds = priced.freeSecondsUsed - reservation.freeSeconds;
  if (additionalAmount.isNegative() || additionalFreeSeconds < 0) {
    throw new Error('assertion failed: a longer call reserved less');
  }
  return [
    {
      type: 'ReservationExtended',
      data: {
        callId: reservation.callId,
        maxSeconds,
        additionalAmount: additionalAmount.toString(),
        additionalFreeSeconds,
        expiresAt: new Date(
          start.getTime() + (maxSeconds + rules.reservationGraceSeconds) * MS_PER_SECOND,
        ).toISOString(),
      },
    },
  ];
}

/**
 * Posts a call's cost (SPEC §8). Only A-legs are billed: a B-leg changes nothing. An unanswered call
 * costs nothing and releases its reservation. Billable time is the CDR's milliseconds rounded up to
 * whole seconds. The cost is posted even when it exceeds the reservation (the excess is flagged), and a
 * CDR without an open reservation (expired, or never authorized) is charged and flagged the same way.
 * The event's idempotency key is the call uuid, so a CDR is rated once however often it arrives.
 */
export function rateCdr(command: CommandOf<'RateCdr'>, state: AccountState, now: Date, rules: AccountRules): Decision {
  if (state.status === 'unopened') return reject('UNKNOWN_ACCOUNT', 'no such account');
  const { cdr } = command;
  if (cdr.leg === 'B') return [];
  const reservation: Reservation | undefined = state.reservations.get(cdr.callId);
  const answered = cdr.answeredAt !== null && cdr.billableMilliseconds > 0;
  const start = new Date(cdr.answeredAt ?? cdr.startedAt);
  const durationSeconds = answered ? Math.ceil(cdr.billableMilliseconds / MS_PER_SECOND) : 0;

  const subscriptionPlan = state.subscription === null ? undefined : rules.plan(state.subscription.planId);
  let pricing: Pricing | null = null;
  if (reservation !== undefined) {
    pricing =
      reservation.basis === 'tariff' && rules.destinationTariff !== null
        ? { basis: 'tariff', tariff: rules.destinationTariff, pulseSeconds: 1 }
        : subscriptionPlan === undefined
          ? null
          : { basis: 'plan', tariff: subscriptionPlan.overageTariff, pulseSeconds: subscriptionPlan.pulseSeconds };
  } else if (subscriptionPlan !== undefined) {
    pricing = pricingFor(rules, subscriptionPlan, cdr.destination);
  }
  if (pricing === null) return reject('DESTINATION_NOT_RATED', `no tariff rates ${cdr.destination} for this account`);

  // Free seconds: those reserved for this call, plus the month's unreserved ones when the call falls in
  // the current usage month (and its reservation, if any, took from that month). A call belonging to a
  // month that has ended keeps only what it reserved.
  const month = state.usageMonth;
  const callDay = todayOf(start);
  const reservationMonth = reservation?.usageMonthStart ?? null;
  const sameMonth =
    month !== null &&
    callDay >= month.start &&
    callDay < month.end &&
    (reservationMonth === null || reservationMonth === month.start);
  const reservedFree = reservation?.freeSeconds ?? 0;
  const freeLeft = pricing.basis === 'plan' ? reservedFree + (sameMonth ? freeSecondsUnreserved(state) : 0) : 0;
  const usageMonthStart = sameMonth && month !== null ? month.start : reservationMonth;

  const rated = price(pricing, { dialled: cdr.destination, start, durationSeconds, answered }, freeLeft);
  if (rated === null) return reject('DESTINATION_NOT_RATED', `no tariff rates ${cdr.destination}`);
  const reservedAmount = reservation?.amount ?? Money.zero;
  const excess = reservation === undefined ? Money.zero : Money.max(rated.cost.minus(reservedAmount), Money.zero);
  const match = matchDestination(pricing.tariff, cdr.destination);
  return [
    {
      type: 'CdrRated',
      idempotencyKey: `cdr:${cdr.callId}`,
      data: {
        callId: cdr.callId,
        destination: cdr.destination,
        destinationName: match?.destination.name ?? '',
        tariffId: pricing.tariff.id,
        answeredAt: answered ? cdr.answeredAt : null,
        durationSeconds,
        billableMilliseconds: cdr.billableMilliseconds,
        billedSeconds: rated.billedSeconds,
        freeSecondsUsed: rated.freeSecondsUsed,
        overageSeconds: rated.billedSeconds - rated.freeSecondsUsed,
        cost: rated.cost.toString(),
        hadReservation: reservation !== undefined,
        reservedAmount: reservedAmount.toString(),
        reservedFreeSeconds: reservedFree,
        excess: excess.toString(),
        usageMonthStart: rated.freeSecondsUsed > 0 ? usageMonthStart : null,
        ratedAt: now.toISOString(),
      },
    },
  ];
}

export function expireReservation(
  command: CommandOf<'ExpireReservation'> | CommandOf<'ReleaseReservation'>,
  state: AccountState,
  now: Date,
): Decision {
  if (state.status === 'unopened') return reject('UNKNOWN_ACCOUNT', 'no such account');
  const reservation = state.reservations.get(command.callId);
  // Already resolved (rated or expired): nothing to release.
  if (reservation === undefined) return [];
  if (command.type === 'ExpireReservation' && now.getTime() < new Date(reservation.expiresAt).getTime()) {
    return reject(
      'RESERVATION_NOT_EXPIRED',
      `the reservation of call ${command.callId} runs until ${reservation.expiresAt}`,
    );
  }
  return [expired(reservation, now)];
}

function expired(reservation: Reservation, now: Date): Decided {
  return {
    type: 'ReservationExpired',
    idempotencyKey: `call:${reservation.callId}:expired`,
    data: {
      callId: reservation.callId,
      releasedAmount: reservation.amount.toString(),
      releasedFreeSeconds: reservation.freeSeconds,
      expiredAt: now.toISOString(),
    },
  };
}

/**
 * The sweeper: every open reservation whose time is up expires, in call id order. One that `dueBy` says should be
 * due and the clock says is not yet refuses the sweep (it is retried), so no reservation it was meant for stays open.
 */
export function expireDueReservations(
  command: CommandOf<'ExpireReservations'>,
  state: AccountState,
  now: Date,
): Decision {
  if (state.status === 'unopened') return reject('UNKNOWN_ACCOUNT', 'no such account');
  const nowMs = now.getTime();
  const dueByMs = command.dueBy === undefined ? nowMs : new Date(command.dueBy).getTime();
  const due: Reservation[] = [];
  for (const reservation of state.reservations.values()) {
    const expiresMs = new Date(reservation.expiresAt).getTime();
    if (expiresMs <= nowMs) due.push(reservation);
    else if (expiresMs <= dueByMs) {
      return reject(
        'RESERVATION_NOT_EXPIRED',
        `the reservation of call ${reservation.callId} runs until ${reservation.expiresAt}, after ${now.toISOString()}`,
      );
    }
  }
  due.sort((a, b) => (a.callId < b.callId ? -1 : a.callId > b.callId ? 1 : 0));
  return due.map((reservation) => expired(reservation, now));
}
