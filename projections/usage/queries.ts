import { first, queryBuilder, run, type SqlQueryable } from '@khata/sql';
import { trimMoney } from '../balances/queries.ts';
import { checkFilter, InvalidReadRequest, isUuid } from '../shared/pages.ts';
import type { UsageDatabase, UsageDestinationsTable, UsageMonthsTable } from './migrations.ts';

const db = queryBuilder<UsageDatabase>();

export interface DestinationUsage {
  readonly destinationName: string;
  readonly calls: number;
  readonly answeredCalls: number;
  readonly durationSeconds: number;
  readonly billedSeconds: number;
  /** Rupees before GST, re-rating included. */
  readonly cost: string;
}

export interface MonthUsage {
  readonly accountId: string;
  /** IST calendar month, `YYYY-MM`. */
  readonly month: string;
  /** Rated calls, unanswered ones included (with 0 seconds). */
  readonly calls: number;
  readonly answeredCalls: number;
  readonly durationSeconds: number;
  readonly billedSeconds: number;
  readonly freeSecondsUsed: number;
  readonly overageSeconds: number;
  /** Rupees before GST, re-rating included. */
  readonly cost: string;
  /** Corrections by re-rating applied to this month's calls. */
  readonly reratedCalls: number;
  readonly currency: 'INR';
}

export interface MonthUsageWithDestinations extends MonthUsage {
  /** By destination name, most expensive first. */
  readonly destinations: readonly DestinationUsage[];
}

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;
/** Ten years of months: more than any statement or chart asks for at once. */
export const USAGE_MONTHS_MAX = 120;

function checkMonth(name: string, month: string): string {
  if (!MONTH.test(month)) throw new InvalidReadRequest('INVALID_FILTER', `${name} must be YYYY-MM, got ${month}`);
  return month;
}

function monthUsage(row: UsageMonthsTable): MonthUsage {
  return {
    accountId: row.account_id,
    month: row.month,
    calls: row.calls,
    answeredCalls: row.answered_calls,
    durationSeconds: Number(row.duration_seconds),
    billedSeconds: Number(row.billed_seconds),
    freeSecondsUsed: Number(row.free_seconds_used),
    overageSeconds: Number(row.overage_seconds),
    cost: trimMoney(row.cost),
    reratedCalls: row.rerated_calls,
    currency: 'INR',
  };
}

function destinationUsage(row: UsageDestinationsTable): DestinationUsage {
  return {
    destinationName: row.destination_name,
    calls: row.calls,
    answeredCalls: row.answered_calls,
    durationSeconds: Number(row.duration_seconds),
    billedSeconds: Number(row.billed_seconds),
    cost: trimMoney(row.cost),
  };
}

/** An account's usage in one IST month, with its destinations; null when it rated no call that month. */
export async function usageOf(
  tx: SqlQueryable,
  schema: string,
  accountId: string,
  month: string,
): Promise<MonthUsageWithDestinations | null> {
  checkMonth('month', month);
  if (!isUuid(accountId)) return null;
  const row = await first(
    tx,
    db
      .withSchema(schema)
      .selectFrom('usage_months')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('month', '=', month),
  );
  if (row === undefined) return null;
  const destinations = await run(
    tx,
    db
      .withSchema(schema)
      .selectFrom('usage_destinations')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('month', '=', month)
      .orderBy('cost', 'desc')
      .orderBy('destination_name'),
  );
  return { ...monthUsage(row), destinations: destinations.map(destinationUsage) };
}

/** An account's usage month by month, newest first, optionally between two months (inclusive). */
export async function usageMonthsOf(
  tx: SqlQueryable,
  schema: string,
  accountId: string,
  range: { readonly from?: string; readonly to?: string } = {},
): Promise<readonly MonthUsage[]> {
  let query = db
    .withSchema(schema)
    .selectFrom('usage_months')
    .selectAll()
    .where('account_id', '=', checkFilter('accountId', accountId, 'uuid'))
    .orderBy('month', 'desc')
    .limit(USAGE_MONTHS_MAX);
  if (range.from !== undefined) query = query.where('month', '>=', checkMonth('from', range.from));
  if (range.to !== undefined) query = query.where('month', '<=', checkMonth('to', range.to));
  return (await run(tx, query)).map(monthUsage);
}
