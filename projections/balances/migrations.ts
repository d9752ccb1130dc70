import type { ProjectionMigration } from '@khata/projector';

/**
 * One row per account: the numbers the API and call authorization read, and the account's folded
 * state (the domain's snapshot JSON) with the stream version it reflects, from which the hot projection
 * reloads an account after a gap or a Redis flush.
 */
export const balancesMigrations: readonly ProjectionMigration[] = [
  {
    version: 1,
    name: 'balances',
    sql: (schema) => `
CREATE TABLE ${schema}.balances (
  account_id            uuid          PRIMARY KEY,
  billing_mode          text          NOT NULL,
  status                text          NOT NULL,
  balance               numeric(20,4) NOT NULL,
  reserved              numeric(20,4) NOT NULL,
  available             numeric(20,4) NOT NULL,
  credit_limit          numeric(20,4) NOT NULL,
  plan_id               text,
  usage_month_start     date,
  usage_month_end       date,
  free_seconds          integer       NOT NULL,
  free_seconds_used     integer       NOT NULL,
  free_seconds_reserved integer       NOT NULL,
  open_reservations     integer       NOT NULL,
  stream_version        bigint        NOT NULL,
  updated_at            timestamptz   NOT NULL,
  state                 jsonb         NOT NULL
);`,
  },
  {
    // The state is only ever written whole and read whole (never queried inside): json keeps the text as sent,
    // where jsonb converts it to its binary form on every write. 60 upserts of 1,600 rows with a 1 KiB state and
    // the read of their states: 4.7 s against 5.9 s (PostgreSQL 15); the balances upsert was the statement a
    // worker catching up on 200,000 CDRs spent most of its database time in.
    version: 2,
    name: 'balances state as json',
    sql: (schema) => `ALTER TABLE ${schema}.balances ALTER COLUMN state TYPE json USING state::json;`,
  },
  {
    // Every batch rewrites its accounts' states, which PostgreSQL compresses once they pass 2 KiB (an account with
    // calls open: 12-70 KiB). lz4 costs less CPU than the default pglz: upserting 10 rows with 14.5 KiB states,
    // 2.5-2.9 ms against 3.4-4.5 ms (PostgreSQL 15, pgbench). Values written from now on; a server built without
    // lz4 (PGlite) keeps pglz.
    version: 3,
    name: 'balances state compressed with lz4',
    sql: (schema) => `
DO $$
BEGIN
  ALTER TABLE ${schema}.balances ALTER COLUMN state SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  NULL;
END
$$;`,
  },
];

export interface BalancesTable {
  account_id: string;
  billing_mode: string;
  status: string;
  balance: string;
  reserved: string;
  available: string;
  credit_limit: string;
  plan_id: string | null;
  usage_month_start: string | null;
  usage_month_end: string | null;
  free_seconds: number;
  free_seconds_used: number;
  free_seconds_reserved: number;
  open_reservations: number;
  stream_version: string;
  updated_at: Date;
  state: unknown;
}

export interface BalancesDatabase {
  balances: BalancesTable;
}
