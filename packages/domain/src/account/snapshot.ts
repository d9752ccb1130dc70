/**
 * Account state as JSON, for snapshots of long streams. A snapshot is only a cache of `evolve` over the
 * stream: it carries the shape version it was written with, and a snapshot of another shape is ignored
 * (the stream is replayed instead), so changing `AccountState` never needs a data migration.
 */
import { Map as ImmutableMap } from 'immutable';
import { Money } from '../money/money.ts';
import { type AccountState, assertReservationTotals, type Reservation } from './state.ts';

/** Bump when `AccountState` changes shape. */
export const STATE_SNAPSHOT_VERSION = 1;

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export function stateToJson(state: AccountState): { [key: string]: Json } {
  return {
    status: state.status,
    accountId: state.accountId,
    profile: state.profile as unknown as Json,
    billingMode: state.billingMode,
    creditLimit: state.creditLimit.toString(),
    balance: state.balance.toString(),
    credits: state.credits.toString(),
    debits: state.debits.toString(),
    reserved: state.reserved.toString(),
    reservedFreeSeconds: state.reservedFreeSeconds,
    reservations: [...state.reservations.values()].map((r) => ({
      ...r,
      amount: r.amount.toString(),
    })) as unknown as Json,
    tollFreeNumbers: [...state.tollFreeNumbers],
    extensions: [...state.extensions],
    subscription: state.subscription as unknown as Json,
    usageMonth: state.usageMonth as unknown as Json,
    callsRated: state.callsRated,
  };
}

export function stateFromJson(json: { readonly [key: string]: unknown }): AccountState {
  const reservations = ImmutableMap<string, Reservation>().withMutations((map) => {
    for (const raw of json.reservations as (Omit<Reservation, 'amount'> & { amount: string })[]) {
      map.set(raw.callId, { ...raw, amount: Money.parse(raw.amount) });
    }
  });
  const state: AccountState = {
    status: json.status as AccountState['status'],
    accountId: json.accountId as string | null,
    profile: json.profile as AccountState['profile'],
    billingMode: json.billingMode as AccountState['billingMode'],
    creditLimit: Money.parse(json.creditLimit as string),
    balance: Money.parse(json.balance as string),
    credits: Money.parse(json.credits as string),
    debits: Money.parse(json.debits as string),
    reserved: Money.parse(json.reserved as string),
    reservedFreeSeconds: json.reservedFreeSeconds as number,
    reservations,
    tollFreeNumbers: json.tollFreeNumbers as string[],
    extensions: json.extensions as string[],
    subscription: json.subscription as AccountState['subscription'],
    usageMonth: json.usageMonth as AccountState['usageMonth'],
    callsRated: json.callsRated as number,
  };
  // Events after the snapshot are checked against its totals one change at a time (state.ts): the totals
  // themselves are checked here, once.
  assertReservationTotals(state, 'the snapshot');
  return state;
}
