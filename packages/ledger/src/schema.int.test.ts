/**
 * The append functions on PostgreSQL reach the stream table and the command log by key only, even with a plan that
 * PL/pgSQL made while those tables were small and keeps for the rest of the session (until their statistics change,
 * which a bulk load outruns).
 */
import { randomUUID } from 'node:crypto';
import { eventStoreMigrations } from '@khata/event-store';
import { createPostgresClient, migrate, type SqlClient } from '@khata/sql';
import {
  createTestDatabase,
  describeWithService,
  postgres,
  readsBetween,
  type TableReads,
  tableReadsIncluding,
} from '@khata/testing';
import { expect, it } from 'vitest';
import { ledgerMigrations } from './schema.ts';
import { SqlCommandLog } from './stores.ts';

const STREAMS = 'es.streams';
const COMMANDS = 'ledger.command_log';

const event = () => ({ id: randomUUID(), type: 'Noted', sv: 1, data: {}, meta: {} });
const guarded = (stream: string) => ({
  s: stream,
  c: 'acct',
  x: 'any',
  g: true,
  r: [{ commandId: randomUUID(), streamId: stream }],
  e: [event()],
});

async function withClient(url: string, work: (client: SqlClient) => Promise<void>): Promise<void> {
  const client = createPostgresClient({ connectionString: url, applicationName: 'khata-test', maxConnections: 1 });
  try {
    await work(client);
  } finally {
    await client.close();
  }
}

describeWithService(postgres(), 'ledger on postgres: appends by key', (serverUrl) => {
  it('never reads es.streams or the command log whole with plans made while they held ten rows', async () => {
    const own = await createTestDatabase(serverUrl);
    try {
      await withClient(own.url, async (setup) => {
        await migrate(setup, eventStoreMigrations);
        await migrate(setup, ledgerMigrations);
        // Statistics stay as ANALYZE leaves them here: autovacuum would refresh them (and the plans) mid-test.
        await setup.query(`ALTER TABLE ${STREAMS} SET (autovacuum_enabled = off)`);
        await setup.query(`ALTER TABLE ${COMMANDS} SET (autovacuum_enabled = off)`);
        await setup.query(
          `INSERT INTO ${STREAMS} (stream_id, category, version) SELECT 'acct-' || g, 'acct', 1 FROM generate_series(1, 10) g`,
        );
        await setup.query(
          `INSERT INTO ${COMMANDS} (command_id, stream_id, outcome) SELECT gen_random_uuid(), 'acct-1', '{}' FROM generate_series(1, 10)`,
        );
        await setup.query(`ANALYZE ${STREAMS}, ${COMMANDS}`);
      });
      let before: ReadonlyMap<string, TableReads> = new Map();
      let after: ReadonlyMap<string, TableReads> = new Map();
      await withClient(own.url, async (session) => {
        const commandLog = new SqlCommandLog(session);
        const lookUp = async () => expect((await commandLog.getMany([randomUUID()])).size).toBe(0);
        const appendAndLog = async (appends: readonly ReturnType<typeof guarded>[]) => {
          const rows = await session.query<{ outcome: string }>(
            'SELECT * FROM ledger.append_and_log($1::jsonb, false)',
            [JSON.stringify(appends)],
          );
          expect(rows.map((row) => row.outcome)).toEqual(appends.map(() => 'ok'));
        };
        const appendOne = async (stream: string) => {
          const [row] = await session.query<{ outcome: string }>(
            `SELECT * FROM es.append_to_stream($1, 'acct', 'any', $2::jsonb, false)`,
            [stream, JSON.stringify([event()])],
          );
          expect(row?.outcome).toBe('ok');
        };
        // More than five calls of each statement, so PL/pgSQL settles on a plan made for ten rows.
        for (let i = 1; i <= 8; i += 1) {
          await appendAndLog([guarded(`acct-${i}`)]);
          await appendOne(`acct-${i}`);
          await lookUp();
        }
        // A bulk load the session's plans know nothing of.
        await withClient(own.url, async (load) => {
          await load.query(
            `INSERT INTO ${STREAMS} (stream_id, category, version) SELECT 'big-' || g, 'acct', 1 FROM generate_series(1, 20000) g`,
          );
          await load.query(
            `INSERT INTO ${COMMANDS} (command_id, stream_id, outcome) SELECT gen_random_uuid(), 'big-1', '{}' FROM generate_series(1, 100000)`,
          );
        });
        // From here on, what the session reads is counted: nothing before the load was large.
        before = await tableReadsIncluding(own.url, (text) => session.query(text), [STREAMS, COMMANDS]);
        await appendAndLog([guarded('big-7')]);
        await appendAndLog([guarded('acct-9'), guarded('big-19999'), guarded('big-300'), guarded('new-1')]);
        await appendOne('big-8');
        await lookUp();
        after = await tableReadsIncluding(own.url, (text) => session.query(text), [STREAMS, COMMANDS]);
      });
      const change = (table: string) => {
        const { seqScans, indexEntriesRead } = readsBetween(before, after, table);
        // A lookup reads an entry or two; a walk of the whole key reads 20,000 or 100,000.
        return { seqScans, fewEntries: indexEntriesRead < 200 };
      };
      expect(change(STREAMS)).toEqual({ seqScans: 0, fewEntries: true });
      expect(change(COMMANDS)).toEqual({ seqScans: 0, fewEntries: true });
    } finally {
      await own.drop();
    }
  });
});
