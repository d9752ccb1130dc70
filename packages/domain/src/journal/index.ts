/**
 * The double-entry journal of account events (SPEC §10): the chart of accounts, the balanced entry each
 * money event posts, and the check every entry passes (Σ debits = Σ credits).
 */
export {
  assertBalanced,
  customerBalanceChange,
  type JournalEntryDraft,
  type JournalLine,
  journalEntryOf,
  LEDGER_ACCOUNTS,
  type LedgerAccount,
} from './postings.ts';
