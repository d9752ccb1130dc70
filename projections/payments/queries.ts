import { Money } from '@khata/domain';
import { queryBuilder, run, type SqlQueryable } from '@khata/sql';
import { trimMoney } from '../balances/queries.ts';
import {
  checkChoice,
  checkFilter,
  decodeCursor,
  type Page,
  type PageRequest,
  pageLimit,
  pageOf,
} from '../shared/pages.ts';
import type { PaymentsDatabase, PaymentsTable, TopUpsTable } from './migrations.ts';

const db = queryBuilder<PaymentsDatabase>();

export type Gateway = PaymentsTable['gateway'];

export interface PaymentView {
  readonly gateway: Gateway;
  readonly paymentId: string;
  readonly accountId: string;
  /** What the customer paid, GST included (rupees). */
  readonly amount: string;
  readonly purpose: PaymentsTable['purpose'];
  readonly reference: string | null;
  readonly recordedAt: string;
  readonly currency: 'INR';
}

export interface TopUpView {
  readonly eventId: string;
  readonly accountId: string;
  /** Paid, GST included. */
  readonly gross: string;
  /** Credited to the wallet: gross / 1.18 to paise. */
  readonly taxable: string;
  readonly tax: {
    readonly cgst: string;
    readonly sgst: string;
    readonly utgst: string;
    readonly igst: string;
    readonly total: string;
  };
  readonly supplierState: string;
  readonly placeOfSupply: string;
  /** `<gateway>:<payment id>` for a payment recorded from a gateway, the caller's id otherwise, or null. */
  readonly paymentId: string | null;
  readonly toppedUpAt: string;
  readonly currency: 'INR';
}

function paymentView(row: PaymentsTable): PaymentView {
  return {
    gateway: row.gateway,
    paymentId: row.payment_id,
    accountId: row.account_id,
    amount: trimMoney(row.amount),
    purpose: row.purpose,
    reference: row.reference,
    recordedAt: row.recorded_at.toISOString(),
    currency: 'INR',
  };
}

function topUpView(row: TopUpsTable): TopUpView {
  const heads = [row.cgst, row.sgst, row.utgst, row.igst].map((amount) => Money.parse(trimMoney(amount)));
  return {
    eventId: row.event_id,
    accountId: row.account_id,
    gross: trimMoney(row.gross),
    taxable: trimMoney(row.taxable),
    tax: {
      cgst: trimMoney(row.cgst),
      sgst: trimMoney(row.sgst),
      utgst: trimMoney(row.utgst),
      igst: trimMoney(row.igst),
      total: Money.sum(heads).toString(),
    },
    supplierState: row.supplier_state,
    placeOfSupply: row.place_of_supply,
    paymentId: row.payment_id,
    toppedUpAt: row.topped_up_at.toISOString(),
    currency: 'INR',
  };
}

const GATEWAYS = ['razorpay', 'stripe', 'manual'] as const;

export interface PaymentWithTopUp extends PaymentView {
  /** The wallet top-up the payment paid for; null when it credited none. */
  readonly topUp: TopUpView | null;
}

/** More records of one gateway payment than this is not a mistake but an attack on the lookup. */
const RECORDS_PER_GATEWAY_PAYMENT_MAX = 20;

/**
 * The records of one gateway payment with the top-ups they paid for: normally one. Several accounts
 * recording the same gateway payment id (a reused manual id, a webhook attributed to the wrong
 * account) all show, oldest first, for someone to sort out.
 */
export async function paymentsByGatewayId(
  tx: SqlQueryable,
  schema: string,
  gateway: Gateway,
  paymentId: string,
): Promise<readonly PaymentWithTopUp[]> {
  checkChoice('gateway', gateway, GATEWAYS);
  const rows = await run(
    tx,
    db
      .withSchema(schema)
      .selectFrom('payments')
      .selectAll()
      .where('gateway', '=', gateway)
      .where('payment_id', '=', paymentId)
      .orderBy('recorded_at')
      .orderBy('account_id')
      .limit(RECORDS_PER_GATEWAY_PAYMENT_MAX),
  );
  if (rows.length === 0) return [];
  // The domain credits a gateway payment as a top-up naming it `<gateway>:<payment id>`.
  const topUps = await run(
    tx,
    db
      .withSchema(schema)
      .selectFrom('top_ups')
      .selectAll()
      .where('payment_id', '=', `${gateway}:${paymentId}`)
      .where(
        'account_id',
        'in',
        rows.map((row) => row.account_id),
      ),
  );
  return rows.map((row) => {
    const topUp = topUps.find((candidate) => candidate.account_id === row.account_id);
    return { ...paymentView(row), topUp: topUp === undefined ? null : topUpView(topUp) };
  });
}

/** An account's payments, newest first. */
export async function paymentsOfAccount(
  tx: SqlQueryable,
  schema: string,
  accountId: string,
  request: PageRequest = {},
): Promise<Page<PaymentView>> {
  const limit = pageLimit(request.limit);
  let query = db
    .withSchema(schema)
    .selectFrom('payments')
    .selectAll()
    .where('account_id', '=', checkFilter('accountId', accountId, 'uuid'))
    .orderBy('stream_version', 'desc')
    .limit(limit + 1);
  if (request.cursor != null) {
    const [version] = decodeCursor('payments', request.cursor, ['integer']) as [string];
    query = query.where('stream_version', '<', version);
  }
  const rows = await run(tx, query);
  return pageOf(rows, limit, 'payments', (row) => [row.stream_version], paymentView);
}

/** An account's wallet top-ups, newest first. */
export async function topUpsOfAccount(
  tx: SqlQueryable,
  schema: string,
  accountId: string,
  request: PageRequest = {},
): Promise<Page<TopUpView>> {
  const limit = pageLimit(request.limit);
  let query = db
    .withSchema(schema)
    .selectFrom('top_ups')
    .selectAll()
    .where('account_id', '=', checkFilter('accountId', accountId, 'uuid'))
    .orderBy('stream_version', 'desc')
    .limit(limit + 1);
  if (request.cursor != null) {
    const [version] = decodeCursor('top-ups', request.cursor, ['integer']) as [string];
    query = query.where('stream_version', '<', version);
  }
  const rows = await run(tx, query);
  return pageOf(rows, limit, 'top-ups', (row) => [row.stream_version], topUpView);
}
