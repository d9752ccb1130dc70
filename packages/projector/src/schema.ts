import type { MigrationSet } from '@khata/sql';

/**
 * The projector's own bookkeeping, beside the read models it writes: which generation of each read
 * model queries use, one checkpoint per (read model, generation, shard) with its owner's lease, and the
 * workers that share the shards.
 */
export const projectorMigrations: MigrationSet = {
  namespace: 'projector',
  migrations: [
    {
      version: 1,
      name: 'registry, checkpoints, workers',
      sql: `
CREATE SCHEMA IF NOT EXISTS projections;
CREATE TABLE projections.registry (
  name                text    PRIMARY KEY,
  active_generation   integer NOT NULL,
  building_generation integer,
  shards              integer NOT NULL CHECK (shards > 0),
  switched_at         timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE projections.checkpoints (
  name            text        NOT NULL,
  generation      integer     NOT NULL,
  shard           integer     NOT NULL,
  position        text,
  events_applied  bigint      NOT NULL DEFAULT 0,
  last_event_at   timestamptz,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  owner           text,
  lease_until     timestamptz,
  error           jsonb,
  PRIMARY KEY (name, generation, shard)
);
CREATE TABLE projections.workers (
  worker_id    text        PRIMARY KEY,
  started_at   timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);`,
    },
  ],
};
