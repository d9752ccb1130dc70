import { eventStoreMigrations, SqlEventStore } from '@khata/event-store';
import { createPgliteClient, createPostgresClient, migrate, type SqlClient } from '@khata/sql';
import { createTestDatabase, describeWithService, postgres, type TestDatabase } from '@khata/testing';
import { afterAll, beforeAll } from 'vitest';
import { ledgerSuite } from './ledger-suite.ts';
import { APPEND_AND_LOG_FUNCTION, ledgerMigrations } from './schema.ts';
import { SqlCommandLog, SqlSnapshotStore } from './stores.ts';

async function tamperWith(db: SqlClient, streamId: string, version: bigint, data: object): Promise<void> {
  await db.query('UPDATE es.events SET data = data || $3::jsonb WHERE stream_id = $1 AND stream_version = $2', [
    streamId,
    version.toString(),
    JSON.stringify(data),
  ]);
}

async function reset(db: SqlClient): Promise<void> {
  await db.exec('TRUNCATE es.events, es.streams, ledger.command_log, ledger.snapshots');
}

describeWithService(postgres(), 'ledger on postgres', (serverUrl) => {
  let database: TestDatabase;
  let admin: SqlClient;
  beforeAll(async () => {
    database = await createTestDatabase(serverUrl);
    admin = createPostgresClient({ connectionString: database.url, applicationName: 'khata-test' });
    await migrate(admin, eventStoreMigrations);
    await migrate(admin, ledgerMigrations);
  });
  afterAll(async () => {
    await admin?.close();
    await database?.drop();
  });
  ledgerSuite('postgres', {
    async fresh() {
      await reset(admin);
      const db = createPostgresClient({ connectionString: database.url, applicationName: 'khata-test' });
      const store = await SqlEventStore.open(db, { ownsClient: false, appendFunction: APPEND_AND_LOG_FUNCTION });
      return {
        store,
        commandLog: new SqlCommandLog(db),
        snapshots: new SqlSnapshotStore(db),
        close: async () => {
          await store.close();
          await db.close();
        },
      };
    },
    tamper: (_store, streamId, version, data) => tamperWith(admin, streamId, version, data),
    logsWithAppends: true,
  });
});

let pglite: SqlClient;
beforeAll(async () => {
  pglite = await createPgliteClient();
  await migrate(pglite, eventStoreMigrations);
  await migrate(pglite, ledgerMigrations);
});
afterAll(async () => {
  await pglite.close();
});

ledgerSuite('pglite', {
  async fresh() {
    await reset(pglite);
    const store = await SqlEventStore.open(pglite, { ownsClient: false, appendFunction: APPEND_AND_LOG_FUNCTION });
    return {
      store,
      commandLog: new SqlCommandLog(pglite),
      snapshots: new SqlSnapshotStore(pglite),
      close: () => store.close(),
    };
  },
  tamper: (_store, streamId, version, data) => tamperWith(pglite, streamId, version, data),
  logsWithAppends: true,
});
