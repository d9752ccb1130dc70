/**
 * @khata/event-store — append-only streams with optimistic concurrency and a gap-free global log
 * (SPEC §3), behind one interface with four adapters: PostgreSQL, embedded PGlite (the same SQL),
 * EventStoreDB, and in-memory.
 *
 * Invariants every adapter keeps (and `contract.ts` tests):
 * - an append is all-or-nothing and moves the stream's version by exactly its event count, with an
 *   exact compare-and-set on the expected version (never a blind increment);
 * - an event id is stored once: the same append again returns the original result, the same id with
 *   other content is refused;
 * - a subscriber sees every event exactly once, each stream in version order, however many writers
 *   append concurrently; positions are opaque strings that compare in log order;
 * - bad input is refused with a typed error before anything is written.
 *
 * A subscription ends at its first read error; `followLog` is how a process follows the log for good (it
 * subscribes again from the last handled batch, with back-off, and reports its state).
 */
export {
  AppendGuardRefused,
  DuplicateEventId,
  EventStoreError,
  EventStoreUnavailable,
  InvalidAppend,
  TransactionIdsBehind,
  WrongExpectedVersion,
} from './errors.ts';
export { EventStoreDbEventStore } from './eventstoredb.ts';
export { type EventStoreSettings, type OpenOptions, openEventStore } from './factory.ts';
export { matchesFilter } from './filter.ts';
export {
  FOLLOW_RETRY_DELAY_MILLISECONDS_MAX,
  FOLLOW_RETRY_DELAY_MILLISECONDS_MIN,
  FOLLOW_STABLE_MILLISECONDS,
  type FollowerState,
  type FollowerStatus,
  type FollowLogOptions,
  followLog,
  followRetryDelayMilliseconds,
  LogFollower,
} from './follower.ts';
export * as limits from './limits.ts';
export { MemoryEventStore, type MemoryEventStoreOptions } from './memory.ts';
export { eventStoreMigrations } from './sql/schema.ts';
export { LOG_CACHE_EVENTS_DEFAULT, SqlEventStore, type SqlEventStoreOptions } from './sql/store.ts';
export type * from './types.ts';
export { streamCategory } from './validation.ts';
