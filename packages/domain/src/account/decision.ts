/** Shared pieces of the account decider: the decision type and the arithmetic several commands use. */
import type { AccountEvent } from '@khata/schemas';
import type { Money } from '../money/money.ts';
import { formatLocalDate, toLocalDate } from '../time/calendar.ts';
import type { Rejection } from './rejections.ts';
import type { AccountRules, AddOnTerms, PlanTerms } from './rules.ts';
import type { AccountState } from './state.ts';

/**
 * An event the decider wants appended. `idempotencyKey`, when present, names the fact the event records
 * (`cdr:<call uuid>`, `payment:razorpay:<id>`): the command handler derives the event id from it instead
 * of from the command id, so the same fact can never be recorded twice, whichever command reports it.
 */
export type Decided = AccountEvent & { readonly idempotencyKey?: string };

/** Events to append (possibly none: the command changes nothing) or a rejection. */
export type Decision = readonly Decided[] | Rejection;

export function todayOf(now: Date): string {
  return formatLocalDate(toLocalDate(now));
}

/**
 * What the account can spend on calls and charges right now, before GST (SPEC §6): prepaid, the wallet
 * minus open reservations; postpaid, the credit limit (GST-inclusive, so converted to its pre-tax
 * equivalent, rounded down) plus the balance (negative while usage is owed) minus open reservations.
 */
export function availableCredit(state: AccountState, rules: Pick<AccountRules, 'gstRatePercent'>): Money {
  if (state.billingMode === 'prepaid') return state.balance.minus(state.reserved);
  const limit = state.creditLimit
    .toFraction()
    .times(100n)
    .dividedBy(BigInt(100 + rules.gstRatePercent))
    .toMoney(4, 'down');
  return limit.plus(state.balance).minus(state.reserved);
}

/** The plan's limits plus what the subscription's add-ons grant. */
export function numberLimits(
  rules: AccountRules,
  plan: PlanTerms,
  addOns: Readonly<Record<string, number>>,
): { readonly tollFree: number; readonly extensions: number } {
  let tollFree = plan.includedTollFreeNumbers;
  let extensions = plan.includedExtensions;
  for (const [id, quantity] of Object.entries(addOns)) {
    const addOn = rules.addOn(id) as AddOnTerms | undefined;
    if (addOn === undefined) continue;
    tollFree += addOn.grants.tollFreeNumbers * quantity;
    extensions += addOn.grants.extensions * quantity;
  }
  return { tollFree, extensions };
}

/** Applies decided events to a state, so a command can decide in several steps. */
export function applyAll(
  state: AccountState,
  events: readonly AccountEvent[],
  evolve: (state: AccountState, event: AccountEvent) => AccountState,
): AccountState {
  let next = state;
  for (const event of events) next = evolve(next, event);
  return next;
}
