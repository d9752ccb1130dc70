import {
  type AccountState,
  availableCredit,
  evolve,
  initialState,
  STATE_SNAPSHOT_VERSION,
  stateFromJson,
  stateToJson,
  TELECOM_GST_RATE_PERCENT,
} from '@khata/domain';
import type { Projection } from '@khata/projector';
import { queryBuilder, run } from '@khata/sql';
import { accountEvents, groupBy } from '../shared/accounts.ts';
import { type JsonRow, statementSlices, writeRowsAsJson } from '../shared/rows.ts';
import { type BalancesDatabase, type BalancesTable, balancesMigrations } from './migrations.ts';

const db = queryBuilder<BalancesDatabase>();

/** The stored state JSON carries the shape version it was written with. */
interface StoredState {
  readonly shape: number;
  readonly state: { readonly [key: string]: unknown };
}

/** The balances row of an account's state; `updatedAt` as ISO 8601 text, as the event carries it (JsonRow). */
export function balanceRow(
  accountId: string,
  state: AccountState,
  version: bigint,
  updatedAt: string,
): JsonRow<BalancesTable> {
  const month = state.usageMonth;
  const stored: StoredState = { shape: STATE_SNAPSHOT_VERSION, state: stateToJson(state) };
  return {
    account_id: accountId,
    billing_mode: state.billingMode,
    status: state.status,
    balance: state.balance.toString(),
    reserved: state.reserved.toString(),
    available: availableCredit(state, { gstRatePercent: TELECOM_GST_RATE_PERCENT }).toString(),
    credit_limit: state.creditLimit.toString(),
    plan_id: state.subscription?.planId ?? null,
    usage_month_start: month?.start ?? null,
    usage_month_end: month?.end ?? null,
    free_seconds: month?.freeSeconds ?? 0,
    free_seconds_used: month?.usedSeconds ?? 0,
    free_seconds_reserved: state.reservedFreeSeconds,
    open_reservations: state.reservations.size,
    stream_version: version.toString(),
    updated_at: updatedAt,
    // An object, not its text: the rows go to PostgreSQL as one JSON array (writeRowsAsJson).
    state: stored,
  };
}

/** The account state a balances row holds, or null when it was written by another state shape. */
export function stateOfRow(row: Pick<BalancesTable, 'state'>): AccountState | null {
  const stored = row.state as StoredState;
  return stored.shape === STATE_SNAPSHOT_VERSION ? stateFromJson(stored.state) : null;
}

/**
 * Folds each account's events with the domain's own `evolve` (so the read model can never disagree with
 * a replay), one JSON upsert per batch. Events at or below the row's version are skipped (already
 * applied); a gap is a bug and stops the projection.
 */
export const balancesProjection: Projection = {
  name: 'balances',
  description: 'wallet, reserved, available credit, credit limit, free seconds left, stream version per account',
  migrations: balancesMigrations,
  filter: { streamPrefixes: ['account-'] },
  shards: 4,
  async apply(tx, events, { schema }) {
    const byAccount = groupBy(accountEvents(events), (e) => e.accountId);
    if (byAccount.size === 0) return;
    const ids = [...byAccount.keys()];
    const existing: Pick<BalancesTable, 'account_id' | 'stream_version' | 'state'>[] = [];
    // In slices: a rebuild's chunk can touch more accounts than one statement takes parameters.
    for (const slice of statementSlices(ids, 1)) {
      existing.push(
        ...(await run(
          tx,
          db
            .withSchema(schema)
            .selectFrom('balances')
            .select(['account_id', 'stream_version', 'state'])
            .where('account_id', 'in', slice),
        )),
      );
    }
    const current = new Map(existing.map((row) => [row.account_id, row]));
    const rows: JsonRow<BalancesTable>[] = [];
    for (const [accountId, accountEventsInBatch] of byAccount) {
      const row = current.get(accountId);
      let state = row === undefined ? initialState() : (stateOfRow(row) ?? initialState());
      let version = row === undefined ? 0n : BigInt(row.stream_version);
      let updatedAt: string | null = null;
      for (const { event, version: eventVersion, atText } of accountEventsInBatch) {
        if (eventVersion <= version) continue;
        if (eventVersion !== version + 1n) {
          throw new Error(`account ${accountId}: event version ${eventVersion} after ${version} (gap)`);
        }
        state = evolve(state, event);
        version = eventVersion;
        updatedAt = atText;
      }
      if (updatedAt !== null) rows.push(balanceRow(accountId, state, version, updatedAt));
    }
    // One JSON parameter per statement: no placeholder per value, and no parameter limit to split around.
    await writeRowsAsJson(tx, schema, 'balances', rows, {
      conflict: ['account_id'],
      update: [
        'billing_mode',
        'status',
        'balance',
        'reserved',
        'available',
        'credit_limit',
        'plan_id',
        'usage_month_start',
        'usage_month_end',
        'free_seconds',
        'free_seconds_used',
        'free_seconds_reserved',
        'open_reservations',
        'stream_version',
        'updated_at',
        'state',
      ],
    });
  },
};
