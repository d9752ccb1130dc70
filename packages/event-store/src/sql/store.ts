import { isDeepStrictEqual } from 'node:util';
import { databaseErrorDetails, isConnectionError, migrate, type SqlClient } from '@khata/sql';
import {
  AppendGuardRefused,
  DuplicateEventId,
  EventStoreError,
  EventStoreUnavailable,
  TransactionIdsBehind,
  WrongExpectedVersion,
} from '../errors.ts';
import { matchesFilter } from '../filter.ts';
import { ANY_APPEND_ATTEMPTS_MAX, APPEND_GROUP_EVENTS_MAX, APPEND_STREAMS_MAX, READ_COUNT_MAX } from '../limits.ts';
import { pollingSubscription, Waker } from '../subscription.ts';
import type {
  AppendResult,
  EventFilter,
  EventStore,
  ExpectedVersion,
  NewEvent,
  Position,
  ReadAllOptions,
  ReadAllPage,
  ReadStreamOptions,
  RecordedEvent,
  StreamAppend,
  StreamAppendOutcome,
  StreamSlice,
  SubscribeOptions,
  SubscriptionBatch,
} from '../types.ts';
import {
  streamCategory,
  type ValidatedEvent,
  validateEvents,
  validateReadCount,
  validateStreamName,
} from '../validation.ts';
import { eventStoreMigrations } from './schema.ts';

const NOTIFY_CHANNEL = 'khata_events';

interface EventRow {
  transaction_id: string;
  global_position: string;
  stream_id: string | null;
  stream_version: string;
  event_id: string;
  event_type: string;
  schema_version: number;
  data: RecordedEvent['data'];
  metadata: RecordedEvent['metadata'];
  stored_ms: string;
}

interface GroupAppendRow {
  idx: number;
  /** `refused`: a guarded append whose companions were recorded before (the companion function only). */
  outcome: 'ok' | 'conflict' | 'retry' | 'refused';
  next_version: string | null;
  last_tx: string | null;
  last_gp: string | null;
}

interface AppendRow {
  outcome: 'ok' | 'conflict' | 'retry';
  next_version: string | null;
  last_tx: string | null;
  last_gp: string | null;
  actual_version: string;
}

// The stored time travels as integer epoch milliseconds: parsing timestamptz text into a Date costs
// more per row than the rest of the decoding together, and a Date holds milliseconds anyway.
const eventColumns = (alias: string): string =>
  `${alias}transaction_id, ${alias}global_position, ${alias}stream_id, ${alias}stream_version, ${alias}event_id,
  ${alias}event_type, ${alias}schema_version, ${alias}data, ${alias}metadata,
  floor(extract(epoch FROM ${alias}stored_at) * 1000)::int8 AS stored_ms`;
const EVENT_COLUMNS = eventColumns('');

export function sqlPosition(transactionId: string, globalPosition: string): Position {
  return `${transactionId.padStart(20, '0')}:${globalPosition.padStart(20, '0')}` as Position;
}

function parsePosition(position: Position | null | undefined): [string, string] {
  if (position === null || position === undefined) return ['0', '0'];
  const match = /^(\d{20}):(\d{20})$/.exec(position);
  if (match === null) throw new RangeError(`not a position of this store: ${position}`);
  return [BigInt(match[1] as string).toString(), BigInt(match[2] as string).toString()];
}

function toRecorded(row: EventRow): RecordedEvent {
  return {
    eventId: row.event_id,
    type: row.event_type,
    schemaVersion: row.schema_version,
    data: row.data,
    metadata: row.metadata,
    streamId: row.stream_id as string,
    version: BigInt(row.stream_version),
    position: sqlPosition(row.transaction_id, row.global_position),
    storedAt: new Date(Number(row.stored_ms)),
  };
}

function expectedToText(expected: ExpectedVersion): string {
  if (typeof expected === 'bigint') {
    if (expected < 0n) throw new RangeError('expected version must not be negative');
    return expected.toString();
  }
  if (expected !== 'any' && expected !== 'no_stream' && expected !== 'stream_exists') {
    throw new RangeError(`unknown expected version ${String(expected)}`);
  }
  return expected;
}

function eventsJson(events: readonly ValidatedEvent[]): string {
  // Data and metadata were serialized once during validation; reuse that text instead of re-encoding.
  const parts = events.map(
    (event) =>
      `{"id":"${event.eventId}","type":${JSON.stringify(event.type)},"sv":${event.schemaVersion},` +
      `"data":${event.dataJson},"meta":${event.metadataJson}}`,
  );
  return `[${parts.join(',')}]`;
}

