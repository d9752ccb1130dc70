import { Money } from '@khata/domain';
import type { Projection } from '@khata/projector';
import { queryBuilder, run, type SqlQueryable } from '@khata/sql';
import { type AccountEventAt, accountEvents, groupBy } from '../shared/accounts.ts';
import { statementSlices } from '../shared/rows.ts';
import {
  type AccountNumbersView,
  type AccountsDatabase,
  type AccountsTable,
  accountsMigrations,
} from './migrations.ts';

const db = queryBuilder<AccountsDatabase>();

/** The events that change an account's row or numbers; the row's version is that of the last of them. */
const ACCOUNT_EVENTS: ReadonlySet<string> = new Set([
  'AccountOpened',
  'BillingProfileUpdated',
  'CreditLimitChanged',
  'NumberAssigned',
  'NumberReleased',
  'SubscriptionStarted',
  'SubscriptionCharged',
  'PlanChanged',
  'SubscriptionCancelled',
  'SubscriptionEnded',
  'AccountSuspended',
  'AccountReinstated',
  'AccountClosed',
]);

type NumberKind = AccountNumbersView['kind'];

/** What a batch did to one number: the accounts that released it, and who holds it at the end. */
interface NumberChange {
  readonly kind: NumberKind;
  readonly number: string;
  readonly releasedBy: Set<string>;
  holder: AccountNumbersView | null;
}

/**
 * A batch's number assignments in log order, reduced to one change per number (per toll-free number;
 * per account and number for extensions). Written as the releasing accounts' rows deleted, then the
 * final holder's row upserted: when a toll-free number moves from one account to another, the new
 * holder takes the row over, and a release never removes anyone's row but the releasing account's.
 */
class NumberChanges {
  readonly #changes = new Map<string, NumberChange>();

  #change(accountId: string, kind: NumberKind, number: string): NumberChange {
    const key = kind === 'toll-free' ? `toll-free ${number}` : `extension ${accountId} ${number}`;
    let change = this.#changes.get(key);
    if (change === undefined) {
      change = { kind, number, releasedBy: new Set(), holder: null };
      this.#changes.set(key, change);
    }
    return change;
  }

  assign(accountId: string, kind: NumberKind, number: string, at: Date): void {
    this.#change(accountId, kind, number).holder = { account_id: accountId, kind, number, assigned_at: at };
  }

  release(accountId: string, kind: NumberKind, number: string): void {
    const change = this.#change(accountId, kind, number);
    change.releasedBy.add(accountId);
    if (change.holder?.account_id === accountId) change.holder = null;
  }

  released(): { accountId: string; kind: NumberKind; number: string }[] {
    return [...this.#changes.values()].flatMap((change) =>
      [...change.releasedBy].map((accountId) => ({ accountId, kind: change.kind, number: change.number })),
    );
  }

  held(): AccountNumbersView[] {
    return [...this.#changes.values()].flatMap((change) => (change.holder === null ? [] : [change.holder]));
  }
}

