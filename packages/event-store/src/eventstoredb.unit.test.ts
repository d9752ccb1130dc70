import { randomUUID } from 'node:crypto';
import {
  AccessDeniedError,
  CancelledError,
  DeadlineExceededError,
  MaxAppendSizeExceededError,
  StreamNotFoundError,
  TimeoutError,
  UnavailableError,
  UnknownError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DuplicateEventId, EventStoreUnavailable, InvalidAppend, WrongExpectedVersion } from './errors.ts';
import {
  AllScan,
  decodeMetadata,
  decodePosition,
  encodePosition,
  expectedRevisionFor,
  isSystemEvent,
  originalAppendResult,
  SCHEMA_VERSION_METADATA_KEY,
  type StoredClientEvent,
  toEventData,
  toRecordedEvent,
  translateError,
  versionFromRevision,
} from './eventstoredb.ts';
import type { NewEvent, Position, RecordedEvent } from './types.ts';
import { validateEvents } from './validation.ts';

const UINT64_MAX = 2n ** 64n - 1n;

/** An event as the client hands it back, written by this adapter unless told otherwise. */
function stored(
  options: {
    streamId?: string;
    revision?: bigint;
    type?: string;
    at?: bigint;
    data?: unknown;
    metadata?: unknown;
    isJson?: boolean;
    id?: string;
  } = {},
): StoredClientEvent & { position: { commit: bigint; prepare: bigint } } {
  const at = options.at ?? 100n;
  return {
    streamId: options.streamId ?? 'account-1',
    id: options.id ?? randomUUID(),
    revision: options.revision ?? 0n,
    type: options.type ?? 'CdrRated',
    isJson: options.isJson ?? true,
    data: 'data' in options ? options.data : { n: 1 },
    metadata: 'metadata' in options ? options.metadata : { [SCHEMA_VERSION_METADATA_KEY]: 1 },
    created: new Date('2026-01-02T03:04:05.000Z'),
    position: { commit: at, prepare: at },
  };
}

function position(at: bigint): Position {
  return encodePosition({ commit: at, prepare: at });
}

describe('expected versions', () => {
  it('maps each expected version to the EventStoreDB revision one below it', () => {
    expect(expectedRevisionFor('any')).toBe('any');
    expect(expectedRevisionFor('no_stream')).toBe('no_stream');
    expect(expectedRevisionFor(0n)).toBe('no_stream');
    expect(expectedRevisionFor('stream_exists')).toBe('stream_exists');
    expect(expectedRevisionFor(1n)).toBe(0n);
    expect(expectedRevisionFor(42n)).toBe(41n);
  });

  it('refuses a negative or unknown expected version', () => {
    expect(() => expectedRevisionFor(-1n)).toThrow(RangeError);
    expect(() => expectedRevisionFor('latest' as 'any')).toThrow(RangeError);
  });

  it("reads a stream's version from its current revision, 0 when it does not exist", () => {
    expect(versionFromRevision('no_stream')).toBe(0n);
    expect(versionFromRevision(0n)).toBe(1n);
    expect(versionFromRevision(41n)).toBe(42n);
  });
});

describe('positions', () => {
  it('writes commit and prepare padded to 20 digits and reads them back', () => {
    const encoded = encodePosition({ commit: 1234n, prepare: 1200n });
    expect(encoded).toBe('00000000000000001234:00000000000000001200');
    expect(decodePosition(encoded)).toEqual({ commit: 1234n, prepare: 1200n });
    expect(decodePosition(encodePosition({ commit: UINT64_MAX, prepare: 0n }))).toEqual({
      commit: UINT64_MAX,
      prepare: 0n,
    });
  });

  it('orders positions as strings exactly as the log orders them (commit, then prepare)', () => {
    const logPosition = fc.record({
      commit: fc.bigInt({ min: 0n, max: UINT64_MAX }),
      prepare: fc.bigInt({ min: 0n, max: UINT64_MAX }),
    });
    fc.assert(
      fc.property(logPosition, logPosition, (a, b) => {
        const logOrder =
          a.commit === b.commit ? Math.sign(Number(a.prepare - b.prepare)) : a.commit < b.commit ? -1 : 1;
        const encodedA = encodePosition(a);
        const encodedB = encodePosition(b);
        const stringOrder = encodedA === encodedB ? 0 : encodedA < encodedB ? -1 : 1;
        expect(stringOrder).toBe(logOrder);
      }),
    );
  });

  it('refuses what is not a position of this store', () => {
    expect(() => decodePosition('12:34' as Position)).toThrow(RangeError);
    expect(() => decodePosition(`${'0'.repeat(20)}-${'0'.repeat(20)}` as Position)).toThrow(RangeError);
    expect(() => encodePosition({ commit: -1n, prepare: -1n })).toThrow(RangeError);
  });
});

