import type { MigrationSet } from '@khata/sql';

/**
 * The command handler's own tables, beside the read models: the command log (the outcome of every
 * command id, rejections included, so a retried command gets its first answer) and snapshots of long
 * account streams.
 */
export const ledgerMigrations: MigrationSet = {
  namespace: 'ledger',
  migrations: [
    {
      version: 1,
      name: 'command log and snapshots',
      sql: `
CREATE SCHEMA IF NOT EXISTS ledger;
CREATE TABLE ledger.command_log (
  command_id  uuid        PRIMARY KEY,
  stream_id   text        NOT NULL,
  outcome     jsonb       NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX command_log_recorded_at_idx ON ledger.command_log (recorded_at);
CREATE TABLE ledger.snapshots (
  stream_id     text        PRIMARY KEY,
  version       bigint      NOT NULL,
  shape_version integer     NOT NULL,
  state         jsonb       NOT NULL,
  last_hash     text        NOT NULL,
  taken_at      timestamptz NOT NULL DEFAULT now()
);`,
    },
  ],
};
