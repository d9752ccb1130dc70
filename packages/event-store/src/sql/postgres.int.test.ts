import { createPostgresClient, migrate, type SqlClient } from '@khata/sql';
import { createTestDatabase, describeWithService, postgres, type TestDatabase } from '@khata/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertLogIntegrity, consume, event, eventStoreContract } from '../contract.ts';
import { TransactionIdsBehind } from '../errors.ts';
import { holdOpenAppendWith, truncateEventStore } from './harness.ts';
import { eventStoreMigrations } from './schema.ts';
import { SqlEventStore } from './store.ts';

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
