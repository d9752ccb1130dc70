import { journalEntryOf, Money } from '@khata/domain';
import type { Projection } from '@khata/projector';
import { tableColumns } from '@khata/sql';
import { accountEvents } from '../shared/accounts.ts';
import { insertNewRows, type JsonRow } from '../shared/rows.ts';
import { type JournalEntriesTable, type JournalLinesTable, journalMigrations } from './migrations.ts';

/**
 * The second check of the double-entry rule, on the rows about to be written (the domain checked the
 * postings it built): every line one positive side, at least two lines, Σ debits = Σ credits. A
 * failure stops the projection on this event rather than write an unbalanced journal.
 */
export function assertEntryRowsBalanced(entryId: string, lines: readonly JournalLinesTable[]): void {
  if (lines.length < 2) throw new Error(`journal entry ${entryId} has ${lines.length} line(s)`);
  let debits = Money.zero;
  let credits = Money.zero;
  for (const line of lines) {
    const debit = Money.parse(line.debit);
    const credit = Money.parse(line.credit);
    if (debit.isNegative() || credit.isNegative() || debit.isZero() === credit.isZero()) {
      throw new Error(`journal entry ${entryId}, line ${line.line_number}: debit ${debit} and credit ${credit}`);
    }
    debits = debits.plus(debit);
    credits = credits.plus(credit);
  }
  if (!debits.equals(credits)) {
    throw new Error(`journal entry ${entryId} is unbalanced: debits ${debits}, credits ${credits}`);
  }
}

const ENTRY_COLUMNS = tableColumns<JournalEntriesTable>()(
  'entry_id',
  'account_id',
  'stream_version',
  'event_type',
  'description',
  'posted_at',
);
const LINE_COLUMNS = tableColumns<JournalLinesTable>()(
  'entry_id',
  'line_number',
  'ledger_account',
  'customer_account_id',
  'debit',
  'credit',
);

/**
 * One journal entry per money event, built by the domain (`journalEntryOf`), checked again here, and
 * inserted keyed by the event id: a batch applied twice inserts nothing the second time.
 */
export const journalProjection: Projection = {
  name: 'journal',
  description: 'double-entry journal: one balanced entry per money event, customer lines tagged by account',
  migrations: journalMigrations,
  filter: { streamPrefixes: ['account-'] },
  shards: 4,
  async apply(tx, events, { schema }) {
    const entries: JsonRow<JournalEntriesTable>[] = [];
    const lines: JournalLinesTable[] = [];
    for (const { accountId, event, eventId, version, atText } of accountEvents(events)) {
      const entry = journalEntryOf(accountId, event);
      if (entry === null) continue;
      const rows = entry.lines.map(
        (line, index): JournalLinesTable => ({
          entry_id: eventId,
          line_number: index + 1,
          ledger_account: line.ledgerAccount,
          customer_account_id: line.customerAccountId,
          debit: line.debit.toString(),
          credit: line.credit.toString(),
        }),
      );
      assertEntryRowsBalanced(eventId, rows);
      entries.push({
        entry_id: eventId,
        account_id: accountId,
        stream_version: version.toString(),
        event_type: event.type,
        description: entry.description,
        posted_at: atText,
      });
      lines.push(...rows);
    }
    // Entries before lines: each line references its entry.
    await insertNewRows(tx, schema, 'journal_entries', entries, { columns: ENTRY_COLUMNS, conflict: ['entry_id'] });
    await insertNewRows(tx, schema, 'journal_lines', lines, {
      columns: LINE_COLUMNS,
      conflict: ['entry_id', 'line_number'],
    });
  },
};
