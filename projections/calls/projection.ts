import { Money } from '@khata/domain';
import type { Projection } from '@khata/projector';
import { tableColumns } from '@khata/sql';
import { type AccountEventAt, accountEvents } from '../shared/accounts.ts';
import { insertNewRows, type JsonRow, rowSlices, updateRowsAsJson, writeRowsAsJson } from '../shared/rows.ts';
import { type CallsTable, callsMigrations } from './migrations.ts';

const CALL_EVENTS: ReadonlySet<string> = new Set([
  'CallAuthorized',
  'ReservationExtended',
  'ReservationExpired',
  'CdrRated',
  'CallRerated',
]);

const money = (amount: string) => Money.parse(amount).toString();

/** A calls row as it is folded and written: stored rows carry `Date`s, rows folded from events the events' text. */
type CallRow = JsonRow<CallsTable>;

/**
 * Folds one call event into the call's row. A CDR without an authorization (never authorized, or
 * authorized by an event this row has not seen) creates the row; the other events need one.
 */
function applyEvent(row: CallRow | undefined, { accountId, event, version }: AccountEventAt): CallRow {
  const stamp = { stream_version: version.toString() };
  switch (event.type) {
    case 'CallAuthorized': {
      const { data } = event;
      const authorizedAt = data.authorizedAt;
      const base: CallRow = row ?? {
        account_id: accountId,
        call_id: data.callId,
        destination: data.destination,
        destination_name: data.destinationName,
        basis: data.basis,
        tariff_id: data.tariffId,
        status: 'authorized',
        started_at: authorizedAt,
        authorized_at: null,
        max_seconds: null,
        reserved_amount: null,
        reserved_free_seconds: null,
        expires_at: null,
        extensions: 0,
        expired_at: null,
        answered_at: null,
        duration_seconds: null,
        billable_milliseconds: null,
        billed_seconds: null,
        free_seconds_used: null,
        overage_seconds: null,
        cost: null,
        rated_cost: null,
        excess: null,
        had_reservation: null,
        usage_month_start: null,
        rated_at: null,
        cdr_at: null,
        rerated_count: 0,
        stream_version: '0',
      };
      return {
        ...base,
        ...stamp,
        basis: data.basis,
        authorized_at: authorizedAt,
        max_seconds: data.maxSeconds,
        reserved_amount: money(data.reservedAmount),
        reserved_free_seconds: data.reservedFreeSeconds,
        expires_at: data.expiresAt,
      };
    }
    case 'ReservationExtended': {
      const { data } = event;
      const current = requireRow(row, accountId, event.type, data.callId);
      return {
        ...current,
        ...stamp,
        max_seconds: data.maxSeconds,
        reserved_amount: Money.parse(current.reserved_amount ?? '0')
          .plus(Money.parse(data.additionalAmount))
          .toString(),
        reserved_free_seconds: (current.reserved_free_seconds ?? 0) + data.additionalFreeSeconds,
        expires_at: data.expiresAt,
        extensions: current.extensions + 1,
      };
    }
    case 'ReservationExpired': {
      const current = requireRow(row, accountId, event.type, event.data.callId);
      return {
        ...current,
        ...stamp,
        status: current.status === 'rated' ? 'rated' : 'expired',
        expired_at: event.data.expiredAt,
      };
    }
    case 'CdrRated': {
      const { data } = event;
      const answeredAt = data.answeredAt;
      const ratedAt = data.ratedAt;
      const rated = {
        destination: data.destination,
        destination_name: data.destinationName,
        tariff_id: data.tariffId,
        status: 'rated' as const,
        answered_at: answeredAt,
        duration_seconds: data.durationSeconds,
        billable_milliseconds: data.billableMilliseconds,
        billed_seconds: data.billedSeconds,
        free_seconds_used: data.freeSecondsUsed,
        overage_seconds: data.overageSeconds,
        cost: money(data.cost),
        rated_cost: money(data.cost),
        excess: money(data.excess),
        had_reservation: data.hadReservation,
        usage_month_start: data.usageMonthStart,
        rated_at: ratedAt,
        cdr_at: answeredAt ?? ratedAt,
      };
      if (row !== undefined) return { ...row, ...stamp, ...rated };
      return {
        account_id: accountId,
        call_id: data.callId,
        basis: null,
        started_at: answeredAt ?? ratedAt,
        authorized_at: null,
        max_seconds: null,
        reserved_amount: null,
        reserved_free_seconds: null,
        expires_at: null,
        extensions: 0,
        expired_at: null,
        rerated_count: 0,
        ...stamp,
        ...rated,
      };
    }
    case 'CallRerated': {
      const { data } = event;
      const current = requireRow(row, accountId, event.type, data.callId);
      const freeChange = data.newFreeSecondsUsed - data.previousFreeSecondsUsed;
      return {
        ...current,
        ...stamp,
        tariff_id: data.tariffId,
        cost: money(data.newCost),
        free_seconds_used: data.newFreeSecondsUsed,
        // Re-rating moves seconds between free and overage; the billed seconds stay those of the CDR.
        overage_seconds: (current.overage_seconds ?? 0) - freeChange,
        usage_month_start: data.usageMonthStart,
        rerated_count: current.rerated_count + 1,
      };
    }
    default:
      throw new Error(`${event.type} is not a call event`);
  }
}

function requireRow(row: CallRow | undefined, accountId: string, type: string, callId: string): CallRow {
  if (row === undefined) throw new Error(`account ${accountId}: ${type} of call ${callId}, which has no row`);
  return row;
}

