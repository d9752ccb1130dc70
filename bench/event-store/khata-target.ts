import { type Position, SqlEventStore } from '@khata/event-store';
import { createPgliteClient, createPostgresClient, type SqlClient } from '@khata/sql';
import type { LogReader, StoreUnderTest } from './workloads.ts';

/** Khata's SQL event store, on PostgreSQL through a `pg` pool or on in-memory PGlite. */
export async function openKhataTarget(
  options:
    | { readonly database: 'postgres'; readonly connectionString: string; readonly poolConnections: number }
    | { readonly database: 'pglite' },
): Promise<StoreUnderTest> {
  const applicationName = 'khata-bench-khata';
  const client: SqlClient =
    options.database === 'postgres'
      ? createPostgresClient({
          connectionString: options.connectionString,
          applicationName,
          maxConnections: options.poolConnections,
        })
      : await createPgliteClient();
  const store = await SqlEventStore.open(client, { migrate: true });
  return {
    label: options.database === 'postgres' ? 'khata' : 'khata-pglite',
    async append(stream, events, expectedVersion) {
      await store.appendToStream(stream, events, { expected: expectedVersion });
    },
    async readStream(stream) {
      const slice = await store.readStream(stream);
      return slice.events.length;
    },
    logReader(pageSizeEvents): LogReader {
      let after: Position | null = null;
      return {
        async next() {
          const page = await store.readAll({ after, maxCount: pageSizeEvents });
          after = page.last;
          return { events: page.events.length, caughtUp: page.caughtUp };
        },
      };
    },
    async reset() {
      await client.query('TRUNCATE es.events, es.streams');
      await client.query('ALTER SEQUENCE es.events_global_position_seq RESTART');
    },
    async settle() {
      // Separate statements: VACUUM refuses to run inside the implicit transaction of a multi-statement script.
      await client.exec('VACUUM ANALYZE');
      await client.exec('CHECKPOINT');
    },
    async openConnections() {
      const connections = options.database === 'postgres' ? options.poolConnections : 1;
      await Promise.all(Array.from({ length: connections }, () => client.query('SELECT pg_sleep(0.01)')));
    },
    async serverProcessIds() {
      if (options.database === 'pglite') return [];
      const rows = await client.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
        [applicationName],
      );
      return rows.map((row) => row.pid);
    },
    close: () => store.close(),
  };
}
