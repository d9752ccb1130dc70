import { Money } from '@khata/domain';
import { first, queryBuilder, run, type SqlQueryable } from '@khata/sql';
import { trimMoney } from '../balances/queries.ts';
import { checkFilter, decodeCursor, type Page, type PageRequest, pageLimit, pageOf } from '../shared/pages.ts';
import type { JournalDatabase, JournalEntriesTable, JournalLinesTable } from './migrations.ts';

const db = queryBuilder<JournalDatabase>();

export interface JournalLineView {
  readonly lineNumber: number;
  /** A ledger account of the chart in `@khata/domain` (`LEDGER_ACCOUNTS`). */
  readonly ledgerAccount: string;
  /** The customer a `liability:customer-balances` line belongs to; null on the house's accounts. */
  readonly customerAccountId: string | null;
  readonly debit: string;
  readonly credit: string;
}

export interface JournalEntryView {
  /** The id of the event that posted it. */
  readonly entryId: string;
  readonly accountId: string;
  readonly streamVersion: string;
  readonly eventType: string;
  readonly description: string;
  readonly postedAt: string;
  readonly lines: readonly JournalLineView[];
  readonly currency: 'INR';
}

function lineView(row: JournalLinesTable): JournalLineView {
  return {
    lineNumber: row.line_number,
    ledgerAccount: row.ledger_account,
    customerAccountId: row.customer_account_id,
    debit: trimMoney(row.debit),
    credit: trimMoney(row.credit),
  };
}

/** An account's journal entries with their lines, in posting order (oldest first), page by page. */
export async function journalOfAccount(
  tx: SqlQueryable,
  schema: string,
  accountId: string,
  request: PageRequest = {},
): Promise<Page<JournalEntryView>> {
  const limit = pageLimit(request.limit);
  let query = db
    .withSchema(schema)
    .selectFrom('journal_entries')
    .selectAll()
    .where('account_id', '=', checkFilter('accountId', accountId, 'uuid'))
    .orderBy('stream_version')
    .limit(limit + 1);
  if (request.cursor != null) {
    const [version] = decodeCursor('journal', request.cursor, ['integer']) as [string];
    query = query.where('stream_version', '>', version);
  }
  const entries = await run(tx, query);
  const kept = entries.slice(0, limit);
  const lines =
    kept.length === 0
      ? []
      : await run(
          tx,
          db
            .withSchema(schema)
            .selectFrom('journal_lines')
            .selectAll()
            .where(
              'entry_id',
              'in',
              kept.map((entry) => entry.entry_id),
            )
            .orderBy('entry_id')
            .orderBy('line_number'),
        );
  const linesOf = new Map<string, JournalLineView[]>();
  for (const line of lines) {
    const list = linesOf.get(line.entry_id) ?? [];
    list.push(lineView(line));
    linesOf.set(line.entry_id, list);
  }
  return pageOf(
    entries,
    limit,
    'journal',
    (entry) => [entry.stream_version],
    (entry: JournalEntriesTable): JournalEntryView => ({
      entryId: entry.entry_id,
      accountId: entry.account_id,
      streamVersion: entry.stream_version,
      eventType: entry.event_type,
      description: entry.description,
      postedAt: entry.posted_at.toISOString(),
      lines: linesOf.get(entry.entry_id) ?? [],
      currency: 'INR',
    }),
  );
}

export interface TrialBalanceRow {
  readonly ledgerAccount: string;
  readonly debits: string;
  readonly credits: string;
  /** debits − credits: positive for a debit balance, negative for a credit balance. */
  readonly balance: string;
}

export interface TrialBalance {
  readonly accounts: readonly TrialBalanceRow[];
  readonly totals: { readonly debits: string; readonly credits: string };
  /** Σ debits = Σ credits over the whole journal. */
  readonly balanced: boolean;
  readonly currency: 'INR';
}

