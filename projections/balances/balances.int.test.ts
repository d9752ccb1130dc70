import type { RecordedEvent } from '@khata/event-store';
import { migrate } from '@khata/sql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eachDatabase, type Harness, type History, playHistory, startHarness } from '../shared/testing.ts';
import { balancesMigrations } from './migrations.ts';
import { balancesProjection, stateOfRow } from './projection.ts';
import { balanceOf } from './queries.ts';

eachDatabase('balances read model', (connect) => {
  let h: Harness;
  let history: History;
  beforeAll(async () => {
    h = await startHarness(await connect(), [balancesProjection]);
    history = await playHistory(h);
    await h.settle();
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it("holds each account's folded state, the one its stream replays to", async () => {
    const schema = await h.schema('balances');
    const rows = await h.db.query<{ account_id: string; stream_version: string; state: unknown }>(
      `SELECT account_id, stream_version, state FROM ${schema}.balances`,
    );
    expect(rows.length).toBeGreaterThan(1);
    for (const row of rows) {
      const { state, version } = await h.ledger.load(row.account_id);
      expect(BigInt(row.stream_version)).toBe(version);
      expect(stateOfRow(row)).toEqual(state);
    }
    expect((await balanceOf(h.db, schema, history.acme))?.status).toBe('active');
  });

  it('keeps the states of a generation written before the state became json', async () => {
    const live = await h.schema('balances');
    const schema = 'rm_balances_upgrade';
    const set = (count: number) => ({
      namespace: 'projection:balances:upgrade-test',
      migrations: balancesMigrations.slice(0, count).map((migration) => ({
        version: migration.version,
        name: migration.name,
        sql: migration.version === 1 ? `CREATE SCHEMA ${schema};\n${migration.sql(schema)}` : migration.sql(schema),
      })),
    });
    await migrate(h.db, set(1));
    await h.db.query(`INSERT INTO ${schema}.balances SELECT * FROM ${live}.balances`);
    const type = async () =>
      (
        await h.db.query<{ data_type: string }>(
          `SELECT data_type FROM information_schema.columns
            WHERE table_schema = $1 AND table_name = 'balances' AND column_name = 'state'`,
          [schema],
        )
      )[0]?.data_type;
    expect(await type()).toBe('jsonb');
    await migrate(h.db, set(balancesMigrations.length));
    expect(await type()).toBe('json');
    const states = async (from: string) =>
      (
        await h.db.query<{ account_id: string; state: unknown }>(
          `SELECT account_id, state FROM ${from}.balances ORDER BY account_id`,
        )
      ).map((row) => [row.account_id, stateOfRow(row)]);
    const upgraded = await states(schema);
    expect(upgraded.every(([, state]) => state !== null)).toBe(true);
    expect(upgraded).toEqual(await states(live));
  });

  describe('states remembered between batches', () => {
    let scratch = 0;
    /** A scratch generation of the read model, and the account's events cut in three batches. */
    async function setUp() {
      scratch += 1;
      const schema = `rm_balances_memory_${scratch}`;
      await migrate(h.db, {
        namespace: `projection:balances:memory-test-${scratch}`,
        migrations: balancesMigrations.map((migration) => ({
          version: migration.version,
          name: migration.name,
          sql: migration.version === 1 ? `CREATE SCHEMA ${schema};\n${migration.sql(schema)}` : migration.sql(schema),
        })),
      });
      const { events } = await h.store.readStream(`account-${history.acme}`);
      expect(events.length).toBeGreaterThanOrEqual(6);
      const batches = [events.slice(0, 3), events.slice(3, 5), events.slice(5)] as const;
      const apply = (batch: readonly RecordedEvent[], memory: Map<string, unknown>) =>
        h.db.transaction((tx) => balancesProjection.apply(tx, batch, { schema, memory }));
      const row = async (from: string) =>
        (await h.db.query(`SELECT * FROM ${from}.balances WHERE account_id = $1`, [history.acme]))[0];
      // The live generation applied the same events: the scratch row must end as its row.
      const expectLiveRow = async () => expect(await row(schema)).toEqual(await row(await h.schema('balances')));
      return { schema, batches, apply, expectLiveRow };
    }

    it('folds from the remembered state when the row still has its version', async () => {
      const { schema, batches, apply, expectLiveRow } = await setUp();
      const memory = new Map<string, unknown>();
      await apply(batches[0], memory);
      // A state the read model could not fold from: only the remembered one gives the right row.
      await h.db.query(`UPDATE ${schema}.balances SET state = '{"shape": -1, "state": {}}'`);
      await apply(batches[1], memory);
      await apply(batches[2], memory);
      await expectLiveRow();
    });

    it('reads the stored state after a batch whose transaction rolled back', async () => {
      const { schema, batches, apply, expectLiveRow } = await setUp();
      const memory = new Map<string, unknown>();
      await apply(batches[0], memory);
      const rolledBack = new Error('rolled back');
      await expect(
        h.db.transaction(async (tx) => {
          await balancesProjection.apply(tx, batches[1], { schema, memory });
          throw rolledBack;
        }),
      ).rejects.toBe(rolledBack);
      await apply(batches[1], memory);
      await apply(batches[2], memory);
      await expectLiveRow();
    });

    it('reads the stored state when another worker moved the row on', async () => {
      const { batches, apply, expectLiveRow } = await setUp();
      const memory = new Map<string, unknown>();
      await apply(batches[0], memory);
      await apply(batches[1], new Map());
      await apply(batches[2], memory);
      await expectLiveRow();
    });
  });

  it('compresses the states with lz4 where the server has it', async () => {
    const schema = await h.schema('balances');
    const supported = await h.db
      .transaction(async (tx) => {
        await tx.query('CREATE TEMPORARY TABLE lz4_probe (j json COMPRESSION lz4) ON COMMIT DROP');
        return true;
      })
      .catch(() => false);
    const [column] = await h.db.query<{ compression: string }>(
      `SELECT attcompression::text AS compression FROM pg_attribute
        WHERE attrelid = '${schema}.balances'::regclass AND attname = 'state'`,
    );
    expect(column?.compression).toBe(supported ? 'l' : '');
    expect(supported).toBe(h.db.dialect === 'postgres');
  });

  it('changes nothing when events are applied again', async () => {
    await h.expectReapplyChangesNothing(balancesProjection, ['balances']);
  });

  it('rebuilds the same rows as the live generation', async () => {
    await h.expectRebuildMatches('balances', ['balances']);
  });
});
