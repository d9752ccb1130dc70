/**
 * The event store contract (SPEC §3). Every adapter implements `EventStore` with the same semantics;
 * the contract suite in `contract.ts` is the executable definition.
 */

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * What the writer expects the stream to be before the append:
 * - `'any'`: no check (still applied with an exact compare-and-set internally, never a blind increment);
 * - `'no_stream'`: the stream must not exist (`0n` means the same);
 * - `'stream_exists'`: the stream must have at least one event;
 * - a bigint: the stream must have exactly that many events.
 */
export type ExpectedVersion = 'any' | 'no_stream' | 'stream_exists' | bigint;

/**
 * A place in the global log. Opaque to callers, but totally ordered: within one adapter, comparing two
 * positions as strings orders them as the log does (each adapter pads its numbers to a fixed width).
 */
export type Position = string & { readonly __brand: 'Position' };

export interface EventMetadata {
  readonly commandId?: string;
  readonly correlationId?: string;
  readonly causationId?: string;
  readonly actor?: string;
  /** When the command handler decided the event (the injected clock), ISO 8601. */
  readonly recordedAt?: string;
  readonly [key: string]: JsonValue | undefined;
}

export interface NewEvent {
  /** A UUID. Deterministic (derived from the command id) where a retried command must not duplicate. */
  readonly eventId: string;
  /** Past tense, e.g. `CdrRated`. */
  readonly type: string;
  /** Version of `data`'s shape; readers upcast older versions. Defaults to 1. */
  readonly schemaVersion?: number;
  readonly data: JsonObject;
  readonly metadata?: EventMetadata;
}

export interface RecordedEvent {
  readonly eventId: string;
  readonly type: string;
  readonly schemaVersion: number;
  readonly data: JsonObject;
  readonly metadata: EventMetadata;
  readonly streamId: string;
  /** 1-based position within its stream: the stream's first event has version 1n. */
  readonly version: bigint;
  readonly position: Position;
  /** When the store wrote it (the store's clock, not the domain's). */
  readonly storedAt: Date;
}

export interface AppendResult {
  /** The stream's version after the append: pass it as `expected` for the next append. */
  readonly nextVersion: bigint;
  /** Position of the last appended event. */
  readonly position: Position;
}

export interface ReadStreamOptions {
  /** Forwards: first version to return (default 1n). Backwards: last version to return (default: the end). */
  readonly fromVersion?: bigint;
  readonly maxCount?: number;
  readonly direction?: 'forwards' | 'backwards';
}

export interface StreamSlice {
  /** The stream's current version; 0n when the stream does not exist. */
  readonly version: bigint;
  readonly events: readonly RecordedEvent[];
}

export interface EventFilter {
  /** Only streams whose id starts with one of these, e.g. `['account-']`. */
  readonly streamPrefixes?: readonly string[];
  readonly eventTypes?: readonly string[];
}

export interface ReadAllOptions {
  /** Exclusive: events strictly after this position. From the start when absent. */
  readonly after?: Position | null;
  readonly maxCount: number;
  readonly filter?: EventFilter;
}

export interface ReadAllPage {
  readonly events: readonly RecordedEvent[];
  /**
   * How far the log was read: pass it as `after` next time. It moves past events the filter dropped,
   * so a filtered reader does not rescan them. `null` only when the log is empty.
   */
  readonly last: Position | null;
  /** True when nothing visible lies beyond `last` at the moment of the read. */
  readonly caughtUp: boolean;
}

