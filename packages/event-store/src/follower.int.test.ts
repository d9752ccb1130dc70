import { createPostgresClient, migrate, type SqlClient } from '@khata/sql';
import { createTestDatabase, describeWithService, postgres, type TestDatabase, terminateReadsOf } from '@khata/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { followLog } from './follower.ts';
import { eventStoreMigrations } from './sql/schema.ts';
import { SqlEventStore } from './sql/store.ts';
import type { EventStore, RecordedEvent } from './types.ts';

const WAIT_MILLISECONDS = 15_000;

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = performance.now() + WAIT_MILLISECONDS;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function appendNumbered(store: EventStore, from: number, count: number): Promise<void> {
  for (let index = from; index < from + count; index++) {
    await store.appendToStream(
      `numbers-${index % 3}`,
      [{ eventId: crypto.randomUUID(), type: 'Numbered', data: { index } }],
      { expected: 'any' },
    );
  }
}

describeWithService(postgres(), 'log follower on PostgreSQL: the server ends its connection', (serverUrl) => {
  let database: TestDatabase;
  let admin: SqlClient;

  beforeAll(async () => {
    database = await createTestDatabase(serverUrl);
    admin = createPostgresClient({ connectionString: database.url, applicationName: 'khata-test-admin' });
    await migrate(admin, eventStoreMigrations);
  });
  afterAll(async () => {
    await admin?.close();
    await database?.drop();
  });

  it('resumes from its last batch after its connection is terminated, losing and repeating nothing', async () => {
    const applicationName = 'khata-test-follower';
    const reader = await SqlEventStore.open(createPostgresClient({ connectionString: database.url, applicationName }));
    const writer = await SqlEventStore.open(
      createPostgresClient({ connectionString: database.url, applicationName: 'khata-test-writer' }),
    );
    const abort = new AbortController();
    const handled: RecordedEvent[] = [];
    const follower = followLog({
      name: 'numbers',
      store: reader,
      after: null,
      batchSize: 4,
      signal: abort.signal,
      retryDelayMilliseconds: { min: 20, max: 200 },
      handle: (batch) => {
        handled.push(...batch.events);
      },
    });
    try {
      await appendNumbered(writer, 0, 10);
      await until(() => handled.length === 10, 'the events before the blip');

      // A lock holds its next read in flight; then its backend is terminated (a restart or failover).
      expect(await terminateReadsOf(database.url, applicationName, 'es.events')).toBeGreaterThan(0);
      await until(() => follower.status.restarts >= 1, 'the follower to restart');
      await appendNumbered(writer, 10, 10);
      await until(() => handled.length >= 20, 'the events after the blip');

      expect(handled.map((event) => event.data.index)).toEqual(Array.from({ length: 20 }, (_, index) => index));
      expect(new Set(handled.map((event) => event.eventId)).size).toBe(20);
      expect(follower.status.lastError).toMatch(/terminat|unavailable|connection/i);
      expect(follower.status).toMatchObject({ state: 'following', failingSinceMilliseconds: null });
    } finally {
      abort.abort();
      await follower.done;
      await reader.close();
      await writer.close();
    }
  });
});