/** Folds one account event into the account's row, stamping it with the event's version and time. */
function applyEvent(row: AccountsTable | undefined, item: AccountEventAt): AccountsTable {
  const { event, accountId, at } = item;
  if (event.type === 'AccountOpened') {
    if (row !== undefined) throw new Error(`account ${accountId} opened twice`);
    const { data } = event;
    return {
      account_id: accountId,
      legal_name: data.legalName,
      contact: data.contact,
      billing_address: data.billingAddress,
      state_code: data.billingAddress.stateCode,
      gstin: data.gstin,
      billing_mode: data.billingMode,
      credit_limit: Money.parse(data.creditLimit).toString(),
      status: 'active',
      status_reason: null,
      plan_id: null,
      plan_cycle: null,
      opened_at: new Date(data.openedAt),
      updated_at: at,
      stream_version: item.version.toString(),
    };
  }
  if (row === undefined) throw new Error(`account ${accountId}: ${event.type} before AccountOpened`);
  const next: AccountsTable = { ...row, updated_at: at, stream_version: item.version.toString() };
  switch (event.type) {
    case 'BillingProfileUpdated': {
      const { data } = event;
      if (data.legalName !== undefined) next.legal_name = data.legalName;
      if (data.contact !== undefined) next.contact = data.contact;
      if (data.billingAddress !== undefined) {
        next.billing_address = data.billingAddress;
        next.state_code = data.billingAddress.stateCode;
      }
      if (data.gstin !== undefined) next.gstin = data.gstin;
      return next;
    }
    case 'CreditLimitChanged':
      next.credit_limit = Money.parse(event.data.creditLimit).toString();
      return next;
    case 'SubscriptionStarted':
    case 'SubscriptionCharged':
      next.plan_id = event.data.planId;
      next.plan_cycle = event.data.cycle;
      return next;
    case 'PlanChanged':
      next.plan_id = event.data.toPlanId;
      next.plan_cycle = event.data.toCycle;
      return next;
    case 'SubscriptionCancelled':
      // Cancelled at the period end, the plan runs until SubscriptionEnded.
      if (event.data.when === 'now') {
        next.plan_id = null;
        next.plan_cycle = null;
      }
      return next;
    case 'SubscriptionEnded':
      next.plan_id = null;
      next.plan_cycle = null;
      return next;
    case 'AccountSuspended':
      next.status = 'suspended';
      next.status_reason = event.data.reason;
      return next;
    case 'AccountReinstated':
      next.status = 'active';
      next.status_reason = event.data.reason;
      return next;
    case 'AccountClosed':
      next.status = 'closed';
      next.status_reason = event.data.reason;
      return next;
    default:
      return next;
  }
}

const ACCOUNT_COLUMNS = 15;
const NUMBER_COLUMNS = 3;

async function writeAccounts(tx: SqlQueryable, schema: string, rows: readonly AccountsTable[]): Promise<void> {
  for (const slice of statementSlices(rows, ACCOUNT_COLUMNS)) {
    await run(
      tx,
      db
        .withSchema(schema)
        .insertInto('accounts')
        .values(
          slice.map((row) => ({
            ...row,
            contact: JSON.stringify(row.contact),
            billing_address: JSON.stringify(row.billing_address),
          })),
        )
        .onConflict((conflict) =>
          conflict.column('account_id').doUpdateSet((eb) => ({
            legal_name: eb.ref('excluded.legal_name'),
            contact: eb.ref('excluded.contact'),
            billing_address: eb.ref('excluded.billing_address'),
            state_code: eb.ref('excluded.state_code'),
            gstin: eb.ref('excluded.gstin'),
            billing_mode: eb.ref('excluded.billing_mode'),
            credit_limit: eb.ref('excluded.credit_limit'),
            status: eb.ref('excluded.status'),
            status_reason: eb.ref('excluded.status_reason'),
            plan_id: eb.ref('excluded.plan_id'),
            plan_cycle: eb.ref('excluded.plan_cycle'),
            opened_at: eb.ref('excluded.opened_at'),
            updated_at: eb.ref('excluded.updated_at'),
            stream_version: eb.ref('excluded.stream_version'),
          })),
        ),
    );
  }
}