describe('client errors', () => {
  const append = { stream: 'account-1', expected: 3n } as const;

  it('turns a wrong expected version into WrongExpectedVersion with the actual version (revision + 1)', () => {
    const error = new WrongExpectedVersionError(undefined, { streamName: 'account-1', expected: 2n, current: 4n });
    const translated = translateError(error, append);
    expect(translated).toBeInstanceOf(WrongExpectedVersion);
    expect(translated).toMatchObject({ stream: 'account-1', expected: 3n, actual: 5n, retryable: true });
  });

  it('reports actual version 0 when the server says the stream does not exist', () => {
    const error = new WrongExpectedVersionError(undefined, {
      streamName: 'account-1',
      expected: 'stream_exists',
      current: 'no_stream',
    });
    expect(translateError(error, { stream: 'account-1', expected: 'stream_exists' })).toMatchObject({
      code: 'WRONG_EXPECTED_VERSION',
      expected: 'stream_exists',
      actual: 0n,
    });
  });

  it('refuses an append larger than the server accepts, without retrying', () => {
    const translated = translateError(MaxAppendSizeExceededError.fromMaxAppendSize(1_048_576), append);
    expect(translated).toBeInstanceOf(InvalidAppend);
    expect(translated).toMatchObject({ code: 'TOO_MANY_EVENTS', field: 'events', retryable: false });
    expect((translated as Error).message).toContain('1048576');
  });

  it('reports every sign of an unreachable or unready server as EventStoreUnavailable', () => {
    const raw = Object.assign(new Error('14 UNAVAILABLE: No connection established'), { code: 14 });
    const signs: Error[] = [
      new UnavailableError(undefined, 'connection refused'),
      new DeadlineExceededError(undefined, 'deadline'),
      new CancelledError(undefined, 'cancelled by server'),
      new TimeoutError(undefined, 'timeout'),
      new UnknownError(undefined, 'Could not recognize Server Is Not Ready'),
      new Error('Failed to discover after 10 attempts.'),
      raw,
    ];
    for (const sign of signs) {
      const translated = translateError(sign);
      expect(translated, sign.message).toBeInstanceOf(EventStoreUnavailable);
      expect(translated).toMatchObject({ code: 'EVENT_STORE_UNAVAILABLE', retryable: true, cause: sign });
    }
  });

  it('passes other errors through unchanged', () => {
    const own = new WrongExpectedVersion('account-1', 1n, 2n);
    const others: unknown[] = [
      own,
      new StreamNotFoundError(undefined, 'account-1'),
      new AccessDeniedError(undefined, 'denied'),
      new TypeError('bug'),
      'not an error',
    ];
    for (const other of others) expect(translateError(other, append)).toBe(other);
  });
});

