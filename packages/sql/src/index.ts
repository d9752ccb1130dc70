/**
 * @khata/sql — one way to run SQL on PostgreSQL (`pg` pool) and on embedded PGlite, and the migration
 * runner every schema owner (event store, each read model) uses.
 *
 * Invariants: int8 and numeric come back as strings on both drivers (never through a float); a
 * transaction either commits everything `work` did or nothing; migrations are applied once, in order,
 * and an applied migration that was edited stops start-up.
 */

export { type Compilable, first, queryBuilder, run } from './builder.ts';
export {
  createPgliteClient,
  createPostgresClient,
  databaseErrorDetails,
  isConnectionError,
  type PgliteClientOptions,
  type PostgresClientOptions,
  pgliteClient,
  quoteIdentifier,
  type SqlClient,
  type SqlDialect,
  type SqlQueryable,
  type TransactionOptions,
} from './client.ts';
export { copyTarget, copyText, copyValue, tableColumns } from './copy.ts';
export { DataDirectoryInUse, dataDirectoryHolder, lockDataDirectory, lockPath } from './lock.ts';
export {
  appliedVersions,
  derivedSql,
  type Migration,
  MigrationError,
  type MigrationReport,
  type MigrationSet,
  migrate,
} from './migrate.ts';