/** Σ debits and Σ credits per ledger account, over entries posted before `postedBefore` (all when absent). */
export async function trialBalance(
  tx: SqlQueryable,
  schema: string,
  options: { readonly postedBefore?: string } = {},
): Promise<TrialBalance> {
  let query = db
    .withSchema(schema)
    .selectFrom('journal_lines as l')
    .innerJoin('journal_entries as e', 'e.entry_id', 'l.entry_id')
    .select((eb) => [
      'l.ledger_account',
      eb.fn.sum<string>('l.debit').as('debits'),
      eb.fn.sum<string>('l.credit').as('credits'),
    ])
    .groupBy('l.ledger_account')
    .orderBy('l.ledger_account');
  if (options.postedBefore !== undefined) {
    query = query.where('e.posted_at', '<', new Date(checkFilter('postedBefore', options.postedBefore, 'instant')));
  }
  const rows = await run(tx, query);
  let debits = Money.zero;
  let credits = Money.zero;
  const accounts = rows.map((row) => {
    const debit = Money.parse(trimMoney(row.debits));
    const credit = Money.parse(trimMoney(row.credits));
    debits = debits.plus(debit);
    credits = credits.plus(credit);
    return {
      ledgerAccount: row.ledger_account,
      debits: debit.toString(),
      credits: credit.toString(),
      balance: debit.minus(credit).toString(),
    };
  });
  return {
    accounts,
    totals: { debits: debits.toString(), credits: credits.toString() },
    balanced: debits.equals(credits),
    currency: 'INR',
  };
}

export interface UnbalancedEntry {
  readonly entryId: string;
  readonly accountId: string;
  readonly lines: number;
  readonly debits: string;
  readonly credits: string;
}

/** At most this many unbalanced entries are listed at once: one is already an incident. */
export const UNBALANCED_ENTRIES_MAX = 1_000;

/**
 * Entries that break the double-entry rule: Σ debits ≠ Σ credits, or fewer than two lines. The audit
 * verifier calls it; it returns [] unless the journal was tampered with or a bug slipped through both
 * checks on the way in.
 */
export async function unbalancedEntries(tx: SqlQueryable, schema: string): Promise<readonly UnbalancedEntry[]> {
  const rows = await run(
    tx,
    db
      .withSchema(schema)
      .selectFrom('journal_entries as e')
      .leftJoin('journal_lines as l', 'l.entry_id', 'e.entry_id')
      .select((eb) => [
        'e.entry_id',
        'e.account_id',
        eb.fn.count<string>('l.entry_id').as('lines'),
        eb.fn.coalesce(eb.fn.sum<string>('l.debit'), eb.lit(0)).as('debits'),
        eb.fn.coalesce(eb.fn.sum<string>('l.credit'), eb.lit(0)).as('credits'),
      ])
      .groupBy(['e.entry_id', 'e.account_id'])
      .having((eb) =>
        eb.or([
          eb(eb.fn.coalesce(eb.fn.sum('l.debit'), eb.lit(0)), '<>', eb.fn.coalesce(eb.fn.sum('l.credit'), eb.lit(0))),
          eb(eb.fn.count('l.entry_id'), '<', eb.lit(2)),
        ]),
      )
      .orderBy('e.entry_id')
      .limit(UNBALANCED_ENTRIES_MAX),
  );
  return rows.map((row) => ({
    entryId: row.entry_id,
    accountId: row.account_id,
    lines: Number(row.lines),
    debits: trimMoney(String(row.debits)),
    credits: trimMoney(String(row.credits)),
  }));
}

/**
 * A customer's balance as the journal has it: credits − debits of its customer-balance lines. Equals
 * the balances read model's wallet; the audit compares the two.
 */
export async function customerBalanceOf(tx: SqlQueryable, schema: string, accountId: string): Promise<string> {
  const row = await first(
    tx,
    db
      .withSchema(schema)
      .selectFrom('journal_lines')
      .select((eb) => [
        eb.fn.coalesce(eb.fn.sum<string>('credit'), eb.lit(0)).as('credits'),
        eb.fn.coalesce(eb.fn.sum<string>('debit'), eb.lit(0)).as('debits'),
      ])
      .where('customer_account_id', '=', checkFilter('accountId', accountId, 'uuid')),
  );
  const credits = Money.parse(trimMoney(String(row?.credits ?? '0')));
  const debits = Money.parse(trimMoney(String(row?.debits ?? '0')));
  return credits.minus(debits).toString();
}
