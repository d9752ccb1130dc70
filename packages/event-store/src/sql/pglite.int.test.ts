import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPgliteClient, migrate, type SqlClient } from '@khata/sql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { event, eventStoreContract } from '../contract.ts';
import { holdOpenAppendWith, truncateEventStore } from './harness.ts';
import { eventStoreMigrations } from './schema.ts';
import { SqlEventStore } from './store.ts';

let client: SqlClient;

beforeAll(async () => {
  client = await createPgliteClient();
  await migrate(client, eventStoreMigrations);
});
afterAll(async () => {
  await client.close();
});

eventStoreContract('pglite', {
  async fresh() {
    await truncateEventStore(client);
    return SqlEventStore.open(client, { ownsClient: false });
  },
  reopen: () => SqlEventStore.open(client, { ownsClient: false }),
  groupCommit: true,
  holdOpenAppend: (store, stream, events, whileOpen) => holdOpenAppendWith(client)(store, stream, events, whileOpen),
});

describe('pglite: embedded database on disk', () => {
  it('keeps events across a close and reopen of its data directory', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'khata-pglite-'));
    try {
      const first = await SqlEventStore.open(await createPgliteClient({ dataDir }), { migrate: true });
      const appended = await first.appendToStream('account-1', [event('Opened'), event('Credited')], {
        expected: 'no_stream',
      });
      await first.close();
      const second = await SqlEventStore.open(await createPgliteClient({ dataDir }), { migrate: true });
      const { version, events } = await second.readStream('account-1');
      expect(version).toBe(2n);
      expect(events.map((e) => e.type)).toEqual(['Opened', 'Credited']);
      expect(await second.headPosition()).toBe(appended.position);
      await second.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('appends without companions when the companion function is not in the database yet', async () => {
    await truncateEventStore(client);
    const store = await SqlEventStore.open(client, { ownsClient: false, appendFunction: 'ledger.not_migrated_yet' });
    const companions = [{ commandId: 'c1' }];
    for (const stream of ['account-a', 'account-b']) {
      const [outcome] = await store.appendToStreams([
        { stream, events: [event('Opened')], expected: 'no_stream', companions },
      ]);
      // Appended, and not claimed as recorded: the caller records the companions itself.
      expect(outcome).toMatchObject({ ok: true, result: { nextVersion: 1n } });
      expect(outcome?.ok === true ? outcome.companionsRecorded : 'failed').toBeUndefined();
    }
    // A guarded append cannot be checked without the function: refused, nothing written.
    const [guarded] = await store.appendToStreams([
      { stream: 'account-c', events: [event('Opened')], expected: 'no_stream', companions, guarded: true },
    ]);
    expect(guarded?.ok === false ? guarded.error : null).toMatchObject({
      name: 'AppendGuardRefused',
      reason: 'unchecked',
    });
    expect(store.guardsCompanions).toBe(false);
    expect((await store.readAll({ maxCount: 10 })).events.map((e) => e.streamId)).toEqual(['account-a', 'account-b']);
    await expect(SqlEventStore.open(client, { ownsClient: false, appendFunction: 'no schema' })).rejects.toThrow(
      RangeError,
    );
  });

  it('refuses to open a database without the event store schema, naming the fix', async () => {
    const bare = await createPgliteClient();
    await expect(SqlEventStore.open(bare)).rejects.toThrow(/khata migrate/);
  });
});
