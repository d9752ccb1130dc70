/**
 * @khata/ledger — command handling for accounts: validate a command against its schema, load the
 * account (snapshot + events), decide, and append the events with the expected version.
 *
 * Invariants: one writer per account per process, which batches that account's commands into one
 * append; a command id is answered with its first outcome forever (rejections included); every event id
 * derives from its command or from the fact it records, so nothing is appended twice; each event's
 * metadata carries the SHA-256 chain over its stream, which `verifyStream` recomputes.
 */
export {
  AccountWriter,
  type AccountWriterOptions,
  APPEND_ATTEMPTS_MAX,
  BATCH_COMMANDS_MAX,
  CACHED_ACCOUNTS_MAX,
  type CommandMeta,
  GROUP_COMMIT_ACCOUNTS_MAX,
  GROUP_COMMIT_IN_FLIGHT_MAX,
  type LoadedAccount,
  SNAPSHOT_EVERY_EVENTS,
} from './account-writer.ts';
export { type ChainBreak, type ChainReport, chainHash, GENESIS_HASH, verifyStream } from './chain.ts';
export { GroupCommit, type GroupCommitOptions } from './group-commit.ts';
export {
  accountIdOf,
  accountStream,
  eventIdFor,
  KHATA_NAMESPACE,
  nameBasedId,
  uuidNamespace,
} from './ids.ts';
export { InvalidCommand, LEDGER_BATCH_COMMANDS_MAX, Ledger, type LedgerOptions } from './ledger.ts';
export type { AcceptedEvent, CommandOutcome, LoggedEvent, LoggedOutcome } from './outcome.ts';
export { APPEND_AND_LOG_FUNCTION, ledgerMigrations } from './schema.ts';
export {
  type CommandLog,
  MemoryCommandLog,
  MemorySnapshotStore,
  type Snapshot,
  type SnapshotStore,
  SqlCommandLog,
  SqlSnapshotStore,
} from './stores.ts';
