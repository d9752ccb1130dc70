import { type SqlQueryable, tableColumns } from '@khata/sql';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { COPY_ROWS_MIN, insertNewRows } from './rows.ts';
import { type Connection, countingCopies, eachDatabase } from './testing.ts';

interface ItemsTable {
  account_id: string;
  item_id: string;
  amount: string;
  at: string | null;
}

const COLUMNS = tableColumns<ItemsTable>()('account_id', 'item_id', 'amount', 'at');
const ACCOUNT = '00000000-0000-4000-8000-000000000001';

const items = (from: number, count: number, amount = '1.5000'): ItemsTable[] =>
  Array.from({ length: count }, (_, index) => ({
    account_id: ACCOUNT,
    item_id: `item-${from + index}`,
    amount,
    at: index % 2 === 0 ? '2026-11-02T10:00:00+05:30' : null,
  }));

eachDatabase('new rows of a read model', (connect) => {
  let connection: Connection;
  let table = 0;

  beforeAll(async () => {
    connection = await connect();
  });
  afterAll(async () => {
    await connection?.close();
  });

  /** A new table, and a transaction on it whose COPYs are counted. */
  async function withTable<T>(work: (tx: SqlQueryable, copies: () => number) => Promise<T>): Promise<[T, string]> {
    table += 1;
    const name = `items_${table}`;
    await connection.db.exec(`CREATE SCHEMA IF NOT EXISTS rm_test;
      CREATE TABLE rm_test.${name} (account_id uuid, item_id text, amount numeric(20,4) NOT NULL, at timestamptz,
        PRIMARY KEY (account_id, item_id))`);
    const result = await connection.db.transaction(async (tx) => {
      const counted = countingCopies(tx);
      return work(counted.tx, counted.copies);
    });
    return [result, name];
  }

  const stored = (name: string) =>
    connection.db.query<{ item_id: string; amount: string }>(
      `SELECT item_id, amount FROM rm_test.${name} ORDER BY item_id`,
    );

  it('loads a batch of new rows with one COPY and reports every key inserted', async () => {
    const rows = items(0, COPY_ROWS_MIN + 70);
    const [[keys, copied], name] = await withTable(async (tx, copies) => {
      const result = await insertNewRows(tx, 'rm_test', `items_${table}`, rows, {
        columns: COLUMNS,
        conflict: ['account_id', 'item_id'],
      });
      return [result, copies()] as const;
    });
    expect(copied).toBe(1);
    expect(keys.map((key) => key.item_id).sort()).toEqual(rows.map((row) => row.item_id).sort());
    expect(await stored(name)).toHaveLength(rows.length);
  });

  it('fails on a row the table refuses for another reason than a stored key, without a second attempt', async () => {
    const rows = [...items(0, COPY_ROWS_MIN), { account_id: ACCOUNT, item_id: 'no-amount', amount: null, at: null }];
    let copied = -1;
    const attempt = withTable(async (tx, copies) => {
      try {
        return await insertNewRows(tx, 'rm_test', `items_${table}`, rows as ItemsTable[], {
          columns: COLUMNS,
          conflict: ['account_id', 'item_id'],
        });
      } finally {
        copied = copies();
      }
    });
    await expect(attempt).rejects.toMatchObject({ code: '23502' });
    expect(copied).toBe(1);
    expect(await stored(`items_${table}`)).toEqual([]);
  });

  it('keeps the stored rows and inserts the rest when a batch holds rows that are there already', async () => {
    const [[keys, copied], name] = await withTable(async (tx, copies) => {
      const columns = { columns: COLUMNS, conflict: ['account_id', 'item_id'] } as const;
      // Written by an earlier batch, with another amount.
      await insertNewRows(tx, 'rm_test', `items_${table}`, items(10, 5, '9.0000'), columns);
      const result = await insertNewRows(tx, 'rm_test', `items_${table}`, items(0, COPY_ROWS_MIN + 10), columns);
      return [result, copies()] as const;
    });
    // The first write was below the COPY threshold; the second tried a COPY and fell back.
    expect(copied).toBe(1);
    expect(keys.map((key) => key.item_id).sort()).toEqual(
      items(0, COPY_ROWS_MIN + 10)
        .map((row) => row.item_id)
        .filter((id) => !['item-10', 'item-11', 'item-12', 'item-13', 'item-14'].includes(id))
        .sort(),
    );
    const rows = await stored(name);
    expect(rows).toHaveLength(COPY_ROWS_MIN + 10);
    expect(rows.filter((row) => row.amount === '9.0000').map((row) => row.item_id)).toEqual([
      'item-10',
      'item-11',
      'item-12',
      'item-13',
      'item-14',
    ]);
  });

  it('writes a small batch with one statement, no COPY', async () => {
    const rows = items(0, COPY_ROWS_MIN - 1);
    const [[keys, copied], name] = await withTable(async (tx, copies) => {
      const result = await insertNewRows(tx, 'rm_test', `items_${table}`, rows, {
        columns: COLUMNS,
        conflict: ['account_id', 'item_id'],
      });
      return [result, copies()] as const;
    });
    expect(copied).toBe(0);
    expect(keys).toHaveLength(rows.length);
    expect(await stored(name)).toHaveLength(rows.length);
  });
});
