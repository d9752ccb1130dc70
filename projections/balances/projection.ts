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
import { quoteIdentifier } from '@khata/sql';
import { accountEvents, groupBy } from '../shared/accounts.ts';
import { type JsonRow, rowSlices, updateRowsAsJson, writeRowsAsJson } from '../shared/rows.ts';
import { type BalancesTable, balancesMigrations } from './migrations.ts';

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

/** The columns a write sets besides the key. */
const BALANCE_COLUMNS = [
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
] as const satisfies readonly (keyof BalancesTable)[];

/** Folded states a worker keeps between batches (ProjectionContext.memory), most recently written last. */
export const BALANCES_STATES_REMEMBERED_MAX = 10_000;

interface Remembered {
  readonly version: bigint;
  readonly state: AccountState;
}

/**
 * Folds each account's events with the domain's own `evolve` (so the read model can never disagree with
 * a replay), one JSON update per batch (and an insert for new accounts). Events at or below the row's version
 * are skipped (already applied); a gap is a bug and stops the projection.
 *
 * The state it folds from is the one it wrote last, kept in the worker's memory, when the row still has that
 * version; otherwise (first batch of the account here, a rolled-back batch, another worker moved the row on) the
 * state stored in the row. The versions are read for every account of the batch, the states only for those:
 * with 40 calls open an account's state is about 12 KiB, which was read back and parsed every batch (the worker's
 * CPU under the ESL benchmark's load fell by about 7 % without it; bench/RESULTS.md).
 */
export const balancesProjection: Projection = {
  name: 'balances',
  description: 'wallet, reserved, available credit, credit limit, free seconds left, stream version per account',
  migrations: balancesMigrations,
  filter: { streamPrefixes: ['account-'] },
  shards: 4,
  async apply(tx, events, { schema, memory }) {
    const byAccount = groupBy(accountEvents(events), (e) => e.accountId);
    if (byAccount.size === 0) return;
    const remembered = memory as Map<string, Remembered>;
    // Taken now: the entries may change while the versions are read.
    const known = new Map<string, Remembered>();
    const ids: string[] = [];
    const knownVersions: string[] = [];
    for (const accountId of byAccount.keys()) {
      const entry = remembered.get(accountId);
      if (entry !== undefined) known.set(accountId, entry);
      ids.push(accountId);
      knownVersions.push((entry?.version ?? -1n).toString());
    }
    // The state comes back only where the row's version is not the remembered one. In slices: a rebuild's chunk
    // can touch more accounts than one statement should carry.
    const existing: { account_id: string; stream_version: string; state: unknown }[] = [];
    for (const slice of rowSlices(ids.map((id, index) => [id, knownVersions[index] as string] as const))) {
      existing.push(
        ...(await tx.query<{ account_id: string; stream_version: string; state: unknown }>(
          `SELECT b.account_id, b.stream_version,
                  CASE WHEN b.stream_version = k.version THEN NULL ELSE b.state END AS state
             FROM unnest($1::uuid[], $2::bigint[]) AS k (account_id, version)
             JOIN ${quoteIdentifier(schema)}.balances AS b ON b.account_id = k.account_id`,
          [slice.map(([id]) => id), slice.map(([, version]) => version)],
        )),
      );
    }
    const current = new Map(existing.map((row) => [row.account_id, row]));
    // Rows read above are updated in place (updateRowsAsJson: no insert attempt and row lock first); new ones
    // are inserted.
    const updated: JsonRow<BalancesTable>[] = [];
    const added: JsonRow<BalancesTable>[] = [];
    for (const [accountId, accountEventsInBatch] of byAccount) {
      const row = current.get(accountId);
      let state: AccountState;
      if (row === undefined) state = initialState();
      else if (row.state === null) state = (known.get(accountId) as Remembered).state;
      else state = stateOfRow(row) ?? initialState();
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
      if (updatedAt !== null)
        (row === undefined ? added : updated).push(balanceRow(accountId, state, version, updatedAt));
      remember(remembered, accountId, { version, state });
    }
    // One JSON parameter per statement: no placeholder per value, and no parameter limit to split around.
    await updateRowsAsJson(tx, schema, 'balances', updated, { key: ['account_id'], columns: BALANCE_COLUMNS });
    await writeRowsAsJson(tx, schema, 'balances', added, { conflict: ['account_id'], update: BALANCE_COLUMNS });
  },
};

/** Keeps the newest BALANCES_STATES_REMEMBERED_MAX states: the least recently written goes first. */
function remember(remembered: Map<string, Remembered>, accountId: string, entry: Remembered): void {
  remembered.delete(accountId);
  remembered.set(accountId, entry);
  if (remembered.size > BALANCES_STATES_REMEMBERED_MAX) {
    const oldest = remembered.keys().next().value;
    if (oldest !== undefined) remembered.delete(oldest);
  }
}
