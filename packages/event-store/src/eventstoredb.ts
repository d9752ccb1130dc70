/**
 * The event store on EventStoreDB (KurrentDB), through `@eventstore/db-client` 6.x over gRPC.
 *
 * Mapping (SPEC §3):
 * - Stream versions are 1-based, EventStoreDB revisions 0-based: revision = version − 1. Expected versions
 *   map as `'any'` → ANY, `'no_stream'`/`0n` → NO_STREAM, `'stream_exists'` → STREAM_EXISTS, `v` → revision
 *   `v − 1`; the server's WrongExpectedVersionError becomes `WrongExpectedVersion` with the actual version
 *   (its current revision + 1, or 0n when the stream does not exist).
 * - Positions are `<commit padded to 20 digits>:<prepare padded to 20 digits>`, so they compare as strings.
 *   Every event written by an append since EventStoreDB 20 carries its own log position as both numbers,
 *   and the append result names the position of the append's last event (the server source:
 *   StorageChaser acknowledges the commit at the last prepare; WriteEvents replies with it as both).
 * - Data is JSON (`application/json`); metadata is the event's metadata as JSON plus one key,
 *   `$khata.schemaVersion`, which readers never see (it is stripped on read, and refused in callers'
 *   metadata). The event type stays the plain type, so EventStoreDB's type filters and projections work.
 * - EventStoreDB's own events (streams or types starting with `$`: metadata, projection links,
 *   statistics) are not part of Khata's log: reads skip them and `headPosition` ignores them.
 *
 * Idempotency. EventStoreDB compares only event ids, only within one stream, and with ANY only against a
 * cache of recent ids; with an exact expected revision equal to the current one it writes whatever it is
 * given, duplicates included. So every append first reads the newest `DUPLICATE_CHECK_WINDOW_EVENTS`
 * events of its stream (which also gives the current version): ids found there are resolved exactly as
 * the other adapters do (same content → the original result, nothing written; other content or a mix
 * with new events → `DuplicateEventId`). An append the server acknowledges without writing (its own
 * idempotency, e.g. an exact expected version further back than the window) is read back and compared
 * the same way. What this adapter cannot guarantee, unlike PostgreSQL's unique index:
 * - an id already stored in ANOTHER stream is not found (EventStoreDB has no index by event id);
 * - within a stream, an id older than the window is not found when the caller's expected version is the
 *   current one (or `'any'`, beyond EventStoreDB's id cache), and would be written a second time;
 * - two appends racing with the same ids but different content can both be acknowledged.
 *
 * Costs and requirements: an append is two round trips (the window read, then the write). A timeout or a
 * dropped connection surfaces as EventStoreUnavailable even though the write may have landed; retrying
 * the same append is safe, since it then answers the original result. Stream reads must carry log
 * positions, which servers give from 22.6 on.
 */