const keyOf = (accountId: string, callId: string) => `${accountId} ${callId}`;

/** Every column of a calls row, in the order a COPY sends them. */
const COLUMNS = tableColumns<CallsTable>()(
  'account_id',
  'call_id',
  'destination',
  'destination_name',
  'basis',
  'tariff_id',
  'status',
  'started_at',
  'authorized_at',
  'max_seconds',
  'reserved_amount',
  'reserved_free_seconds',
  'expires_at',
  'extensions',
  'expired_at',
  'answered_at',
  'duration_seconds',
  'billable_milliseconds',
  'billed_seconds',
  'free_seconds_used',
  'overage_seconds',
  'cost',
  'rated_cost',
  'excess',
  'had_reservation',
  'usage_month_start',
  'rated_at',
  'cdr_at',
  'rerated_count',
  'stream_version',
);

/** Every column but the key: an upsert replaces the whole row with the folded one. */
const CALL_COLUMNS = COLUMNS.filter((column) => column !== 'account_id' && column !== 'call_id');

/**
 * Whether a call's events in a batch begin where its row begins: with its authorization, or with a CDR rated without
 * a reservation (a call the ledger never authorized). A CDR rated against a reservation comes after an authorization
 * that an earlier batch wrote, so its row is read, not inserted.
 */
function beginsCall(first: AccountEventAt | undefined): boolean {
  if (first === undefined) return false;
  const { event } = first;
  return event.type === 'CallAuthorized' || (event.type === 'CdrRated' && !event.data.hadReservation);
}

/**
 * Calls and CDRs. Per batch: the calls whose events in it begin with their authorization or with a CDR rated without
 * a reservation are folded from the batch alone and inserted where no row exists yet (with COPY from COPY_ROWS_MIN
 * calls); for the others, one read of their rows, each call's
 * events folded onto its row in stream order (skipping those at or below the row's version), one update.
 */
export const callsProjection: Projection = {
  name: 'calls',
  description:
    'calls: authorization, reservation, expiry, rated cost and re-rating, per call; rated calls are the CDRs',
  migrations: callsMigrations,
  filter: { streamPrefixes: ['account-'] },
  shards: 4,
  async apply(tx, events, { schema }) {
    const callEvents = accountEvents(events).filter(({ event }) => CALL_EVENTS.has(event.type));
    if (callEvents.length === 0) return;
    const calls = new Map<string, { accountId: string; callId: string; items: AccountEventAt[] }>();
    for (const item of callEvents) {
      const callId = (item.event.data as { callId: string }).callId;
      const key = keyOf(item.accountId, callId);
      const call = calls.get(key);
      if (call === undefined) calls.set(key, { accountId: item.accountId, callId, items: [item] });
      else call.items.push(item);
    }
    // Most calls in a batch are new (a CDR's, or an authorization's: beginsCall). Their rows are folded from this
    // batch alone and inserted where none exists yet, without looking them up first; the insert reports which it
    // wrote. The others (a row that exists, or a batch that begins a call's events past its first) are looked up and
    // folded onto their rows, as every call was before.
    const fresh = new Map<string, CallRow>();
    for (const [key, call] of calls) {
      if (!beginsCall(call.items[0])) continue;
      let row: CallRow | undefined;
      for (const item of call.items) row = applyEvent(row, item);
      if (row !== undefined) fresh.set(key, row);
    }
    const inserted = await insertNewRows(tx, schema, 'calls', [...fresh.values()], {
      columns: COLUMNS,
      conflict: ['account_id', 'call_id'],
    });
    for (const row of inserted) calls.delete(keyOf(row.account_id, row.call_id));
    if (calls.size === 0) return;
    const existing: CallsTable[] = [];
    for (const slice of rowSlices([...calls.values()])) {
      // A join on two arrays rather than `(account_id, call_id) IN (…500 pairs…)`: two parameters
      // instead of a thousand and one plan whatever the batch; half the lookup time on PostgreSQL.
      const found = await tx.query<CallsTable>(
        `SELECT c.* FROM ${schema}.calls AS c
           JOIN unnest($1::uuid[], $2::text[]) AS k (account_id, call_id)
             ON c.account_id = k.account_id AND c.call_id = k.call_id`,
        [slice.map((key) => key.accountId), slice.map((key) => key.callId)],
      );
      existing.push(...found);
    }
    const rows = new Map<string, CallRow>(existing.map((row) => [keyOf(row.account_id, row.call_id), row]));
    const changed = new Set<string>();
    for (const [key, call] of calls) {
      for (const item of call.items) {
        const row = rows.get(key);
        if (row !== undefined && item.version <= BigInt(row.stream_version)) continue;
        rows.set(key, applyEvent(row, item));
        changed.add(key);
      }
    }
    // Rows read above are updated in place; a call that has none yet (its first events in this batch do not begin
    // a row, e.g. a reservation expired with no authorization this read model applied) is upserted as before.
    const stored = new Set(existing.map((row) => keyOf(row.account_id, row.call_id)));
    const updated: CallRow[] = [];
    const added: CallRow[] = [];
    for (const key of changed) (stored.has(key) ? updated : added).push(rows.get(key) as CallRow);
    await updateRowsAsJson(tx, schema, 'calls', updated, { key: ['account_id', 'call_id'], columns: CALL_COLUMNS });
    await writeRowsAsJson(tx, schema, 'calls', added, { conflict: ['account_id', 'call_id'], update: CALL_COLUMNS });
  },
};
