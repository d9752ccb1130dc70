/**
 * The ledger's batch entry point and its group commit, on PostgreSQL (when reachable), PGlite and the
 * in-memory store: a batch must leave every account exactly as the same commands one at a time would,
 * refuse a malformed batch whole, answer a repeated batch with its first outcomes, and share commits
 * across accounts.
 */
import { randomUUID } from 'node:crypto';
import { stateToJson } from '@khata/domain';
import {
  type EventStore,
  eventStoreMigrations,
  MemoryEventStore,
  SqlEventStore,
  type StreamAppend,
} from '@khata/event-store';
import { createPgliteClient, createPostgresClient, migrate, type SqlClient } from '@khata/sql';
import { createTestDatabase, describeWithService, postgres, type TestDatabase } from '@khata/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountStream } from './ids.ts';
import { InvalidCommand, Ledger } from './ledger.ts';
import { APPEND_AND_LOG_FUNCTION, ledgerMigrations } from './schema.ts';
import {
  type CommandLog,
  MemoryCommandLog,
  MemorySnapshotStore,
  type SnapshotStore,
  SqlCommandLog,
  SqlSnapshotStore,
} from './stores.ts';
import { catalogRules } from './testing.ts';

const NOW = Date.parse('2026-11-02T04:30:00.000Z');
const META = { actor: 'system:test' };

interface Target {
  /** An empty store in one of two separate databases (`slot`), so that two runs can be compared. */
  fresh(
    slot?: 0 | 1,
  ): Promise<{ store: EventStore; commandLog: CommandLog; snapshots: SnapshotStore; close(): Promise<void> }>;
}

/** Counts the group commits a store receives, to see that accounts share them. */
function countingGroups(store: EventStore): { store: EventStore; groups: number[] } {
  const groups: number[] = [];
  const appendToStreams = store.appendToStreams?.bind(store);
  if (appendToStreams === undefined) return { store, groups };
  const counted: EventStore = {
    kind: store.kind,
    appendToStream: store.appendToStream.bind(store),
    appendToStreams: (appends: readonly StreamAppend[]) => {
      groups.push(appends.length);
      return appendToStreams(appends);
    },
    readStream: store.readStream.bind(store),
    readAll: store.readAll.bind(store),
    subscribe: store.subscribe.bind(store),
    headPosition: store.headPosition.bind(store),
    close: store.close.bind(store),
  };
  return { store: counted, groups };
}

function ledgerOn(env: { store: EventStore; commandLog: CommandLog; snapshots: SnapshotStore }): Ledger {
  return new Ledger({ ...env, rules: catalogRules, clock: () => new Date(NOW) });
}

function openAccount(accountId: string, billingMode: 'prepaid' | 'postpaid') {
  return {
    type: 'OpenAccount',
    commandId: randomUUID(),
    accountId,
    legalName: 'Batch Telecom Pvt Ltd',
    contact: { name: 'B', email: 'b@batch.example', phone: '+91 98450 00001' },
    billingAddress: { line1: '1 Road', city: 'Bengaluru', stateCode: '29', postalCode: '560001', country: 'IN' },
    billingMode,
    ...(billingMode === 'postpaid' ? { creditLimit: '10000.00' } : {}),
  };
}

/** An account's life as commands: opened, funded, subscribed, then calls of the given lengths (0: unanswered). */
function accountLife(accountId: string, plan: string, postpaid: boolean, calls: readonly number[]): object[] {
  const at = new Date(NOW).toISOString();
  return [
    openAccount(accountId, postpaid ? 'postpaid' : 'prepaid'),
    ...(postpaid ? [] : [{ type: 'TopUpWallet', commandId: randomUUID(), accountId, amount: '11800.00' }]),
    { type: 'Subscribe', commandId: randomUUID(), accountId, planId: plan, cycle: 'monthly' },
    ...calls.map((seconds, index) => ({
      type: 'RateCdr',
      commandId: randomUUID(),
      accountId,
      cdr: {
        callId: `call-${index}`,
        leg: 'A',
        destination: '+919845012345',
        startedAt: at,
        answeredAt: seconds === 0 ? null : at,
        billableMilliseconds: seconds * 1_000,
      },
    })),
  ];
}