export interface SqlEventStoreOptions {
  /** Send NOTIFY on every append so subscribers in other processes wake at once instead of polling. */
  readonly notify?: boolean;
  /**
   * Events of the log's recent tail kept in memory (0: none), so that the many subscribers of one process
   * (every read model, the process managers, the hot projection, the registry and tariff followers), whatever
   * their filters, share one read and one JSON parse of each page instead of each reading the log itself.
   * See `LogWindow`.
   */
  readonly logCacheEvents?: number;
  /**
   * How long a reader that stopped reading still holds the window's events (default LOG_CACHE_RETAIN_MS_DEFAULT).
   * The window keeps what some reader of the last `logCacheRetainMs` has not read yet (up to `logCacheEvents`);
   * what all of them have passed it drops.
   */
  readonly logCacheRetainMs?: number;
  /**
   * How long a reader inside a full window may go without moving on and still hold back the reader at the window's
   * end (default LOG_CACHE_HOLD_ACTIVE_MS_DEFAULT); see `#extensionFor`.
   */
  readonly logCacheHoldActiveMs?: number;
  /** Close the SQL client when the store closes (false when the client is shared). */
  readonly ownsClient?: boolean;
  /**
   * A SQL function with `es.append_to_streams`' arguments and result that also records each successful append's
   * `companions` (passed as `r` in its element of the payload) in the same statement, e.g. the ledger's
   * `ledger.append_and_log`. Group appends carrying companions go through it; the rest through the store's own.
   */
  readonly appendFunction?: string;
}

/** SQLSTATEs undefined_function and invalid_schema_name: the companion function is not in this database. */
const FUNCTION_MISSING = new Set(['42883', '3F000']);
/** A schema-qualified function name, safe to write into a statement. */
const QUALIFIED_FUNCTION = /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/;

/**
 * A window of the global log: every event with `from < position ≤ to`, in log order, of the streams some reader
 * of this process follows (the union of their filters' stream prefixes, or every stream), whatever its type.
 * Readers whose `after` lies inside it are answered from memory, each through its own filter; one reader
 * at its end extends it with one database read that all readers waiting there share. A window whose last read
 * reached the head answers "caught up" without asking the database again for LOG_CACHE_FRESH_MS, unless an
 * append in this process or a NOTIFY says the log moved; two reads are LOG_CACHE_READ_INTERVAL_MS apart at least.
 * One window for every filter: when the log moves, the process asks the database once, not once per filter (the
 * ESL connector's four filters made four reads of every append, most of them finding nothing).
 */
/** One reader of the window: a subscription, or the direct readers of one filter. */
interface WindowReader {
  /** Where it last read from: it has every event up to here. */
  after: Position | null;
  /** When (performance.now()). */
  seenAt: number;
  /** When it last read from further on than before (or first read): a reader that stopped moving holds nothing. */
  movedAt: number;
}

interface LogWindow {
  /** The streams it holds: those with one of these prefixes (null: every stream). */
  readonly prefixes: readonly string[] | null;
  from: Position | null;
  to: Position | null;
  readonly events: RecordedEvent[];
  caughtUp: boolean;
  fetchedAt: number;
  /**
   * When a reader inside it last read from it: a window held for a laggard (not extended, yet read by the readers
   * catching up in it) is in use, not idle, however long since its last extension.
   */
  readAt: number;
  /** When its last database read started (performance.now()). */
  queriedAt: number;
  /** The log moved (an append here, or a NOTIFY) since that read started. */
  stale: boolean;
  fetching: Promise<void> | null;
}

/** Default size of the window when the factory turns the cache on. */
export const LOG_CACHE_EVENTS_DEFAULT = 10_000;
/** Default of `logCacheRetainMs`: a reader silent for this long (a stopped subscription) holds nothing back. */
export const LOG_CACHE_RETAIN_MS_DEFAULT = 10_000;
/** How long a caught-up window answers without a database read (bounds idle polling of many subscribers). */
const LOG_CACHE_FRESH_MS = 5;
/**
 * Least time between two reads of the window. Under load every append moves the log (hundreds of times a
 * second); the reads it prompts within this time are one read, which every waiting reader shares.
 */
const LOG_CACHE_READ_INTERVAL_MS = 10;
/** A window neither extended nor read for this long is moved to where a reader ahead of it reads. */
const LOG_CACHE_IDLE_MS = 1_000;
/** Events fetched at least per window extension: fewer, larger reads while subscribers are catching up. */
const LOG_CACHE_PAGE_EVENTS = 1_000;
/**
 * A reader inside a full window that moved within this time holds back the reader at the window's end: the leader
 * waits for it rather than push out events it has yet to read. A reader stuck longer (a read model failing over and
 * over, a stopped subscription) holds nothing, and falls out of the window to read on its own.
 */
export const LOG_CACHE_HOLD_ACTIVE_MS_DEFAULT = 2_000;
/** How often a held reader looks again whether the laggard stopped moving (it is woken as soon as one moves). */
const LOG_CACHE_HOLD_CHECK_MS = 50;

/**
 * The stream prefixes a window must hold to serve `filter` as well as what it holds now (`current`; undefined:
 * no window yet): `current` itself when it already serves the filter, else a new list (null: every stream). Event
 * types are left to each reader: a window holds every event of its streams.
 */
function widened(
  current: readonly string[] | null | undefined,
  filter: EventFilter | undefined,
): readonly string[] | null {
  const wanted = filter?.streamPrefixes;
  if (current === null || wanted === undefined) return null;
  if (current === undefined) return [...wanted];
  if (wanted.every((prefix) => current.some((held) => prefix.startsWith(held)))) return current;
  return [...current, ...wanted.filter((prefix) => !current.some((held) => prefix.startsWith(held)))];
}

