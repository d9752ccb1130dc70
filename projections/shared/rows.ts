import { copyTarget, copyText, databaseErrorDetails, quoteIdentifier, type SqlQueryable } from '@khata/sql';

/** Rows per statement when rows or keys travel as one JSON or array parameter: bounds its size. */
export const ROWS_PER_STATEMENT_MAX = 5_000;

/**
 * PostgreSQL takes at most 65,535 parameters per statement; multi-row inserts are split so that no
 * statement comes near it, whatever batch size the projector is configured with.
 */
export const STATEMENT_PARAMETERS_MAX = 30_000;

/** `rows` in slices small enough for one statement each (`columns` parameters per row). */
export function statementSlices<Row>(rows: readonly Row[], columns: number): Row[][] {
  const perStatement = Math.max(1, Math.floor(STATEMENT_PARAMETERS_MAX / Math.max(1, columns)));
  const slices: Row[][] = [];
  for (let start = 0; start < rows.length; start += perStatement) slices.push(rows.slice(start, start + perStatement));
  return slices;
}

/** `rows` in slices of at most ROWS_PER_STATEMENT_MAX. */
export function rowSlices<Row>(rows: readonly Row[]): Row[][] {
  const slices: Row[][] = [];
  for (let start = 0; start < rows.length; start += ROWS_PER_STATEMENT_MAX) {
    slices.push(rows.slice(start, start + ROWS_PER_STATEMENT_MAX));
  }
  return slices;
}

/**
 * A row as it is written through JSON (writeRowsAsJson): a time column may hold the instant's ISO 8601 text as the
 * event carries it, which PostgreSQL reads as the same instant. `JSON.stringify` turns a `Date` into that text
 * through its slow path: 5,000 calls rows took 36 ms with their six times as `Date`s and 9 ms as text (Node 24).
 */
export type JsonRow<Row> = { [Column in keyof Row]: Date extends Row[Column] ? Row[Column] | string : Row[Column] };

export interface JsonWrite<Row> {
  /** The columns of the conflict target (a primary key or unique constraint). */
  readonly conflict: readonly (keyof Row & string)[];
  /**
   * On conflict: the columns taken from the new row; `nothing` keeps the stored row; `add` adds the new row's
   * values to the stored ones (totals such as calls and seconds per month).
   */
  readonly update: readonly (keyof Row & string)[] | 'nothing' | { readonly add: readonly (keyof Row & string)[] };
}

/**
 * Inserts (or upserts) rows of a table in one statement with one parameter: the rows as a JSON array,
 * expanded by `json_populate_recordset` into the table's own row type, so each value is read by its
 * column's type (dates, numeric and bigint as text, never through a float). For the read models that
 * write a row per event (calls, journal lines), this halved the write time against a multi-row VALUES
 * statement with a parameter per value (101,000 events in batches of 500, PostgreSQL and PGlite): the
 * server parses and plans one small statement instead of one with 15,000 placeholders. The parameter is
 * `json`, not `jsonb`: the rows are read once, so converting the whole array to jsonb's binary form first
 * only costs (100,000 rows of the calls table in upserts of 10,000: 1.55 s instead of 2.2 s on PostgreSQL 15).
 * The keys of each row must be the table's columns, which the table types in each read model's
 * migrations.ts spell out.
 */
export async function writeRowsAsJson<Row extends object>(
  tx: SqlQueryable,
  schema: string,
  table: string,
  rows: readonly Row[],
  write: JsonWrite<Row>,
): Promise<void> {
  if (rows.length === 0) return;
  const text = jsonInsert(schema, table, write);
  for (const slice of rowSlices(rows)) await tx.query(text, [JSON.stringify(slice)]);
}

/**
 * Updates stored rows to their new values, one statement per slice with the rows as one JSON parameter (as
 * writeRowsAsJson): for rows the projection has just read, so each exists. An upsert of such a row first tries an
 * insert and then locks the row it conflicts with, two WAL records more per row than this plain `UPDATE … FROM`
 * (the calls read model under the ESL benchmark: 7,235 lock records in 20 s for 3,938 updated calls).
 */
export async function updateRowsAsJson<Row extends object>(
  tx: SqlQueryable,
  schema: string,
  table: string,
  rows: readonly Row[],
  write: { readonly key: readonly (keyof Row & string)[]; readonly columns: readonly (keyof Row & string)[] },
): Promise<void> {
  if (rows.length === 0) return;
  const target = `${quoteIdentifier(schema)}.${quoteIdentifier(table)}`;
  const text = `UPDATE ${target} AS stored
       SET ${write.columns.map((column) => `${quoteIdentifier(column)} = given.${quoteIdentifier(column)}`).join(', ')}
      FROM json_populate_recordset(NULL::${target}, $1::json) AS given
     WHERE ${write.key.map((column) => `stored.${quoteIdentifier(column)} = given.${quoteIdentifier(column)}`).join(' AND ')}`;
  for (const slice of rowSlices(rows)) await tx.query(text, [JSON.stringify(slice)]);
}

