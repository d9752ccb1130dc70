import { isDeepStrictEqual } from 'node:util';
import { DuplicateEventId, WrongExpectedVersion } from './errors.ts';
import { matchesFilter } from './filter.ts';
import { READ_COUNT_MAX } from './limits.ts';
import { pollingSubscription, Waker } from './subscription.ts';
import type {
  AppendResult,
  EventStore,
  ExpectedVersion,
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
import { validateEvents, validateReadCount, validateStreamName } from './validation.ts';

export interface MemoryEventStoreOptions {
  /** The store's clock for `storedAt`; tests inject a fixed one. */
  readonly now?: () => Date;
}

/** In-memory positions share the PostgreSQL format, `<20 digits>:<20 digits>`, with index as the second part. */
function memoryPosition(index: number): Position {
  return `${'0'.repeat(20)}:${String(index + 1).padStart(20, '0')}` as Position;
}

function indexAfter(position: Position | null | undefined): number {
  if (position === null || position === undefined) return 0;
  const separator = position.indexOf(':');
  return Number(position.slice(separator + 1));
}

/**
 * The reference adapter: the contract's semantics with nothing in the way. Used by unit tests and as
 * the upper bound in benchmarks. Events are deep-frozen when stored, so a caller mutating what it read
 * cannot change history.
 */
export class MemoryEventStore implements EventStore {
  readonly kind = 'memory';
  readonly #log: RecordedEvent[] = [];
  readonly #streams = new Map<string, RecordedEvent[]>();
  readonly #byId = new Map<string, RecordedEvent>();
  readonly #waker = new Waker();
  readonly #now: () => Date;
  #closed = false;

  constructor(options: MemoryEventStoreOptions = {}) {
    this.#now = options.now ?? (() => new Date());
  }

  async appendToStream(
    stream: string,
    events: readonly NewEvent[],
    options: { readonly expected: ExpectedVersion },
  ): Promise<AppendResult> {
    this.#assertOpen();
    validateStreamName(stream);
    const validated = validateEvents(events);
    const existing = this.#streams.get(stream) ?? [];
    const current = BigInt(existing.length);

    const stored = validated.map((event) => this.#byId.get(event.eventId));
    if (stored.some((event) => event !== undefined)) {
      return this.#resolveDuplicates(stream, validated, stored);
    }
    const { expected } = options;
    const ok =
      expected === 'any' ||
      (expected === 'no_stream' && current === 0n) ||
      (expected === 'stream_exists' && current > 0n) ||
      (typeof expected === 'bigint' && expected === current);
    if (!ok) throw new WrongExpectedVersion(stream, expected, current);

    const storedAt = this.#now();
    const recorded = validated.map((event, offset): RecordedEvent => {
      const index = this.#log.length + offset;
      return deepFreeze({
        eventId: event.eventId,
        type: event.type,
        schemaVersion: event.schemaVersion,
        data: structuredClone(event.data),
        metadata: structuredClone(event.metadata),
        streamId: stream,
        version: current + BigInt(offset + 1),
        position: memoryPosition(index),
        storedAt,
      });
    });
    for (const event of recorded) {
      this.#log.push(event);
      this.#byId.set(event.eventId, event);
    }
    this.#streams.set(stream, [...existing, ...recorded]);
    this.#waker.wake();
    const last = recorded.at(-1) as RecordedEvent;
    return { nextVersion: last.version, position: last.position };
  }

  #resolveDuplicates(
    stream: string,
    validated: ReturnType<typeof validateEvents>,
    stored: readonly (RecordedEvent | undefined)[],
  ): AppendResult {
    for (const [index, event] of validated.entries()) {
      const original = stored[index];
      if (original === undefined) {
        throw new DuplicateEventId(stream, event.eventId, 'as part of a different append');
      }
      const same =
        original.streamId === stream &&
        original.type === event.type &&
        original.schemaVersion === event.schemaVersion &&
        isDeepStrictEqual(original.data, event.data);
      if (!same) throw new DuplicateEventId(stream, event.eventId, 'with different content');
      const previous = stored[index - 1];
      if (previous !== undefined && previous.version + 1n !== original.version) {
        throw new DuplicateEventId(stream, event.eventId, 'as part of a different append');
      }
    }
    const last = stored.at(-1) as RecordedEvent;
    return { nextVersion: last.version, position: last.position };
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<StreamSlice> {
    this.#assertOpen();
    validateStreamName(stream);
    const events = this.#streams.get(stream) ?? [];
    const maxCount = validateReadCount(options.maxCount, READ_COUNT_MAX, READ_COUNT_MAX);
    const version = BigInt(events.length);
    if (options.direction === 'backwards') {
      const from = options.fromVersion ?? version;
      const end = Number(from < version ? from : version);
      const start = Math.max(0, end - maxCount);
      return { version, events: events.slice(start, end).reverse() };
    }
    const from = options.fromVersion ?? 1n;
    const start = Math.max(0, Number(from) - 1);
    return { version, events: events.slice(start, start + maxCount) };
  }

  async readAll(options: ReadAllOptions): Promise<ReadAllPage> {
    this.#assertOpen();
    const maxCount = validateReadCount(options.maxCount, options.maxCount, READ_COUNT_MAX);
    const events: RecordedEvent[] = [];
    let index = indexAfter(options.after);
    while (index < this.#log.length && events.length < maxCount) {
      const event = this.#log[index] as RecordedEvent;
      if (matchesFilter(event, options.filter)) events.push(event);
      index += 1;
    }
    const caughtUp = index >= this.#log.length;
    const last = index === 0 ? (options.after ?? null) : memoryPosition(index - 1);
    return { events, last, caughtUp };
  }

  subscribe(options: SubscribeOptions): AsyncIterable<SubscriptionBatch> {
    return pollingSubscription((o) => this.readAll(o), this.#waker, options);
  }

  async headPosition(): Promise<Position | null> {
    this.#assertOpen();
    return this.#log.length === 0 ? null : memoryPosition(this.#log.length - 1);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#waker.wake();
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('event store is closed');
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