describe('events on the wire', () => {
  const newEvent: NewEvent = {
    eventId: randomUUID().toUpperCase(),
    type: 'CdrRated',
    schemaVersion: 3,
    data: { costPaise: '1234', nested: { list: [1, 'two', null, true] } },
    metadata: { commandId: 'c-1', actor: 'system', recordedAt: '2026-01-01T00:00:00.000Z' },
  };

  it('stores the schema version in metadata and gives readers back exactly what was written', () => {
    const [validated] = validateEvents([newEvent]);
    if (validated === undefined) throw new Error('validated nothing');
    const wire = toEventData(validated);
    expect(wire).toMatchObject({
      id: newEvent.eventId.toLowerCase(),
      contentType: 'application/json',
      type: 'CdrRated',
    });
    expect(wire.metadata).toEqual({ ...newEvent.metadata, [SCHEMA_VERSION_METADATA_KEY]: 3 });
    // The client sends data and metadata as JSON text and parses them on the way back.
    const roundTripped = stored({
      id: wire.id.toUpperCase(),
      revision: 6n,
      at: 777n,
      data: JSON.parse(JSON.stringify(wire.data)),
      metadata: JSON.parse(JSON.stringify(wire.metadata)),
    });
    expect(toRecordedEvent(roundTripped)).toEqual({
      eventId: newEvent.eventId.toLowerCase(),
      type: 'CdrRated',
      schemaVersion: 3,
      data: newEvent.data,
      metadata: newEvent.metadata,
      streamId: 'account-1',
      version: 7n,
      position: position(777n),
      storedAt: new Date('2026-01-02T03:04:05.000Z'),
    });
  });

  it('reads schema version 1 and empty metadata from events stored without them', () => {
    expect(decodeMetadata(undefined)).toEqual({ metadata: {}, schemaVersion: 1 });
    expect(decodeMetadata({ actor: 'ops' })).toEqual({ metadata: { actor: 'ops' }, schemaVersion: 1 });
  });

  it("refuses a caller's metadata that uses the key reserved for the schema version", () => {
    const [validated] = validateEvents([{ ...newEvent, metadata: { [SCHEMA_VERSION_METADATA_KEY]: 9 } }]);
    if (validated === undefined) throw new Error('validated nothing');
    expect(() => toEventData(validated, 'events[0]')).toThrow(InvalidAppend);
    expect(() => toEventData(validated, 'events[0]')).toThrow(`events[0].metadata.${SCHEMA_VERSION_METADATA_KEY}`);
  });

  it('reads JSON stored as bytes, and refuses events Khata cannot have written', () => {
    const bytes = new TextEncoder().encode('{"a":1}');
    expect(toRecordedEvent(stored({ isJson: false, data: bytes })).data).toEqual({ a: 1 });
    expect(() => toRecordedEvent(stored({ isJson: false, data: new Uint8Array([0xff]) }))).toThrow(/not JSON/);
    expect(() => toRecordedEvent(stored({ data: [1, 2] }))).toThrow(/not a JSON object/);
    expect(() => toRecordedEvent(stored({ metadata: 'text' }))).toThrow(/metadata is not a JSON object/);
    expect(() => toRecordedEvent(stored({ metadata: { [SCHEMA_VERSION_METADATA_KEY]: 0 } }))).toThrow(
      /not a schema version/,
    );
    const withoutPosition = { ...stored(), position: undefined };
    expect(() => toRecordedEvent(withoutPosition)).toThrow(/22\.6 or later/);
    const unsignedMinusOne = { ...stored(), position: { commit: UINT64_MAX, prepare: UINT64_MAX } };
    expect(() => toRecordedEvent(unsignedMinusOne)).toThrow(/22\.6 or later/);
  });

  it('tells EventStoreDB system events from Khata events', () => {
    expect(isSystemEvent({ streamId: '$stats-127.0.0.1:2113', type: '$statsCollected' })).toBe(true);
    expect(isSystemEvent({ streamId: '$$account-1', type: '$metadata' })).toBe(true);
    expect(isSystemEvent({ streamId: '$ce-account', type: '$>' })).toBe(true);
    expect(isSystemEvent({ streamId: 'account-1', type: '$>' })).toBe(true);
    expect(isSystemEvent({ streamId: 'account-1', type: 'CdrRated' })).toBe(false);
  });
});

describe('retried appends', () => {
  const opened: NewEvent = { eventId: randomUUID(), type: 'Opened', data: { a: 1, b: { c: 'x', d: [1, 2] } } };
  const credited: NewEvent = { eventId: randomUUID(), type: 'Credited', data: { amount: '10.00' } };

  function recorded(event: NewEvent, version: bigint, streamId = 'account-1'): RecordedEvent {
    return toRecordedEvent(
      stored({
        id: event.eventId,
        streamId,
        type: event.type,
        revision: version - 1n,
        at: version * 100n,
        data: event.data,
      }),
    );
  }
  function byId(...events: RecordedEvent[]): Map<string, RecordedEvent> {
    return new Map(events.map((e) => [e.eventId, e]));
  }

  it('finds nothing to resolve when none of the ids is stored', () => {
    expect(originalAppendResult('account-1', validateEvents([opened, credited]), byId())).toBeNull();
  });

  it('answers with the original result when the same events are stored together, whatever the key order', () => {
    const reordered = { ...opened, data: { b: { d: [1, 2], c: 'x' }, a: 1 } };
    const storedEvents = byId(recorded(opened, 4n), recorded(credited, 5n));
    expect(originalAppendResult('account-1', validateEvents([reordered, credited]), storedEvents)).toEqual({
      nextVersion: 5n,
      position: position(500n),
    });
  });

  it('refuses ids stored with other content, in another stream, apart, or mixed with new events', () => {
    const together = byId(recorded(opened, 4n), recorded(credited, 5n));
    const refusals: [NewEvent[], Map<string, RecordedEvent>, string][] = [
      [[{ ...opened, data: { a: 2 } }], together, 'different content'],
      [[{ ...opened, type: 'Reopened' }], together, 'different content'],
      [[{ ...opened, schemaVersion: 2 }], together, 'different content'],
      [[opened], byId(recorded(opened, 1n, 'account-2')), 'different content'],
      [[opened, credited], byId(recorded(opened, 4n), recorded(credited, 7n)), 'different append'],
      [[opened, { eventId: randomUUID(), type: 'New', data: {} }], together, 'different append'],
    ];
    for (const [events, storedEvents, reason] of refusals) {
      expect(() => originalAppendResult('account-1', validateEvents(events), storedEvents)).toThrow(DuplicateEventId);
      expect(() => originalAppendResult('account-1', validateEvents(events), storedEvents)).toThrow(reason);
    }
  });
});

