import { eventStoreMigrations, SqlEventStore } from '@khata/event-store';
import { createPgliteClient, createPostgresClient, migrate } from '@khata/sql';
import { createTestDatabase, describeWithService, postgres, type TestDatabase } from '@khata/testing';
import { afterAll, beforeAll } from 'vitest';
import { projectorSuite } from './projector-suite.ts';

projectorSuite('pglite', {
  concurrentTransactions: false,
  async fresh() {
    const db = await createPgliteClient();
    await migrate(db, eventStoreMigrations);
    const store = await SqlEventStore.open(db, { ownsClient: false });
    return {
      store,
      db,
      close: async () => {
        await store.close();
        await db.close();
      },
    };
  },
});

describeWithService(postgres(), 'projector on postgres', (serverUrl) => {
  const databases: TestDatabase[] = [];
  beforeAll(() => {});
  afterAll(async () => {
    for (const database of databases) await database.drop();
  });
  projectorSuite('postgres', {
    concurrentTransactions: true,
    async fresh() {
      const database = await createTestDatabase(serverUrl);
      databases.push(database);
      const db = createPostgresClient({ connectionString: database.url, applicationName: 'khata-test' });
      await migrate(db, eventStoreMigrations);
      const store = await SqlEventStore.open(db, { ownsClient: false });
      return {
        store,
        db,
        close: async () => {
          await store.close();
          await db.close();
        },
      };
    },
  });
});
