import type { ExpectedVersion } from './types.ts';

/**
 * Operational failures of the store. Each has a stable `code` and says whether retrying the same call
 * can succeed; callers branch on those, never on messages.
 */
export abstract class EventStoreError extends Error {
  abstract readonly code: string;
  abstract readonly retryable: boolean;
}

/** The stream's version was not what the writer expected. Nothing was written. */
export class WrongExpectedVersion extends EventStoreError {
  readonly code = 'WRONG_EXPECTED_VERSION';
  readonly retryable = true;
  override readonly name = 'WrongExpectedVersion';
  readonly stream: string;
  readonly expected: ExpectedVersion;
  /** The stream's version when the append was refused (0n: it does not exist). */
  readonly actual: bigint;

  constructor(stream: string, expected: ExpectedVersion, actual: bigint) {
    super(`stream ${stream}: expected version ${String(expected)}, actual ${actual}`);
    this.stream = stream;
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * A guarded append (StreamAppend.guarded) was not made: one of its companions was recorded before, or the store
 * could not check (no companion writer, or only the single-append path was left). Nothing was written; the
 * caller takes its unguarded path (for the ledger: read the command log first).
 */
export class AppendGuardRefused extends EventStoreError {
  readonly code = 'APPEND_GUARD_REFUSED';
  readonly retryable = true;
  override readonly name = 'AppendGuardRefused';
  readonly stream: string;
  readonly reason: 'recorded' | 'unchecked';

  constructor(stream: string, reason: 'recorded' | 'unchecked') {
    super(
      reason === 'recorded'
        ? `stream ${stream}: a companion of the append was recorded before`
        : `stream ${stream}: the append's guard could not be checked`,
    );
    this.stream = stream;
    this.reason = reason;
  }
}

/** An event id is already stored with different content (or in another stream). Nothing was written. */
export class DuplicateEventId extends EventStoreError {
  readonly code = 'DUPLICATE_EVENT_ID';
  readonly retryable = false;
  override readonly name = 'DuplicateEventId';
  readonly eventId: string;
  readonly stream: string;

  constructor(stream: string, eventId: string, reason: string) {
    super(`event ${eventId} for stream ${stream} is already stored ${reason}`);
    this.eventId = eventId;
    this.stream = stream;
  }
}

/** The append itself is malformed (stream name, event shape, size). Nothing was written. */
export class InvalidAppend extends EventStoreError {
  readonly code: 'INVALID_STREAM_NAME' | 'INVALID_EVENT' | 'EVENT_TOO_LARGE' | 'TOO_MANY_EVENTS';
  readonly retryable = false;
  override readonly name = 'InvalidAppend';
  /** Which input was wrong, e.g. `stream` or `events[2].data.amount`. */
  readonly field: string;

  constructor(code: InvalidAppend['code'], field: string, message: string) {
    super(`${field}: ${message}`);
    this.code = code;
    this.field = field;
  }
}

/** The backing database or server could not be reached. Nothing was written. */
export class EventStoreUnavailable extends EventStoreError {
  readonly code = 'EVENT_STORE_UNAVAILABLE';
  readonly retryable = true;
  override readonly name = 'EventStoreUnavailable';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The database's transaction ids are behind the ids stored on events: it was restored logically
 * (pg_dump/pg_restore) into a younger cluster. New events would sort before history and subscribers
 * would stall or skip, so the store refuses to open. See docs/operations.md.
 */
export class TransactionIdsBehind extends EventStoreError {
  readonly code = 'TRANSACTION_IDS_BEHIND';
  readonly retryable = false;
  override readonly name = 'TransactionIdsBehind';
}
