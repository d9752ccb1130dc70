import type { ProjectionMigration } from '@khata/projector';

/**
 * The double-entry journal (SPEC §10): one entry per money event (its id is the event's id), with two
 * or more lines on the ledger accounts of `@khata/domain`'s chart (`LEDGER_ACCOUNTS`). Each line
 * debits or credits a positive amount; customer-balance lines carry the customer's account id. Rows
 * are only ever inserted.
 */
export const journalMigrations: readonly ProjectionMigration[] = [
  {
    version: 1,
    name: 'journal',
    sql: (schema) => `
CREATE TABLE ${schema}.journal_entries (
  entry_id       uuid        PRIMARY KEY,
  account_id     uuid        NOT NULL,
  stream_version bigint      NOT NULL,
  event_type     text        NOT NULL,
  description    text        NOT NULL,
  posted_at      timestamptz NOT NULL,
  UNIQUE (account_id, stream_version)
);
CREATE INDEX journal_entries_by_time ON ${schema}.journal_entries (posted_at);

CREATE TABLE ${schema}.journal_lines (
  entry_id            uuid          NOT NULL REFERENCES ${schema}.journal_entries (entry_id),
  line_number         smallint      NOT NULL,
  ledger_account      text          NOT NULL,
  customer_account_id uuid,
  debit               numeric(20,4) NOT NULL,
  credit              numeric(20,4) NOT NULL,
  PRIMARY KEY (entry_id, line_number),
  CHECK ((debit > 0 AND credit = 0) OR (debit = 0 AND credit > 0))
);
CREATE INDEX journal_lines_by_customer ON ${schema}.journal_lines (customer_account_id)
  WHERE customer_account_id IS NOT NULL;
CREATE INDEX journal_lines_by_ledger_account ON ${schema}.journal_lines (ledger_account);`,
  },
];

export interface JournalEntriesTable {
  entry_id: string;
  account_id: string;
  stream_version: string;
  event_type: string;
  description: string;
  posted_at: Date;
}

export interface JournalLinesTable {
  entry_id: string;
  line_number: number;
  ledger_account: string;
  customer_account_id: string | null;
  debit: string;
  credit: string;
}

export interface JournalDatabase {
  journal_entries: JournalEntriesTable;
  journal_lines: JournalLinesTable;
}
