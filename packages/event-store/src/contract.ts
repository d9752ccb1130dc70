/**
 * The event store contract as a test suite (SPEC §3). Every adapter's test file calls
 * `eventStoreContract` with a target that can produce an empty store; the suite is the executable
 * definition of the semantics, so adapters may differ in speed, never in behaviour.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { DuplicateEventId, InvalidAppend, WrongExpectedVersion } from './errors.ts';
import { EVENT_SIZE_BYTES_MAX } from './limits.ts';
import type { EventFilter, EventStore, NewEvent, Position, RecordedEvent } from './types.ts';

/**
 * Guarantees a backend cannot give. Each one absent or true means the adapter keeps it and the suite
 * asserts it; false skips exactly the assertions that depend on it, nothing else.
 */
export interface ContractCapabilities {
  /**
   * An event id already stored in one stream is refused in another. EventStoreDB has no index by event
   * id, so its adapter can only find duplicates within a stream.
   */
  readonly crossStreamDuplicateIds?: boolean;
}

export interface ContractTarget {
  /** What the backend cannot guarantee; every capability is assumed when absent. */
  readonly capabilities?: ContractCapabilities;
  /** An empty store. Called at the start of every test. */
  fresh(): Promise<EventStore>;
  /** A new store instance over the same data, as after a process restart (memory: the same one). */
  reopen(store: EventStore): Promise<EventStore>;
  /** The adapter implements `appendToStreams` (group commit); its tests run only then. */
  readonly groupCommit?: boolean;
  /**
   * Appends `events` to `stream` in a transaction that stays open while `whileOpen` runs, then commits.
   * Only adapters with client-side transactions (PostgreSQL, PGlite) provide it.
   */
  holdOpenAppend?(
    store: EventStore,
    stream: string,
    events: readonly NewEvent[],
    whileOpen: () => Promise<void>,
  ): Promise<void>;
}

export function event(type = 'Something', data: NewEvent['data'] = {}): NewEvent {
  return { eventId: randomUUID(), type, data: { n: 1, ...data } };
}

const TEST_TIMEOUT_MS = 60_000;

