import { dumbo } from '@event-driven-io/dumbo';
import type { Event } from '@event-driven-io/emmett';
import { getPostgreSQLEventStore, readMessagesBatch } from '@event-driven-io/emmett-postgresql';
import pg from 'pg';
import type { BenchEvent, LogReader, StoreUnderTest } from './workloads.ts';

/** Same as Khata's pool (packages/sql/src/client.ts): a pool-wait limit; the size comes from the caller. */
const CONNECT_TIMEOUT_MS = 5_000;

type EmmettEvent = Event<string, Record<string, unknown>, Record<string, unknown>>;

function toEmmett(event: BenchEvent): EmmettEvent {
  // Emmett 0.42 takes the message id from `metadata.messageId` (it generates one otherwise) and stores
  // the rest of the metadata: the same id and the same bytes as Khata gets.
  return { type: event.type, data: event.data, metadata: { messageId: event.eventId, ...event.metadata } };
}

/**
 * Emmett 0.42.0's PostgreSQL event store on a `pg.Pool` of the same size as Khata's. The store and the
 * log reader share one dumbo pool, as `eventStore.consumer()` does: Emmett 0.42 has no global read on
 * the event store itself, and its consumer polls `readMessagesBatch(pool.execute, {after, batchSize})`
 * in a loop with a sleep between polls. The benchmark calls `readMessagesBatch` directly, so the
 * sleeps are left out and only the reads are timed.
 */
export async function openEmmettTarget(options: {
  readonly connectionString: string;
  readonly poolConnections: number;
}): Promise<StoreUnderTest> {
  const { connectionString } = options;
  const applicationName = 'khata-bench-emmett';
  const pool = new pg.Pool({
    connectionString,
    max: options.poolConnections,
    application_name: applicationName,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  pool.on('error', () => {});
  const executor = dumbo({ connectionString, pool });
  const store = getPostgreSQLEventStore(connectionString, {
    connectionOptions: { dumbo: executor },
    schema: { autoMigration: 'CreateOrUpdate' },
  });
  await store.schema.migrate();
  return {
    label: 'emmett',
    async append(stream, events, expectedVersion) {
      await store.appendToStream(stream, events.map(toEmmett), { expectedStreamVersion: expectedVersion });
    },
    async readStream(stream) {
      const result = await store.readStream(stream);
      return result.events.length;
    },
    logReader(pageSizeEvents): LogReader {
      let after = 0n;
      return {
        async next() {
          const batch = await readMessagesBatch(executor.execute, { after, batchSize: pageSizeEvents });
          after = batch.currentGlobalPosition;
          return { events: batch.messages.length, caughtUp: !batch.areMessagesLeft };
        },
      };
    },
    async reset() {
      await store.schema.dangerous.truncate({ resetSequences: true });
    },
    async settle() {
      await pool.query('VACUUM ANALYZE');
      await pool.query('CHECKPOINT');
    },
    async openConnections() {
      await Promise.all(Array.from({ length: options.poolConnections }, () => pool.query('SELECT pg_sleep(0.01)')));
    },
    async serverProcessIds() {
      const result = await pool.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
        [applicationName],
      );
      return result.rows.map((row) => row.pid);
    },
    async close() {
      await store.close();
      await pool.end();
    },
  };
}