async function writeNumbers(tx: SqlQueryable, schema: string, numbers: NumberChanges): Promise<void> {
  const released = numbers.released();
  const held = numbers.held();
  const tollFreeReleased = released.filter((change) => change.kind === 'toll-free');
  for (const slice of statementSlices(tollFreeReleased, 2)) {
    await run(
      tx,
      db
        .withSchema(schema)
        .deleteFrom('toll_free_numbers')
        .where(({ eb, refTuple, tuple }) =>
          eb(
            refTuple('number', 'account_id'),
            'in',
            slice.map((change) => tuple(change.number, change.accountId)),
          ),
        ),
    );
  }
  const extensionsReleased = released.filter((change) => change.kind === 'extension');
  for (const slice of statementSlices(extensionsReleased, 2)) {
    await run(
      tx,
      db
        .withSchema(schema)
        .deleteFrom('extensions')
        .where(({ eb, refTuple, tuple }) =>
          eb(
            refTuple('account_id', 'number'),
            'in',
            slice.map((change) => tuple(change.accountId, change.number)),
          ),
        ),
    );
  }
  const rowOf = ({ account_id, number, assigned_at }: AccountNumbersView) => ({ account_id, number, assigned_at });
  const tollFree = held.filter((row) => row.kind === 'toll-free').map(rowOf);
  for (const slice of statementSlices(tollFree, NUMBER_COLUMNS)) {
    await run(
      tx,
      db
        .withSchema(schema)
        .insertInto('toll_free_numbers')
        .values(slice)
        .onConflict((conflict) =>
          conflict.column('number').doUpdateSet((eb) => ({
            account_id: eb.ref('excluded.account_id'),
            assigned_at: eb.ref('excluded.assigned_at'),
          })),
        ),
    );
  }
  const extensions = held.filter((row) => row.kind === 'extension').map(rowOf);
  for (const slice of statementSlices(extensions, NUMBER_COLUMNS)) {
    await run(
      tx,
      db
        .withSchema(schema)
        .insertInto('extensions')
        .values(slice)
        .onConflict((conflict) =>
          conflict
            .columns(['account_id', 'number'])
            .doUpdateSet((eb) => ({ assigned_at: eb.ref('excluded.assigned_at') })),
        ),
    );
  }
}

/**
 * Accounts and their numbers. One shard, because the toll-free index is unique across accounts: with
 * several shards, the account a number moves to could be applied before the account it left, and a
 * shard that lags could then re-assign it to its old holder. In one shard, the log order is the order
 * the number registry granted the number in. The work is small (calls and money events are skipped
 * without a query), and every shard reads the whole log anyway.
 */
export const accountsProjection: Projection = {
  name: 'accounts',
  description: 'account profiles, status, current plan, and the numbers each account holds (toll-free lookup)',
  migrations: accountsMigrations,
  // Only its event types: the calls and money that are most of the log never reach it, and while they flow its
  // checkpoint moves about once a second (the worker's quietCheckpointIntervalMs), not with every batch.
  filter: { streamPrefixes: ['account-'], eventTypes: [...ACCOUNT_EVENTS] },
  shards: 1,
  async apply(tx, events, { schema }) {
    // Most of the log is calls and money, which this read model ignores: a batch of them costs nothing.
    const batch = accountEvents(events).filter(({ event }) => ACCOUNT_EVENTS.has(event.type));
    const byAccount = groupBy(batch, (event) => event.accountId);
    if (byAccount.size === 0) return;
    const existing = await run(
      tx,
      db
        .withSchema(schema)
        .selectFrom('accounts')
        .selectAll()
        .where('account_id', 'in', [...byAccount.keys()]),
    );
    const current = new Map(existing.map((row) => [row.account_id, row]));
    const applied = new Map(existing.map((row) => [row.account_id, BigInt(row.stream_version)]));
    const rows: AccountsTable[] = [];
    for (const [accountId, accountEventsInBatch] of byAccount) {
      let row = current.get(accountId);
      const pending = accountEventsInBatch.filter((item) => item.version > (applied.get(accountId) ?? 0n));
      for (const item of pending) row = applyEvent(row, item);
      if (pending.length > 0 && row !== undefined) rows.push(row);
    }
    // Numbers in log order across accounts: the order in which a toll-free number changed hands.
    const numbers = new NumberChanges();
    for (const { accountId, event, version, at } of batch) {
      if (version <= (applied.get(accountId) ?? 0n)) continue;
      if (event.type === 'NumberAssigned') numbers.assign(accountId, event.data.kind, event.data.number, at);
      if (event.type === 'NumberReleased') numbers.release(accountId, event.data.kind, event.data.number);
    }
    await writeAccounts(tx, schema, rows);
    await writeNumbers(tx, schema, numbers);
  },
};
