import { randomUUID } from 'node:crypto';
import { SqlEventStore } from '@khata/event-store';
import { createPgliteClient, type SqlClient } from '@khata/sql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identitySuite } from './identity-suite.ts';
import { PASSWORD, testIdentity } from './test-support.ts';
import { userStream } from './user-store.ts';

let client: SqlClient;
beforeAll(async () => {
  client = await createPgliteClient();
  await (await SqlEventStore.open(client, { migrate: true, ownsClient: false })).close();
});
afterAll(async () => {
  await client.close();
});

identitySuite('PGlite (the SQL event store)', {
  async fresh() {
    await client.exec('TRUNCATE es.events, es.streams');
    const store = await SqlEventStore.open(client, { ownsClient: false });
    return { store, close: () => store.close() };
  },
});

describe('tamper evidence on PGlite', () => {
  it('notices an edited event in a user stream', async () => {
    await client.exec('TRUNCATE es.events, es.streams');
    const store = await SqlEventStore.open(client, { ownsClient: false });
    const { identity } = await testIdentity(store);
    const registered = await identity.register({
      email: 'asha@example.com',
      password: PASSWORD,
      name: 'Asha',
      accountId: randomUUID(),
    });
    if (!registered.ok) throw new Error(registered.rejection.code);
    await identity.login({ email: 'asha@example.com', password: 'not the password 1' });
    expect(await identity.verifyChain(registered.userId)).toMatchObject({ ok: true, eventsChecked: 2 });
    // Someone with database access erases the failed login's device.
    await client.query(
      'UPDATE es.events SET data = data || \'{"device": null}\'::jsonb WHERE stream_id = $1 AND stream_version = 2',
      [userStream(registered.userId)],
    );
    expect(await identity.verifyChain(registered.userId)).toMatchObject({ ok: false, firstBreak: { version: '2' } });
    await store.close();
  });
});