describe('reading $all page by page', () => {
  it('skips the event a read starts on, since EventStoreDB reads $all from a position inclusively', () => {
    const scan = new AllScan(position(100n), 10, undefined);
    scan.add([stored({ at: 100n }), stored({ at: 200n, revision: 1n })]);
    expect(scan.events.map((e) => e.position)).toEqual([position(200n)]);
    // The next page starts on the last event examined; it is not counted twice.
    scan.add([stored({ at: 200n, revision: 1n }), stored({ at: 300n, revision: 2n })]);
    expect(scan.events.map((e) => e.version)).toEqual([2n, 3n]);
    expect(scan.scanned).toBe(2);
  });

  it('leaves out system events, and moves past them only when more of the log follows', () => {
    const scan = new AllScan(null, 10, undefined);
    scan.add([
      stored({ streamId: '$settings', type: '$metadata', at: 10n }),
      stored({ at: 20n }),
      stored({ streamId: '$ce-account', type: '$>', at: 30n }),
      stored({ at: 40n, revision: 1n }),
      stored({ streamId: '$ce-account', type: '$>', at: 50n, revision: 1n }),
    ]);
    expect(scan.events.map((e) => e.position)).toEqual([position(20n), position(40n)]);
    // At the end of the log, trailing system events do not count: last is where Khata's log ends.
    expect(scan.result('end')).toMatchObject({ last: position(40n), caughtUp: true });
    // When the scan bound stops a read, it resumes after everything examined.
    expect(scan.result('bound')).toMatchObject({ last: position(50n), caughtUp: false });
  });

  it('drops what the filter does not match while last still moves past it', () => {
    const scan = new AllScan(null, 10, { streamPrefixes: ['account-'], eventTypes: ['CdrRated'] });
    scan.add([
      stored({ streamId: 'user-1', at: 10n }),
      stored({ streamId: 'account-1', type: 'CallAuthorized', at: 20n }),
      stored({ streamId: 'account-1', type: 'CdrRated', at: 30n, revision: 1n }),
      stored({ streamId: 'user-1', at: 40n, revision: 1n }),
    ]);
    expect(scan.events.map((e) => e.position)).toEqual([position(30n)]);
    expect(scan.result('end')).toEqual({ events: scan.events, last: position(40n), caughtUp: true });
  });

  it('stops at maxCount with last on the last event returned', () => {
    const scan = new AllScan(null, 2, undefined);
    const full = scan.add([stored({ at: 10n }), stored({ at: 20n, revision: 1n }), stored({ at: 30n, revision: 2n })]);
    expect(full).toBe(true);
    expect(scan.result('full')).toMatchObject({ last: position(20n), caughtUp: false });
    expect(scan.events).toHaveLength(2);
  });

  it('answers null for an empty log and keeps `after` when nothing new follows it', () => {
    expect(new AllScan(null, 10, undefined).result('end')).toEqual({ events: [], last: null, caughtUp: true });
    const onlySystem = new AllScan(null, 10, undefined);
    onlySystem.add([stored({ streamId: '$users', type: '$User', at: 5n })]);
    expect(onlySystem.result('end')).toEqual({ events: [], last: null, caughtUp: true });
    const scan = new AllScan(position(300n), 10, undefined);
    scan.add([stored({ at: 300n })]);
    expect(scan.result('end')).toEqual({ events: [], last: position(300n), caughtUp: true });
  });
});
