import { createHash } from 'node:crypto';
import type { SqlClient } from './client.ts';

export interface Migration {
  /** Applied in ascending order; never renumber or edit a migration that has shipped. */
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export interface MigrationSet {
  /** Which part of Khata owns these migrations, e.g. `event-store` or `projection:balances`. */
  readonly namespace: string;
  readonly migrations: readonly Migration[];
}

export interface MigrationReport {
  readonly namespace: string;
  readonly applied: readonly number[];
  readonly current: number;
}

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

/**
 * The SQL of a migration derived from an earlier one's frozen text: each `[from, to]` replaces a passage that must
 * occur exactly once in the text as it stands after the replacements before it (so an edit of the earlier text that
 * moves or repeats a passage stops the build instead of deriving something else).
 */
export function derivedSql(text: string, replacements: readonly (readonly [from: string, to: string])[]): string {
  let result = text;
  for (const [from, to] of replacements) {
    const at = result.indexOf(from);
    if (at === -1 || result.indexOf(from, at + 1) !== -1) {
      throw new Error(`a derived migration expects exactly one occurrence of: ${from.split('\n')[0]}`);
    }
    result = result.slice(0, at) + to + result.slice(at + from.length);
  }
  return result;
}

const LEDGER_DDL = `
CREATE TABLE IF NOT EXISTS public.khata_migrations (
  namespace  text        NOT NULL,
  version    integer     NOT NULL,
  name       text        NOT NULL,
  checksum   text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (namespace, version)
)`;

// One advisory lock key for all of Khata's migrations, so that two processes starting at once apply
// them one after the other instead of racing on CREATE statements.
const MIGRATION_LOCK_KEY = 7_271_100_001;

function checksum(sql: string): string {
  return createHash('sha256').update(sql).digest('hex').slice(0, 16);
}

/**
 * Applies the set's pending migrations, each in its own transaction together with its ledger row.
 * Refuses to run when an applied migration's text has changed since, because the schema would then
 * no longer be what the code expects.
 */
export async function migrate(client: SqlClient, set: MigrationSet): Promise<MigrationReport> {
  assertOrdered(set);
  await client.query(LEDGER_DDL);
  const applied: number[] = [];
  for (const migration of set.migrations) {
    const done = await client.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      const rows = await tx.query<{ checksum: string }>(
        'SELECT checksum FROM public.khata_migrations WHERE namespace = $1 AND version = $2',
        [set.namespace, migration.version],
      );
      const existing = rows[0];
      if (existing !== undefined) {
        if (existing.checksum !== checksum(migration.sql)) {
          throw new MigrationError(
            `${set.namespace} migration ${migration.version} (${migration.name}) was changed after it was applied`,
          );
        }
        return false;
      }
      await tx.exec(migration.sql);
      await tx.query(
        'INSERT INTO public.khata_migrations (namespace, version, name, checksum) VALUES ($1, $2, $3, $4)',
        [set.namespace, migration.version, migration.name, checksum(migration.sql)],
      );
      return true;
    });
    if (done) applied.push(migration.version);
  }
  const last = set.migrations.at(-1);
  return { namespace: set.namespace, applied, current: last === undefined ? 0 : last.version };
}

/** The highest applied version per namespace (0 when none), for `khata doctor`. */
export async function appliedVersions(client: SqlClient): Promise<Map<string, number>> {
  const exists = await client.query<{ present: boolean }>(
    "SELECT to_regclass('public.khata_migrations') IS NOT NULL AS present",
  );
  const versions = new Map<string, number>();
  if (exists[0]?.present !== true) return versions;
  const rows = await client.query<{ namespace: string; version: number }>(
    'SELECT namespace, max(version) AS version FROM public.khata_migrations GROUP BY namespace',
  );
  for (const row of rows) versions.set(row.namespace, Number(row.version));
  return versions;
}

function assertOrdered(set: MigrationSet): void {
  let previous = 0;
  for (const migration of set.migrations) {
    if (!Number.isInteger(migration.version) || migration.version <= previous) {
      throw new MigrationError(`${set.namespace} migrations must have increasing integer versions`);
    }
    previous = migration.version;
  }
}