/** Up to `maxCount` events after `after` that match `filter`, from events in log order. */
function selectAfter(
  events: readonly RecordedEvent[],
  after: Position | null,
  maxCount: number,
  filter: EventFilter | undefined,
): RecordedEvent[] {
  const start = firstAfter(events, after);
  if (filter === undefined) return events.slice(start, start + maxCount);
  const selected: RecordedEvent[] = [];
  for (let index = start; index < events.length && selected.length < maxCount; index += 1) {
    const event = events[index] as RecordedEvent;
    if (matchesFilter(event, filter)) selected.push(event);
  }
  return selected;
}

/** Index of the first event after `after` (binary search; events are in log order). */
function firstAfter(events: readonly RecordedEvent[], after: Position | null): number {
  if (after === null) return 0;
  let low = 0;
  let high = events.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((events[middle] as RecordedEvent).position <= after) low = middle + 1;
    else high = middle;
  }
  return low;
}

function covers(window: LogWindow, after: Position | null): boolean {
  if (window.from !== null && (after === null || after < window.from)) return false;
  if (window.to === null) return after === null;
  return after === null || after <= window.to;
}

/**
 * The SQL conditions of a filter on `es.events e`, with their parameters numbered from $4 (after the
 * position and the limit), and a shape that names the prepared statement.
 */
function filterConditions(filter: EventFilter | undefined): {
  conditions: string[];
  params: unknown[];
  shape: string;
} {
  const prefixes = filter?.streamPrefixes ?? null;
  const types = filter?.eventTypes ?? null;
  const params: unknown[] = [];
  const conditions: string[] = [];
  if (prefixes !== null) {
    const placeholders = prefixes.map((prefix) => {
      params.push(prefix);
      return `starts_with(e.stream_id, $${3 + params.length})`;
    });
    conditions.push(placeholders.length === 0 ? 'false' : `(${placeholders.join(' OR ')})`);
  }
  if (types !== null) {
    params.push(JSON.stringify(types));
    conditions.push(`e.event_type IN (SELECT jsonb_array_elements_text($${3 + params.length}::jsonb))`);
  }
  return { conditions, params, shape: `${prefixes?.length ?? '-'}:${types === null ? '-' : 't'}` };
}

/**
 * The event store on PostgreSQL or PGlite: one `append_to_stream` call per append (one round trip,
 * an implicit transaction), reads in `(transaction_id, global_position)` order below the oldest
 * running transaction. See schema.ts for why that order never skips.
 */
export class SqlEventStore implements EventStore {
  readonly kind: 'postgres' | 'pglite';
  readonly #client: SqlClient;
  readonly #notify: boolean;
  readonly #ownsClient: boolean;
  readonly #waker = new Waker();
  #unlisten: (() => Promise<void>) | null = null;
  readonly #readAllSql = new Map<string, string>();
  /**
   * The bit length of the newest global position a log read has seen, in the names of the prepared statements. For
   * each name PostgreSQL keeps a generic plan for the connection's life (until the table's statistics change, which
   * a burst outruns), and one made while `es.events` held a few rows reads it whole: 60 ms for a read of the log at
   * 200,000 events with a plan made at 10 (`psql`, 2026-12-06). A new name each time the log has doubled makes each
   * connection plan again, from the tables' present size; a connection holds one statement per name and doubling.
   */
  #planGeneration = 0;
  /** The global position from which the next generation starts. */
  #nextPlanGenerationAt = 1n;
  readonly #logCacheEvents: number;
  readonly #logCacheRetainMs: number;
  readonly #logCacheHoldActiveMs: number;
  #window: LogWindow | null = null;
  /**
   * Who reads through the window: each subscription under its own key, direct `readAll` callers (followers that
   * poll) under their filter's. The window keeps events until each reader seen within the retention has read past
   * them, then drops them. Kept for a fixed ten seconds instead, it held up to 4,000 events that every reader had
   * long passed in the ESL connector at 200 parks/s (now at most a few), old enough for V8 to promote them.
   */
  readonly #readers = new Map<unknown, WindowReader>();
  /** Readers held at the end of a full window, woken when any reader moves on. */
  #heldReaders: (() => void)[] = [];
  /** Null when not configured, or once the database said it does not have it (not migrated yet). */
  #appendFunction: string | null;

  get guardsCompanions(): boolean {
    return this.#appendFunction !== null;
  }