import { isDeepStrictEqual } from 'node:util';
import type {
  AllStreamRecordedEvent,
  AppendExpectedRevision,
  AppendResult as ClientAppendResult,
  Position as ClientPosition,
  EventStoreDBClient,
  JSONEventData,
  MaxAppendSizeExceededError,
  ReadPosition,
  ReadRevision,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import {
  DuplicateEventId,
  EventStoreError,
  EventStoreUnavailable,
  InvalidAppend,
  WrongExpectedVersion,
} from './errors.ts';
import { matchesFilter } from './filter.ts';
import { READ_COUNT_MAX } from './limits.ts';
import { pollingSubscription, Waker } from './subscription.ts';
import type {
  AppendResult,
  EventFilter,
  EventMetadata,
  EventStore,
  ExpectedVersion,
  JsonObject,
  NewEvent,
  Position,
  ReadAllOptions,
  ReadAllPage,
  ReadStreamOptions,
  RecordedEvent,
  StreamSlice,
  SubscribeOptions,
  SubscriptionBatch,
} from './types.ts';
import { type ValidatedEvent, validateEvents, validateReadCount, validateStreamName } from './validation.ts';

/** Newest events of a stream read before each append to find retried event ids (and the current version). */
export const DUPLICATE_CHECK_WINDOW_EVENTS = 100;
/** Raw `$all` events one `readAll` call examines at most before it returns what it has (caughtUp false). */
export const READ_ALL_SCAN_EVENTS_MAX = 20_000;
/** Raw `$all` events fetched per request by a filtered `readAll`, so dropped stretches cost few round trips. */
export const READ_ALL_FILTERED_PAGE_EVENTS = 1_000;
/** Raw `$all` events fetched per request while looking backwards for the newest non-system event. */
export const HEAD_PAGE_EVENTS = 100;
/** Raw `$all` events `headPosition` examines at most; past that it answers the newest raw position. */
export const HEAD_SCAN_EVENTS_MAX = 10_000;
/** Consecutive failed reads after which a subscription gives up and throws (about 1.5 minutes of retrying). */
export const SUBSCRIPTION_READ_ATTEMPTS_MAX = 20;
/** A subscription's retry pause after a failed read doubles from the first to the second (ms), with jitter. */
export const SUBSCRIPTION_RETRY_DELAY_MS_MIN = 100;
export const SUBSCRIPTION_RETRY_DELAY_MS_MAX = 5_000;

/** Metadata key holding `schemaVersion`; stripped on read, refused in callers' metadata. */
export const SCHEMA_VERSION_METADATA_KEY = '$khata.schemaVersion';

const POSITION_DIGITS = 20;
// What a server before 22.6 sends for the position of an event read from a stream (−1 as an unsigned 64-bit).
const NO_POSITION = 2n ** 64n - 1n;
const SCHEMA_VERSION_MAX = 32_767;

/** The fields of an event as the client returns it that this adapter reads. */
export interface StoredClientEvent {
  readonly streamId: string;
  readonly id: string;
  readonly revision: bigint;
  readonly type: string;
  readonly isJson: boolean;
  readonly data: unknown;
  readonly metadata: unknown;
  readonly created: Date;
  readonly position?: ClientPosition | undefined;
}

// ---------------------------------------------------------------------------------------------------
// Pure mappings (exported for the unit tests)
// ---------------------------------------------------------------------------------------------------

export function encodePosition(position: ClientPosition): Position {
  const { commit, prepare } = position;
  if (commit < 0n || prepare < 0n) throw new RangeError(`negative log position ${commit}/${prepare}`);
  return `${commit.toString().padStart(POSITION_DIGITS, '0')}:${prepare
    .toString()
    .padStart(POSITION_DIGITS, '0')}` as Position;
}

export function decodePosition(position: Position): ClientPosition {
  const match = /^(\d{20}):(\d{20})$/.exec(position);
  if (match === null) throw new RangeError(`not a position of this store: ${position}`);
  return { commit: BigInt(match[1] as string), prepare: BigInt(match[2] as string) };
}

/** The revision EventStoreDB expects for an expected version (revision = version − 1). */
export function expectedRevisionFor(expected: ExpectedVersion): AppendExpectedRevision {
  if (typeof expected === 'bigint') {
    if (expected < 0n) throw new RangeError('expected version must not be negative');
    return expected === 0n ? 'no_stream' : expected - 1n;
  }
  if (expected !== 'any' && expected !== 'no_stream' && expected !== 'stream_exists') {
    throw new RangeError(`unknown expected version ${String(expected)}`);
  }
  return expected;
}

/** A stream's version from EventStoreDB's current revision (`'no_stream'`: it does not exist). */
export function versionFromRevision(revision: bigint | 'no_stream'): bigint {
  return revision === 'no_stream' ? 0n : revision + 1n;
}

/** EventStoreDB's own events: system streams (`$…`, metadata streams `$$…`) and system types (`$>`, `$metadata`). */
export function isSystemEvent(event: { readonly streamId: string; readonly type: string }): boolean {
  return event.streamId.startsWith('$') || event.type.startsWith('$');
}

/** The metadata EventStoreDB stores for an event: the caller's metadata plus its schema version. */
export function encodeMetadata(event: ValidatedEvent, field = 'event'): JsonObject {
  if (Object.hasOwn(event.metadata, SCHEMA_VERSION_METADATA_KEY)) {
    throw new InvalidAppend(
      'INVALID_EVENT',
      `${field}.metadata.${SCHEMA_VERSION_METADATA_KEY}`,
      'is reserved for the schema version by the EventStoreDB adapter',
    );
  }
  return { ...(event.metadata as JsonObject), [SCHEMA_VERSION_METADATA_KEY]: event.schemaVersion };
}

/** Splits stored metadata back into the caller's metadata and the schema version (1 when absent). */
export function decodeMetadata(stored: unknown, where = 'event'): { metadata: EventMetadata; schemaVersion: number } {
  if (stored === undefined) return { metadata: {}, schemaVersion: 1 };
  if (!isPlainObject(stored)) throw new Error(`${where}: metadata is not a JSON object`);
  const { [SCHEMA_VERSION_METADATA_KEY]: schemaVersion = 1, ...metadata } = stored;
  if (
    typeof schemaVersion !== 'number' ||
    !Number.isSafeInteger(schemaVersion) ||
    schemaVersion < 1 ||
    schemaVersion > SCHEMA_VERSION_MAX
  ) {
    throw new Error(`${where}: ${SCHEMA_VERSION_METADATA_KEY} is not a schema version: ${String(schemaVersion)}`);
  }
  return { metadata: metadata as EventMetadata, schemaVersion };
}

/** The client's event data for one validated event. */
export function toEventData(event: ValidatedEvent, field = 'event'): JSONEventData {
  return {
    id: event.eventId,
    contentType: 'application/json',
    type: event.type,
    data: event.data,
    metadata: encodeMetadata(event, field),
  };
}

/** A stored event as Khata sees it. Throws for events that Khata cannot have written (no JSON object data). */
export function toRecordedEvent(stored: StoredClientEvent): RecordedEvent {
  const where = `${stored.streamId}@${stored.revision}`;
  if (stored.position === undefined || stored.position.commit === NO_POSITION) {
    throw new Error(`${where}: EventStoreDB returned no log position; Khata needs EventStoreDB 22.6 or later`);
  }
  const { metadata, schemaVersion } = decodeMetadata(stored.metadata, where);
  return {
    eventId: stored.id.toLowerCase(),
    type: stored.type,
    schemaVersion,
    data: decodeData(stored, where),
    metadata,
    streamId: stored.streamId,
    version: stored.revision + 1n,
    position: encodePosition(stored.position),
    storedAt: stored.created,
  };
}

function decodeData(stored: StoredClientEvent, where: string): JsonObject {
  let data = stored.data;
  if (data instanceof Uint8Array) {
    try {
      data = JSON.parse(Buffer.from(data).toString('utf8'));
    } catch {
      throw new Error(`${where}: data is not JSON; it was not written by Khata`);
    }
  }
  if (!isPlainObject(data)) throw new Error(`${where}: data is not a JSON object; it was not written by Khata`);
  return data as JsonObject;
}

/**
 * When every event of an append is already stored, identically and consecutively in this stream,
 * returns the original append's result. Throws DuplicateEventId when some are stored differently
 * (other content, another stream, or mixed with new events). Returns null when none is stored.
 * The same rule as the memory and SQL adapters.
 */
export function originalAppendResult(
  stream: string,
  events: readonly ValidatedEvent[],
  storedById: ReadonlyMap<string, RecordedEvent>,
): AppendResult | null {
  if (!events.some((event) => storedById.has(event.eventId))) return null;
  let previous: RecordedEvent | undefined;
  for (const event of events) {
    const stored = storedById.get(event.eventId);
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

const UNAVAILABLE_ERROR_TYPES = new Set(['unavailable', 'deadline-exceeded', 'timeout', 'cancelled', 'not-leader']);
// gRPC status codes of a connection that failed or was cut: CANCELLED, DEADLINE_EXCEEDED, ABORTED, UNAVAILABLE.
const UNAVAILABLE_GRPC_CODES = new Set([1, 4, 10, 14]);
// Transient server states the client reports only as text (the server's NotHandled reasons, cluster discovery).
const UNAVAILABLE_MESSAGES = /Server Is Not Ready|Server Is Busy|No leader info available|Failed to discover/;

/**
 * The store's typed error for a client error: wrong expected version (for an append), an append larger
 * than the server accepts, and every sign of an unreachable or not-ready server (EventStoreUnavailable,
 * retryable). Anything else is returned unchanged.
 */
export function translateError(
  error: unknown,
  append?: { readonly stream: string; readonly expected: ExpectedVersion },
): unknown {
  if (error instanceof EventStoreError || !(error instanceof Error)) return error;
  const type = clientErrorType(error);
  if (type === 'wrong-expected-version' && append !== undefined) {
    const actual = (error as WrongExpectedVersionError).actualVersion;
    return new WrongExpectedVersion(append.stream, append.expected, versionFromRevision(actual));
  }
  if (type === 'maximum-append-size-exceeded') {
    const bytes = (error as MaxAppendSizeExceededError).maxAppendSize;
    return new InvalidAppend(
      'TOO_MANY_EVENTS',
      'events',
      `the append is larger than the server's maximum append size of ${bytes} bytes; split it`,
    );
  }
  const code = (error as { code?: unknown }).code;
  const unavailable =
    (type !== undefined && UNAVAILABLE_ERROR_TYPES.has(type)) ||
    (type === undefined && typeof code === 'number' && UNAVAILABLE_GRPC_CODES.has(code)) ||
    UNAVAILABLE_MESSAGES.test(error.message);
  if (unavailable) return new EventStoreUnavailable(`EventStoreDB unavailable: ${error.message}`, { cause: error });
  return error;
}

/** The client marks its errors with a string `type` (its ErrorType values, e.g. `stream-not-found`). */
function clientErrorType(error: Error): string | undefined {
  const type = (error as { type?: unknown }).type;
  return typeof type === 'string' ? type : undefined;
}

function isStreamNotFound(error: unknown): boolean {
  return error instanceof Error && clientErrorType(error) === 'stream-not-found';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * One `readAll` call's progress over raw pages of `$all`. EventStoreDB reads `$all` forwards from a
 * position inclusively, so the event at `after` (and at the end of the previous page) comes back and is
 * skipped here by comparing positions; system events are skipped, and the filter is applied to the rest.
 *
 * `last` when the log's end was reached is the newest non-system position seen: trailing system events
 * do not count, so `last` and `headPosition` agree on where Khata's log ends. When the scan bound is hit,
 * `last` is the newest position examined, system or not, so a reader always makes progress.
 */
export class AllScan {
  readonly events: RecordedEvent[] = [];
  readonly #after: Position | null;
  readonly #maxCount: number;
  readonly #filter: EventFilter | undefined;
  #lastScanned: Position | null = null;
  #lastVisible: Position | null = null;
  #scanned = 0;

  constructor(after: Position | null, maxCount: number, filter: EventFilter | undefined) {
    this.#after = after;
    this.#maxCount = maxCount;
    this.#filter = filter;
  }

  /** Raw events examined so far (each counted once). */
  get scanned(): number {
    return this.#scanned;
  }

  /** Where the next raw page starts (inclusively): the newest position examined. */
  get resumeFrom(): Position | null {
    return this.#lastScanned ?? this.#after;
  }

  /** Takes one raw page in log order; true when the result is full. */
  add(page: readonly StoredClientEvent[]): boolean {
    for (const stored of page) {
      if (stored.position === undefined) throw new Error('EventStoreDB returned an $all event without a position');
      const position = encodePosition(stored.position);
      const seen = this.resumeFrom;
      if (seen !== null && position <= seen) continue;
      this.#scanned += 1;
      this.#lastScanned = position;
      if (isSystemEvent(stored)) continue;
      this.#lastVisible = position;
      const event = toRecordedEvent(stored);
      if (!matchesFilter(event, this.#filter)) continue;
      this.events.push(event);
      if (this.events.length >= this.#maxCount) return true;
    }
    return false;
  }

  /** The page: `full` (maxCount events), `end` (the log's end was reached) or `bound` (scan bound hit). */
  result(reason: 'full' | 'end' | 'bound'): ReadAllPage {
    const lastEvent = this.events.at(-1);
    if (reason === 'full' && lastEvent !== undefined) {
      return { events: this.events, last: lastEvent.position, caughtUp: false };
    }
    if (reason === 'bound') return { events: this.events, last: this.resumeFrom, caughtUp: false };
    const after = this.#after;
    const visible = this.#lastVisible;
    const last = after === null ? visible : visible === null || visible < after ? after : visible;
    return { events: this.events, last, caughtUp: true };
  }
}

// ---------------------------------------------------------------------------------------------------
// The adapter
// ---------------------------------------------------------------------------------------------------

interface StreamTail {
  /** The stream's current version (0n: it does not exist). */
  readonly version: bigint;
  /** Its newest events, newest first, at most DUPLICATE_CHECK_WINDOW_EVENTS. */
  readonly events: readonly RecordedEvent[];
}

/**
 * Subscriptions poll `readAll` (the shared `pollingSubscription`) rather than hold a `subscribeToAll`
 * catch-up subscription, because:
 * - the catch-up/live semantics (never skip, never reorder, checkpoint past filtered events) then come
 *   from the one implementation every adapter shares and the contract suite exercises;
 * - a server-side filtered subscription advances its checkpoint over filtered stretches only while
 *   catching up, not live (KurrentDB #3320), and reports `caughtUp` only on servers from 23.10;
 * - resuming after a lost connection is trivial: every poll is a stateless read from the checkpoint, so
 *   a failed read is retried (bounded, with back-off) from the same checkpoint.
 * The cost: idle subscribers poll (every 20–250 ms by default; appends in this process wake them at
 * once), and the filter runs in this process: the 6.x client's `readAll` has no server-side filter.
 */
export class EventStoreDbEventStore implements EventStore {
  readonly kind = 'eventstoredb';
  readonly #client: EventStoreDBClient;
  readonly #waker = new Waker();
  #closed = false;

  private constructor(client: EventStoreDBClient) {
    this.#client = client;
  }

  /**
   * Connects with an EventStoreDB connection string (`esdb://host:2113?tls=false`, or `esdb+discover://`
   * for a cluster) and checks that the server answers. The client library is loaded here, so processes
   * on other adapters never load gRPC.
   */
  static async connect(connectionString: string): Promise<EventStoreDbEventStore> {
    const { EventStoreDBClient } = await import('@eventstore/db-client');
    const client = EventStoreDBClient.connectionString(connectionString);
    const store = new EventStoreDbEventStore(client);
    try {
      await store.#readAllRaw({ fromPosition: 'end', direction: 'backwards', maxCount: 1 });
    } catch (error) {
      await client.dispose().catch(() => {});
      throw error;
    }
    return store;
  }

  async appendToStream(
    stream: string,
    events: readonly NewEvent[],
    options: { readonly expected: ExpectedVersion },
  ): Promise<AppendResult> {
    this.#assertOpen();
    validateStreamName(stream);
    const validated = validateEvents(events);
    const { expected } = options;
    expectedRevisionFor(expected); // refuses a negative or unknown expected version before any I/O
    const eventData = validated.map((event, index) => toEventData(event, `events[${index}]`));

    const tail = await this.#readTail(stream);
    const original = originalAppendResult(stream, validated, new Map(tail.events.map((e) => [e.eventId, e])));
    if (original !== null) return original;

    const current = tail.version;
    let expectedRevision: AppendExpectedRevision;
    if (expected === 'any' || expected === 'stream_exists') {
      if (expected === 'stream_exists' && current === 0n) throw new WrongExpectedVersion(stream, expected, current);
      // EventStoreDB applies these atomically itself; an exact compare-and-set here would only add
      // conflicts between writers that asked for none.
      expectedRevision = expected;
    } else {
      const version = expected === 'no_stream' ? 0n : expected;
      // Refused without a write unless the server can know better: when the expected version lies further
      // back than the window, the server's own check finds a retried append (and acknowledges it).
      const coveredByWindow = current - version <= BigInt(tail.events.length);
      if (version > current || (version < current && coveredByWindow)) {
        throw new WrongExpectedVersion(stream, expected, current);
      }
      expectedRevision = expectedRevisionFor(version);
    }

    let result: ClientAppendResult;
    try {
      result = await this.#client.appendToStream(stream, eventData, { expectedRevision });
    } catch (error) {
      throw translateError(error, { stream, expected });
    }
    const count = BigInt(validated.length);
    const nextVersion = result.nextExpectedRevision + 1n;
    if (nextVersion - count >= current) {
      // Written now, after everything the window showed.
      this.#waker.wake();
      const position =
        result.position === undefined ? await this.#positionOf(stream, nextVersion) : encodePosition(result.position);
      return { nextVersion, position };
    }
    // Acknowledged without writing: the server found these ids further back. It compares ids only, so
    // read the originals and compare their content too.
    const stored = await this.#readEvents(stream, 'forwards', nextVersion - count, validated.length);
    const verified = originalAppendResult(stream, validated, new Map((stored ?? []).map((e) => [e.eventId, e])));
    if (verified === null) {
      throw new Error(`EventStoreDB acknowledged an append to ${stream} but its events are not where it said`);
    }
    return verified;
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<StreamSlice> {
    this.#assertOpen();
    validateStreamName(stream);
    const maxCount = validateReadCount(options.maxCount, READ_COUNT_MAX, READ_COUNT_MAX);
    if (options.direction === 'backwards') {
      if (options.fromVersion === undefined) {
        const events = await this.#readEvents(stream, 'backwards', 'end', maxCount);
        if (events === null) return { version: 0n, events: [] };
        return { version: events[0]?.version ?? (await this.#currentVersion(stream)), events };
      }
      // Read the version first so that the events can only be older than it.
      const version = await this.#currentVersion(stream);
      // biome-ignore lint/complexity/useMathMinMax: Math.min does not take bigints.
      const from = options.fromVersion < version ? options.fromVersion : version;
      if (from < 1n) return { version, events: [] };
      const events = (await this.#readEvents(stream, 'backwards', from - 1n, maxCount)) ?? [];
      return { version: maxVersion(version, events[0]?.version), events };
    }
    const from = options.fromVersion ?? 1n;
    const events = await this.#readEvents(stream, 'forwards', from < 1n ? 0n : from - 1n, maxCount);
    if (events === null) return { version: 0n, events: [] };
    const last = events.at(-1);
    // Fewer events than asked for: the read reached the stream's end, so the last one is the version.
    if (last !== undefined && events.length < maxCount) return { version: last.version, events };
    return { version: maxVersion(await this.#currentVersion(stream), last?.version), events };
  }

  async readAll(options: ReadAllOptions): Promise<ReadAllPage> {
    this.#assertOpen();
    const maxCount = validateReadCount(options.maxCount, options.maxCount, READ_COUNT_MAX);
    const after = options.after ?? null;
    if (after !== null) decodePosition(after);
    const scan = new AllScan(after, maxCount, options.filter);
    // +1: the first event of each page is the one the previous page (or `after`) ended on.
    const pageSize =
      options.filter === undefined ? maxCount + 1 : Math.max(maxCount + 1, READ_ALL_FILTERED_PAGE_EVENTS);
    for (;;) {
      const budget = READ_ALL_SCAN_EVENTS_MAX - scan.scanned;
      if (budget <= 0) return scan.result('bound');
      const requested = Math.min(pageSize, budget + 1);
      const from = scan.resumeFrom;
      const scannedBefore = scan.scanned;
      const page = await this.#readAllRaw({
        fromPosition: from === null ? 'start' : decodePosition(from),
        direction: 'forwards',
        maxCount: requested,
      });
      if (scan.add(page)) return scan.result('full');
      if (page.length < requested) return scan.result('end');
      // The scan bound only holds if every full page moves the scan forwards.
      if (scan.scanned === scannedBefore) throw new Error(`EventStoreDB read no further than ${from} in $all`);
    }
  }

  subscribe(options: SubscribeOptions): AsyncIterable<SubscriptionBatch> {
    return pollingSubscription((page) => this.#readAllRetrying(page, options.signal), this.#waker, options);
  }

  /** Position of the newest event in a non-system stream, or null when there is none. */
  async headPosition(): Promise<Position | null> {
    this.#assertOpen();
    let newest: Position | null = null;
    let oldest: Position | null = null;
    let scanned = 0;
    while (scanned < HEAD_SCAN_EVENTS_MAX) {
      const scannedBefore = scanned;
      const page = await this.#readAllRaw({
        fromPosition: oldest === null ? 'end' : decodePosition(oldest),
        direction: 'backwards',
        maxCount: HEAD_PAGE_EVENTS,
      });
      for (const stored of page) {
        const position = encodePosition(stored.position);
        if (oldest !== null && position >= oldest) continue;
        newest ??= position;
        oldest = position;
        scanned += 1;
        if (!isSystemEvent(stored)) return position;
      }
      if (page.length < HEAD_PAGE_EVENTS) return null;
      if (scanned === scannedBefore) throw new Error(`EventStoreDB read no further back than ${oldest} in $all`);
    }
    // A very long run of system events at the end: answer the newest position, which readAll also
    // moves past once its own scan bound is hit, rather than scan without end.
    return newest;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#waker.wake();
    await this.#client.dispose();
  }

  /** The stream's version and newest events, for duplicate detection and the expected-version check. */
  async #readTail(stream: string): Promise<StreamTail> {
    const events = await this.#readEvents(stream, 'backwards', 'end', DUPLICATE_CHECK_WINDOW_EVENTS);
    if (events === null) return { version: 0n, events: [] };
    return { version: events[0]?.version ?? 0n, events };
  }

  async #currentVersion(stream: string): Promise<bigint> {
    const events = await this.#readEvents(stream, 'backwards', 'end', 1);
    return events?.[0]?.version ?? 0n;
  }

  async #positionOf(stream: string, version: bigint): Promise<Position> {
    const [event] = (await this.#readEvents(stream, 'backwards', version - 1n, 1)) ?? [];
    if (event === undefined || event.version !== version) {
      throw new Error(`${stream}@${version}: just appended, but not found`);
    }
    return event.position;
  }

  /** A stream's events, or null when the stream does not exist. */
  async #readEvents(
    stream: string,
    direction: 'forwards' | 'backwards',
    fromRevision: ReadRevision,
    maxCount: number,
  ): Promise<RecordedEvent[] | null> {
    const events: RecordedEvent[] = [];
    try {
      for await (const resolved of this.#client.readStream(stream, { direction, fromRevision, maxCount })) {
        if (resolved.event !== undefined) events.push(toRecordedEvent(resolved.event));
      }
    } catch (error) {
      if (isStreamNotFound(error)) return null;
      throw translateError(error);
    }
    return events;
  }

  async #readAllRaw(options: {
    readonly fromPosition: ReadPosition;
    readonly direction: 'forwards' | 'backwards';
    readonly maxCount: number;
  }): Promise<AllStreamRecordedEvent[]> {
    const events: AllStreamRecordedEvent[] = [];
    try {
      for await (const resolved of this.#client.readAll({ ...options, resolveLinkTos: false })) {
        if (resolved.event !== undefined) events.push(resolved.event);
      }
    } catch (error) {
      throw translateError(error);
    }
    return events;
  }

  /** `readAll` for subscriptions: a lost connection is retried from the same checkpoint, bounded. */
  async #readAllRetrying(options: ReadAllOptions, signal: AbortSignal): Promise<ReadAllPage> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.readAll(options);
      } catch (error) {
        if (!(error instanceof EventStoreUnavailable) || attempt >= SUBSCRIPTION_READ_ATTEMPTS_MAX) throw error;
        await this.#waker.sleep(retryDelayMs(attempt), signal);
        if (signal.aborted) return { events: [], last: options.after ?? null, caughtUp: true };
      }
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('event store is closed');
  }
}

function maxVersion(a: bigint, b: bigint | undefined): bigint {
  return b !== undefined && b > a ? b : a;
}

/** Exponential back-off with jitter: half the step fixed, half random, so retrying readers spread out. */
function retryDelayMs(attempt: number): number {
  const step = Math.min(SUBSCRIPTION_RETRY_DELAY_MS_MIN * 2 ** (attempt - 1), SUBSCRIPTION_RETRY_DELAY_MS_MAX);
  return step / 2 + Math.random() * (step / 2);
}