export interface SubscribeOptions {
  readonly after?: Position | null;
  readonly filter?: EventFilter;
  readonly batchSize?: number;
  readonly signal: AbortSignal;
  /**
   * Idle polling once caught up backs off from `min` to `max` ms (defaults in limits.ts); appends in
   * this process, and NOTIFY where enabled, wake the subscriber sooner.
   */
  readonly pollIntervalMs?: { readonly min: number; readonly max: number };
  /**
   * While the log does not move, a batch without events at the subscription's checkpoint comes about this often
   * (0, the default: never), so a subscriber that holds back storing its checkpoint gets a turn to store it.
   */
  readonly idleBatchIntervalMs?: number;
  /**
   * Never waits for slower subscribers of the same process (SQL stores): where the process's shared log window is
   * full of events they have yet to read, this subscription reads ahead from the database on its own instead. For
   * the hot projection, whose freshness call authorization sees, while read models catch up with a burst.
   */
  readonly latencyCritical?: boolean;
}

export interface SubscriptionBatch {
  /** In log order; for each stream in version order; possibly empty when only filtered events passed. */
  readonly events: readonly RecordedEvent[];
  /** Store this to resume after this batch. */
  readonly checkpoint: Position;
  readonly caughtUp: boolean;
}

export type EventStoreKind = 'postgres' | 'pglite' | 'eventstoredb' | 'memory';

/** One stream's part of a multi-stream append (`appendToStreams`). */
export interface StreamAppend {
  readonly stream: string;
  readonly events: readonly NewEvent[];
  readonly expected: ExpectedVersion;
  /**
   * Documents to record in the same statement as this append if it succeeds (the ledger's command-log entries),
   * when the store has a companion writer (SqlEventStoreOptions.appendFunction). An outcome says whether they were.
   */
  readonly companions?: readonly JsonObject[];
  /**
   * Append only if none of the companions was recorded before (the ledger: none of these commands is in its log);
   * otherwise, or when the store cannot check, the outcome is AppendGuardRefused and nothing is written. Only for
   * stores whose `guardsCompanions` is true.
   */
  readonly guarded?: boolean;
}

/**
 * What one stream's append came to: its result, or the error `appendToStream` would have thrown for it
 * alone (WrongExpectedVersion, DuplicateEventId, InvalidAppend…). Other streams are not affected by it.
 */
export type StreamAppendOutcome =
  | {
      readonly ok: true;
      readonly result: AppendResult;
      /** The append's `companions` were recorded with it, in the same transaction. */
      readonly companionsRecorded?: boolean;
    }
  | { readonly ok: false; readonly error: unknown };

export interface EventStore {
  readonly kind: EventStoreKind;
  appendToStream(
    stream: string,
    events: readonly NewEvent[],
    options: { readonly expected: ExpectedVersion },
  ): Promise<AppendResult>;
  /**
   * Group commit: appends to several streams at once, each with its own expected version and each
   * all-or-nothing on its own, with the same semantics as one `appendToStream` per stream (idempotent
   * retries, typed errors per stream). Adapters that can do it in one round trip and one commit
   * implement it; callers fall back to `appendToStream` per stream where it is absent. A stream may
   * appear at most once per call.
   */
  appendToStreams?(appends: readonly StreamAppend[]): Promise<readonly StreamAppendOutcome[]>;
  /** `appendToStreams` records companions and checks guarded appends against them (a SQL store with its function). */
  readonly guardsCompanions?: boolean;
  readStream(stream: string, options?: ReadStreamOptions): Promise<StreamSlice>;
  readAll(options: ReadAllOptions): Promise<ReadAllPage>;
  /**
   * Events per stream after `after` that match `filter`, counting at most `limit` events in log order, without
   * reading them (lag metrics). Optional: callers count with `readAll` where it is absent.
   */
  countEventsAfter?(options: {
    readonly after: Position | null;
    readonly filter?: EventFilter;
    readonly limit: number;
  }): Promise<ReadonlyMap<string, number>>;
  /** Catch-up, then live: yields batches until `signal` aborts. Never skips, never reorders a stream. */
  subscribe(options: SubscribeOptions): AsyncIterable<SubscriptionBatch>;
  /** Position of the newest committed event, or null when the log is empty. */
  headPosition(): Promise<Position | null>;
  close(): Promise<void>;
}
