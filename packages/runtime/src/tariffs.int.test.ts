/**
 * Tariffs across processes after a database blip: each "process" here has its own pool (its own connections,
 * named apart) on one PostgreSQL database, as two Khata processes would.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { eventStoreMigrations, SqlEventStore } from '@khata/event-store';
import { createPostgresClient, migrate, type SqlClient } from '@khata/sql';
import { createTestDatabase, describeWithService, postgres, type TestDatabase, terminateReadsOf } from '@khata/testing';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LogFollowers } from './followers.ts';
import { TARIFF_FOLLOWER_NAME, TariffRegistry } from './tariffs.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const WAIT_MILLISECONDS = 15_000;
const PUBLISHED_AT = new Date('2026-11-02T04:30:00.000Z');

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + WAIT_MILLISECONDS;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describeWithService(postgres(), 'tariff registry: followers across a database blip', (serverUrl) => {
  let database: TestDatabase;
  let admin: SqlClient;
  let document: { description: string } & Record<string, unknown>;

  beforeAll(async () => {
    database = await createTestDatabase(serverUrl);
    admin = createPostgresClient({ connectionString: database.url, applicationName: 'khata-test-admin' });
    await migrate(admin, eventStoreMigrations);
    document = JSON.parse(await readFile(resolve(ROOT, 'schemas/tariffs/intl-2026.json'), 'utf8'));
  });
  afterAll(async () => {
    await admin?.close();
    await database?.drop();
  });

  const openStore = (applicationName: string): Promise<SqlEventStore> =>
    SqlEventStore.open(createPostgresClient({ connectionString: database.url, applicationName }));

  it('shows another process a tariff published after its connection was terminated, and counts the restart', async () => {
    const publisherStore = await openStore('khata-test-publisher');
    const followerStore = await openStore('khata-test-tariff-follower');
    const metrics = new Registry();
    const publisher = new TariffRegistry(publisherStore);
    const follower = new TariffRegistry(followerStore, {
      followers: new LogFollowers({ metrics }),
      retryDelayMilliseconds: { min: 20, max: 200 },
    });
    try {
      await publisher.load();
      await follower.load();
      await publisher.publish(document, 'user:pricing', PUBLISHED_AT);
      await until(() => follower.current('intl-2026')?.version === 1, 'version 1 on the other process');

      expect(await terminateReadsOf(database.url, 'khata-test-tariff-follower', 'es.events')).toBeGreaterThan(0);
      await until(() => (follower.follower?.status.restarts ?? 0) >= 1, 'the follower to resume');

      await publisher.publish({ ...document, description: 'after the blip' }, 'user:pricing', PUBLISHED_AT);
      await until(() => follower.current('intl-2026')?.version === 2, 'version 2 on the other process');
      expect(follower.current('intl-2026')?.document).toMatchObject({ description: 'after the blip' });
      expect(follower.list().map((tariff) => [tariff.id, tariff.version])).toEqual(
        publisher.list().map((tariff) => [tariff.id, tariff.version]),
      );
      const restarts = await metrics.getSingleMetricAsString('khata_log_follower_restarts_total');
      expect(restarts).toContain(`khata_log_follower_restarts_total{follower="${TARIFF_FOLLOWER_NAME}"} 1`);
    } finally {
      await follower.close();
      await publisher.close();
      await followerStore.close();
      await publisherStore.close();
    }
  });
});
