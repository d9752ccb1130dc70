import { createTestDatabase, describeWithService, postgres, type TestDatabase } from '@khata/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPgliteClient, createPostgresClient, databaseErrorDetails, type SqlClient } from './client.ts';
import { copyTarget, copyText } from './copy.ts';

describeWithService(postgres(), 'postgres client: connections the server ends', (serverUrl) => {
  let database: TestDatabase;
  let admin: SqlClient;

  beforeAll(async () => {
    database = await createTestDatabase(serverUrl);
    admin = createPostgresClient({ connectionString: database.url, applicationName: 'khata-test-admin' });
  });
  afterAll(async () => {
    await admin?.close();
    await database?.drop();
  });

  const terminate = (applicationName: string): Promise<unknown[]> =>
    admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
      applicationName,
    ]);

  const waitFor = async (condition: () => boolean, timeoutMs: number): Promise<void> => {
    const deadline = performance.now() + timeoutMs;
    while (!condition()) {
      if (performance.now() > deadline) throw new Error('condition not met in time');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };

  it('listens again after the server ends the listening connection, without an unhandled error', async () => {
    const client = createPostgresClient({ connectionString: database.url, applicationName: 'khata-test-listen' });
    const payloads: string[] = [];
    const unlisten = await client.listen('khata_test_channel', (payload) => payloads.push(payload));
    try {
      await admin.query("SELECT pg_notify('khata_test_channel', 'before')");
      await waitFor(() => payloads.includes('before'), 5_000);

      await terminate('khata-test-listen');
      // The replacement connection announces itself with an empty payload (a wake-up for pollers).
      await waitFor(() => payloads.includes(''), 5_000);
      await admin.query("SELECT pg_notify('khata_test_channel', 'after')");
      await waitFor(() => payloads.includes('after'), 5_000);
    } finally {
      await unlisten();
      await client.close();
    }
  });

  it('replaces a pooled connection past its lifetime, and keeps the listening one', async () => {
    const client = createPostgresClient({
      connectionString: database.url,
      applicationName: 'khata-test-lifetime',
      maxLifetimeSeconds: 1,
    });
    const payloads: string[] = [];
    const unlisten = await client.listen('khata_test_lifetime', (payload) => payloads.push(payload));
    const backend = async () => (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))[0]?.pid;
    try {
      const first = await backend();
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      // A new backend: nothing prepared or planned on the old one is left.
      expect(await backend()).not.toBe(first);
      await admin.query("SELECT pg_notify('khata_test_lifetime', 'still heard')");
      await waitFor(() => payloads.includes('still heard'), 5_000);
      // Heard on the first listening connection: it was never replaced (a replacement announces itself with '').
      expect(payloads).toEqual(['still heard']);
    } finally {
      await unlisten();
      await client.close();
    }
  });

  it('tells a NOTIFY sent through its own connections from one sent by another client', async () => {
    const client = createPostgresClient({ connectionString: database.url, applicationName: 'khata-test-own' });
    const heard: [string, boolean][] = [];
    const unlisten = await client.listen('khata_test_own', (payload, fromThisClient) =>
      heard.push([payload, fromThisClient]),
    );
    try {
      await client.query("SELECT pg_notify('khata_test_own', 'mine')");
      await client.transaction(async (tx) => {
        await tx.query("SELECT pg_notify('khata_test_own', 'mine in a transaction')");
      });
      await admin.query("SELECT pg_notify('khata_test_own', 'theirs')");
      await waitFor(() => heard.length === 3, 5_000);
      expect(new Map(heard)).toEqual(
        new Map([
          ['mine', true],
          ['mine in a transaction', true],
          ['theirs', false],
        ]),
      );
    } finally {
      await unlisten();
      await client.close();
    }
  });

  it('destroys a connection ended inside a transaction instead of returning it to the pool', async () => {
    const client = createPostgresClient({
      connectionString: database.url,
      applicationName: 'khata-test-tx',
      maxConnections: 1,
    });
    try {
      const attempt = client.transaction(async (tx) => {
        await tx.query('SELECT 1');
        await terminate('khata-test-tx');
        await new Promise((resolve) => setTimeout(resolve, 100));
        await tx.query('SELECT 2');
      });
      await expect(attempt).rejects.toThrow();
      // The only pooled connection was replaced, so the pool still serves queries.
      expect(await client.query<{ one: number }>('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await client.close();
    }
  });
});

describeWithService(postgres(), 'postgres client: transactions', (serverUrl) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(serverUrl);
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('commits a transaction asked not to wait for its WAL flush with synchronous_commit off for it alone', async () => {
    const client = createPostgresClient({
      connectionString: database.url,
      applicationName: 'khata-test',
      maxConnections: 1,
    });
    try {
      await expectAsyncCommitScopedToItsTransaction(client);
    } finally {
      await client.close();
    }
  });
});

it('pglite: commits a transaction asked not to wait for its WAL flush with synchronous_commit off for it alone', async () => {
  const client = await createPgliteClient();
  try {
    await expectAsyncCommitScopedToItsTransaction(client);
  } finally {
    await client.close();
  }
});

