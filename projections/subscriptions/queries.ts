import { first, queryBuilder, run, type SqlQueryable } from '@khata/sql';
import { trimMoney } from '../balances/queries.ts';
import {
  checkChoice,
  checkFilter,
  decodeCursor,
  isUuid,
  type Page,
  type PageRequest,
  pageLimit,
  pageOf,
} from '../shared/pages.ts';
import type { BillingCycle, SubscriptionStatus, SubscriptionsDatabase, SubscriptionsTable } from './migrations.ts';

const db = queryBuilder<SubscriptionsDatabase>();

export interface SubscriptionView {
  readonly subscriptionId: string;
  readonly accountId: string;
  readonly planId: string;
  readonly cycle: BillingCycle;
  /** Periods are counted from this date (IST), keeping its day of month. */
  readonly anchor: string;
  /** The period the subscription is in (IST dates, end exclusive). */
  readonly currentPeriod: { readonly index: number; readonly start: string; readonly end: string };
  readonly status: SubscriptionStatus;
  /** When the next period is charged; null unless active. */
  readonly nextChargeOn: string | null;
  readonly lastCharge: { readonly at: string; readonly amount: string } | null;
  /** A downgrade waiting for the period end. */
  readonly pendingChange: { readonly planId: string; readonly cycle: string; readonly effectiveOn: string } | null;
  readonly cancellation: {
    readonly when: 'now' | 'period_end';
    readonly effectiveOn: string;
    readonly reason: string | null;
  } | null;
  readonly endedOn: string | null;
  readonly addOns: readonly { readonly addOnId: string; readonly quantity: number }[];
  readonly startedOn: string;
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly currency: 'INR';
}

function subscriptionView(row: SubscriptionsTable): SubscriptionView {
  const addOns = Object.entries(row.add_ons as Record<string, number>)
    .map(([addOnId, quantity]) => ({ addOnId, quantity }))
    .sort((a, b) => a.addOnId.localeCompare(b.addOnId));
  return {
    subscriptionId: row.subscription_id,
    accountId: row.account_id,
    planId: row.plan_id,
    cycle: row.cycle,
    anchor: row.anchor,
    currentPeriod: { index: row.period_index, start: row.period_start, end: row.period_end },
    status: row.status,
    nextChargeOn: row.next_charge_on,
    lastCharge:
      row.last_charged_at === null || row.last_charge_amount === null
        ? null
        : { at: row.last_charged_at.toISOString(), amount: trimMoney(row.last_charge_amount) },
    pendingChange:
      row.pending_plan_id === null || row.pending_cycle === null || row.pending_effective_on === null
        ? null
        : { planId: row.pending_plan_id, cycle: row.pending_cycle, effectiveOn: row.pending_effective_on },
    cancellation:
      row.cancellation_when === null || row.cancellation_effective_on === null
        ? null
        : { when: row.cancellation_when, effectiveOn: row.cancellation_effective_on, reason: row.cancellation_reason },
    endedOn: row.ended_on,
    addOns,
    startedOn: row.started_on,
    startedAt: row.started_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    currency: 'INR',
  };
}

export async function subscriptionById(
  tx: SqlQueryable,
  schema: string,
  subscriptionId: string,
): Promise<SubscriptionView | null> {
  if (!isUuid(subscriptionId)) return null;
  const row = await first(
    tx,
    db.withSchema(schema).selectFrom('subscriptions').selectAll().where('subscription_id', '=', subscriptionId),
  );
  return row === undefined ? null : subscriptionView(row);
}

/** An account's subscriptions, newest first (at most one of them active or cancelling). */
export async function subscriptionsOfAccount(
  tx: SqlQueryable,
  schema: string,
  accountId: string,
  request: PageRequest = {},
): Promise<Page<SubscriptionView>> {
  return listSubscriptions(tx, schema, { ...request, accountId });
}

const STATUSES = ['active', 'cancelling', 'ended', 'cancelled'] as const;
const CYCLES = ['monthly', 'quarterly', 'annual'] as const;

export interface SubscriptionListRequest extends PageRequest {
  readonly accountId?: string;
  readonly status?: SubscriptionStatus;
  readonly planId?: string;
  readonly cycle?: BillingCycle;
  /** Only subscriptions whose next charge falls due on or before this IST date (renewals due). */
  readonly nextChargeOnOrBefore?: string;
}

/** Subscriptions, newest first (start time, then id), filtered; cursor-paginated. */
export async function listSubscriptions(
  tx: SqlQueryable,
  schema: string,
  request: SubscriptionListRequest = {},
): Promise<Page<SubscriptionView>> {
  const limit = pageLimit(request.limit);
  let query = db
    .withSchema(schema)
    .selectFrom('subscriptions')
    .selectAll()
    .orderBy('started_at', 'desc')
    .orderBy('subscription_id', 'desc')
    .limit(limit + 1);
  if (request.accountId !== undefined) {
    query = query.where('account_id', '=', checkFilter('accountId', request.accountId, 'uuid'));
  }
  if (request.status !== undefined) query = query.where('status', '=', checkChoice('status', request.status, STATUSES));
  if (request.planId !== undefined) query = query.where('plan_id', '=', request.planId);
  if (request.cycle !== undefined) query = query.where('cycle', '=', checkChoice('cycle', request.cycle, CYCLES));
  if (request.nextChargeOnOrBefore !== undefined) {
    const due = checkFilter('nextChargeOnOrBefore', request.nextChargeOnOrBefore, 'date');
    query = query.where('next_charge_on', '<=', due);
  }
  if (request.cursor != null) {
    const [startedAt, subscriptionId] = decodeCursor('subscriptions', request.cursor, ['instant', 'uuid']) as [
      string,
      string,
    ];
    query = query.where(({ eb, refTuple, tuple }) =>
      eb(refTuple('started_at', 'subscription_id'), '<', tuple(new Date(startedAt), subscriptionId)),
    );
  }
  const rows = await run(tx, query);
  return pageOf(
    rows,
    limit,
    'subscriptions',
    (row) => [row.started_at.toISOString(), row.subscription_id],
    subscriptionView,
  );
}
