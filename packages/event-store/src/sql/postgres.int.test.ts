import { createPostgresClient, migrate, type SqlClient } from '@khata/sql';
import {
  createTestDatabase,
  describeWithService,
  postgres,
  readsBetween,
  reportedTableReads,
  type TestDatabase,
  tableReadsIncluding,
} from '@khata/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { assertLogIntegrity, consume, event, eventStoreContract } from '../contract.ts';
import { TransactionIdsBehind } from '../errors.ts';
import type { Position } from '../types.ts';
import { holdOpenAppendWith, truncateEventStore } from './harness.ts';
import { eventStoreMigrations } from './schema.ts';
import { SqlEventStore } from './store.ts';

/** A prepared statement's name without the log-size generation the store appends to it. */
const statementShape = (name: string): string => name.replace(/_g\d+$/, '');

describeWithService(postgres(), 'postgres adapter', (serverUrl) => {
  let database: TestDatabase;
  let admin: SqlClient;
  const open = (): Promise<SqlEventStore> =>
    SqlEventStore.open(createPostgresClient({ connectionString: database.url, applicationName: 'khata-test' }));

  beforeAll(async () => {
    database = await createTestDatabase(serverUrl);
    admin = createPostgresClient({ connectionString: database.url, applicationName: 'khata-test-admin' });
    await migrate(admin, eventStoreMigrations);
  });
  afterAll(async () => {
    await admin?.close();
    await database?.drop();
  });

  eventStoreContract('postgres', {
    async fresh() {
      await truncateEventStore(admin);
      return open();
    },
    reopen: () => open(),
    groupCommit: true,
    holdOpenAppend: (store, stream, events, whileOpen) => holdOpenAppendWith(admin)(store, stream, events, whileOpen),
  });

  // The same contract with the log tail cached in memory, as the factory opens the store in production.
  eventStoreContract('postgres with a log cache', {
    async fresh() {
      await truncateEventStore(admin);
      return SqlEventStore.open(
        createPostgresClient({ connectionString: database.url, applicationName: 'khata-test' }),
        {
          logCacheEvents: 50,
        },
      );
    },
    reopen: () =>
      SqlEventStore.open(createPostgresClient({ connectionString: database.url, applicationName: 'khata-test' }), {
        logCacheEvents: 50,
      }),
    groupCommit: true,
    holdOpenAppend: (store, stream, events, whileOpen) => holdOpenAppendWith(admin)(store, stream, events, whileOpen),
  });

  describe('postgres: group appends among many streams', () => {
    // The planner takes jsonb_array_elements for 100 rows, so a join of the group with es.streams chose to read the
    // whole table (a hash join) until it held about 30,000 streams: 4-6 ms for every single append at 23,000.
    it('finds each stream of a group by its key, without reading es.streams whole', async () => {
      const own = await createTestDatabase(serverUrl);
      const client = createPostgresClient({ connectionString: own.url, applicationName: 'khata-test' });
      try {
        await migrate(client, eventStoreMigrations);
        await client.query(
          `INSERT INTO es.streams (stream_id, category, version) SELECT 'acct-' || g, 'acct', 1 FROM generate_series(1, 20000) g`,
        );
        await client.query('ANALYZE es.streams');
        const reads = (inserted: number) =>
          reportedTableReads(
            own.url,
            ['es.streams', 'es.events'],
            (now) => now.get('es.events')?.inserted === inserted,
          );
        const before = await reads(0);
        const store = await SqlEventStore.open(
          createPostgresClient({ connectionString: own.url, applicationName: 'khata-test' }),
        );
        try {
          // One existing stream alone, as a call's authorization appends, then a group of a new and two existing ones.
          const single = await store.appendToStreams([{ stream: 'acct-7', events: [event()], expected: 1n }]);
          const group = await store.appendToStreams([
            { stream: 'acct-new', events: [event()], expected: 'no_stream' },
            { stream: 'acct-8', events: [event(), event()], expected: 'any' },
            { stream: 'acct-19999', events: [event()], expected: 1n },
          ]);
          expect([...single, ...group].map((outcome) => outcome.ok)).toEqual([true, true, true, true]);
        } finally {
          await store.close();
        }
        const after = await reads(5);
        expect(readsBetween(before, after, 'es.streams').seqScans).toBe(0);
        const versions = await client.query<{ stream_id: string; version: string }>(
          `SELECT stream_id, version::text FROM es.streams WHERE stream_id IN ('acct-7', 'acct-8', 'acct-19999', 'acct-new')
            ORDER BY stream_id`,
        );
        expect(versions).toEqual([
          { stream_id: 'acct-19999', version: '2' },
          { stream_id: 'acct-7', version: '2' },
          { stream_id: 'acct-8', version: '3' },
          { stream_id: 'acct-new', version: '1' },
        ]);
      } finally {
        await client.close();
        await own.drop();
      }
    });
  });

  describe('postgres: reads with plans made while the log was small', () => {
    // PostgreSQL keeps a prepared statement's generic plan for the connection's life, until the table's statistics
    // change; one made at ten events read es.events whole at 200,000 (60 ms a read of the log).
    it('plans its reads again once the log has grown, instead of reading es.events and es.streams whole', async () => {
      const own = await createTestDatabase(serverUrl);
      const admin = createPostgresClient({ connectionString: own.url, applicationName: 'khata-test-admin' });
      // One connection, so that every read meets the plans of the reads before it.
      const client = createPostgresClient({
        connectionString: own.url,
        applicationName: 'khata-test',
        maxConnections: 1,
      });
      let storeOpened = false;
      try {
        await migrate(admin, eventStoreMigrations);
        // The store closes the client.
        const store = await SqlEventStore.open(client);
        storeOpened = true;
        try {
          // Statistics stay as ANALYZE leaves them here: autovacuum would refresh them (and the plans) mid-test.
          await admin.query('ALTER TABLE es.streams SET (autovacuum_enabled = off)');
          await admin.query('ALTER TABLE es.events SET (autovacuum_enabled = off)');
          for (let i = 1; i <= 10; i += 1)
            await store.appendToStream(`acct-${i}`, [event()], { expected: 'no_stream' });
          await admin.query('ANALYZE es.streams, es.events');
          const reads = async () => {
            await store.readStream('acct-3');
            await store.readAll({ maxCount: 5 });
            await store.countEventsAfter({ after: null, limit: 10 });
          };
          // More than five executions of each statement, so PostgreSQL settles on a plan made for ten rows.
          for (let i = 0; i < 8; i += 1) await reads();
          await admin.query(
            `INSERT INTO es.streams (stream_id, category, version) SELECT 'big-' || g, 'acct', 10 FROM generate_series(1, 20000) g`,
          );
          await admin.query(
            `INSERT INTO es.events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
             SELECT 'big-' || ((g - 1) % 20000 + 1), (g - 1) / 20000 + 1, gen_random_uuid(), 'Noted', 1, '{}', '{}'
               FROM generate_series(1, 200000) g`,
          );
          // The first read of the log after the load learns its size (with the old plan, at most once per doubling).
          await store.readAll({ maxCount: 5 });
          const flushed = () => tableReadsIncluding(own.url, (text) => client.query(text), ['es.streams', 'es.events']);
          const before = await flushed();
          await reads();
          await reads();
          expect((await store.readStream('big-9')).version).toBe(10n);
          const after = await flushed();
          for (const table of ['es.streams', 'es.events']) {
            const { seqScans, indexEntriesRead } = readsBetween(before, after, table);
            // Each read touches a few entries; a walk of a whole index would read 20,000 or 200,000.
            expect({ table, seqScans, fewEntries: indexEntriesRead < 500 }).toEqual({
              table,
              seqScans: 0,
              fewEntries: true,
            });
          }
        } finally {
          await store.close();
        }
      } finally {
        if (!storeOpened) await client.close();
        await admin.close();
        await own.drop();
      }
    });
  });

  describe('postgres: log cache shared by subscribers', () => {
    it('gives every one of 12 subscribers at different positions the whole log in order, while 16 writers append', async () => {
      await truncateEventStore(admin);
      const store = await SqlEventStore.open(
        createPostgresClient({ connectionString: database.url, applicationName: 'khata-test' }),
        { logCacheEvents: 64 },
      );
      try {
        for (let i = 0; i < 40; i += 1)
          await store.appendToStream(`early-${i}`, [event('Early')], { expected: 'no_stream' });
        const middle = (await store.readAll({ maxCount: 20 })).last;
        const WRITERS = 16;
        const APPENDS = 25;
        const total = 40 + WRITERS * APPENDS * 2;
        const subscribers = Array.from({ length: 12 }, (_, i) =>
          consume(store, {
            after: i % 3 === 0 ? middle : null,
            batchSize: 7 + i * 5,
            done: (seen) => seen.length >= (i % 3 === 0 ? total - 20 : total),
            timeoutMs: 50_000,
          }),
        );
        await Promise.all(
          Array.from({ length: WRITERS }, async (_, w) => {
            for (let k = 0; k < APPENDS; k += 1) {
              await store.appendToStream(`late-${w}-${k}`, [event('Late', { w, k }), event('Late', { w, k })], {
                expected: 'no_stream',
              });
            }
          }),
        );
        const direct = (await store.readAll({ maxCount: 10_000 })).events;
        for (const [i, subscriber] of subscribers.entries()) {
          const { events } = await subscriber;
          assertLogIntegrity(events);
          expect(events.map((e) => e.eventId)).toEqual(direct.slice(i % 3 === 0 ? 20 : 0).map((e) => e.eventId));
        }
      } finally {
        await store.close();
      }
    });
  });

  describe('postgres: log cache memory', () => {
    it('serves every filter from one window of the log: one read per extension, one object per event', async () => {
      await truncateEventStore(admin);
      const WINDOW = 30;
      // Counts the store's reads of the log, and the filters they carried.
      const client = createPostgresClient({ connectionString: database.url, applicationName: 'khata-test' });
      const logReads: string[] = [];
      const counting = {
        ...client,
        query: (text: string, params?: readonly unknown[], options?: { name?: string }) => {
          if (options?.name?.startsWith('khata_es_read_all_')) logReads.push(statementShape(options.name));
          return client.query(text, params, options);
        },
      } as typeof client;
      const store = await SqlEventStore.open(counting, { logCacheEvents: WINDOW });
      // Reads for the expectations go through a store without a cache of its own.
      const direct = await open();
      const wide = { streamPrefixes: ['account-'] };
      const narrow = { streamPrefixes: ['account-'], eventTypes: ['Billed'] };
      const appendSome = async (count: number) => {
        for (let i = 0; i < count; i += 1) {
          await store.appendToStream(`account-${i % 7}`, [event(i % 2 === 0 ? 'Noted' : 'Billed', { i })], {
            expected: 'any',
          });
        }
      };
      /** Reads a filter from `after` to the head in pages of 10; returns the events read. */
      const readToHead = async (filter: typeof wide, after: Position | null) => {
        const seen = [];
        let from = after;
        for (;;) {
          const page = await store.readAll({ after: from, maxCount: 10, filter });
          seen.push(...page.events);
          from = page.last;
          if (page.caughtUp) return { seen, last: from };
        }
      };
      try {
        await appendSome(100);
        // Both readers start near the head, where caught-up subscribers read.
        const all = (await direct.readAll({ maxCount: 1_000 })).events;
        const start = (all[79] as (typeof all)[number]).position;
        let wideAt = (await readToHead(wide, start)).last;
        let narrowAt = (await readToHead(narrow, start)).last;
        for (let round = 0; round < 6; round += 1) {
          await appendSome(20);
          logReads.length = 0;
          const wideRead = await readToHead(wide, wideAt);
          const narrowRead = await readToHead(narrow, narrowAt);
          // The narrow filter found its events in what the wide reader's extension brought: no read of its own,
          // and the one read asked for the streams both follow, not for an event type.
          expect(logReads).toEqual(['khata_es_read_all_1:-']);
          wideAt = wideRead.last;
          narrowAt = narrowRead.last;
          // The narrow reader's events are the very objects the wide reader got.
          const byPosition = new Map(wideRead.seen.map((e) => [e.position, e]));
          const common = narrowRead.seen.filter((e) => byPosition.has(e.position));
          expect(common.length).toBeGreaterThan(0);
          for (const e of common) expect(e).toBe(byPosition.get(e.position));
        }
        // The window holds what its readers have not both read (the last round's 20 events; the narrow reader
        // last read from the round before), not the newest WINDOW events of the log.
        expect(store.cachedEvents).toBe(20);
      } finally {
        await direct.close();
        await store.close();
      }
    });
  });

  describe('postgres: log cache laggards', () => {
    const WINDOW = 1_500;
    const EVENTS = 5_000;
    const filter = { streamPrefixes: ['account-'] };
    /** A store whose log reads are counted: events fetched from the database (the head row left out). */
    const countingStore = async (options: { logCacheHoldActiveMs?: number } = {}) => {
      const client = createPostgresClient({ connectionString: database.url, applicationName: 'khata-test' });
      const fetched = { events: 0, statements: new Set<string>() };
      const counting = {
        ...client,
        query: async (text: string, params?: readonly unknown[], queryOptions?: { name?: string }) => {
          const rows = await client.query(text, params, queryOptions);
          if (queryOptions?.name?.startsWith('khata_es_read_all_')) {
            fetched.events += rows.filter((row) => (row as { stream_id: unknown }).stream_id !== null).length;
            fetched.statements.add(statementShape(queryOptions.name));
          }
          return rows;
        },
      } as typeof client;
      const store = await SqlEventStore.open(counting, { logCacheEvents: WINDOW, ...options });
      return { store, fetched };
    };
    const appendMany = async (store: SqlEventStore) => {
      for (let i = 0; i < EVENTS / 100; i += 1) {
        await store.appendToStream(
          `account-${i}`,
          Array.from({ length: 100 }, (_, k) => event('Noted', { i, k })),
          { expected: 'no_stream' },
        );
      }
    };
    interface Taking {
      /** Paused after each batch (a number), or after the batch that brings it to `at` events (once). */
      readonly pauseMs?: number | { readonly at: number; readonly ms: number };
      readonly latencyCritical?: boolean;
      readonly filter?: typeof filter & { readonly eventTypes?: readonly string[] };
      /** Events seen so far, for the test to look at while it runs. */
      readonly progress?: { seen: number };
    }
    /** Takes batches of 100 until it has `count` events (or the signal ends it); returns how many it took. */
    const take = async (store: SqlEventStore, signal: AbortSignal, count: number, taking: Taking = {}) => {
      const progress = taking.progress ?? { seen: 0 };
      for await (const batch of store.subscribe({
        after: null,
        filter: taking.filter ?? filter,
        batchSize: 100,
        signal,
        ...(taking.latencyCritical === true ? { latencyCritical: true } : {}),
      })) {
        progress.seen += batch.events.length;
        if (progress.seen >= count) return progress.seen;
        const pause = taking.pauseMs;
        const ms = typeof pause === 'number' ? pause : pause?.at === progress.seen ? pause.ms : 0;
        if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
      }
      return progress.seen;
    };

    it('keeps a slow subscription inside the window: the one ahead waits instead of pushing out its events', async () => {
      await truncateEventStore(admin);
      const { store, fetched } = await countingStore();
      const abort = new AbortController();
      try {
        await appendMany(store);
        const [fast, slow] = await Promise.all([
          take(store, abort.signal, EVENTS),
          take(store, abort.signal, EVENTS, { pauseMs: 5 }),
        ]);
        expect([fast, slow]).toEqual([EVENTS, EVENTS]);
        // Every event came from the database once (the slow reader never fell out and read the log on its own).
        expect(fetched.events).toBe(EVENTS);
        expect(store.cachedEvents).toBeLessThanOrEqual(WINDOW);
      } finally {
        abort.abort();
        await store.close();
      }
    });

    it('never holds a latency-critical subscription: it reads ahead from the database on its own', async () => {
      await truncateEventStore(admin);
      const { store, fetched } = await countingStore();
      const abort = new AbortController();
      try {
        await appendMany(store);
        const slowProgress = { seen: 0 };
        const slow = take(store, abort.signal, EVENTS, { pauseMs: 80, progress: slowProgress });
        const seen = await take(store, abort.signal, EVENTS, { latencyCritical: true });
        // The slow one takes 80 ms a batch of 100 (four seconds for the 5,000): the critical one did not wait for it.
        expect(seen).toBe(EVENTS);
        expect(slowProgress.seen).toBeLessThan(EVENTS / 2);
        // It read ahead on its own: more was fetched than the one pass the window made so far.
        expect(fetched.events).toBeGreaterThan(slowProgress.seen);
        abort.abort();
        await slow;
      } finally {
        abort.abort();
        await store.close();
      }
    });

    it('keeps a held window in place while a latency-critical subscription reads ahead of it', async () => {
      await truncateEventStore(admin);
      const { store, fetched } = await countingStore();
      const abort = new AbortController();
      try {
        await appendMany(store);
        // The critical one reads ahead at once, still reading (40 ms a batch) when the window has gone unextended for
        // longer than LOG_CACHE_IDLE_MS: the fast one is held for the slow one, which stops for 1.5 s after its first
        // batch, and keeps reading the window meanwhile. The slow one names the event type (every event here is one):
        // a read of its own would show as a statement of that filter's shape.
        const [slow, fast, ahead] = await Promise.all([
          take(store, abort.signal, EVENTS, {
            filter: { ...filter, eventTypes: ['Noted'] },
            pauseMs: { at: 100, ms: 1_500 },
          }),
          take(store, abort.signal, EVENTS),
          take(store, abort.signal, EVENTS, { latencyCritical: true, pauseMs: 40 }),
        ]);
        expect([slow, fast, ahead]).toEqual([EVENTS, EVENTS, EVENTS]);
        // Only the window's reads and the critical one's own (one statement shape): had the window been moved ahead to
        // where the critical one reads, the other two would have fallen behind it and read the log on their own.
        expect(fetched.statements.size).toBe(1);
        expect(fetched.events).toBeLessThanOrEqual(2 * EVENTS);
      } finally {
        abort.abort();
        await store.close();
      }
    });

    it('lets the one ahead go on once a subscription inside the window stops moving', async () => {
      await truncateEventStore(admin);
      const HOLD_MS = 200;
      const { store } = await countingStore({ logCacheHoldActiveMs: HOLD_MS });
      const abort = new AbortController();
      try {
        await appendMany(store);
        // A subscription that takes one batch and then is never asked for the next (a stuck read model).
        const stuck = store
          .subscribe({ after: null, filter, batchSize: 100, signal: abort.signal })
          [Symbol.asyncIterator]();
        expect((await stuck.next()).done).toBe(false);
        const started = performance.now();
        expect(await take(store, abort.signal, EVENTS)).toBe(EVENTS);
        // Held once for about HOLD_MS, not for as long as the stuck one stays.
        expect(performance.now() - started).toBeLessThan(HOLD_MS + 5_000);
        expect(store.cachedEvents).toBeLessThanOrEqual(WINDOW);
        await stuck.return?.(undefined);
      } finally {
        abort.abort();
        await store.close();
      }
    });
  });

  describe('postgres: log cache streams', () => {
    it('holds only the streams its readers follow, and takes in a new reader’s streams', async () => {
      await truncateEventStore(admin);
      const store = await SqlEventStore.open(
        createPostgresClient({ connectionString: database.url, applicationName: 'khata-test' }),
        { logCacheEvents: 1_000 },
      );
      try {
        for (let i = 0; i < 12; i += 1) {
          await store.appendToStream(i % 4 === 0 ? `tariff-${i}` : `account-${i}`, [event('Noted', { i })], {
            expected: 'any',
          });
        }
        const tariffs = { streamPrefixes: ['tariff-'] };
        const accounts = { streamPrefixes: ['account-'] };
        const first = await store.readAll({ after: null, maxCount: 100, filter: tariffs });
        expect(first.events.map((e) => e.streamId)).toEqual(['tariff-0', 'tariff-4', 'tariff-8']);
        // A process that follows only tariffs holds (and parses) no account event.
        expect(store.cachedEvents).toBe(3);
        const both = await store.readAll({ after: null, maxCount: 100, filter: accounts });
        expect(both.events).toHaveLength(9);
        expect(store.cachedEvents).toBe(12);
        // Both are served from the widened window from here on.
        await store.appendToStream('tariff-12', [event('Noted', { i: 12 })], { expected: 'any' });
        await store.appendToStream('account-13', [event('Noted', { i: 13 })], { expected: 'any' });
        const nextTariffs = await store.readAll({ after: first.last, maxCount: 100, filter: tariffs });
        expect(nextTariffs.events.map((e) => e.streamId)).toEqual(['tariff-12']);
        const nextAccounts = await store.readAll({ after: both.last, maxCount: 100, filter: accounts });
        expect(nextAccounts.events.map((e) => e.streamId)).toEqual(['account-13']);
        expect(store.cachedEvents).toBe(14);
      } finally {
        await store.close();
      }
    });
  });

  describe('postgres: log cache retention', () => {
    const filter = { streamPrefixes: ['account-'] };
    const narrow = { streamPrefixes: ['account-'], eventTypes: ['Noted'] };
    const appendNoted = async (store: SqlEventStore, count: number) => {
      for (let i = 0; i < count; i += 1)
        await store.appendToStream(`account-${i % 3}`, [event('Noted', { i })], { expected: 'any' });
    };

    it('keeps events until every reader has read them, and forgets a reader that stopped reading', async () => {
      await truncateEventStore(admin);
      const RETAIN_MS = 300;
      const store = await SqlEventStore.open(
        createPostgresClient({ connectionString: database.url, applicationName: 'khata-test' }),
        { logCacheEvents: 1_000, logCacheRetainMs: RETAIN_MS },
      );
      try {
        await appendNoted(store, 10);
        // Two readers (direct callers, told apart by their filters) from the start.
        const a1 = await store.readAll({ after: null, maxCount: 100, filter });
        const b1 = await store.readAll({ after: null, maxCount: 100, filter: narrow });
        expect([a1.events.length, b1.events.length]).toEqual([10, 10]);
        await appendNoted(store, 5);
        const a2 = await store.readAll({ after: a1.last, maxCount: 100, filter });
        expect(a2.events).toHaveLength(5);
        // The narrow reader has read nothing yet since it started from the start: all 15 are kept.
        expect(store.cachedEvents).toBe(15);
        await store.readAll({ after: b1.last, maxCount: 100, filter: narrow });
        await appendNoted(store, 1);
        const a3 = await store.readAll({ after: a2.last, maxCount: 100, filter });
        expect(a3.events).toHaveLength(1);
        // Both have the first 10 (the narrow reader asked from there): what is kept is what follows.
        expect(store.cachedEvents).toBe(6);
        // The narrow reader goes quiet: once the retention has passed it holds nothing back.
        await new Promise((resolve) => setTimeout(resolve, RETAIN_MS * 2));
        await appendNoted(store, 1);
        const a4 = await store.readAll({ after: a3.last, maxCount: 100, filter });
        expect(a4.events.map((e) => e.data)).toEqual([{ n: 1, i: 0 }]);
        expect(store.cachedEvents).toBe(1);
        // A reader from the start is behind the window now, and is answered from the database.
        const again = await store.readAll({ after: null, maxCount: 100, filter });
        expect(again.events).toHaveLength(17);
      } finally {
        await store.close();
      }
    });

    it('holds events for a subscription until it has them, and nothing once it has ended', async () => {
      await truncateEventStore(admin);
      const store = await SqlEventStore.open(
        createPostgresClient({ connectionString: database.url, applicationName: 'khata-test' }),
        { logCacheEvents: 1_000 },
      );
      const abort = new AbortController();
      try {
        await appendNoted(store, 10);
        const subscription = store.subscribe({ after: null, filter, signal: abort.signal })[Symbol.asyncIterator]();
        const first = await subscription.next();
        expect(first.done === false && first.value.events).toHaveLength(10);
        const a1 = await store.readAll({ after: null, maxCount: 100, filter: narrow });
        await appendNoted(store, 3);
        const a2 = await store.readAll({ after: a1.last, maxCount: 100, filter: narrow });
        expect(a2.events).toHaveLength(3);
        // The subscription last asked from the start: everything is kept for it.
        expect(store.cachedEvents).toBe(13);
        const second = await subscription.next();
        expect(second.done === false && second.value.events).toHaveLength(3);
        await subscription.return?.(undefined);
        await appendNoted(store, 1);
        await store.readAll({ after: a2.last, maxCount: 100, filter: narrow });
        // Ended, it holds nothing back: only what the remaining reader has not read is kept.
        expect(store.cachedEvents).toBe(1);
      } finally {
        abort.abort();
        await store.close();
      }
    });
  });

  describe('postgres: operational guards', () => {
    it('ends sessions left idle inside a transaction, which would stall every subscriber', async () => {
      const client = createPostgresClient({ connectionString: database.url, applicationName: 'khata-test' });
      try {
        const [row] = await client.query<{ idle_in_transaction_session_timeout: string }>(
          'SHOW idle_in_transaction_session_timeout',
        );
        expect(row?.idle_in_transaction_session_timeout).toBe('10s');
      } finally {
        await client.close();
      }
    });

    it('refuses an append that is not the first write of its transaction', async () => {
      await truncateEventStore(admin);
      const attempt = admin.transaction(async (tx) => {
        await tx.query("INSERT INTO es.streams (stream_id, category, version) VALUES ('x-1', 'x', 1)");
        await tx.query(
          `SELECT * FROM es.append_to_stream('x-2', 'x', 'any', '[{"id":"00000000-0000-4000-8000-000000000001","type":"T","sv":1,"data":{},"meta":{}}]', false)`,
        );
      });
      await expect(attempt).rejects.toThrow(/first write of its transaction/);
      expect(await admin.query('SELECT 1 FROM es.streams')).toEqual([]);
    });

    it('refuses to open when stored transaction ids are ahead of the database (a logical restore)', async () => {
      await truncateEventStore(admin);
      const store = await open();
      await store.appendToStream('account-1', [event()], { expected: 'no_stream' });
      await store.close();
      await admin.query("UPDATE es.events SET transaction_id = '900000000000'::xid8");
      await expect(open()).rejects.toBeInstanceOf(TransactionIdsBehind);
      await truncateEventStore(admin);
    });

    it('leaves followers of other streams asleep and away from the database when this process appends', async () => {
      await truncateEventStore(admin);
      const client = createPostgresClient({ connectionString: database.url, applicationName: 'khata-test' });
      const reads: string[] = [];
      const counting = {
        ...client,
        listen: client.listen.bind(client),
        query: (text: string, params?: readonly unknown[], options?: { name?: string }) => {
          if (options?.name?.startsWith('khata_es_read_all_')) reads.push(options.name);
          return client.query(text, params, options);
        },
      } as typeof client;
      // notify on, as in production: its own appends' NOTIFYs come back to it too.
      const store = await SqlEventStore.open(counting, { notify: true, logCacheEvents: 1_000 });
      const other = await SqlEventStore.open(
        createPostgresClient({ connectionString: database.url, applicationName: 'khata-test' }),
        { notify: true },
      );
      const controller = new AbortController();
      try {
        const tariffs: string[] = [];
        const quiet = { min: 60_000, max: 60_000 };
        const following = (async () => {
          for await (const batch of store.subscribe({
            signal: controller.signal,
            filter: { streamPrefixes: ['tariff-'] },
            pollIntervalMs: quiet,
          })) {
            tariffs.push(...batch.events.map((e) => e.streamId));
          }
        })();
        await new Promise((resolve) => setTimeout(resolve, 300));
        reads.length = 0;
        for (let i = 0; i < 20; i += 1) {
          await store.appendToStream(`account-${i}`, [event()], { expected: 'no_stream' });
        }
        await store.appendToStreams?.([{ stream: 'account-group', events: [event()], expected: 'no_stream' }]);
        await new Promise((resolve) => setTimeout(resolve, 300));
        // Twenty-one appends to accounts, none of them followed here: no read of the log at all.
        expect(reads).toEqual([]);
        // An append here to a followed stream wakes the follower at once.
        await store.appendToStream('tariff-here', [event()], { expected: 'no_stream' });
        await vi.waitFor(() => expect(tariffs).toEqual(['tariff-here']), { timeout: 5_000 });
        // Another process's append (its NOTIFY) still wakes it, whatever the stream.
        await other.appendToStream('tariff-there', [event()], { expected: 'no_stream' });
        await vi.waitFor(() => expect(tariffs).toEqual(['tariff-here', 'tariff-there']), { timeout: 5_000 });
        controller.abort();
        await following;
      } finally {
        controller.abort();
        await other.close();
        await store.close();
      }
    });

    it('wakes a subscriber in another process through NOTIFY', async () => {
      await truncateEventStore(admin);
      const listener = await SqlEventStore.open(
        createPostgresClient({ connectionString: database.url, applicationName: 'khata-test' }),
        { notify: true },
      );
      const writer = await SqlEventStore.open(
        createPostgresClient({ connectionString: database.url, applicationName: 'khata-test' }),
        { notify: true },
      );
      const controller = new AbortController();
      try {
        const received = (async () => {
          const quiet = { min: 60_000, max: 60_000 };
          for await (const batch of listener.subscribe({ signal: controller.signal, pollIntervalMs: quiet })) {
            if (batch.events.length > 0) return batch.events[0];
          }
          return undefined;
        })();
        // The subscriber has read the empty log and sleeps for a minute: only a notification wakes it.
        await new Promise((resolve) => setTimeout(resolve, 500));
        const started = performance.now();
        await writer.appendToStream('account-n', [event()], { expected: 'no_stream' });
        const first = await received;
        expect(first?.streamId).toBe('account-n');
        expect(performance.now() - started).toBeLessThan(5_000);
      } finally {
        controller.abort();
        await listener.close();
        await writer.close();
      }
    });
  });
});