async function expectAsyncCommitScopedToItsTransaction(client: SqlClient): Promise<void> {
  const setting = async (tx: Pick<SqlClient, 'query'>) =>
    (await tx.query<{ synchronous_commit: string }>('SHOW synchronous_commit'))[0]?.synchronous_commit;
  await client.query('CREATE TABLE derived (n int)');
  const inside = await client.transaction(
    async (tx) => {
      await tx.query('INSERT INTO derived VALUES (1)');
      return setting(tx);
    },
    { synchronousCommit: false },
  );
  expect(inside).toBe('off');
  // Committed, and the same (only) connection is back to durable commits.
  expect(await client.query('SELECT n FROM derived')).toEqual([{ n: 1 }]);
  expect(await client.transaction((tx) => setting(tx))).toBe('on');
  expect(await setting(client)).toBe('on');
  // A rollback undoes it as any transaction.
  await expect(
    client.transaction(
      async (tx) => {
        await tx.query('INSERT INTO derived VALUES (2)');
        throw new Error('no');
      },
      { synchronousCommit: false },
    ),
  ).rejects.toThrow('no');
  expect(await client.query('SELECT n FROM derived')).toEqual([{ n: 1 }]);
}

describeWithService(postgres(), 'postgres client: COPY', (serverUrl) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(serverUrl);
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('loads rows with COPY, in a transaction and outside one, and returns to a savepoint when a row is refused', async () => {
    const client = createPostgresClient({
      connectionString: database.url,
      applicationName: 'khata-test',
      maxConnections: 1,
    });
    try {
      await expectCopyLoadsRows(client);
    } finally {
      await client.close();
    }
  });
});

it('pglite: loads rows with COPY, in a transaction and outside one, and returns to a savepoint when a row is refused', async () => {
  const client = await createPgliteClient();
  try {
    await expectCopyLoadsRows(client);
  } finally {
    await client.close();
  }
});

async function expectCopyLoadsRows(client: SqlClient): Promise<void> {
  await client.exec(`CREATE SCHEMA copied;
    CREATE TABLE copied.rows (id int PRIMARY KEY, note text, amount numeric(20,4), at timestamptz, ok boolean)`);
  const columns = ['id', 'note', 'amount', 'at', 'ok'] as const;
  const target = copyTarget('copied', 'rows', columns);
  const tricky = {
    id: 1,
    note: 'tab\there, newline\nthere, \\ and ₹',
    amount: '12.3456',
    at: '2026-11-02T10:00:00.5+05:30',
    ok: true,
  };
  const nullText = { id: 2, note: '\\N', amount: '-0.0001', at: new Date('2026-11-02T04:30:00.000Z'), ok: false };
  const rows = [tricky, nullText, { id: 3, note: null, amount: null, at: null, ok: null }];
  await client.copyFrom(target, copyText(rows, columns));
  const stored = await client.query<{ id: number; note: string | null; amount: string | null; at: string | null }>(
    `SELECT id, note, amount, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS') AS at, ok
       FROM copied.rows ORDER BY id`,
  );
  expect(stored).toEqual([
    { id: 1, note: 'tab\there, newline\nthere, \\ and ₹', amount: '12.3456', at: '2026-11-02T04:30:00.500', ok: true },
    { id: 2, note: '\\N', amount: '-0.0001', at: '2026-11-02T04:30:00.000', ok: false },
    { id: 3, note: null, amount: null, at: null, ok: null },
  ]);

  // In a transaction: a COPY that meets a stored key fails whole, with the driver's unique-violation code, and
  // the transaction goes on from the savepoint before it.
  const outcome = await client.transaction(async (tx) => {
    await tx.copyFrom(target, copyText([{ id: 4, note: 'kept', amount: '1', at: null, ok: true }], columns));
    await tx.query('SAVEPOINT before_copy');
    const refused = await tx
      .copyFrom(target, copyText([{ id: 5, note: 'new', amount: '1', at: null, ok: true }, tricky], columns))
      .then(
        () => null,
        (error: unknown) => databaseErrorDetails(error),
      );
    await tx.query('ROLLBACK TO SAVEPOINT before_copy');
    await tx.copyFrom(target, copyText([{ id: 6, note: 'after', amount: '2', at: null, ok: false }], columns));
    return refused;
  });
  expect(outcome).toEqual({ code: '23505', constraint: 'rows_pkey' });
  const ids = await client.query<{ id: number }>('SELECT id FROM copied.rows ORDER BY id');
  expect(ids.map((row) => row.id)).toEqual([1, 2, 3, 4, 6]);
  // The connection is usable after the refused COPY outside a transaction too.
  await expect(client.copyFrom(target, copyText([nullText], columns))).rejects.toMatchObject({ code: '23505' });
  expect(await client.query('SELECT count(*)::int AS n FROM copied.rows')).toEqual([{ n: 5 }]);
}