/** Reads a subscription until `done` says so, then aborts it; fails after `timeoutMs`. */
export async function consume(
  store: EventStore,
  options: {
    after?: Position | null;
    filter?: EventFilter;
    batchSize?: number;
    done: (seen: readonly RecordedEvent[]) => boolean;
    onBatch?: (seen: readonly RecordedEvent[]) => Promise<void> | void;
    timeoutMs?: number;
  },
): Promise<{ events: RecordedEvent[]; checkpoint: Position | null; batches: number }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error('timed out')), options.timeoutMs ?? 20_000);
  const seen: RecordedEvent[] = [];
  let checkpoint: Position | null = options.after ?? null;
  let batches = 0;
  try {
    if (options.done(seen)) return { events: seen, checkpoint, batches };
    for await (const batch of store.subscribe({
      after: options.after ?? null,
      ...(options.filter === undefined ? {} : { filter: options.filter }),
      batchSize: options.batchSize ?? 100,
      signal: controller.signal,
    })) {
      batches += 1;
      seen.push(...batch.events);
      checkpoint = batch.checkpoint;
      await options.onBatch?.(seen);
      if (options.done(seen)) break;
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  if (!options.done(seen)) throw new Error(`subscription ended early with ${seen.length} events`);
  return { events: seen, checkpoint, batches };
}

/** Asserts the subscriber's view: each event once, positions ascending, each stream 1, 2, 3, … */
export function assertLogIntegrity(events: readonly RecordedEvent[]): void {
  const ids = new Set(events.map((e) => e.eventId));
  expect(ids.size).toBe(events.length);
  for (let i = 1; i < events.length; i += 1) {
    expect((events[i - 1] as RecordedEvent).position < (events[i] as RecordedEvent).position).toBe(true);
  }
  const lastVersion = new Map<string, bigint>();
  for (const e of events) {
    const previous = lastVersion.get(e.streamId) ?? 0n;
    expect(e.version, `${e.streamId} read out of version order`).toBe(previous + 1n);
    lastVersion.set(e.streamId, e.version);
  }
}

async function appendWithRetry(store: EventStore, stream: string, events: readonly NewEvent[]): Promise<number> {
  const ATTEMPTS_MAX = 1_000;
  for (let attempt = 1; attempt <= ATTEMPTS_MAX; attempt += 1) {
    const { version } = await store.readStream(stream, { direction: 'backwards', maxCount: 1 });
    try {
      await store.appendToStream(stream, events, { expected: version });
      return attempt;
    } catch (error) {
      if (!(error instanceof WrongExpectedVersion)) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
    }
  }
  throw new Error(`append to ${stream} still conflicting after ${ATTEMPTS_MAX} attempts`);
}

export function eventStoreContract(name: string, target: ContractTarget): void {
  const crossStreamDuplicateIds = target.capabilities?.crossStreamDuplicateIds ?? true;
  describe(`${name}: event store contract`, { timeout: TEST_TIMEOUT_MS }, () => {
    const open: EventStore[] = [];
    const fresh = async (): Promise<EventStore> => {
      const store = await target.fresh();
      open.push(store);
      return store;
    };
    const reopen = async (store: EventStore): Promise<EventStore> => {
      const again = await target.reopen(store);
      if (again !== store) open.push(again);
      return again;
    };
    afterEach(async () => {
      for (const store of open.splice(0)) await store.close();
    });

    describe('expected version', () => {
      it('creates a stream with no_stream, 0n or any, and refuses stream_exists or a version on a missing stream', async () => {
        const store = await fresh();
        await expect(store.appendToStream('s-a', [event()], { expected: 'no_stream' })).resolves.toMatchObject({
          nextVersion: 1n,
        });
        await expect(store.appendToStream('s-b', [event()], { expected: 0n })).resolves.toMatchObject({
          nextVersion: 1n,
        });
        await expect(store.appendToStream('s-c', [event(), event()], { expected: 'any' })).resolves.toMatchObject({
          nextVersion: 2n,
        });
        const exists = store.appendToStream('s-d', [event()], { expected: 'stream_exists' });
        await expect(exists).rejects.toBeInstanceOf(WrongExpectedVersion);
        await expect(exists).rejects.toMatchObject({ stream: 's-d', expected: 'stream_exists', actual: 0n });
        await expect(store.appendToStream('s-d', [event()], { expected: 3n })).rejects.toMatchObject({
          code: 'WRONG_EXPECTED_VERSION',
          expected: 3n,
          actual: 0n,
        });
        expect((await store.readStream('s-d')).version).toBe(0n);
      });

      it('appends to an existing stream with stream_exists, any or its exact version, and refuses others with the actual version', async () => {
        const store = await fresh();
        await store.appendToStream('s-1', [event(), event()], { expected: 'no_stream' });
        await expect(store.appendToStream('s-1', [event()], { expected: 'no_stream' })).rejects.toMatchObject({
          expected: 'no_stream',
          actual: 2n,
        });
        await expect(store.appendToStream('s-1', [event()], { expected: 1n })).rejects.toMatchObject({
          expected: 1n,
          actual: 2n,
        });
        await expect(store.appendToStream('s-1', [event()], { expected: 7n })).rejects.toMatchObject({ actual: 2n });
        await expect(store.appendToStream('s-1', [event()], { expected: 2n })).resolves.toMatchObject({
          nextVersion: 3n,
        });
        await expect(store.appendToStream('s-1', [event()], { expected: 'stream_exists' })).resolves.toMatchObject({
          nextVersion: 4n,
        });
        await expect(store.appendToStream('s-1', [event(), event()], { expected: 'any' })).resolves.toMatchObject({
          nextVersion: 6n,
        });
        const { version, events } = await store.readStream('s-1');
        expect(version).toBe(6n);
        expect(events.map((e) => e.version)).toEqual([1n, 2n, 3n, 4n, 5n, 6n]);
      });

      it('lets exactly one of two writers with the same expected version win', async () => {
        const store = await fresh();
        await store.appendToStream('race-1', [event()], { expected: 'no_stream' });
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, () => store.appendToStream('race-1', [event()], { expected: 1n })),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(WrongExpectedVersion);
        }
        expect((await store.readStream('race-1')).version).toBe(2n);
      });
    });

    describe('idempotent event ids', () => {
      it('returns the original result when the same events are appended again, and writes nothing', async () => {
        const store = await fresh();
        const events = [event('Opened', { a: 1 }), event('Credited', { amount: '10.00' })];
        const first = await store.appendToStream('idem-1', events, { expected: 'no_stream' });
        await store.appendToStream('idem-1', [event()], { expected: 2n });
        const again = await store.appendToStream('idem-1', events, { expected: 'no_stream' });
        expect(again).toEqual(first);
        const anyAgain = await store.appendToStream('idem-1', events, { expected: 'any' });
        expect(anyAgain).toEqual(first);
        expect((await store.readStream('idem-1')).version).toBe(3n);
      });

      it('treats key order inside data as the same content', async () => {
        const store = await fresh();
        const id = randomUUID();
        const first = await store.appendToStream(
          'idem-2',
          [{ eventId: id, type: 'T', data: { a: 1, b: { c: 'x', d: [1, 2] } } }],
          { expected: 'no_stream' },
        );
        const again = await store.appendToStream(
          'idem-2',
          [{ eventId: id, type: 'T', data: { b: { d: [1, 2], c: 'x' }, a: 1 } }],
          { expected: 'no_stream' },
        );
        expect(again).toEqual(first);
      });

      const duplicatePlaces = crossStreamDuplicateIds ? 'different content, in another stream,' : 'different content';
      it(`refuses an event id stored with ${duplicatePlaces} or mixed with new events`, async () => {
        const store = await fresh();
        const original = event('T', { amount: '1.00' });
        await store.appendToStream('dup-1', [original], { expected: 'no_stream' });
        const changed = { ...original, data: { amount: '2.00' } };
        await expect(store.appendToStream('dup-1', [changed], { expected: 'any' })).rejects.toBeInstanceOf(
          DuplicateEventId,
        );
        await expect(
          store.appendToStream('dup-1', [{ ...original, type: 'U' }], { expected: 'any' }),
        ).rejects.toMatchObject({
          code: 'DUPLICATE_EVENT_ID',
          eventId: original.eventId,
        });
        if (crossStreamDuplicateIds) {
          await expect(store.appendToStream('dup-2', [original], { expected: 'any' })).rejects.toBeInstanceOf(
            DuplicateEventId,
          );
        }
        await expect(store.appendToStream('dup-1', [original, event()], { expected: 'any' })).rejects.toBeInstanceOf(
          DuplicateEventId,
        );
        expect((await store.readStream('dup-1')).version).toBe(1n);
        if (crossStreamDuplicateIds) expect((await store.readStream('dup-2')).version).toBe(0n);
      });
    });

    describe('reading streams', () => {
      it('reads forwards and backwards with a start and a limit', async () => {
        const store = await fresh();
        const events = Array.from({ length: 10 }, (_, i) => event('N', { i }));
        await store.appendToStream('read-1', events, { expected: 'no_stream' });
        const all = await store.readStream('read-1');
        expect(all.version).toBe(10n);
        expect(all.events.map((e) => e.data.i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        expect(all.events[0]).toMatchObject({
          eventId: events[0]?.eventId,
          type: 'N',
          schemaVersion: 1,
          streamId: 'read-1',
          version: 1n,
          metadata: {},
        });
        const middle = await store.readStream('read-1', { fromVersion: 4n, maxCount: 3 });
        expect(middle.events.map((e) => e.version)).toEqual([4n, 5n, 6n]);
        const tail = await store.readStream('read-1', { direction: 'backwards', maxCount: 2 });
        expect(tail.events.map((e) => e.version)).toEqual([10n, 9n]);
        const before = await store.readStream('read-1', { direction: 'backwards', fromVersion: 3n, maxCount: 5 });
        expect(before.events.map((e) => e.version)).toEqual([3n, 2n, 1n]);
        const beyond = await store.readStream('read-1', { fromVersion: 11n });
        expect(beyond).toEqual({ version: 10n, events: [] });
        expect(await store.readStream('missing-1')).toEqual({ version: 0n, events: [] });
      });

      it('keeps metadata and schema versions as written', async () => {
        const store = await fresh();
        await store.appendToStream(
          'meta-1',
          [
            {
              eventId: randomUUID(),
              type: 'CdrRated',
              schemaVersion: 3,
              data: { costPaise: '1234', nested: { list: [1, 'two', null, true] } },
              metadata: { commandId: 'c-1', actor: 'system', recordedAt: '2026-01-01T00:00:00.000Z' },
            },
          ],
          { expected: 'no_stream' },
        );
        const [stored] = (await store.readStream('meta-1')).events;
        expect(stored).toMatchObject({
          type: 'CdrRated',
          schemaVersion: 3,
          data: { costPaise: '1234', nested: { list: [1, 'two', null, true] } },
          metadata: { commandId: 'c-1', actor: 'system', recordedAt: '2026-01-01T00:00:00.000Z' },
        });
        expect(stored?.storedAt).toBeInstanceOf(Date);
      });
    });

    describe('the global log', () => {
      it('reads all events in append order across streams, with the append result naming each position', async () => {
        const store = await fresh();
        expect(await store.headPosition()).toBeNull();
        expect(await store.readAll({ maxCount: 10 })).toEqual({ events: [], last: null, caughtUp: true });
        const a = await store.appendToStream('log-a', [event(), event()], { expected: 'no_stream' });
        const b = await store.appendToStream('log-b', [event()], { expected: 'no_stream' });
        const c = await store.appendToStream('log-a', [event()], { expected: 2n });
        expect(await store.headPosition()).toBe(c.position);
        const page = await store.readAll({ maxCount: 100 });
        expect(page.caughtUp).toBe(true);
        expect(page.events.map((e) => `${e.streamId}@${e.version}`)).toEqual([
          'log-a@1',
          'log-a@2',
          'log-b@1',
          'log-a@3',
        ]);
        expect(page.events[1]?.position).toBe(a.position);
        expect(page.events[2]?.position).toBe(b.position);
        expect(page.last).toBe(c.position);
        const first = await store.readAll({ maxCount: 2 });
        expect(first.caughtUp).toBe(false);
        expect(first.last).toBe(a.position);
        const rest = await store.readAll({ after: first.last, maxCount: 2 });
        expect(rest.events.map((e) => e.position)).toEqual([b.position, c.position]);
      });

      it('filters by stream prefix and event type, and moves past what the filter dropped', async () => {
        const store = await fresh();
        await store.appendToStream('account-1', [event('CallAuthorized'), event('CdrRated')], { expected: 'any' });
        await store.appendToStream('user-1', [event('LoginSucceeded')], { expected: 'any' });
        const last = await store.appendToStream('account-2', [event('CdrRated')], { expected: 'any' });
        const accounts = await store.readAll({ maxCount: 10, filter: { streamPrefixes: ['account-'] } });
        expect(accounts.events.map((e) => e.streamId)).toEqual(['account-1', 'account-1', 'account-2']);
        const rated = await store.readAll({ maxCount: 10, filter: { eventTypes: ['CdrRated'] } });
        expect(rated.events.map((e) => e.streamId)).toEqual(['account-1', 'account-2']);
        const both = await store.readAll({
          maxCount: 10,
          filter: { streamPrefixes: ['user-', 'nothing-'], eventTypes: ['LoginSucceeded', 'CdrRated'] },
        });
        expect(both.events.map((e) => e.type)).toEqual(['LoginSucceeded']);
        const none = await store.readAll({ maxCount: 10, filter: { streamPrefixes: ['invoice-'] } });
        expect(none).toEqual({ events: [], last: last.position, caughtUp: true });
      });
    });

    describe('subscriptions', () => {
      it('hands over from catch-up to live without losing or repeating an event', async () => {
        const store = await fresh();
        const streams = ['live-a', 'live-b', 'live-c'];
        for (let i = 0; i < 100; i += 1) {
          for (const s of streams) await store.appendToStream(s, [event('Old', { i })], { expected: 'any' });
        }
        let liveAppended = false;
        const { events } = await consume(store, {
          batchSize: 40,
          done: (seen) => seen.length >= 500,
          onBatch: async () => {
            if (liveAppended) return;
            liveAppended = true;
            for (let i = 0; i < 200; i += 1) {
              await store.appendToStream(streams[i % 3] as string, [event('New', { i })], { expected: 'any' });
            }
          },
        });
        expect(events).toHaveLength(500);
        assertLogIntegrity(events);
        expect(events.filter((e) => e.type === 'New')).toHaveLength(200);
      });

      it('wakes a caught-up subscriber for a new append', async () => {
        const store = await fresh();
        const waiting = consume(store, { done: (seen) => seen.length === 1, timeoutMs: 5_000 });
        await new Promise((resolve) => setTimeout(resolve, 100));
        await store.appendToStream('wake-1', [event()], { expected: 'no_stream' });
        const { events } = await waiting;
        expect(events[0]?.streamId).toBe('wake-1');
      });

      it('resumes from a stored checkpoint after a restart with exactly the remaining events', async () => {
        const store = await fresh();
        for (let i = 0; i < 100; i += 1) {
          await store.appendToStream(`resume-${i % 4}`, [event('N', { i })], { expected: 'any' });
        }
        const firstRun = await consume(store, { batchSize: 25, done: (seen) => seen.length >= 50 });
        expect(firstRun.events).toHaveLength(50);
        for (let i = 100; i < 120; i += 1) {
          await store.appendToStream(`resume-${i % 4}`, [event('N', { i })], { expected: 'any' });
        }
        const restarted = await reopen(store);
        const secondRun = await consume(restarted, {
          after: firstRun.checkpoint,
          batchSize: 25,
          done: (seen) => seen.length >= 70,
        });
        const all = [...firstRun.events, ...secondRun.events];
        expect(all.map((e) => e.data.i)).toEqual(Array.from({ length: 120 }, (_, i) => i));
        assertLogIntegrity(all);
      });

      it('delivers a filtered subscription only matching events while its checkpoint follows the log', async () => {
        const store = await fresh();
        await store.appendToStream('account-9', [event('A')], { expected: 'any' });
        for (let i = 0; i < 30; i += 1) await store.appendToStream('user-9', [event('B')], { expected: 'any' });
        const head = await store.appendToStream('account-9', [event('A')], { expected: 'any' });
        const result = await consume(store, {
          filter: { streamPrefixes: ['account-'] },
          batchSize: 10,
          done: (seen) => seen.length === 2,
        });
        expect(result.events.map((e) => e.streamId)).toEqual(['account-9', 'account-9']);
        expect(result.checkpoint).toBe(head.position);
      });

      it('sees every event of 32 concurrent writers on shared streams exactly once and each stream in order', async () => {
        const store = await fresh();
        const WRITERS = 32;
        const APPENDS_PER_WRITER = 20;
        const streams = Array.from({ length: 8 }, (_, i) => `shared-${i}`);
        let expectedTotal = 0;
        for (let w = 0; w < WRITERS; w += 1) {
          for (let k = 0; k < APPENDS_PER_WRITER; k += 1) expectedTotal += 1 + ((w + k) % 3);
        }
        const subscriber = consume(store, {
          batchSize: 64,
          done: (seen) => seen.length >= expectedTotal,
          timeoutMs: 50_000,
        });
        await Promise.all(
          Array.from({ length: WRITERS }, async (_, w) => {
            for (let k = 0; k < APPENDS_PER_WRITER; k += 1) {
              const stream = streams[(w + k) % streams.length] as string;
              const batch = Array.from({ length: 1 + ((w + k) % 3) }, (_, j) => event('W', { w, k, j }));
              if (w % 2 === 0) await store.appendToStream(stream, batch, { expected: 'any' });
              else await appendWithRetry(store, stream, batch);
            }
          }),
        );
        const { events } = await subscriber;
        expect(events).toHaveLength(expectedTotal);
        assertLogIntegrity(events);
        let total = 0n;
        for (const s of streams) total += (await store.readStream(s, { maxCount: 1 })).version;
        expect(total).toBe(BigInt(expectedTotal));
        // Within one append the events keep their order and stay together in each stream.
        for (const s of streams) {
          const { events: inStream } = await store.readStream(s);
          for (const [i, e] of inStream.entries()) {
            if (e.data.j !== 0) expect(inStream[i - 1]?.data).toMatchObject({ w: e.data.w, k: e.data.k });
          }
        }
      });

      if (target.holdOpenAppend !== undefined) {
        const holdOpenAppend = target.holdOpenAppend;
        it('lets a long open transaction delay subscribers but never makes them skip its events', async () => {
          const store = await fresh();
          await store.appendToStream('slow-0', [event('Before')], { expected: 'no_stream' });
          const seen: RecordedEvent[] = [];
          const subscriber = consume(store, {
            batchSize: 10,
            done: (events) => events.length >= 1 + 3 + 5,
            onBatch: (events) => {
              seen.splice(0, seen.length, ...events);
            },
          });
          const laterAppends: Promise<unknown>[] = [];
          await holdOpenAppend(store, 'slow-held', [event('Held'), event('Held'), event('Held')], async () => {
            for (let i = 0; i < 5; i += 1) {
              laterAppends.push(store.appendToStream(`slow-${i + 1}`, [event('After')], { expected: 'no_stream' }));
            }
            await new Promise((resolve) => setTimeout(resolve, 400));
            // Events committed after the held transaction began are not delivered before it ends.
            expect(seen.filter((e) => e.type !== 'Before')).toEqual([]);
          });
          await Promise.all(laterAppends);
          const { events } = await subscriber;
          assertLogIntegrity(events);
          expect(events.map((e) => e.type)).toEqual([
            'Before',
            'Held',
            'Held',
            'Held',
            'After',
            'After',
            'After',
            'After',
            'After',
          ]);
        });
      }
    });

    if (target.groupCommit === true) {
      const appendToStreams = (
        store: EventStore,
        appends: Parameters<NonNullable<EventStore['appendToStreams']>>[0],
      ) => {
        if (store.appendToStreams === undefined) throw new Error('the adapter has no appendToStreams');
        return store.appendToStreams(appends);
      };
      describe('group commit (appendToStreams)', () => {
        it('decides each stream on its own: a wrong expected version fails that stream only, and writes none of it', async () => {
          const store = await fresh();
          await store.appendToStream('group-old', [event('A'), event('A')], { expected: 'no_stream' });
          await store.appendToStream('group-stale', [event('A')], { expected: 'no_stream' });
          const outcomes = await appendToStreams(store, [
            { stream: 'group-new', events: [event('B'), event('B')], expected: 'no_stream' },
            { stream: 'group-old', events: [event('B')], expected: 2n },
            { stream: 'group-stale', events: [event('B')], expected: 5n },
            { stream: 'group-any', events: [event('B')], expected: 'any' },
          ]);
          expect(outcomes.map((outcome) => (outcome.ok ? outcome.result.nextVersion : 'failed'))).toEqual([
            2n,
            3n,
            'failed',
            1n,
          ]);
          const failed = outcomes[2];
          expect(failed?.ok === false ? failed.error : null).toBeInstanceOf(WrongExpectedVersion);
          expect(failed?.ok === false ? (failed.error as WrongExpectedVersion).actual : null).toBe(1n);
          expect((await store.readStream('group-stale')).events.map((e) => e.type)).toEqual(['A']);
          const { events } = await store.readAll({ maxCount: 100 });
          assertLogIntegrity(events);
          // Each stream's events stay together and in order, and each result names its last event.
          const positions = outcomes.flatMap((outcome) => (outcome.ok ? [outcome.result.position] : []));
          for (const position of positions) expect(events.some((e) => e.position === position)).toBe(true);
          expect(events.filter((e) => e.streamId === 'group-new').map((e) => e.version)).toEqual([1n, 2n]);
        });

        it('answers a repeated group with the original results and writes nothing twice; a clashing id fails only its stream', async () => {
          const store = await fresh();
          const appends = [
            { stream: 'again-1', events: [event('C')], expected: 'no_stream' as const },
            { stream: 'again-2', events: [event('C'), event('C')], expected: 'no_stream' as const },
          ];
          const first = await appendToStreams(store, appends);
          const second = await appendToStreams(store, appends);
          expect(second).toEqual(first);
          const clash = { ...(appends[0]?.events[0] as NewEvent), data: { changed: true } };
          const mixed = await appendToStreams(store, [
            { stream: 'again-3', events: [event('D')], expected: 'no_stream' },
            { stream: 'again-1', events: [clash], expected: 1n },
          ]);
          expect(mixed[0]?.ok).toBe(true);
          expect(mixed[1]?.ok === false ? mixed[1].error : null).toBeInstanceOf(DuplicateEventId);
          const { events } = await store.readAll({ maxCount: 100 });
          expect(events.map((e) => e.streamId)).toEqual(['again-1', 'again-2', 'again-2', 'again-3']);
        });

        it('keeps the log gap-free and in stream order with 16 group writers and 16 single writers on shared streams', async () => {
          const store = await fresh();
          const WRITERS = 16;
          const ROUNDS = 15;
          const streams = Array.from({ length: 12 }, (_, i) => `mixed-${i}`);
          const subscriberDone = { total: Number.POSITIVE_INFINITY };
          const subscriber = consume(store, {
            batchSize: 50,
            done: (seen) => seen.length >= subscriberDone.total,
            timeoutMs: 50_000,
          });
          let written = 0;
          const groupWriter = async (w: number) => {
            for (let k = 0; k < ROUNDS; k += 1) {
              const chosen = [0, 1, 2].map((j) => streams[(w + k + j * 4) % streams.length] as string);
              const versions = await Promise.all(
                chosen.map(
                  async (stream) => (await store.readStream(stream, { direction: 'backwards', maxCount: 1 })).version,
                ),
              );
              const outcomes = await appendToStreams(
                store,
                chosen.map((stream, j) => ({
                  stream,
                  events: [event('G', { w, k, j }), event('G', { w, k, j })],
                  expected: versions[j] === 0n ? ('no_stream' as const) : (versions[j] as bigint),
                })),
              );
              for (const outcome of outcomes) {
                if (outcome.ok) written += 2;
                else expect(outcome.error).toBeInstanceOf(WrongExpectedVersion);
              }
            }
          };
          const singleWriter = async (w: number) => {
            for (let k = 0; k < ROUNDS; k += 1) {
              await appendWithRetry(store, streams[(w * 7 + k) % streams.length] as string, [event('S', { w, k })]);
              written += 1;
            }
          };
          await Promise.all(
            Array.from({ length: WRITERS * 2 }, (_, i) => (i % 2 === 0 ? groupWriter(i) : singleWriter(i))),
          );
          subscriberDone.total = written;
          await store.appendToStream('mixed-end', [event('End')], { expected: 'no_stream' });
          const { events } = await subscriber;
          assertLogIntegrity(events);
          expect(events.filter((e) => e.streamId !== 'mixed-end')).toHaveLength(written);
        });
      });
    }

    describe('bad input', () => {
      const cases: [string, () => { stream: unknown; events: unknown }, string][] = [
        ['an empty stream name', () => ({ stream: '', events: [event()] }), 'INVALID_STREAM_NAME'],
        ['a system stream name', () => ({ stream: '$all', events: [event()] }), 'INVALID_STREAM_NAME'],
        ['a stream name with spaces', () => ({ stream: 'account 1', events: [event()] }), 'INVALID_STREAM_NAME'],
        ['no events', () => ({ stream: 'bad-1', events: [] }), 'INVALID_EVENT'],
        [
          'an event id that is not a UUID',
          () => ({ stream: 'bad-1', events: [{ ...event(), eventId: 'x' }] }),
          'INVALID_EVENT',
        ],
        ['an empty event type', () => ({ stream: 'bad-1', events: [{ ...event(), type: '' }] }), 'INVALID_EVENT'],
        ['data that is an array', () => ({ stream: 'bad-1', events: [{ ...event(), data: [1] }] }), 'INVALID_EVENT'],
        ['a NaN in data', () => ({ stream: 'bad-1', events: [event('T', { x: Number.NaN })] }), 'INVALID_EVENT'],
        ['a bigint in data', () => ({ stream: 'bad-1', events: [{ ...event(), data: { x: 1n } }] }), 'INVALID_EVENT'],
        [
          'a Date in data',
          () => ({ stream: 'bad-1', events: [{ ...event(), data: { at: new Date(0) } }] }),
          'INVALID_EVENT',
        ],
        [
          'an undefined in data',
          () => ({ stream: 'bad-1', events: [{ ...event(), data: { x: undefined } }] }),
          'INVALID_EVENT',
        ],
        [
          'a function in metadata',
          () => ({ stream: 'bad-1', events: [{ ...event(), metadata: { f: () => 1 } }] }),
          'INVALID_EVENT',
        ],
        [
          'an event larger than the limit',
          () => ({ stream: 'bad-1', events: [event('T', { blob: 'x'.repeat(EVENT_SIZE_BYTES_MAX) })] }),
          'EVENT_TOO_LARGE',
        ],
        [
          'the same event id twice in one append',
          () => {
            const e = event();
            return { stream: 'bad-1', events: [e, { ...e }] };
          },
          'INVALID_EVENT',
        ],
      ];
      for (const [label, input, code] of cases) {
        it(`refuses ${label} with ${code} and writes nothing`, async () => {
          const store = await fresh();
          const { stream, events } = input();
          const attempt = store.appendToStream(stream as string, events as NewEvent[], { expected: 'any' });
          await expect(attempt).rejects.toBeInstanceOf(InvalidAppend);
          await expect(attempt).rejects.toMatchObject({ code, retryable: false });
          expect(await store.headPosition()).toBeNull();
        });
      }
    });
  });
}
