/**
 * Batched application gives the same read models as one event at a time: a realistic history (every
 * event type the read models take, several accounts) is projected live one event per transaction,
 * then every read model is rebuilt in one pass over the log with pages and chunks of random sizes (all
 * shards of a read model applied together, several read models side by side, each through the chunks at
 * its own pace) and every table of every rebuilt generation must hold exactly the rows of the one-at-a-time
 * generation.
 */
import { eventStoreMigrations, type Position, SqlEventStore } from '@khata/event-store';
import { Projector } from '@khata/projector';
import { migrate } from '@khata/sql';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { allProjections } from './index.ts';
import { type Connection, eachDatabase, Harness, HISTORY_START, playHistory } from './shared/testing.ts';

eachDatabase('read models applied in batches', (connect) => {
  let connection: Connection;
  let harness: Harness;
  /** Every table of every read model as the one-event-per-batch projector wrote it. */
  let reference: Record<string, unknown[]>;

  const tablesOf = async (schema: string): Promise<string[]> =>
    (
      await harness.db.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`,
        [schema],
      )
    ).map((row) => row.table_name);

  const snapshot = async (): Promise<Record<string, unknown[]>> => {
    const result: Record<string, unknown[]> = {};
    for (const projection of allProjections) {
      const schema = await harness.projector.activeSchema(projection.name);
      for (const table of await tablesOf(schema)) {
        result[`${projection.name}.${table}`] = await harness.rows(schema, table);
      }
    }
    return result;
  };

  beforeAll(async () => {
    connection = await connect();
    const { db } = connection;
    await migrate(db, eventStoreMigrations);
    const store = await SqlEventStore.open(db, { ownsClient: false });
    await Projector.prepare(db, allProjections);
    const projector = new Projector({
      store,
      db,
      projections: allProjections,
      workerId: 'one-at-a-time',
      renewIntervalMs: 100,
      batchSize: 1,
    });
    projector.start();
    harness = new Harness(connection, store, projector, HISTORY_START);
    await playHistory(harness);
    await harness.settle();
    reference = await snapshot();
  }, 120_000);
  afterAll(async () => {
    await harness?.close();
  });

  it('rebuilds every read model in pages of any size to exactly the rows applied one event at a time', async () => {
    const head = (await harness.store.headPosition()) as Position;
    const total = Object.values(reference).reduce((rows, table) => rows + table.length, 0);
    expect(total).toBeGreaterThan(100);
    await fc.assert(
      // Pages of 1–60 events, applied in chunks of one page up to the whole log: every read model goes through
      // the chunks at its own pace.
      fc.asyncProperty(
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 400 }),
        async (batchSize, applyEvents) => {
          const rebuilder = new Projector({
            store: harness.store,
            db: harness.db,
            projections: allProjections,
            workerId: `rebuilder-${batchSize}`,
          });
          await rebuilder.rebuildAll(
            allProjections.map((projection) => projection.name),
            { batchSize, applyEvents },
          );
          await harness.projector.waitFor(head);
          expect(await snapshot()).toEqual(reference);
          for (const projection of allProjections) await rebuilder.dropRetiredGenerations(projection.name);
        },
      ),
      { numRuns: 6 },
    );
  }, 240_000);
});