/**
 * Inserts the rows whose key no stored row has (as writeRowsAsJson with `update: 'nothing'`) and returns the keys
 * of those it inserted; a row left out conflicted with a stored one.
 */
export async function insertNewRowsAsJson<Row extends object, Key extends keyof Row & string>(
  tx: SqlQueryable,
  schema: string,
  table: string,
  rows: readonly Row[],
  conflict: readonly Key[],
): Promise<Pick<Row, Key>[]> {
  const inserted: Pick<Row, Key>[] = [];
  if (rows.length === 0) return inserted;
  const text = `${jsonInsert<Row>(schema, table, { conflict, update: 'nothing' })} RETURNING ${conflict.map(quoteIdentifier).join(', ')}`;
  for (const slice of rowSlices(rows))
    inserted.push(...(await tx.query<Pick<Row, Key>>(text, [JSON.stringify(slice)])));
  return inserted;
}

/**
 * Below this many rows, new rows go through the JSON statement: a COPY and its savepoint are one round trip more,
 * which pays off from about 50 rows (calls rows on PostgreSQL 15: 20 rows per statement, COPY 0.81–1.0 s against
 * 0.67–0.96 s for 20,000 rows; 100 per statement, 0.35–0.55 s against 0.51–0.64 s).
 */
export const COPY_ROWS_MIN = 50;

const UNIQUE_VIOLATION = '23505';

/** The savepoint a COPY returns to when a row it loads is there already. */
const COPY_SAVEPOINT = 'khata_new_rows';

export interface NewRows<Row, Key extends keyof Row & string> {
  /** Every column of the table (`tableColumns`), in the order the COPY sends them. */
  readonly columns: readonly (keyof Row & string)[];
  /** The columns of the primary key or unique constraint a stored row may already hold. */
  readonly conflict: readonly Key[];
}

/**
 * Inserts rows that are new in all likelihood (a read model's rows for events it has not applied) and returns
 * the keys of those it inserted, as insertNewRowsAsJson does. From COPY_ROWS_MIN rows on, they are loaded with
 * COPY, which PostgreSQL takes without parsing a statement or a JSON document per batch and inserts in batches of
 * its own: 100,000 calls rows in slices of 5,000 took 1.1–1.2 s against 1.9–2.1 s through json_populate_recordset
 * with ON CONFLICT (PostgreSQL 15, this machine). COPY has no ON CONFLICT: when a row is there already (an event
 * applied twice, a call's row written by an earlier batch), the COPY fails whole, the transaction returns to the
 * savepoint taken before it and the rows go through the JSON statement, which skips those stored. `tx` must be a
 * transaction.
 */
export async function insertNewRows<Row extends object, Key extends keyof Row & string>(
  tx: SqlQueryable,
  schema: string,
  table: string,
  rows: readonly Row[],
  { columns, conflict }: NewRows<Row, Key>,
): Promise<readonly Pick<Row, Key>[]> {
  if (rows.length < COPY_ROWS_MIN) return insertNewRowsAsJson(tx, schema, table, rows, conflict);
  // Not released after the COPY: that would be one more round trip, and the commit releases it with the
  // transaction. A read model takes one or two per transaction (a subtransaction each).
  await tx.query(`SAVEPOINT ${COPY_SAVEPOINT}`);
  try {
    await tx.copyFrom(copyTarget(schema, table, columns), copyText(rows, columns));
    return rows;
  } catch (error) {
    if (databaseErrorDetails(error).code !== UNIQUE_VIOLATION) throw error;
    await tx.query(`ROLLBACK TO SAVEPOINT ${COPY_SAVEPOINT}`);
    return insertNewRowsAsJson(tx, schema, table, rows, conflict);
  }
}

function jsonInsert<Row>(schema: string, table: string, write: JsonWrite<Row>): string {
  const target = `${quoteIdentifier(schema)}.${quoteIdentifier(table)}`;
  const conflict = write.conflict.map(quoteIdentifier).join(', ');
  const { update } = write;
  const action =
    update === 'nothing'
      ? 'DO NOTHING'
      : 'add' in update
        ? `DO UPDATE SET ${update.add.map((column) => `${quoteIdentifier(column)} = stored.${quoteIdentifier(column)} + EXCLUDED.${quoteIdentifier(column)}`).join(', ')}`
        : `DO UPDATE SET ${update.map((column) => `${quoteIdentifier(column)} = EXCLUDED.${quoteIdentifier(column)}`).join(', ')}`;
  return `INSERT INTO ${target} AS stored SELECT * FROM json_populate_recordset(NULL::${target}, $1::json)
    ON CONFLICT (${conflict}) ${action}`;
}