/** Interleaves the accounts' commands (each account's stay in order), as an ingester receives them. */
function interleave(lives: readonly object[][], order: readonly number[]): object[] {
  const cursors = lives.map(() => 0);
  const result: object[] = [];
  for (const pick of order) {
    const account = pick % lives.length;
    const life = lives[account] as object[];
    const cursor = cursors[account] as number;
    if (cursor < life.length) {
      result.push(life[cursor] as object);
      cursors[account] = cursor + 1;
    }
  }
  lives.forEach((life, account) => {
    result.push(...life.slice(cursors[account]));
  });
  return result;
}

async function statesOf(ledger: Ledger, accountIds: readonly string[]) {
  const states: Record<string, unknown> = {};
  for (const accountId of accountIds) {
    const loaded = await ledger.load(accountId);
    states[accountId] = { version: loaded.version.toString(), state: stateToJson(loaded.state) };
  }
  return states;
}

function batchSuite(name: string, target: Target): void {
  describe(`${name}: batch ingest`, { timeout: 120_000 }, () => {
    it('leaves every account as the same commands one at a time would, however the batch is cut', async () => {
      const plans = ['starter', 'professional', 'call-center'];
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              plan: fc.constantFrom(...plans),
              postpaid: fc.boolean(),
              calls: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3_000 })), { maxLength: 12 }),
            }),
            { minLength: 1, maxLength: 5 },
          ),
          fc.array(fc.nat(), { maxLength: 60 }),
          fc.integer({ min: 1, max: 40 }),
          async (accounts, order, batchSize) => {
            const accountIds = accounts.map(() => randomUUID());
            const lives = accounts.map((account, i) =>
              accountLife(accountIds[i] as string, account.plan, account.postpaid, account.calls),
            );
            const commands = interleave(lives, order);

            const one = await target.fresh(0);
            const two = await target.fresh(1);
            try {
              const single = ledgerOn(one);
              const singleOutcomes = [];
              for (const command of commands) singleOutcomes.push(await single.execute(command, META));
              const batched = ledgerOn(two);
              const batchOutcomes = [];
              for (let start = 0; start < commands.length; start += batchSize) {
                batchOutcomes.push(...(await batched.executeBatch(commands.slice(start, start + batchSize), META)));
              }
              expect(batchOutcomes.map((o) => o.status)).toEqual(singleOutcomes.map((o) => o.status));
              expect(batchOutcomes.map((o) => o.commandId)).toEqual(singleOutcomes.map((o) => o.commandId));
              expect(await statesOf(ledgerOn(two), accountIds)).toEqual(await statesOf(ledgerOn(one), accountIds));
              for (const accountId of accountIds) {
                const stream = accountStream(accountId);
                const strip = (events: readonly { type: string; data: unknown }[]) =>
                  events.map((e) => ({ type: e.type, data: e.data }));
                expect(strip((await two.store.readStream(stream)).events)).toEqual(
                  strip((await one.store.readStream(stream)).events),
                );
              }
            } finally {
              await one.close();
              await two.close();
            }
          },
        ),
        { numRuns: 12 },
      );
    });

    it('refuses a batch with one malformed command whole: nothing is decided or appended', async () => {
      const env = await target.fresh();
      try {
        const ledger = ledgerOn(env);
        const accountId = randomUUID();
        const commands = accountLife(accountId, 'starter', false, [60]);
        const broken = { ...(commands[3] as object), cdr: { callId: 'x', leg: 'C' } };
        const attempt = ledger.executeBatch([...commands.slice(0, 3), broken], META);
        await expect(attempt).rejects.toBeInstanceOf(InvalidCommand);
        await expect(attempt).rejects.toMatchObject({
          issues: expect.arrayContaining([expect.objectContaining({ path: expect.stringMatching(/^\/3\//) })]),
        });
        expect((await env.store.readStream(accountStream(accountId))).version).toBe(0n);
      } finally {
        await env.close();
      }
    });

    it('answers a repeated batch with its first outcomes and appends nothing again', async () => {
      const env = await target.fresh();
      try {
        const ledger = ledgerOn(env);
        const accountIds = [randomUUID(), randomUUID(), randomUUID()];
        const commands = accountIds.flatMap((id) => accountLife(id, 'professional', false, [30, 0, 95]));
        const first = await ledger.executeBatch(commands, META);
        const versions = await Promise.all(
          accountIds.map(async (id) => (await env.store.readStream(accountStream(id))).version),
        );
        // Another process (a new ledger with an empty cache) receives the same batch again.
        const again = await ledgerOn(env).executeBatch(commands, META);
        expect(again).toEqual(first);
        expect(
          await Promise.all(accountIds.map(async (id) => (await env.store.readStream(accountStream(id))).version)),
        ).toEqual(versions);
      } finally {
        await env.close();
      }
    });

    it('appends the accounts of one batch in shared group commits, not one commit per account', async () => {
      const env = await target.fresh();
      try {
        const { store, groups } = countingGroups(env.store);
        if (store.appendToStreams === undefined) return;
        const ledger = ledgerOn({ ...env, store });
        const accountIds = Array.from({ length: 120 }, () => randomUUID());
        const opened = await ledger.executeBatch(
          accountIds.map((id) => openAccount(id, 'prepaid')),
          META,
        );
        expect(opened.every((outcome) => outcome.status === 'accepted')).toBe(true);
        expect(groups.reduce((sum, size) => sum + size, 0)).toBe(120);
        // Opening reads each new account first, so how those groups form depends on when the reads
        // return. Accounts the writer holds are decided in one turn: their appends form one group, or
        // two when the first flush leaves before the rest are queued.
        groups.length = 0;
        const toppedUp = await ledger.executeBatch(
          accountIds.map((accountId) => ({
            type: 'TopUpWallet',
            commandId: randomUUID(),
            accountId,
            amount: '100.00',
          })),
          META,
        );
        expect(toppedUp.every((outcome) => outcome.status === 'accepted')).toBe(true);
        expect(groups.reduce((sum, size) => sum + size, 0)).toBe(120);
        expect(groups.length).toBeLessThanOrEqual(2);
      } finally {
        await env.close();
      }
    });
  });
}

async function reset(db: SqlClient): Promise<void> {
  await db.exec('TRUNCATE es.events, es.streams, ledger.command_log, ledger.snapshots');
}

async function prepare(db: SqlClient): Promise<void> {
  await migrate(db, eventStoreMigrations);
  await migrate(db, ledgerMigrations);
}

async function sqlTarget(db: SqlClient, ownsClient: () => SqlClient | null) {
  await reset(db);
  const client = ownsClient() ?? db;
  const store = await SqlEventStore.open(client, { ownsClient: false, appendFunction: APPEND_AND_LOG_FUNCTION });
  return {
    store,
    commandLog: new SqlCommandLog(client),
    snapshots: new SqlSnapshotStore(client),
    close: async () => {
      await store.close();
      if (client !== db) await client.close();
    },
  };
}

/**
 * `ledger.append_and_log` on a group whose middle append is guarded and refused (its command is in the log): the
 * others are appended and logged, and each outcome answers its own index (the function maps indexes around the
 * refused append; without a refusal it uses the payload as it came).
 */
function guardSuite(name: string, target: Target): void {
  it(`${name}: a refused guarded append in a group leaves the others appended, each answered at its index`, async () => {
    const env = await target.fresh();
    try {
      const newEvent = (type: string) => ({ eventId: randomUUID(), type, data: { at: NOW } });
      const logged = (commandId: string, streamId: string) => ({ commandId, streamId, status: 'accepted' });
      const [a, b, c, d] = ['account-a', 'account-b', 'account-c', 'account-d'];
      const seen = randomUUID();
      const [first] =
        (await env.store.appendToStreams?.([
          {
            stream: b as string,
            events: [newEvent('Opened')],
            expected: 'no_stream',
            companions: [logged(seen, b as string)],
            guarded: true,
          },
        ])) ?? [];
      expect(first).toMatchObject({ ok: true, result: { nextVersion: 1n }, companionsRecorded: true });

      const commands = [randomUUID(), randomUUID(), randomUUID()];
      const outcomes = await env.store.appendToStreams?.([
        {
          stream: a as string,
          events: [newEvent('Opened')],
          expected: 'no_stream',
          companions: [logged(commands[0] as string, a as string)],
          guarded: true,
        },
        {
          stream: b as string,
          events: [newEvent('Credited')],
          expected: 1n,
          companions: [logged(seen, b as string)],
          guarded: true,
        },
        {
          stream: c as string,
          events: [newEvent('Opened'), newEvent('Credited')],
          expected: 'no_stream',
          companions: [logged(commands[1] as string, c as string)],
          guarded: true,
        },
        {
          stream: d as string,
          events: [newEvent('Opened')],
          expected: 'no_stream',
          companions: [logged(commands[2] as string, d as string)],
        },
      ]);
      expect(
        outcomes?.map((outcome) => (outcome.ok ? outcome.result.nextVersion : (outcome.error as Error).name)),
      ).toEqual([1n, 'AppendGuardRefused', 2n, 1n]);
      expect((await env.store.readStream(b as string)).version).toBe(1n);
      expect((await env.store.readStream(c as string)).events.map((event) => event.type)).toEqual([
        'Opened',
        'Credited',
      ]);
      const recorded = await env.commandLog.getMany(commands);
      expect(commands.map((commandId) => recorded.get(commandId))).toMatchObject(
        [a, c, d].map((streamId, index) => ({ commandId: commands[index], streamId })),
      );
      // Without a refusal the group is appended as given.
      const plain = await env.store.appendToStreams?.([
        {
          stream: a as string,
          events: [newEvent('Credited')],
          expected: 1n,
          companions: [logged(randomUUID(), a as string)],
          guarded: true,
        },
        {
          stream: d as string,
          events: [newEvent('Credited')],
          expected: 1n,
          companions: [logged(randomUUID(), d as string)],
          guarded: true,
        },
      ]);
      expect(
        plain?.map((outcome) => (outcome.ok ? outcome.result.nextVersion : (outcome.error as Error).name)),
      ).toEqual([2n, 2n]);
    } finally {
      await env.close();
    }
  });
}

describeWithService(postgres(), 'ledger batch on postgres', (serverUrl) => {
  const databases: TestDatabase[] = [];
  const admins: SqlClient[] = [];
  beforeAll(async () => {
    for (let slot = 0; slot < 2; slot += 1) {
      const database = await createTestDatabase(serverUrl);
      databases.push(database);
      const admin = createPostgresClient({ connectionString: database.url, applicationName: 'khata-test' });
      admins.push(admin);
      await prepare(admin);
    }
  });
  afterAll(async () => {
    for (const admin of admins) await admin.close();
    for (const database of databases) await database.drop();
  });
  const target: Target = {
    fresh: (slot = 0) =>
      sqlTarget(admins[slot] as SqlClient, () =>
        createPostgresClient({
          connectionString: (databases[slot] as TestDatabase).url,
          applicationName: 'khata-test',
        }),
      ),
  };
  batchSuite('postgres', target);
  guardSuite('postgres', target);
});

const pglites: SqlClient[] = [];
beforeAll(async () => {
  for (let slot = 0; slot < 2; slot += 1) {
    const client = await createPgliteClient();
    await prepare(client);
    pglites.push(client);
  }
});
afterAll(async () => {
  for (const client of pglites) await client.close();
});

batchSuite('pglite', { fresh: (slot = 0) => sqlTarget(pglites[slot] as SqlClient, () => null) });
guardSuite('pglite', { fresh: (slot = 0) => sqlTarget(pglites[slot] as SqlClient, () => null) });

batchSuite('memory', {
  fresh: async () => ({
    store: new MemoryEventStore(),
    commandLog: new MemoryCommandLog(),
    snapshots: new MemorySnapshotStore(),
    close: async () => {},
  }),
});
