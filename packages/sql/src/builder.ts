import {
  type CompiledQuery,
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
} from 'kysely';
import type { SqlQueryable } from './client.ts';

/**
 * Kysely as a typed query builder only: queries are compiled here and run through `SqlQueryable`, the one
 * execution path Khata has for PostgreSQL and PGlite (with its transactions, prepared statements and
 * int8/numeric-as-string parsing). `DB` is the read model's table types.
 */
export function queryBuilder<DB>(): Kysely<DB> {
  return new Kysely<DB>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
}

/** Anything Kysely can compile: a select, insert, update or delete builder. */
export interface Compilable<Row> {
  compile(): CompiledQuery<Row>;
}

/** Runs a built query on a client or inside a transaction; rows are typed by the query. */
export async function run<Row>(db: SqlQueryable, query: Compilable<Row>): Promise<Row[]> {
  const compiled = query.compile();
  return db.query<Row>(compiled.sql, compiled.parameters);
}

/** The first row, or undefined. */
export async function first<Row>(db: SqlQueryable, query: Compilable<Row>): Promise<Row | undefined> {
  const rows = await run(db, query);
  return rows[0];
}