  private constructor(client: SqlClient, options: SqlEventStoreOptions) {
    this.kind = client.dialect;
    this.#client = client;
    this.#notify = options.notify ?? false;
    this.#ownsClient = options.ownsClient ?? true;
    this.#logCacheEvents = options.logCacheEvents ?? 0;
    this.#logCacheRetainMs = options.logCacheRetainMs ?? LOG_CACHE_RETAIN_MS_DEFAULT;
    if (!(this.#logCacheRetainMs > 0)) throw new RangeError('logCacheRetainMs must be positive');
    this.#logCacheHoldActiveMs = options.logCacheHoldActiveMs ?? LOG_CACHE_HOLD_ACTIVE_MS_DEFAULT;
    if (!(this.#logCacheHoldActiveMs >= 0)) throw new RangeError('logCacheHoldActiveMs must not be negative');
    const appendFunction = options.appendFunction ?? null;
    if (appendFunction !== null && !QUALIFIED_FUNCTION.test(appendFunction)) {
      throw new RangeError(`appendFunction must be a schema-qualified function name, got ${appendFunction}`);
    }
    this.#appendFunction = appendFunction;
  }

  /**
   * The log moved (an append here, or a NOTIFY): caught-up windows must ask the database again. An append here names
   * its `streams`: when the window holds none of them (an API process follows tariffs and users, and appends to
   * accounts), nothing this process reads has changed, and its followers are neither woken nor sent to the database
   * (under a CDR burst the API's tariff follower had read the log after every group commit, about 36 times a second).
   */
  #logMoved(streams?: Iterable<string>): void {
    const window = this.#window;
    if (streams !== undefined && window !== null && window.prefixes !== null) {
      const prefixes = window.prefixes;
      let held = false;
      for (const stream of streams) {
        if (prefixes.some((prefix) => stream.startsWith(prefix))) {
          held = true;
          break;
        }
      }
      if (!held) return;
    }
    if (window !== null) window.stale = true;
    this.#waker.wake();
  }

  /**
   * Opens the store: applies its migrations when asked, refuses a database whose transaction ids are
   * behind the stored events, and listens for appends from other processes when `notify` is on.
   */
  static async open(
    client: SqlClient,
    options: SqlEventStoreOptions & { readonly migrate?: boolean } = {},
  ): Promise<SqlEventStore> {
    const store = new SqlEventStore(client, options);
    try {
      if (options.migrate === true) await migrate(client, eventStoreMigrations);
      await store.#checkTransactionIds();
      if (store.#notify) {
        // An append through this store's own client has already said what moved (`#logMoved(streams)` after it
        // returned); its NOTIFY, which comes back to the listening connection, adds nothing. A client shared with
        // other writers in the process cannot tell whose append it was, so there every NOTIFY counts.
        store.#unlisten = await client.listen(NOTIFY_CHANNEL, (_payload, fromThisClient) => {
          if (!(fromThisClient && store.#ownsClient)) store.#logMoved();
        });
      }
    } catch (error) {
      if (store.#ownsClient) await client.close().catch(() => {});
      throw translate(error);
    }
    return store;
  }

  /** Migrations to hand to `khata migrate`. */
  static readonly migrations = eventStoreMigrations;

  async #checkTransactionIds(): Promise<void> {
    const schema = await this.#client.query<{ present: boolean }>(
      "SELECT to_regprocedure('es.append_to_stream(text,text,text,jsonb,boolean)') IS NOT NULL AS present",
    );
    if (schema[0]?.present !== true) {
      throw new Error('the event store schema is missing in this database: run `khata migrate` first');
    }
    const rows = await this.#client.query<{ newest: string | null; next: string }>(
      `SELECT (SELECT transaction_id FROM es.events ORDER BY transaction_id DESC LIMIT 1)::text AS newest,
              pg_snapshot_xmax(pg_current_snapshot())::text AS next`,
    );
    const row = rows[0];
    if (row?.newest !== null && row?.newest !== undefined && BigInt(row.newest) >= BigInt(row.next)) {
      throw new TransactionIdsBehind(
        `stored events carry transaction id ${row.newest} but the database is only at ${row.next}: ` +
          'it was restored logically into a new cluster; see docs/operations.md (restores)',
      );
    }
  }

  async appendToStream(
    stream: string,
    events: readonly NewEvent[],
    options: { readonly expected: ExpectedVersion },
  ): Promise<AppendResult> {
    validateStreamName(stream);
    const validated = validateEvents(events);
    const expectedText = expectedToText(options.expected);
    const payload = eventsJson(validated);
    const category = streamCategory(stream);
    for (let attempt = 1; ; attempt += 1) {
      let row: AppendRow | undefined;
      try {
        const rows = await this.#client.query<AppendRow>(
          'SELECT * FROM es.append_to_stream($1, $2, $3, $4::jsonb, $5)',
          [stream, category, expectedText, payload, this.#notify],
          { name: 'khata_es_append' },
        );
        row = rows[0];
      } catch (error) {
        const { code, constraint } = databaseErrorDetails(error);
        if (code !== '23505' || constraint !== 'events_event_id_key') throw translate(error);
        // Another append stored one of these event ids first. If it was this very append (a retry),
        // answer with its result; if the ids are used differently, findOriginal throws.
        const original = await this.#findOriginal(stream, validated);
        if (original !== null) return original;
        if (attempt >= ANY_APPEND_ATTEMPTS_MAX) throw translate(error);
        continue;
      }
      if (row === undefined) throw new Error('es.append_to_stream returned no row');
      if (row.outcome === 'ok') {
        this.#logMoved([stream]);
        return {
          nextVersion: BigInt(row.next_version as string),
          position: sqlPosition(row.last_tx as string, row.last_gp as string),
        };
      }
      if (row.outcome === 'retry' && attempt < ANY_APPEND_ATTEMPTS_MAX) {
        await jitteredPause(attempt);
        continue;
      }
      // A conflict may be a retried append that already succeeded: answer with the original result.
      const original = await this.#findOriginal(stream, validated);
      if (original !== null) return original;
      throw new WrongExpectedVersion(stream, options.expected, BigInt(row.actual_version));
    }
  }

  async appendToStreams(appends: readonly StreamAppend[]): Promise<readonly StreamAppendOutcome[]> {
    const outcomes: (StreamAppendOutcome | undefined)[] = new Array(appends.length);
    const valid: {
      index: number;
      stream: string;
      category: string;
      expected: string;
      events: ValidatedEvent[];
      companions: string | null;
      guarded: boolean;
    }[] = [];
    const streams = new Set<string>();
    appends.forEach((append, index) => {
      if (append.guarded === true && (this.#appendFunction === null || (append.companions?.length ?? 0) === 0)) {
        outcomes[index] = { ok: false, error: new AppendGuardRefused(append.stream, 'unchecked') };
        return;
      }
      try {
        validateStreamName(append.stream);
        if (streams.has(append.stream)) throw new RangeError(`stream ${append.stream} appears twice in one group`);
        streams.add(append.stream);
        valid.push({
          index,
          stream: append.stream,
          category: streamCategory(append.stream),
          expected: expectedToText(append.expected),
          events: validateEvents(append.events),
          companions:
            this.#appendFunction === null || append.companions === undefined || append.companions.length === 0
              ? null
              : JSON.stringify(append.companions),
          guarded: append.guarded === true,
        });
      } catch (error) {
        outcomes[index] = { ok: false, error: translate(error) };
      }
    });
    const single = async (index: number): Promise<void> => {
      const append = appends[index] as StreamAppend;
      if (append.guarded === true) {
        // The single path cannot check the guard: the caller takes its unguarded path.
        outcomes[index] = { ok: false, error: new AppendGuardRefused(append.stream, 'unchecked') };
        return;
      }
      try {
        const result = await this.appendToStream(append.stream, append.events, { expected: append.expected });
        outcomes[index] = { ok: true, result };
      } catch (error) {
        outcomes[index] = { ok: false, error };
      }
    };
    for (const group of groupSlices(valid)) {
      const payload = `[${group
        .map(
          (append) =>
            `{"s":${JSON.stringify(append.stream)},"c":${JSON.stringify(append.category)},"x":"${append.expected}","e":${eventsJson(append.events)}${append.companions === null ? '' : `,"r":${append.companions}`}${append.guarded ? ',"g":true' : ''}}`,
        )
        .join(',')}]`;
      const withCompanions = this.#appendFunction !== null && group.some((append) => append.companions !== null);
      let rows: GroupAppendRow[];
      try {
        rows = await this.#client.query<GroupAppendRow>(
          withCompanions
            ? `SELECT * FROM ${this.#appendFunction}($1::jsonb, $2)`
            : 'SELECT * FROM es.append_to_streams($1::jsonb, $2)',
          [payload, this.#notify],
          { name: withCompanions ? 'khata_es_append_group_companions' : 'khata_es_append_group' },
        );
      } catch (error) {
        if (isConnectionError(error)) throw translate(error);
        if (withCompanions && FUNCTION_MISSING.has(databaseErrorDetails(error).code ?? '')) {
          // Code newer than the database's schema (`khata migrate` not run yet): append without companions,
          // which the caller then records itself, as with any store that has none.
          this.#appendFunction = null;
        }
        // A duplicate event id (or a deadlock with another process's group) failed the whole group:
        // nothing of it was written. Each stream alone gets the exact single-append semantics.
        await Promise.all(group.map((append) => single(append.index)));
        continue;
      }
      const retry: number[] = [];
      for (const row of rows) {
        const append = group[row.idx];
        if (append === undefined) throw new Error(`es.append_to_streams answered for unknown index ${row.idx}`);
        if (row.outcome === 'refused') {
          outcomes[append.index] = { ok: false, error: new AppendGuardRefused(append.stream, 'recorded') };
        } else if (row.outcome === 'ok') {
          outcomes[append.index] = {
            ok: true,
            result: {
              nextVersion: BigInt(row.next_version as string),
              position: sqlPosition(row.last_tx as string, row.last_gp as string),
            },
            ...(withCompanions && append.companions !== null ? { companionsRecorded: true } : {}),
          };
        } else {
          retry.push(append.index);
        }
      }
      // A conflict may be an idempotent retry, or a race lost after the snapshot: the single path knows.
      await Promise.all(retry.map(single));
    }
    this.#logMoved(valid.map((append) => append.stream));
    return outcomes.map(
      (outcome, index) => outcome ?? { ok: false, error: new Error(`no outcome for append ${index}`) },
    );
  }

  /**
   * When every event of the append is already stored, identically and consecutively in this stream,
   * returns the original append's result. Throws DuplicateEventId when some are stored differently.
   * Returns null when none is stored.
   */
  async #findOriginal(stream: string, events: readonly ValidatedEvent[]): Promise<AppendResult | null> {
    const rows = await this.#client.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM es.events
        WHERE event_id IN (SELECT value::uuid FROM jsonb_array_elements_text($1::jsonb))`,
      [JSON.stringify(events.map((event) => event.eventId))],
    );
    if (rows.length === 0) return null;
    const byId = new Map(rows.map((row) => [row.event_id, toRecorded(row)]));
    let previous: RecordedEvent | undefined;
    for (const event of events) {
      const stored = byId.get(event.eventId);
      if (stored === undefined) throw new DuplicateEventId(stream, event.eventId, 'as part of a different append');
      const same =
        stored.streamId === stream &&
        stored.type === event.type &&
        stored.schemaVersion === event.schemaVersion &&
        isDeepStrictEqual(stored.data, JSON.parse(event.dataJson));
      if (!same) throw new DuplicateEventId(stream, event.eventId, 'with different content');
      if (previous !== undefined && previous.version + 1n !== stored.version) {
        throw new DuplicateEventId(stream, event.eventId, 'as part of a different append');
      }
      previous = stored;
    }
    const last = previous as RecordedEvent;
    return { nextVersion: last.version, position: last.position };
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<StreamSlice> {
    validateStreamName(stream);
    const maxCount = validateReadCount(options.maxCount, READ_COUNT_MAX, READ_COUNT_MAX);
    const backwards = options.direction === 'backwards';
    const from = options.fromVersion ?? (backwards ? 9_223_372_036_854_775_807n : 1n);
    const sql = `
      SELECT s.version AS current_version, e.*
        FROM es.streams s
        LEFT JOIN LATERAL (
          SELECT ${EVENT_COLUMNS} FROM es.events
           WHERE stream_id = s.stream_id AND stream_version ${backwards ? '<=' : '>='} $2::bigint
           ORDER BY stream_version ${backwards ? 'DESC' : 'ASC'}
           LIMIT $3
        ) e ON true
       WHERE s.stream_id = $1`;
    try {
      const rows = await this.#client.query<EventRow & { current_version: string }>(
        sql,
        [stream, from.toString(), maxCount],
        { name: this.#statementName(backwards ? 'khata_es_read_stream_bwd' : 'khata_es_read_stream_fwd') },
      );
      const first = rows[0];
      if (first === undefined) return { version: 0n, events: [] };
      const events = first.event_id === null ? [] : rows.map(toRecorded);
      return { version: BigInt(first.current_version), events };
    } catch (error) {
      throw translate(error);
    }
  }

  readAll(options: ReadAllOptions): Promise<ReadAllPage> {
    return this.#readAllAs(options, null);
  }

  /**
   * `readAll` for `reader` (null: a direct caller, known by its filter), which the window keeps events for;
   * `latencyCritical`: never held for a laggard (SubscribeOptions.latencyCritical).
   */
  async #readAllAs(options: ReadAllOptions, reader: object | null, latencyCritical = false): Promise<ReadAllPage> {
    if (this.#logCacheEvents === 0) return this.#readAllFromDatabase(options);
    const maxCount = validateReadCount(options.maxCount, options.maxCount, READ_COUNT_MAX);
    const after = options.after ?? null;
    const filter = options.filter;
    const key = reader ?? JSON.stringify(filter ?? null);
    const seen = this.#readers.get(key);
    const seenAt = performance.now();
    if (seen === undefined) this.#readers.set(key, { after, seenAt, movedAt: seenAt });
    else {
      if (after !== null && (seen.after === null || after > seen.after)) {
        seen.movedAt = seenAt;
        this.#wakeHeldReaders();
      }
      seen.after = after;
      seen.seenAt = seenAt;
    }
    let window = this.#window;
    const idle = window !== null && performance.now() - Math.max(window.fetchedAt, window.readAt) > LOG_CACHE_IDLE_MS;
    const prefixes = widened(window?.prefixes, filter);
    if (
      window === null ||
      prefixes !== window.prefixes ||
      (after !== null && window.to !== null && after > window.to && idle)
    ) {
      // The first reader, one whose streams the window does not hold (the window takes them in from here on),
      // or one ahead of a window nobody extends any more: the window starts where it reads. (Ahead of a window
      // in use, a reader reads on its own until it is caught up.)
      window = {
        prefixes,
        from: after,
        to: after,
        events: [],
        caughtUp: false,
        fetchedAt: Number.NEGATIVE_INFINITY,
        readAt: Number.NEGATIVE_INFINITY,
        queriedAt: Number.NEGATIVE_INFINITY,
        stale: false,
        fetching: null,
      };
      this.#window = window;
    }
    const fresh = (): boolean =>
      window.caughtUp && !window.stale && performance.now() - window.fetchedAt < LOG_CACHE_FRESH_MS;
    for (let extensions = 0; ; extensions += 1) {
      // A reader outside the window (a shard resuming from an old checkpoint) reads on its own.
      if (!covers(window, after)) return this.#readAllFromDatabase(options);
      window.readAt = performance.now();
      const events = selectAfter(window.events, after, maxCount, filter);
      const last = events.at(-1);
      if (events.length === maxCount && last !== undefined) return { events, last: last.position, caughtUp: false };
      if (fresh() || extensions >= 1) {
        // Every matching event the window holds after `after`, up to how far it was read.
        return { events, last: window.to ?? after, caughtUp: window.caughtUp };
      }
      const extension = this.#extensionFor(window, key, maxCount);
      // Ahead of the window from here on, it reads on its own until the others catch up with it.
      if (extension === 0 && latencyCritical) return this.#readAllFromDatabase(options);
      if (extension === 0) {
        // Held once at most per call, so a subscription being stopped is not kept waiting: its next call holds again.
        await this.#holdForLaggard();
        continue;
      }
      await this.#extend(window, extension);
    }
  }

  /** Events one extension of the window reads at most for a reader asking for `maxCount`. */
  #extensionEvents(maxCount: number): number {
    return Math.min(READ_COUNT_MAX, Math.max(maxCount, LOG_CACHE_PAGE_EVENTS));
  }

  /**
   * How many events the window may be extended by for `key`: a full extension, unless it would push out events that
   * a reader other than `key`, inside the window and still moving, has not read yet. Then only the room left below
   * the window's size, and when there is none, `key` waits (0). Without this, read models catching up at different
   * speeds drift apart by more than the window, and the slowest one reads every event from the database a second
   * time (measured: two thirds of the worker's log reads during a 60,000-CDR burst). The lead is bounded by the
   * window's size instead; a laggard that stops moving holds nothing (`logCacheHoldActiveMs`).
   */
  #extensionFor(window: LogWindow, key: unknown, maxCount: number): number {
    const full = this.#extensionEvents(maxCount);
    const pushedOut = window.events.length + full - this.#logCacheEvents;
    if (pushedOut <= 0 || window.events.length === 0) return full;
    const lastPushedOut = (window.events[Math.min(pushedOut, window.events.length) - 1] as RecordedEvent).position;
    const now = performance.now();
    for (const [other, reader] of this.#readers) {
      if (other === key || now - reader.movedAt > this.#logCacheHoldActiveMs) continue;
      // A reader from the log's start (after null) needs every event, while the window still holds the start.
      if ((reader.after === null || reader.after < lastPushedOut) && covers(window, reader.after)) {
        return Math.max(0, this.#logCacheEvents - window.events.length);
      }
    }
    return full;
  }

  /** Waits until some reader moves on, or LOG_CACHE_HOLD_CHECK_MS. */
  async #holdForLaggard(): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#heldReaders = this.#heldReaders.filter((held) => held !== wake);
        resolve();
      }, LOG_CACHE_HOLD_CHECK_MS);
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.#heldReaders.push(wake);
    });
  }

  #wakeHeldReaders(): void {
    if (this.#heldReaders.length === 0) return;
    const held = this.#heldReaders;
    this.#heldReaders = [];
    for (const wake of held) wake();
  }

  /** Reads the log after the window's end into it (one read shared by every reader waiting for it). */
  async #extend(window: LogWindow, count: number): Promise<void> {
    if (window.fetching !== null) return window.fetching;
    const fetching = (async () => {
      const wait = LOG_CACHE_READ_INTERVAL_MS - (performance.now() - window.queriedAt);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      window.queriedAt = performance.now();
      window.stale = false;
      const page = await this.#readAllFromDatabase({
        after: window.to,
        maxCount: count,
        ...(window.prefixes === null ? {} : { filter: { streamPrefixes: window.prefixes } }),
      });
      const now = performance.now();
      for (const event of page.events) window.events.push(event);
      if (page.last !== null) window.to = page.last;
      window.caughtUp = page.caughtUp;
      window.fetchedAt = now;
      // Beyond the window's size, and whatever every reader has read.
      let excess = Math.max(0, window.events.length - this.#logCacheEvents);
      const read = this.#readByAll(now);
      if (read !== null) {
        while (excess < window.events.length && (window.events[excess] as RecordedEvent).position <= read) excess += 1;
      }
      if (excess > 0) {
        const dropped = window.events.splice(0, excess);
        window.from = (dropped.at(-1) as RecordedEvent).position;
      }
      if (page.events.length > 0) this.#waker.wake();
    })();
    window.fetching = fetching;
    try {
      await fetching;
    } finally {
      window.fetching = null;
    }
  }

  /**
   * The position every reader seen within the retention has read up to (null: some reader has read nothing, or
   * there is none); readers not seen for longer are forgotten.
   */
  #readByAll(now: number): Position | null {
    const oldest = now - this.#logCacheRetainMs;
    let floor: Position | null = null;
    for (const [key, reader] of this.#readers) {
      if (reader.seenAt < oldest) {
        this.#readers.delete(key);
        continue;
      }
      if (reader.after === null) return null;
      if (floor === null || reader.after < floor) floor = reader.after;
    }
    return floor;
  }

  /** Events the log cache holds (at most `logCacheEvents`). */
  get cachedEvents(): number {
    return this.#window?.events.length ?? 0;
  }

  async #readAllFromDatabase(options: ReadAllOptions): Promise<ReadAllPage> {
    const maxCount = validateReadCount(options.maxCount, options.maxCount, READ_COUNT_MAX);
    const [afterTx, afterGp] = parsePosition(options.after);
    const { sql, params } = this.#readAllQuery(options.filter);
    let rows: EventRow[];
    try {
      rows = await this.#client.query<EventRow>(sql.text, [afterTx, afterGp, maxCount, ...params], {
        name: sql.name,
      });
    } catch (error) {
      throw translate(error);
    }
    // The page's rows come first; the last row (stream_id NULL) is the newest visible position.
    const events: RecordedEvent[] = [];
    let head: Position | null = null;
    for (const row of rows) {
      if (row.stream_id === null) {
        head = sqlPosition(row.transaction_id, row.global_position);
        this.#sawGlobalPosition(row.global_position);
      } else events.push(toRecorded(row));
    }
    const full = events.length >= maxCount;
    const lastEvent = events.at(-1);
    if (full && lastEvent !== undefined) return { events, last: lastEvent.position, caughtUp: false };
    // Not full: everything visible up to the head was scanned (rows the filter dropped included).
    const candidates = [options.after ?? null, lastEvent?.position ?? null, head].filter(
      (position): position is Position => position !== null,
    );
    const last = candidates.length === 0 ? null : (candidates.sort().at(-1) as Position);
    return { events, last, caughtUp: true };
  }

  /**
   * Events per stream after `after` that match `filter`, counting at most `limit` events in log order: what a
   * projector needs to report its lag without reading (and parsing) the events themselves.
   */
  async countEventsAfter(options: {
    readonly after: Position | null;
    readonly filter?: EventFilter;
    readonly limit: number;
  }): Promise<ReadonlyMap<string, number>> {
    if (!(Number.isSafeInteger(options.limit) && options.limit >= 1)) throw new RangeError('limit must be ≥ 1');
    const [afterTx, afterGp] = parsePosition(options.after);
    const { conditions, params, shape } = filterConditions(options.filter);
    const text = `
      WITH bound AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),
      counted AS (
        SELECT e.stream_id
          FROM es.events e, bound
         WHERE (e.transaction_id, e.global_position) > ($1::xid8, $2::bigint)
           AND e.transaction_id < bound.xmin
           ${conditions.map((condition) => `AND ${condition}`).join(' ')}
         ORDER BY e.transaction_id, e.global_position
         LIMIT $3
      )
      SELECT stream_id, count(*)::int AS events FROM counted GROUP BY stream_id`;
    let rows: { stream_id: string; events: number }[];
    try {
      rows = await this.#client.query<{ stream_id: string; events: number }>(
        text,
        [afterTx, afterGp, options.limit, ...params],
        { name: this.#statementName(`khata_es_count_after_${shape}`) },
      );
    } catch (error) {
      throw translate(error);
    }
    return new Map(rows.map((row) => [row.stream_id, Number(row.events)]));
  }

  #statementName(base: string): string {
    return `${base}_g${this.#planGeneration}`;
  }

  #sawGlobalPosition(globalPosition: string): void {
    const position = BigInt(globalPosition);
    if (position < this.#nextPlanGenerationAt) return;
    this.#planGeneration = position.toString(2).length;
    this.#nextPlanGenerationAt = 1n << BigInt(this.#planGeneration);
  }

  #readAllQuery(filter: EventFilter | undefined): { sql: { text: string; name: string }; params: unknown[] } {
    const { conditions, params, shape } = filterConditions(filter);
    let text = this.#readAllSql.get(shape);
    if (text === undefined) {
      text = `
        WITH bound AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),
        page AS (
          SELECT ${eventColumns('e.')}
            FROM es.events e, bound
           WHERE (e.transaction_id, e.global_position) > ($1::xid8, $2::bigint)
             AND e.transaction_id < bound.xmin
             ${conditions.map((condition) => `AND ${condition}`).join(' ')}
           ORDER BY e.transaction_id, e.global_position
           LIMIT $3
        ),
        head AS (
          SELECT e.transaction_id, e.global_position
            FROM es.events e, bound
           WHERE e.transaction_id < bound.xmin
           ORDER BY e.transaction_id DESC, e.global_position DESC
           LIMIT 1
        )
        SELECT * FROM page
        UNION ALL
        SELECT transaction_id, global_position, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM head`;
      this.#readAllSql.set(shape, text);
    }
    return { sql: { text, name: this.#statementName(`khata_es_read_all_${shape}`) }, params };
  }

  subscribe(options: SubscribeOptions): AsyncIterable<SubscriptionBatch> {
    const reader = {};
    const readers = this.#readers;
    const latencyCritical = options.latencyCritical === true;
    const batches = pollingSubscription((o) => this.#readAllAs(o, reader, latencyCritical), this.#waker, options);
    return (async function* () {
      try {
        yield* batches;
      } finally {
        // An ended subscription holds nothing back.
        readers.delete(reader);
      }
    })();
  }

  async headPosition(): Promise<Position | null> {
    try {
      const rows = await this.#client.query<{ transaction_id: string; global_position: string }>(
        `SELECT transaction_id, global_position FROM es.events
          ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
      );
      const row = rows[0];
      if (row === undefined) return null;
      this.#sawGlobalPosition(row.global_position);
      return sqlPosition(row.transaction_id, row.global_position);
    } catch (error) {
      throw translate(error);
    }
  }

  async close(): Promise<void> {
    this.#waker.wake();
    if (this.#unlisten !== null) {
      const unlisten = this.#unlisten;
      this.#unlisten = null;
      await unlisten().catch(() => {});
    }
    if (this.#ownsClient) await this.#client.close();
  }
}

/** Consecutive slices of a group commit within APPEND_STREAMS_MAX streams and APPEND_GROUP_EVENTS_MAX events. */
function groupSlices<T extends { readonly events: readonly unknown[] }>(appends: readonly T[]): T[][] {
  const slices: T[][] = [];
  let current: T[] = [];
  let events = 0;
  for (const append of appends) {
    if (
      current.length > 0 &&
      (current.length >= APPEND_STREAMS_MAX || events + append.events.length > APPEND_GROUP_EVENTS_MAX)
    ) {
      slices.push(current);
      current = [];
      events = 0;
    }
    current.push(append);
    events += append.events.length;
  }
  if (current.length > 0) slices.push(current);
  return slices;
}

function translate(error: unknown): unknown {
  if (error instanceof EventStoreError) return error;
  if (isConnectionError(error)) {
    return new EventStoreUnavailable('event store database unreachable', { cause: error });
  }
  return error;
}

function jitteredPause(attempt: number): Promise<void> {
  const ceilingMs = Math.min(2 ** attempt, 50);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceilingMs));
}
