import { migrate } from '@khata/sql';
import { afterAll, beforeAll, expect, it } from 'vitest';
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

  it('changes nothing when events are applied again', async () => {
    await h.expectReapplyChangesNothing(balancesProjection, ['balances']);
  });

  it('rebuilds the same rows as the live generation', async () => {
    await h.expectRebuildMatches('balances', ['balances']);
  });
});
