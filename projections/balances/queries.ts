import type { AccountState } from '@khata/domain';
import { first, queryBuilder, run, type SqlQueryable } from '@khata/sql';
import type { BalancesDatabase } from './migrations.ts';
import { stateOfRow } from './projection.ts';

const db = queryBuilder<BalancesDatabase>();

export interface Balance {
  readonly accountId: string;
  readonly billingMode: string;
  readonly status: string;
  /** Prepaid: the wallet; postpaid: negative while usage is owed. Rupees, decimal string. */
  readonly wallet: string;
  readonly reserved: string;
  readonly available: string;
  readonly creditLimit: string;
  readonly freeSecondsLeft: number;
  readonly usageMonth: { readonly start: string; readonly end: string } | null;
  readonly currency: 'INR';
  readonly streamVersion: string;
  readonly updatedAt: string;
}

export async function balanceOf(tx: SqlQueryable, schema: string, accountId: string): Promise<Balance | null> {
  const row = await first(
    tx,
    db.withSchema(schema).selectFrom('balances').selectAll().where('account_id', '=', accountId),
  );
  if (row === undefined) return null;
  return {
    accountId: row.account_id,
    billingMode: row.billing_mode,
    status: row.status,
    wallet: trimMoney(row.balance),
    reserved: trimMoney(row.reserved),
    available: trimMoney(row.available),
    creditLimit: trimMoney(row.credit_limit),
    freeSecondsLeft: Math.max(0, row.free_seconds - row.free_seconds_used - row.free_seconds_reserved),
    usageMonth:
      row.usage_month_start === null || row.usage_month_end === null
        ? null
        : { start: row.usage_month_start, end: row.usage_month_end },
    currency: 'INR',
    streamVersion: row.stream_version,
    updatedAt: row.updated_at.toISOString(),
  };
}

/** Folded account states with their versions: the hot projection's cold start and gap reloads. */
export async function accountStates(
  tx: SqlQueryable,
  schema: string,
  accountIds?: readonly string[],
): Promise<{ accountId: string; version: bigint; state: AccountState }[]> {
  let query = db.withSchema(schema).selectFrom('balances').select(['account_id', 'stream_version', 'state']);
  if (accountIds !== undefined) {
    if (accountIds.length === 0) return [];
    query = query.where('account_id', 'in', accountIds);
  }
  const rows = await run(tx, query);
  return rows.flatMap((row) => {
    const state = stateOfRow(row);
    return state === null ? [] : [{ accountId: row.account_id, version: BigInt(row.stream_version), state }];
  });
}

/** numeric(20,4) text → the domain's canonical money string (`12.3400` → `12.34`). */
export function trimMoney(value: string): string {
  const [whole, fraction = ''] = value.split('.');
  let digits = fraction.padEnd(2, '0');
  while (digits.length > 2 && digits.endsWith('0')) digits = digits.slice(0, -1);
  return `${whole}.${digits}`;
}
