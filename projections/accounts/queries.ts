import { first, queryBuilder, run, type SqlQueryable } from '@khata/sql';
import { trimMoney } from '../balances/queries.ts';
import { checkChoice, decodeCursor, isUuid, type Page, type PageRequest, pageLimit, pageOf } from '../shared/pages.ts';
import type { AccountNumbersView, AccountsDatabase, AccountsTable } from './migrations.ts';

const db = queryBuilder<AccountsDatabase>();

export interface AccountView {
  readonly accountId: string;
  readonly legalName: string;
  readonly contact: { readonly name: string; readonly email: string; readonly phone: string };
  readonly billingAddress: {
    readonly line1: string;
    readonly line2?: string;
    readonly city: string;
    readonly stateCode: string;
    readonly postalCode: string;
    readonly country: 'IN';
  };
  /** GST state code of the billing address: the place of supply. */
  readonly stateCode: string;
  readonly gstin: string | null;
  readonly billingMode: 'prepaid' | 'postpaid';
  /** Postpaid: the most the account may owe, GST included. Rupees, decimal string. */
  readonly creditLimit: string;
  readonly status: 'active' | 'suspended' | 'closed';
  /** Why the account was last suspended, reinstated or closed. */
  readonly statusReason: string | null;
  /** The plan the account is on now (null without a subscription). */
  readonly plan: { readonly planId: string; readonly cycle: string } | null;
  readonly openedAt: string;
  readonly updatedAt: string;
  /**
   * The account stream version of the last event that changed this view (calls and money events do not;
   * the balance's `streamVersion` follows every event).
   */
  readonly streamVersion: string;
  readonly currency: 'INR';
}

export interface AccountNumber {
  readonly kind: 'toll-free' | 'extension';
  readonly number: string;
  readonly accountId: string;
  readonly assignedAt: string;
}

function accountView(row: AccountsTable): AccountView {
  return {
    accountId: row.account_id,
    legalName: row.legal_name,
    contact: row.contact as AccountView['contact'],
    billingAddress: row.billing_address as AccountView['billingAddress'],
    stateCode: row.state_code,
    gstin: row.gstin,
    billingMode: row.billing_mode,
    creditLimit: trimMoney(row.credit_limit),
    status: row.status,
    statusReason: row.status_reason,
    plan: row.plan_id === null || row.plan_cycle === null ? null : { planId: row.plan_id, cycle: row.plan_cycle },
    openedAt: row.opened_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    streamVersion: row.stream_version,
    currency: 'INR',
  };
}

function numberView(row: AccountNumbersView): AccountNumber {
  return { kind: row.kind, number: row.number, accountId: row.account_id, assignedAt: row.assigned_at.toISOString() };
}

export async function accountById(tx: SqlQueryable, schema: string, accountId: string): Promise<AccountView | null> {
  if (!isUuid(accountId)) return null;
  const row = await first(
    tx,
    db.withSchema(schema).selectFrom('accounts').selectAll().where('account_id', '=', accountId),
  );
  return row === undefined ? null : accountView(row);
}

export interface AccountListRequest extends PageRequest {
  readonly status?: AccountView['status'];
}

const ACCOUNT_STATUSES = ['active', 'suspended', 'closed'] as const;

/** Accounts, newest first (opening time, then account id: a stable order for cursors). */
export async function listAccounts(
  tx: SqlQueryable,
  schema: string,
  request: AccountListRequest = {},
): Promise<Page<AccountView>> {
  const limit = pageLimit(request.limit);
  let query = db
    .withSchema(schema)
    .selectFrom('accounts')
    .selectAll()
    .orderBy('opened_at', 'desc')
    .orderBy('account_id', 'desc')
    .limit(limit + 1);
  if (request.status !== undefined) {
    query = query.where('status', '=', checkChoice('status', request.status, ACCOUNT_STATUSES));
  }
  if (request.cursor != null) {
    const [openedAt, accountId] = decodeCursor('accounts', request.cursor, ['instant', 'uuid']) as [string, string];
    query = query.where(({ eb, refTuple, tuple }) =>
      eb(refTuple('opened_at', 'account_id'), '<', tuple(new Date(openedAt), accountId)),
    );
  }
  const rows = await run(tx, query);
  return pageOf(rows, limit, 'accounts', (row) => [row.opened_at.toISOString(), row.account_id], accountView);
}

export interface TollFreeRoute {
  readonly number: string;
  readonly accountId: string;
  readonly accountStatus: AccountView['status'];
  /** The account's extensions, in order: the ring group the dialplan bridges the call to. */
  readonly extensions: readonly string[];
}

/**
 * Who answers a toll-free number: the owning account, its status (the dialplan refuses calls to a
 * suspended or closed account) and its extensions. Null when no account holds the number.
 */
export async function tollFreeRoute(tx: SqlQueryable, schema: string, number: string): Promise<TollFreeRoute | null> {
  const owner = await first(
    tx,
    db
      .withSchema(schema)
      .selectFrom('toll_free_numbers as n')
      .innerJoin('accounts as a', 'a.account_id', 'n.account_id')
      .select(['n.account_id', 'a.status'])
      .where('n.number', '=', number),
  );
  if (owner === undefined) return null;
  const extensions = await run(
    tx,
    db
      .withSchema(schema)
      .selectFrom('extensions')
      .select('number')
      .where('account_id', '=', owner.account_id)
      .orderBy('number'),
  );
  return {
    number,
    accountId: owner.account_id,
    accountStatus: owner.status,
    extensions: extensions.map((row) => row.number),
  };
}

/** The numbers an account holds: toll-free numbers first, each kind in number order. */
export async function numbersOfAccount(
  tx: SqlQueryable,
  schema: string,
  accountId: string,
): Promise<readonly AccountNumber[]> {
  if (!isUuid(accountId)) return [];
  const rows = await run(
    tx,
    db
      .withSchema(schema)
      .selectFrom('account_numbers')
      .selectAll()
      .where('account_id', '=', accountId)
      // 'toll-free' sorts after 'extension'; descending kind puts toll-free numbers first.
      .orderBy('kind', 'desc')
      .orderBy('number'),
  );
  return rows.map(numberView);
}
